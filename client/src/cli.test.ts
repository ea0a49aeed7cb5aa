/**
 * The whole command, parse to print, against a stand-in server answering canned JSON: what the
 * command reads from files and how it pages, which parsing alone does not show. The real
 * collector is test/ipwarden-cli.test.ts's.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from './cli.js';

let answer: (request: IncomingMessage, response: ServerResponse) => void;
const seen: { method: string; url: string; body: string }[] = [];
const server = createServer((request, response) => {
  let body = '';
  request.on('data', (chunk) => {
    body += chunk;
  });
  request.on('end', () => {
    seen.push({ method: request.method!, url: request.url!, body });
    answer(request, response);
  });
});
const dir = mkdtempSync(join(tmpdir(), 'ipwarden-cli-unit-'));
const config = join(dir, 'config.json');
let url: string;

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  writeFileSync(config, '{}'); // the tester's own configuration stays out
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

const json = (status: number, value: unknown) => (_: IncomingMessage, r: ServerResponse) =>
  r.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));

/** Runs the command, as a person would, and returns its exit code and output. */
async function ipwarden(...argv: string[]) {
  seen.length = 0;
  const out: string[] = [];
  const err: string[] = [];
  const listeners = process.stdout.listeners('error');
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((text) => out.push(String(text)) > 0);
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((text) => err.push(String(text)) > 0);
  try {
    const status = await main(['--server', url, '--token', 'tok', '--config', config, ...argv]);
    return { status, stdout: out.join(''), stderr: err.join('') };
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
    // main listens for EPIPE on stdout once per run; a test runs it many times.
    for (const listener of process.stdout.listeners('error'))
      if (!listeners.includes(listener)) process.stdout.off('error', listener as () => void);
  }
}

const conflict = (id: string) => ({
  id,
  kind: 'duplicate-ip',
  ip: '10.0.0.7',
  macs: ['02:00:00:00:00:01', '02:00:00:00:00:02'],
  vlan: 7,
  outerVlan: 0,
  status: 'open',
  firstSeen: '2025-03-01T10:00:00.000Z',
  lastSeen: '2025-03-01T10:05:00.000Z',
  evidence: [],
});

describe('ipwarden conflicts', () => {
  it('prints one page and says the cursor of the next', async () => {
    answer = json(200, { items: [conflict('c1')], nextCursor: 'c2' });
    const run = await ipwarden('conflicts', '--status', 'open');
    expect(run).toEqual({
      status: 0,
      stdout: expect.stringMatching(/^ID +KIND .*\nc1 +duplicate-ip +10\.0\.0\.7 .* 7 +open .* 0\n$/),
      stderr: 'ipwarden: more: --cursor c2\n',
    });
    expect(seen.map((s) => s.url)).toEqual(['/api/v1/conflicts?status=open']);
  });

  it('follows every page with --all, and prints them as one list', async () => {
    answer = (request, r) => {
      const cursor = new URL(request.url!, url).searchParams.get('cursor');
      json(
        200,
        cursor === null ? { items: [conflict('c1')], nextCursor: 'n2' } : { items: [conflict('c2')], nextCursor: null },
      )(request, r);
    };
    const run = await ipwarden('conflicts', '--all', '--json');
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout).items.map((c: { id: string }) => c.id)).toEqual(['c1', 'c2']);
    expect(seen.map((s) => s.url)).toEqual(['/api/v1/conflicts?limit=1000', '/api/v1/conflicts?cursor=n2&limit=1000']);
  });

  it('says what it did when the API answers 204', async () => {
    answer = (_, r) => r.writeHead(204).end();
    expect(await ipwarden('conflicts', 'acknowledge', 'c1')).toEqual({
      status: 0,
      stdout: 'acknowledged conflict c1\n',
      stderr: '',
    });
    expect(seen).toEqual([{ method: 'POST', url: '/api/v1/conflicts/c1/acknowledge', body: '{}' }]);
  });

  it('exits 2 with the code of a problem', async () => {
    answer = (_, r) =>
      r
        .writeHead(404, { 'content-type': 'application/problem+json' })
        .end(JSON.stringify({ status: 404, code: 'not-found', detail: 'no conflict c9' }));
    expect(await ipwarden('conflicts', 'show', 'c9')).toEqual({
      status: 2,
      stdout: '',
      stderr: 'ipwarden: not-found: no conflict c9\n',
    });
  });
});

describe('ipwarden webhooks', () => {
  const webhook = {
    id: 'w1',
    url: 'https://hooks.example/iw',
    events: ['*'],
    format: 'json',
    enabled: true,
    failures: 0,
  };

  it('sends the secret read from --secret-file, without the line break that ends the file', async () => {
    const file = join(dir, 'secret');
    writeFileSync(file, 'sixteen-chars-or-more\n');
    answer = json(201, webhook);
    const run = await ipwarden(
      'webhooks',
      'create',
      'https://hooks.example/iw',
      '--events',
      '*',
      '--secret-file',
      file,
    );
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^ID +URL .*\nw1 +https:\/\/hooks\.example\/iw +\* +json +yes +- +- +0\n$/);
    expect(seen.map((s) => JSON.parse(s.body))).toEqual([
      { url: 'https://hooks.example/iw', events: ['*'], secret: 'sixteen-chars-or-more' },
    ]);
  });

  it('says which event a ping sent', async () => {
    answer = json(202, { event: 42 });
    expect(await ipwarden('webhooks', 'ping', 'w1')).toEqual({
      status: 0,
      stdout: 'sent a ping to webhook w1 (event 42)\n',
      stderr: '',
    });
  });

  it('exits 2, sending nothing, when the secret file cannot be read', async () => {
    const missing = join(dir, 'missing');
    const run = await ipwarden('webhooks', 'create', 'https://h', '--events', '*', '--secret-file', missing);
    expect(run).toMatchObject({
      status: 2,
      stdout: '',
      stderr: expect.stringContaining(`ipwarden: ${missing}: ENOENT`),
    });
    expect(seen).toEqual([]);
  });
});
