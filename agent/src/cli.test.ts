/**
 * `ipwarden-agent read` and `run` as a person or a script runs them: the built binary, real
 * files, exit codes (0 ok, 2 bad usage or input, 1 anything else), output on stdout, the summary
 * and errors on stderr; for `run`, a WebSocket server in the test plays the collector.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LinkType, pcapFile } from '@ipwarden/netcodec';
import { AGENT_PATH, type AgentMessage, PROTOCOL_VERSION } from '@ipwarden/protocol';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import type WebSocket from 'ws';
import { WebSocketServer } from 'ws';

const bin = resolve(fileURLToPath(import.meta.url), '..', '..', 'bin', 'ipwarden-agent.js');
const dir = mkdtempSync(join(tmpdir(), 'ipwarden-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function agent(...args: string[]) {
  const result = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function bytes(hexString: string): Uint8Array {
  return Uint8Array.from(
    hexString
      .replace(/\s+/g, '')
      .match(/../g)!
      .map((h) => Number.parseInt(h, 16)),
  );
}

/** An ARP request from 10.99.0.7 (02:00:00:00:00:07) asking for 10.99.0.1 (RFC 826). */
function arpRequest(senderLastByte: number, macLastByte: number): Uint8Array {
  const mac = `0200000000${macLastByte.toString(16).padStart(2, '0')}`;
  return bytes(
    `ffffffffffff ${mac} 0806 0001 0800 06 04 0001 ${mac} 0a6300${senderLastByte.toString(16).padStart(2, '0')} 000000000000 0a630001`,
  );
}

function capture(name: string, records: Array<{ timestampMs: number; frame: Uint8Array }>): string {
  const path = join(dir, name);
  writeFileSync(path, pcapFile(LinkType.ETHERNET, records));
  return path;
}

const t0 = Date.UTC(2026, 10, 21, 12, 0, 0);

const flood = capture('flood.pcap', [
  ...Array.from({ length: 50 }, (_, i) => ({ timestampMs: t0 + i, frame: arpRequest(7, 7) })),
  { timestampMs: t0 + 100, frame: arpRequest(7, 8) }, // another MAC takes 10.99.0.7
  { timestampMs: t0 + 700_000, frame: arpRequest(7, 8) }, // past the 600 s refresh interval
]);

describe('ipwarden-agent read', () => {
  it('prints one sighting for a flood of identical frames, then moved and refresh', () => {
    const { status, stdout, stderr } = agent('read', flood);
    expect(status).toBe(0);
    const lines = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines).toEqual([
      {
        at: t0,
        source: 'arp',
        kind: 'host',
        ip: '10.99.0.7',
        mac: '02:00:00:00:00:07',
        vlan: 0,
        event: 'new',
        detail: { op: 'request' },
      },
      {
        at: t0 + 100,
        source: 'arp',
        kind: 'host',
        ip: '10.99.0.7',
        mac: '02:00:00:00:00:08',
        vlan: 0,
        event: 'moved',
        previousMac: '02:00:00:00:00:07',
        detail: { op: 'request' },
      },
      {
        at: t0 + 700_000,
        source: 'arp',
        kind: 'host',
        ip: '10.99.0.7',
        mac: '02:00:00:00:00:08',
        vlan: 0,
        event: 'refresh',
        detail: { op: 'request' },
      },
    ]);
    expect(stderr).toMatch(
      /^frames 52, observations 52, sightings 3, malformed 0, skipped link types none, in \d+ ms\n$/,
    );
  });

  it('prints every observation with --all, numbered by frame', () => {
    const { status, stdout } = agent('read', '--all', flood);
    expect(status).toBe(0);
    const lines = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines).toHaveLength(52);
    expect(lines[0]).toEqual({
      at: t0,
      frame: 1,
      source: 'arp',
      kind: 'host',
      ip: '10.99.0.7',
      mac: '02:00:00:00:00:07',
      vlan: 0,
      detail: { op: 'request' },
    });
    expect(lines[51].frame).toBe(52);
  });

  it('prints a table with --format table', () => {
    const { status, stdout } = agent('read', '--format', 'table', flood);
    expect(status).toBe(0);
    const [header, first] = stdout.split('\n');
    expect(header).toMatch(/^TIME\s+SOURCE\s+KIND\s+EVENT\s+VLAN\s+IP\s+MAC\s+HOSTNAME$/);
    expect(first).toMatch(/^2026-11-21T12:00:00\.000Z\s+arp\s+host\s+new\s+0\s+10\.99\.0\.7\s+02:00:00:00:00:07$/);
  });

  it('shows control characters in hostnames escaped in the table, never raw', () => {
    const name = [...'evil\u001b[31m\nfake'].map((c) => c.charCodeAt(0));
    const dns = [0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, name.length, ...name, 5, 0x6c, 0x6f, 0x63, 0x61, 0x6c, 0];
    const answer = [...dns, 0, 1, 0x80, 1, 0, 0, 0, 120, 0, 4, 10, 99, 0, 9];
    const udpLength = 8 + answer.length;
    const ip = [0x45, 0, 0, 20 + udpLength, 0, 0, 0, 0, 255, 17, 0, 0, 10, 99, 0, 9, 224, 0, 0, 251];
    const frame = Uint8Array.from([
      ...[0x01, 0x00, 0x5e, 0, 0, 0xfb, 0x02, 0, 0, 0, 0, 9, 0x08, 0x00],
      ...ip,
      ...[0x14, 0xe9, 0x14, 0xe9, 0, udpLength, 0, 0],
      ...answer,
    ]);
    const file = capture('evil.pcap', [{ timestampMs: t0, frame }]);
    const table = agent('read', '--format', 'table', file);
    expect(table.stdout).toContain('evil\\x1b[31m\\x0afake');
    expect(table.stdout).not.toContain('\u001b');
    const json = agent('read', file);
    expect(JSON.parse(json.stdout).hostname).toBe('evil\u001b[31m\nfake');
  });

  it('counts malformed frames and goes on', () => {
    const file = capture('malformed.pcap', [
      { timestampMs: t0, frame: arpRequest(7, 7).subarray(0, 30) }, // ARP cut after 16 bytes
      { timestampMs: t0 + 1, frame: arpRequest(9, 9) },
    ]);
    const { status, stdout, stderr } = agent('read', file);
    expect(status).toBe(0);
    expect(stdout.trim().split('\n')).toHaveLength(1);
    expect(stderr).toContain('malformed 1 (arp 1)');
  });

  it('reports a truncated last record with exit code 2, keeping every record before it', () => {
    const whole = pcapFile(LinkType.ETHERNET, [
      { timestampMs: t0, frame: arpRequest(7, 7) },
      { timestampMs: t0 + 1, frame: arpRequest(9, 9) },
    ]);
    const path = join(dir, 'cut.pcap');
    writeFileSync(path, whole.subarray(0, whole.length - 10));
    const { status, stdout, stderr } = agent('read', path);
    expect(status).toBe(2);
    expect(stdout.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/truncated file: the last record at byte 82 is incomplete \(48 bytes\)\n$/);
  });

  it.each([
    ['a missing file', ['read', join(dir, 'nope.pcap')], /cannot read .*nope\.pcap: no such file/],
    ['a directory', ['read', dir], /is a directory/],
    ['a file that is not a capture', ['read', bin], /not a capture file/],
    ['a file too short for a header', ['read', 'SHORT'], /truncated file: 7 bytes, too short/],
    ['an empty file', ['read', 'EMPTY'], /empty file/],
    ['no file', ['read'], /exactly one capture file/],
    ['an unknown option', ['read', '--bogus', 'x'], /Unknown option '--bogus'/],
    ['a bad format', ['read', '--format', 'xml', 'x'], /--format must be ndjson or table/],
    ['an unknown command', ['sniff'], /unknown command "sniff"/],
  ])('refuses %s with one line on stderr and exit code 2', (_, args, message) => {
    writeFileSync(join(dir, 'SHORT'), bytes('d4c3b2a1020004'));
    writeFileSync(join(dir, 'EMPTY'), '');
    const resolved = args.map((a) => (a === 'SHORT' || a === 'EMPTY' ? join(dir, a) : a));
    const { status, stderr } = agent(...resolved);
    expect(status).toBe(2);
    expect(stderr).toMatch(message);
    expect(stderr.trim().split('\n').at(-1)).toMatch(/^ipwarden-agent: /);
  });
});

/** The collector's side of the protocol: welcomes with a token, acks every batch it gets. */
async function fakeCollector() {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, path: AGENT_PATH });
  await new Promise((done) => server.once('listening', done));
  const messages: AgentMessage[] = [];
  const authorizations: Array<string | undefined> = [];
  const sockets: WebSocket[] = [];
  server.on('connection', (ws, request) => {
    authorizations.push(request.headers.authorization);
    sockets.push(ws);
    ws.on('message', (data) => {
      const message = JSON.parse(String(data)) as AgentMessage;
      messages.push(message);
      if (message.type === 'hello') {
        ws.send(
          JSON.stringify({
            type: 'welcome',
            protocol: PROTOCOL_VERSION,
            agentId: '6f1c1f4e-3f0c-4c8e-9d7e-2a9a4f0c0002',
            lastSeq: 0,
            token: 'agent-token',
            config: { discovery: true, refreshSeconds: 600 },
          }),
        );
      }
      if (message.type === 'sightings') ws.send(JSON.stringify({ type: 'ack', seq: message.seq }));
    });
  });
  const { port } = server.address() as { port: number };
  return {
    origin: `http://127.0.0.1:${port}`,
    messages,
    authorizations,
    /** Sends a message to every connected agent. */
    send: (message: object) => {
      for (const ws of sockets) ws.send(JSON.stringify(message));
    },
    close: () => new Promise((done) => server.close(done)),
  };
}

/** A running agent whose stderr is collected line by line. */
function startAgent(...args: string[]): { child: ChildProcess; stderr: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk) => {
    stderr += chunk;
  });
  const exit = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  return { child, stderr: () => stderr, exit };
}

describe('ipwarden-agent run', () => {
  const running: ChildProcess[] = [];
  afterEach(() => {
    for (const child of running.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  });

  it('refuses to start without a collector, naming the option, with exit code 2', () => {
    const { status, stderr } = agent('run', '--state-dir', join(dir, 'no-collector'), '--interface', 'lo');
    expect(status).toBe(2);
    expect(stderr).toBe('ipwarden-agent: --collector (IPWARDEN_COLLECTOR): at least one collector URL is needed\n');
  });

  it.each([
    [['--interface', 'nope0'], /^ipwarden-agent: --interface \(IPWARDEN_INTERFACES\): no such interface: nope0\n$/],
    [['--batch-items', '0'], /^ipwarden-agent: --batch-items: a whole number from 1 to 10000, not "0"\n$/],
    [
      ['--secret', 's', '--pcap', '/nonexistent.pcap'],
      /^ipwarden-agent: cannot read \/nonexistent\.pcap: no such file\n$/,
    ],
    [['--pcap', bin], /^ipwarden-agent: --secret \(IPWARDEN_AGENT_SECRET\) or --token .* no token is stored/],
    [['--ca', '/nonexistent.pem', '--pcap', bin], /^ipwarden-agent: --ca \(IPWARDEN_CA\): cannot read/],
    [['--bogus'], /^ipwarden-agent: Unknown option '--bogus'/],
  ])('refuses bad configuration with one line and exit code 2: %s', (args, message) => {
    const state = mkdtempSync(join(dir, 'state-'));
    const { status, stderr } = agent('run', '--collector', 'http://127.0.0.1:9', '--state-dir', state, ...args);
    expect(status).toBe(2);
    expect(stderr).toMatch(message);
    expect(stderr.trim().split('\n')).toHaveLength(1);
  });

  it('names the capabilities live capture lacks and how to grant them, with exit code 1', () => {
    const state = mkdtempSync(join(dir, 'unprivileged-'));
    chownSync(state, 65534, 65534);
    const result = spawnSync(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all'].concat([
        process.execPath,
        bin,
        'run',
        '--collector',
        'http://127.0.0.1:9',
        '--state-dir',
        state,
        '--interface',
        'lo',
      ]),
      { encoding: 'utf8' },
    );
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(
      /^ipwarden-agent: capturing on lo needs CAP_NET_RAW and CAP_NET_ADMIN: run as root, or grant them with setpriv --ambient-caps=\+net_raw,\+net_admin/,
    );
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('streams the sightings of a capture file to the collector and exits 0 once all are stored', async () => {
    const collector = await fakeCollector();
    const state = mkdtempSync(join(dir, 'pcap-'));
    const run = startAgent(
      'run',
      '--collector',
      collector.origin,
      '--secret',
      's3cret',
      '--state-dir',
      state,
      '--name',
      'rack-7',
      '--pcap',
      flood,
    );
    running.push(run.child);
    expect(await run.exit).toBe(0);
    await collector.close();
    expect(collector.authorizations).toEqual(['Bearer s3cret']);
    const [hello, ...batches] = collector.messages;
    expect(hello).toMatchObject({
      type: 'hello',
      protocol: PROTOCOL_VERSION,
      agentId: 'rack-7',
      version: '0.1.0',
      interfaces: [{ name: 'flood.pcap', vlans: [], addresses: [] }],
      lastSeq: 1,
      dhcp: { backend: 'none', appliedVersion: null },
    });
    const items = batches.flatMap((m) => (m.type === 'sightings' ? m.items : []));
    expect(items.map((i) => [i.event, i.mac, i.interface])).toEqual([
      ['new', '02:00:00:00:00:07', 'flood.pcap'],
      ['moved', '02:00:00:00:00:08', 'flood.pcap'],
      ['refresh', '02:00:00:00:00:08', 'flood.pcap'],
    ]);
    expect(readFileSync(join(state, 'token'), 'utf8')).toBe('agent-token\n');
    expect(statSync(join(state, 'token')).mode & 0o777).toBe(0o600);
    expect(existsSync(join(state, 'agent.lock'))).toBe(false);
    const lines = run.stderr().trim().split('\n');
    for (const line of lines) expect(line).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /);
    expect(run.stderr()).toContain(`connected to ws://127.0.0.1:${new URL(collector.origin).port}/agent/v1`);
    expect(lines.at(-1)).toMatch(
      /the collector has stored every sighting of .*flood\.pcap \(3 sightings, 1 batch sent\)$/,
    );
  });

  it('captures live, closes and reopens captures as the collector switches discovery, and stops on SIGTERM', async () => {
    const collector = await fakeCollector();
    const state = mkdtempSync(join(dir, 'live-'));
    const run = startAgent(
      'run',
      '--collector',
      collector.origin,
      '--secret',
      's3cret',
      '--state-dir',
      state,
      '--interface',
      'lo',
      '--stats-interval',
      '1',
    );
    running.push(run.child);
    const waitFor = (text: string) =>
      vi.waitFor(() => expect(run.stderr()).toContain(text), { timeout: 4000, interval: 10 });
    await waitFor('welcomed by');
    expect(run.stderr()).toContain('capture opened on lo');

    // An mDNS answer over loopback, unicast from port 5353 (RFC 6762 6.7): a sighting on lo.
    const name = [...'lo-test'].map((c) => c.charCodeAt(0));
    const dns = [0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, name.length, ...name, 5, 0x6c, 0x6f, 0x63, 0x61, 0x6c, 0];
    const answer = Buffer.from([...dns, 0, 1, 0x80, 1, 0, 0, 0, 120, 0, 4, 10, 99, 0, 9]);
    const socket = createSocket({ type: 'udp4', reuseAddr: true });
    await new Promise<void>((done) => socket.bind(5353, '127.0.0.1', done));
    await vi.waitFor(
      async () => {
        await new Promise((done) => socket.send(answer, 49_152, '127.0.0.1', done));
        expect(collector.messages.some((m) => m.type === 'sightings')).toBe(true);
      },
      { timeout: 4000, interval: 100 },
    );
    socket.close();
    const batch = collector.messages.find((m) => m.type === 'sightings');
    expect(batch?.type === 'sightings' && batch.items[0]).toMatchObject({
      source: 'mdns',
      ip: '10.99.0.9',
      hostname: 'lo-test',
      interface: 'lo',
    });

    collector.send({ type: 'config', config: { discovery: false } });
    await waitFor('capture closed on lo');
    expect(run.stderr()).toContain('discovery off, from the collector');
    collector.send({ type: 'config', config: { discovery: true } });
    await vi.waitFor(() => expect(run.stderr().match(/capture opened on lo/g)).toHaveLength(2));
    expect(run.stderr()).toContain('discovery on, from the collector');

    await vi.waitFor(() => expect(collector.messages.some((m) => m.type === 'stats')).toBe(true), {
      timeout: 3000,
    });
    const stats = collector.messages.find((m) => m.type === 'stats');
    expect(stats).toMatchObject({ decodeErrors: 0, kernelDrops: 0, outboxDropped: 0 });
    expect(stats?.type === 'stats' && stats.captured).toBeGreaterThan(0);

    run.child.kill('SIGTERM');
    expect(await run.exit).toBe(0);
    await collector.close();
    expect(run.stderr()).toMatch(
      /stopping \(SIGTERM\)\n.*capture closed on lo\n.*stopped; 0 sightings wait in the outbox/,
    );
    expect(existsSync(join(state, 'agent.lock'))).toBe(false);
  });
});
