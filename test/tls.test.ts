/**
 * TLS end to end: `ipwarden-collector --tls-cert --tls-key` serves the API over https:// and
 * the agent gateway over wss:// on one port; `ipwarden-agent run --ca` trusts its certificate
 * and streams a capture's sightings through it. An agent that does not trust it sends nothing.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ADMIN_TOKEN, AGENT_SECRET } from './support/collector.js';
import { CollectorProcess } from './support/collector-process.js';
import { agentBin, repoRoot } from './support/paths.js';
import { stopAll } from './support/processes.js';

const dir = mkdtempSync(join(tmpdir(), 'ipwarden-tls-'));
const cert = join(dir, 'cert.pem');
const key = join(dir, 'key.pem');
let collector: CollectorProcess;

beforeAll(async () => {
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1']
      .concat(['-subj', '/CN=ipwarden test collector', '-addext', 'subjectAltName=IP:127.0.0.1'])
      .concat(['-keyout', key, '-out', cert]),
    { stdio: 'ignore' },
  );
  collector = new CollectorProcess('127.0.0.1', undefined, ['--tls-cert', cert, '--tls-key', key]);
  await collector.start();
}, 60_000);

afterAll(async () => {
  await collector?.stop();
  await stopAll();
});

function getJson(path: string): Promise<{ status: number; body: { items: { ip: string }[] } }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${collector.url}/api/v1${path}`,
      { ca: readFileSync(cert), headers: { authorization: `Bearer ${ADMIN_TOKEN}` } },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => {
          text += chunk.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** `ipwarden-agent run --pcap` on the lab's ARP capture, enrolling as `name`; ended after `timeout` ms. */
const runPcap = (name: string, extra: string[], timeout = 30_000) =>
  spawnSync(
    process.execPath,
    [agentBin, 'run', '--pcap', join(repoRoot, 'test', 'fixtures', 'lab', 'arp.pcap'), '--collector', collector.url]
      .concat(['--secret', AGENT_SECRET, '--state-dir', mkdtempSync(join(tmpdir(), 'ipwarden-agent-')), '--name', name])
      .concat(extra),
    { encoding: 'utf8', timeout, killSignal: 'SIGKILL' },
  );

it('serves the API over https and takes sightings over wss from an agent that trusts its certificate', async () => {
  expect(collector.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  const run = runPcap('tls-agent', ['--ca', cert]);
  expect(run.status, run.stderr).toBe(0);
  const { status, body } = await getJson('/discoveries');
  expect(status).toBe(200);
  expect(body.items.map((d) => d.ip)).toEqual(expect.arrayContaining(['10.99.0.1', '10.99.0.2', '10.99.0.50']));
});

it('leaves an agent that does not trust the certificate unconnected, saying why', () => {
  // Without --ca the agent keeps retrying; the timeout ends it.
  const run = runPcap('untrusting', [], 3_000);
  expect(run.status).not.toBe(0);
  expect(run.stderr).toMatch(/certificate/i);
});
