/**
 * `ipwarden`, the API client for people, as a person or a script runs it: the built binary
 * against a real collector (embedded PGlite), through the MAAS flow (subnet, reserve, list,
 * release), a Metal3 pool (claim, the same address again, export and import), node deploy and
 * release, and the failures with their exit codes (DESIGN.md): 2 for bad input — the API's
 * 4xx included — and 1 for a server that cannot be reached.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentSocket } from './support/agent-socket.js';
import { ADMIN_TOKEN, AGENT_SECRET, startTestCollector, type TestCollector } from './support/collector.js';
import { until } from './support/collector-process.js';
import { repoRoot } from './support/paths.js';
import { sighting } from './support/sightings.js';

const bin = resolve(repoRoot, 'client', 'bin', 'ipwarden.js');
/** HOME and XDG_CONFIG_HOME of the runs: the tester's own configuration stays out of them. */
const home = mkdtempSync(join(tmpdir(), 'ipwarden-cli-'));

let c: TestCollector;
let userToken: string;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The binary as its own process, its output collected as it comes. Asynchronously: the
 * collector answers from this process's event loop, which a spawnSync would block.
 */
function start(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [bin, ...args], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: home,
      XDG_CONFIG_HOME: join(home, 'config'),
      IPWARDEN_SERVER: c.url,
      IPWARDEN_TOKEN: userToken,
      ...env,
    },
  });
  const output = { stdout: '', stderr: '' };
  child.stdout.on('data', (chunk) => {
    output.stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    output.stderr += chunk;
  });
  return { child, output };
}

/** Runs the binary to its end. */
function ipwarden(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((done, fail) => {
    const { child, output } = start(args, env);
    child.on('error', fail);
    child.on('close', (status) => done({ status, ...output }));
  });
}
const asAdmin = (...args: string[]) => ipwarden(args, { IPWARDEN_TOKEN: ADMIN_TOKEN });
const asUser = (...args: string[]) => ipwarden(args);

/** A table's rows as arrays of cells (cells hold no spaces: '-' stands for nothing). */
const rows = (table: string) =>
  table
    .trim()
    .split('\n')
    .map((line) => line.split(/\s+/));

/** Expects success and returns stdout. */
function ok(run: Run): string {
  expect(run, run.stderr).toMatchObject({ status: 0, stderr: '' });
  return run.stdout;
}

beforeAll(async () => {
  c = await startTestCollector('PGlite');
  userToken = (await c.api('POST', '/users', { json: { name: 'ursula', role: 'user' } })).body.token;
}, 60_000);

afterAll(async () => {
  await c?.close();
  rmSync(home, { recursive: true, force: true });
});

describe('ipwarden against a collector', () => {
  it('says who the token belongs to', async () => {
    expect(ok(await asUser('whoami'))).toMatch(/^id: +\S+\nname: +ursula\nrole: +user\n$/);
  });

  it('creates a subnet as an admin', async () => {
    const out = ok(await asAdmin('subnets', 'create', '10.99.0.0/24', '--gateway', '10.99.0.1'));
    expect(out).toMatch(/^cidr: +10\.99\.0\.0\/24$/m);
    expect(out).toMatch(/^gateway: +10\.99\.0\.1$/m);
    expect(rows(ok(await asUser('subnets')))).toEqual([
      ['CIDR', 'VLAN', 'NAME', 'GATEWAY', 'DNS', 'MANAGED', 'ALLOCATION', 'ID'],
      ['10.99.0.0/24', '0', '-', '10.99.0.1', '-', 'yes', 'lowest', expect.any(String)],
    ]);
  });

  it('reserves, lists and releases a floating IP as a user (the MAAS flow)', async () => {
    expect(rows(ok(await asUser('reserve', '10.99.0.0/24', '--hostname', 'vip')))).toEqual([
      ['IP', 'KIND', 'MAC', 'HOSTNAME', 'OWNER', 'SUBNET'],
      ['10.99.0.2', 'reserved', '-', 'vip', 'ursula', '10.99.0.0/24'],
    ]);
    const listed = JSON.parse(ok(await asUser('addresses', '--json')));
    expect(listed).toEqual({
      items: [expect.objectContaining({ ip: '10.99.0.2', kind: 'reserved', hostname: 'vip', owner: 'ursula' })],
      nextCursor: null,
    });
    expect(rows(ok(await asAdmin('addresses', '--owner', 'ursula')))[1]).toEqual([
      '10.99.0.2',
      'reserved',
      '-',
      'vip',
      'ursula',
      '10.99.0.0/24',
    ]);
    expect(ok(await asUser('release', '10.99.0.2'))).toBe('released 10.99.0.2\n');
    expect((await c.api('GET', '/addresses')).body.items).toEqual([]);
  });

  it('follows the list to its end, or prints one page and the cursor for the next', async () => {
    for (const hostname of ['a', 'b', 'c']) ok(await asUser('reserve', '10.99.0.0/24', '--hostname', hostname));
    expect(JSON.parse(ok(await asUser('addresses', '--json'))).items).toHaveLength(3);
    const page = await asUser('addresses', '--limit', '2');
    expect(page.status).toBe(0);
    expect(rows(page.stdout).map((row) => row[0])).toEqual(['IP', '10.99.0.2', '10.99.0.3']);
    const [, cursor] = page.stderr.match(/^ipwarden: more: --cursor (\S+)\n$/)!;
    expect(rows(ok(await asUser('addresses', '--cursor', cursor!))).map((row) => row[0])).toEqual(['IP', '10.99.0.4']);
    for (const ip of ['10.99.0.2', '10.99.0.3', '10.99.0.4']) ok(await asUser('release', ip));
  });

  it('claims a pool address, and the same claim gets the same address again (the Metal3 flow)', async () => {
    const spec = join(home, 'pool.json');
    writeFileSync(
      spec,
      JSON.stringify({
        name: 'workers',
        namePrefix: 'workers-ip',
        ranges: [{ start: '10.99.0.10', end: '10.99.0.12', gateway: '10.99.0.1' }],
        exclusions: ['10.99.0.10'],
      }),
    );
    expect(ok(await asAdmin('pools', 'create', '--file', spec))).toMatch(/^name: +workers$/m);
    const claim = ['claim', 'workers', 'w1', '--mac', '02:00:00:00:00:01'];
    const first = rows(ok(await asUser(...claim)));
    expect(first).toEqual([
      ['CLAIM', 'ADDRESS', 'GATEWAY', 'MAC', 'NAME'],
      ['w1', '10.99.0.11/24', '10.99.0.1', '02:00:00:00:00:01', 'workers-ip-10-99-0-11'],
    ]);
    expect(rows(ok(await asUser(...claim)))).toEqual(first);
    expect(JSON.parse(ok(await asUser(...claim, '--json')))).toMatchObject({ address: '10.99.0.11', claim: 'w1' });
    expect(ok(await asUser('pools', 'show', 'workers'))).toMatch(/^w1 +10\.99\.0\.11$/m);
  });

  it('exports a pool and imports it again, every claim at its address', async () => {
    const exported = join(home, 'export.json');
    writeFileSync(exported, ok(await asUser('pools', 'export', 'workers')));
    expect(ok(await asAdmin('pools', 'delete', 'workers', '--force'))).toBe('deleted pool workers\n');
    expect(ok(await asAdmin('pools', 'import', exported))).toMatch(/^w1 +10\.99\.0\.11$/m);
    // The imported claims are the importer's: a user may not release them, their owner may.
    expect(await asUser('unclaim', 'workers', 'w1')).toMatchObject({ status: 2 });
    expect(ok(await asAdmin('unclaim', 'workers', 'w1'))).toBe('released claim w1 of pool workers\n');
    ok(await asAdmin('pools', 'delete', 'workers'));
  });

  it('deploys a node and releases it: the auto address freed, the virtual interface forgotten', async () => {
    const created = JSON.parse(
      ok(
        await asAdmin(
          'nodes',
          'create',
          'web1',
          '--interface',
          '02:00:00:00:01:01,eth0',
          '--interface',
          '02:00:00:00:01:02,vnic,virtual',
          '--json',
        ),
      ),
    );
    expect(created.interfaces).toEqual([
      { mac: '02:00:00:00:01:01', name: 'eth0', virtual: false },
      { mac: '02:00:00:00:01:02', name: 'vnic', virtual: true },
    ]);
    expect(rows(ok(await asAdmin('nodes', 'deploy', created.id, '10.99.0.0/24')))[1]).toEqual([
      '10.99.0.2',
      'auto',
      '02:00:00:00:01:01',
      'web1',
      'admin',
      '10.99.0.0/24',
    ]);
    expect(rows(ok(await asUser('nodes')))[1]).toEqual([
      created.id,
      'web1',
      '02:00:00:00:01:01,02:00:00:00:01:02',
      '10.99.0.2',
    ]);
    const released = ok(await asAdmin('nodes', 'release', created.id));
    expect(released).toMatch(/^02:00:00:00:01:01 +eth0 +no$/m);
    expect(released).not.toContain('02:00:00:00:01:02');
    expect((await c.api('GET', '/addresses')).body.items).toEqual([]);
    expect(ok(await asAdmin('nodes', 'delete', created.id))).toBe(`deleted node ${created.id}\n`);
  });

  it('reads the server and token from the configuration file, and warns when others can read it', async () => {
    const dir = join(home, 'config', 'ipwarden');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ server: c.url, token: userToken }));
    chmodSync(file, 0o644);
    const run = await ipwarden(['whoami'], { IPWARDEN_SERVER: '', IPWARDEN_TOKEN: '' });
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^name: +ursula$/m);
    expect(run.stderr).toBe(
      `ipwarden: warning: ${file} holds a token and other users can read or change it (mode 0644): chmod 600 ${file}\n`,
    );
    chmodSync(file, 0o600);
    expect(ok(await ipwarden(['whoami'], { IPWARDEN_SERVER: '', IPWARDEN_TOKEN: '' }))).toMatch(/^name: +ursula$/m);
    rmSync(file);
  });
});

describe('ipwarden failing', () => {
  it('exits 2 with the code of a refused input, and nothing changes', async () => {
    const run = await asUser('reserve', '10.99.0.0/24', '--ip', '10.99.0.300');
    expect(run).toEqual({
      status: 2,
      stdout: '',
      stderr: 'ipwarden: invalid-ip: ip: "10.99.0.300" is not an IPv4 or IPv6 address\n',
    });
    const outside = await asUser('reserve', '10.99.0.0/24', '--ip', '10.98.0.5');
    expect(outside).toMatchObject({ status: 2, stderr: expect.stringMatching(/^ipwarden: ip-not-in-subnet: /) });
    expect((await c.api('GET', '/addresses')).body.items).toEqual([]);
  });

  it('lists, shows, acknowledges and resolves a conflict an agent’s sighting opened', async () => {
    const agent = await AgentSocket.welcomed(c.agentUrl, AGENT_SECRET, { agentId: 'rack-cli' });
    await agent.sightings(1, [sighting({ ip: '10.99.0.77', mac: '02:00:00:00:07:07', at: Date.now() })]);
    await agent.close();
    await c.collector.reconciler.idle();
    const [header, row] = rows(ok(await asUser('conflicts', '--status', 'open', '--ip', '10.99.0.77')));
    expect(header!.slice(0, 4)).toEqual(['ID', 'KIND', 'IP', 'MACS']);
    expect(row!.slice(1, 4)).toEqual(['unallocated-in-use', '10.99.0.77', '02:00:00:00:07:07']);
    const id = row![0]!;
    expect(ok(await asUser('conflicts', 'show', id))).toMatch(/rack-cli/);
    expect((await asUser('conflicts', 'acknowledge', id)).status).toBe(2);
    ok(await asAdmin('conflicts', 'acknowledge', id, '--comment', 'known'));
    ok(await asAdmin('conflicts', 'resolve', id));
    expect(JSON.parse(ok(await asUser('conflicts', 'show', id, '--json')))).toMatchObject({
      status: 'resolved',
      resolvedBy: 'admin',
      acknowledgedBy: 'admin',
    });
  });

  it('creates, lists, pings and deletes a webhook, an exemption and a known DHCP server', async () => {
    const secretFile = join(home, 'secret');
    writeFileSync(secretFile, 'cli-webhook-secret-0123456789\n');
    ok(
      await asAdmin(
        'webhooks',
        'create',
        'http://127.0.0.1:9/hook',
        '--events',
        'conflict.opened',
        '--secret-file',
        secretFile,
      ),
    );
    const hooks = JSON.parse(ok(await asAdmin('webhooks', '--json'))).items;
    expect(hooks).toEqual([expect.objectContaining({ url: 'http://127.0.0.1:9/hook', events: ['conflict.opened'] })]);
    expect(hooks[0]).not.toHaveProperty('secret');
    expect(ok(await asAdmin('webhooks', 'ping', hooks[0].id))).toMatch(/ping/);
    ok(await asAdmin('webhooks', 'delete', hooks[0].id));
    expect((await asAdmin('webhooks', 'create', 'ftp://x', '--events', '*', '--secret-file', secretFile)).status).toBe(
      2,
    );

    ok(
      await asAdmin('exemptions', 'create', '--ip', '10.99.0.53', '--mac', '02:00:00:00:05:03', '--comment', 'anycast'),
    );
    const [exemption] = JSON.parse(ok(await asUser('exemptions', '--json'))).items;
    expect(exemption).toMatchObject({ cidr: '10.99.0.53/32', macs: ['02:00:00:00:05:03'], comment: 'anycast' });
    ok(await asAdmin('exemptions', 'delete', exemption.id));

    ok(await asAdmin('dhcp-servers', 'create', '--vlan', '0', '--ip', '10.99.0.4'));
    const [server] = JSON.parse(ok(await asUser('dhcp-servers', '--json'))).items;
    expect(server).toMatchObject({ vlan: 0, ip: '10.99.0.4' });
    ok(await asAdmin('dhcp-servers', 'delete', server.id));
  });

  it('exits 2 when the role does not allow the action', async () => {
    const run = await asUser('subnets', 'create', '10.98.0.0/24');
    expect(run).toMatchObject({ status: 2, stdout: '', stderr: expect.stringMatching(/^ipwarden: forbidden: /) });
  });

  it('exits 2 with unauthorized, and says where a token goes, when there is none', async () => {
    const run = await ipwarden(['addresses'], { IPWARDEN_TOKEN: '' });
    expect(run.status).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^ipwarden: unauthorized: .* \(no token was given: use --token TOKEN, .*\)\n$/);
  });

  it('exits 2 on a bad command line without asking the server', async () => {
    const unreachable = { IPWARDEN_SERVER: 'http://127.0.0.1:9' };
    expect(await ipwarden(['reserve'], unreachable)).toMatchObject({
      status: 2,
      stderr: 'ipwarden: usage: ipwarden reserve SUBNET [--ip IP] [--hostname HOSTNAME] [--mac MAC]\n',
    });
    expect(await ipwarden(['frobnicate'], unreachable)).toMatchObject({ status: 2 });
    expect(await ipwarden([], unreachable)).toMatchObject({ status: 2, stderr: expect.stringMatching(/^usage: /) });
    expect(await ipwarden(['whoami'], { IPWARDEN_SERVER: '' })).toMatchObject({
      status: 2,
      stderr: expect.stringMatching(/^ipwarden: no server: give --server URL/),
    });
  });

  it('exits 0 with the usage on --help', async () => {
    const run = await ipwarden(['--help']);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^usage: ipwarden /);
  });

  it('exits 1, naming the server, when it cannot be reached', async () => {
    const discard = await ipwarden(['addresses'], { IPWARDEN_SERVER: 'http://127.0.0.1:9' });
    expect(discard).toMatchObject({
      status: 1,
      stdout: '',
      stderr: expect.stringMatching(/^ipwarden: cannot reach http:\/\/127\.0\.0\.1:9: .+\n$/),
    });
    // A port nothing listens on: fetch tries it, and the connection is refused.
    const port = await new Promise<number>((done) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => done(port));
      });
    });
    const refused = await ipwarden(['--server', `http://127.0.0.1:${port}`, 'whoami']);
    expect(refused).toMatchObject({
      status: 1,
      stderr: `ipwarden: cannot reach http://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}\n`,
    });
  });
});

describe('ipwarden events', () => {
  /**
   * `ipwarden events ARGS` against a collector of its own (PGlite in a data directory of the
   * test's, one /24 made), which `restart` stops and brings back on the same data and port.
   */
  async function followed(
    cidr: string,
    args: string[],
    steps: (it: {
      collector: () => TestCollector;
      restart: () => Promise<void>;
      reserve: (ip: string) => Promise<void>;
      output: { stdout: string; stderr: string };
    }) => Promise<void>,
  ): Promise<void> {
    const dataDir = mkdtempSync(join(tmpdir(), 'ipwarden-cli-events-'));
    let own = await startTestCollector('PGlite', { collector: { dataDir } });
    const port = Number(new URL(own.url).port);
    expect((await own.api('POST', '/subnets', { json: { cidr } })).status).toBe(201);
    const { child, output } = start(['events', ...args], { IPWARDEN_SERVER: own.url, IPWARDEN_TOKEN: ADMIN_TOKEN });
    try {
      await steps({
        collector: () => own,
        restart: async () => {
          await own.close();
          own = await startTestCollector('PGlite', { collector: { dataDir, port } });
        },
        reserve: async (ip) =>
          expect((await own.api('POST', `/subnets/${encodeURIComponent(cidr)}/reserve`, { json: { ip } })).status).toBe(
            201,
          ),
        output,
      });
    } finally {
      child.kill();
      await own.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }

  it('prints each event once as it happens, from after --since, and follows a restarted collector on', async () => {
    // --since 0: from the log's start, so that nothing is missed before the stream is open.
    await followed('10.98.0.0/24', ['--events', 'address.created', '--since', '0'], async (c) => {
      const printed = (ip: string) => c.output.stdout.split('\n').filter((line) => line.includes(`ip=${ip}`));
      await c.reserve('10.98.0.5');
      await until(async () => printed('10.98.0.5').length > 0 || undefined, 10_000, 'the first event');
      // The line: id, time, type, then what it is about.
      expect(printed('10.98.0.5')[0]).toMatch(
        /^\d+ {2}\d{4}-\d\d-\d\dT\S+Z {2}address\.created {2}kind=reserved {2}ip=10\.98\.0\.5/,
      );
      await c.restart();
      await c.reserve('10.98.0.6');
      await until(async () => printed('10.98.0.6').length > 0 || undefined, 20_000, 'the event after the restart');
      expect(c.output.stderr).toMatch(/following it again|trying again/);
      // Resumed with Last-Event-ID: the event before the restart is not printed again.
      expect([printed('10.98.0.5').length, printed('10.98.0.6').length]).toEqual([1, 1]);
      expect(c.output.stdout.split('\n').filter((line) => line !== '')).toHaveLength(2);
    });
  }, 60_000);

  it('misses nothing that happens while its collector restarts, though no event had come before', async () => {
    await followed('10.97.0.0/24', ['--events', 'address.created'], async (c) => {
      await until(
        async () =>
          /^ipwarden_event_stream_clients 1$/m.test((await c.collector().api('GET', '/metrics')).body)
            ? true
            : undefined,
        10_000,
        'the stream open',
      );
      // The collector's first frame, an id with no event, a moment after the stream opens.
      await new Promise((resolve) => setTimeout(resolve, 300));
      await c.restart();
      // Before the command comes back (a second at least): it resumes from the id it was given.
      await c.reserve('10.97.0.7');
      await until(async () => (c.output.stdout.includes('ip=10.97.0.7') ? true : undefined), 20_000, 'the event');
      expect(c.output.stdout.trim().split('\n')).toHaveLength(1);
    });
  }, 60_000);

  it('exits 2 for an event type the API does not know, and for a --since that is no id', async () => {
    const unknown = await asUser('events', '--events', 'conflict.exploded');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/^ipwarden: \S+: .*conflict\.exploded/);
    expect(await asUser('events', '--since', 'yesterday')).toMatchObject({
      status: 2,
      stderr: 'ipwarden: --since: a whole number, not "yesterday"\n',
    });
  });
});
