/**
 * The uplink against a real WebSocket server on loopback that plays the collector's side of
 * the protocol (/agent/v1), with a real outbox in a temporary directory.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGENT_PATH, type AgentMessage, PROTOCOL_VERSION, type SightingItem } from '@ipwarden/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type WebSocket from 'ws';
import { WebSocketServer } from 'ws';
import { Outbox } from './outbox.js';
import { TokenStore } from './token-store.js';
import { backoffDelay, collectorUrl, type HelloFields, Uplink, type UplinkOptions } from './uplink.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ipwarden-uplink-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function sighting(n: number, overrides: Partial<SightingItem> = {}): SightingItem {
  return {
    at: 1_700_000_000_000 + n,
    interface: 'eth0',
    source: 'arp',
    kind: 'host',
    ip: `10.99.${n >> 8}.${n & 255}`,
    mac: '02:00:00:00:00:07',
    vlan: 0,
    event: 'new',
    ...overrides,
  };
}

const HELLO: HelloFields = {
  agentId: 'rack-1',
  instance: '0f8e0c55-51d4-4c2a-9d3b-6a8e2f1c7a10',
  hostname: 'rack-1.lab',
  version: '0.1.0',
  interfaces: [{ name: 'eth0', mac: '02:00:00:00:00:01', vlans: [], addresses: ['10.99.0.1/24'] }],
  dhcp: { backend: 'none', appliedVersion: null },
};

const CONFIG = { discovery: true, refreshSeconds: 600 };

type WelcomeFields = { lastSeq?: number; token?: string; config?: object };

/** One agent connection as the collector sees it. */
class Peer {
  readonly messages: AgentMessage[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private read = 0;

  constructor(
    readonly ws: WebSocket,
    readonly authorization: string | undefined,
  ) {
    ws.on('message', (data) => this.messages.push(JSON.parse(String(data))));
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  }

  /** The next message not yet read. */
  async next(): Promise<AgentMessage> {
    await vi.waitFor(() => expect(this.messages.length).toBeGreaterThan(this.read), { timeout: 2000, interval: 2 });
    return this.messages[this.read++]!;
  }

  /** Seqs of the sightings batches received so far. */
  get seqs(): number[] {
    return this.messages.flatMap((m) => (m.type === 'sightings' ? [m.seq] : []));
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** Reads the hello, then welcomes the agent. */
  async welcome(fields: WelcomeFields = {}): Promise<AgentMessage> {
    const hello = await this.next();
    expect(hello.type).toBe('hello');
    this.sendWelcome(fields);
    return hello;
  }

  sendWelcome(fields: WelcomeFields = {}): void {
    this.send({
      type: 'welcome',
      protocol: PROTOCOL_VERSION,
      agentId: '6f1c1f4e-3f0c-4c8e-9d7e-2a9a4f0c0001',
      lastSeq: fields.lastSeq ?? 0,
      ...(fields.token === undefined ? {} : { token: fields.token }),
      config: fields.config ?? CONFIG,
    });
  }
}

interface Collector {
  origin: string;
  peers: Peer[];
  /** The nth connection (0 first), once made. */
  peer(n: number): Promise<Peer>;
}

async function collector(
  options: { refuse?: (authorization: string | undefined) => boolean; https?: HttpsServer; autoPong?: boolean } = {},
): Promise<Collector> {
  const server = new WebSocketServer({
    ...(options.https === undefined ? { host: '127.0.0.1', port: 0 } : { server: options.https }),
    path: AGENT_PATH,
    autoPong: options.autoPong ?? true,
    verifyClient: (info, done) => done(!options.refuse?.(info.req.headers.authorization), 401),
  });
  const listening = options.https ?? server;
  if (options.https === undefined) await new Promise((resolve) => server.once('listening', resolve));
  else await new Promise<void>((resolve) => options.https!.listen(0, '127.0.0.1', resolve));
  const peers: Peer[] = [];
  server.on('connection', (ws, request) => peers.push(new Peer(ws, request.headers.authorization)));
  cleanups.push(
    () =>
      new Promise((resolve) => {
        for (const client of server.clients) client.terminate();
        server.close(resolve);
        options.https?.close();
      }),
  );
  const { port } = listening.address() as { port: number };
  return {
    origin: `${options.https === undefined ? 'http' : 'https'}://127.0.0.1:${port}`,
    peers,
    async peer(n) {
      await vi.waitFor(() => expect(peers.length).toBeGreaterThan(n), { timeout: 3000, interval: 2 });
      return peers[n]!;
    },
  };
}

/** An origin nothing listens on: connections to it are refused. */
async function refusingOrigin(): Promise<string> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

interface Agent {
  uplink: Uplink;
  outbox: Outbox;
  dir: string;
  log: string[];
}

function agent(collectors: string[], options: Partial<UplinkOptions> & { dir?: string; secret?: string } = {}): Agent {
  const dir = options.dir ?? tempDir();
  const outbox = options.outbox ?? new Outbox({ dir, sync: false });
  const log: string[] = [];
  const uplink = new Uplink({
    collectors,
    credentials: new TokenStore({ dir, secret: options.secret ?? 's3cret' }),
    outbox,
    hello: () => HELLO,
    log: (line) => log.push(line),
    random: () => 0, // reconnect at once unless a test says otherwise
    ...options,
  });
  cleanups.push(async () => {
    await uplink.close();
    outbox.close();
  });
  uplink.start();
  return { uplink, outbox, dir, log };
}

const retries = (log: string[]) =>
  log.flatMap(
    (line) =>
      line
        .match(/retry.* in (\d+) ms$/)
        ?.slice(1)
        .map(Number) ?? [],
  );

describe('collectorUrl', () => {
  it.each([
    ['http://10.99.0.1:8080', 'ws://10.99.0.1:8080/agent/v1'],
    ['https://collector.lab:8443', 'wss://collector.lab:8443/agent/v1'],
    ['https://collector.lab', 'wss://collector.lab/agent/v1'],
  ])('derives the agent URL of %s', (origin, url) => {
    expect(collectorUrl(origin)).toBe(url);
  });
});

describe('backoffDelay', () => {
  it('doubles its bound from the initial wait up to the cap, and draws below it', () => {
    const backoff = { initialMs: 250, maxMs: 30_000 };
    const bounds = [0, 1, 2, 3, 6, 7, 8, 50, 5000].map((attempt) => backoffDelay(attempt, 0.999_999_9, backoff));
    expect(bounds).toEqual([249, 499, 999, 1999, 15_999, 29_999, 29_999, 29_999, 29_999]);
    expect(backoffDelay(3, 0, backoff)).toBe(0);
    expect(backoffDelay(3, 0.5, backoff)).toBe(1000);
  });
});

describe('Uplink', () => {
  it('says hello with what the collector needs, with the secret, then sends the pending batches', async () => {
    const c = await collector();
    const dir = tempDir();
    const outbox = new Outbox({ dir, sync: false });
    outbox.append([sighting(1)]);
    outbox.append([sighting(2), sighting(3)]);
    const { uplink } = agent([c.origin], { dir, outbox });
    const peer = await c.peer(0);
    expect(peer.authorization).toBe('Bearer s3cret');
    expect(await peer.welcome()).toEqual({ type: 'hello', protocol: PROTOCOL_VERSION, ...HELLO, lastSeq: 2 });
    expect(await peer.next()).toEqual({ type: 'sightings', seq: 1, items: [sighting(1)] });
    expect(await peer.next()).toEqual({ type: 'sightings', seq: 2, items: [sighting(2), sighting(3)] });
    let idle = false;
    const waiting = uplink.idle().then(() => {
      idle = true;
    });
    peer.send({ type: 'ack', seq: 1 });
    await vi.waitFor(() => expect(outbox.pending().map((b) => b.seq)).toEqual([2]));
    expect(idle).toBe(false);
    peer.send({ type: 'ack', seq: 2 });
    await waiting;
    expect(outbox.stats.depth).toBe(0);
  });

  it('stores the token of its welcome (mode 0600) and shows it from then on, also after a restart', async () => {
    const c = await collector();
    const { dir, log } = agent([c.origin]);
    const first = await c.peer(0);
    await first.welcome({ token: 'agent-token-1' });
    const path = join(dir, 'token');
    await vi.waitFor(() => expect(readFileSync(path, 'utf8')).toBe('agent-token-1\n'));
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(log.some((line) => line.includes('enrolled as agent 6f1c1f4e'))).toBe(true);
    first.ws.close(1001, 'collector restarting');
    const second = await c.peer(1);
    expect(second.authorization).toBe('Bearer agent-token-1');
    expect(new TokenStore({ dir, secret: 's3cret' }).current()).toEqual({
      bearer: 'agent-token-1',
      source: 'stored token',
    });
    expect(new TokenStore({ dir, token: 'given', secret: 's3cret' }).current()?.source).toBe('token');
  });

  it('enrolls again with the secret when the collector refuses the stored token (401)', async () => {
    const c = await collector({ refuse: (authorization) => authorization === 'Bearer revoked' });
    const dir = tempDir();
    writeFileSync(join(dir, 'token'), 'revoked\n');
    const { log } = agent([c.origin], { dir });
    const peer = await c.peer(0);
    expect(peer.authorization).toBe('Bearer s3cret');
    expect(log[0]).toMatch(/refused the stored token \(HTTP 401\); trying the secret next; retry in 0 ms$/);
  });

  it('keeps retrying with backoff when the collector refuses the token given to it', async () => {
    const c = await collector({ refuse: () => true });
    const { log } = agent([c.origin], { random: () => 0.5, backoff: { initialMs: 4, maxMs: 16 } });
    await vi.waitFor(() => expect(retries(log).length).toBeGreaterThanOrEqual(4));
    expect(log[0]).toMatch(/refused the secret \(HTTP 401\); retry in 2 ms$/);
    expect(retries(log).slice(0, 4)).toEqual([2, 4, 8, 8]);
  });

  it('writes a batch when it holds the batch size, without waiting for the delay', async () => {
    const c = await collector();
    const { uplink, outbox } = agent([c.origin], { batchItems: 3, flushDelayMs: 60_000 });
    const peer = await c.peer(0);
    await peer.welcome();
    for (let n = 1; n <= 7; n++) uplink.submit(sighting(n));
    expect(outbox.pending().map((b) => b.items.length)).toEqual([3, 3]);
    expect(await peer.next()).toMatchObject({ seq: 1, items: [sighting(1), sighting(2), sighting(3)] });
    expect(await peer.next()).toMatchObject({ seq: 2, items: [sighting(4), sighting(5), sighting(6)] });
    uplink.flush();
    expect(await peer.next()).toMatchObject({ seq: 3, items: [sighting(7)] });
  });

  it('writes a smaller batch once the first of its sightings has waited the flush delay', async () => {
    const c = await collector();
    const { uplink, outbox } = agent([c.origin], { flushDelayMs: 30 });
    const peer = await c.peer(0);
    await peer.welcome();
    const started = performance.now();
    uplink.submit(sighting(1));
    uplink.submit(sighting(2));
    expect(outbox.pending()).toEqual([]);
    expect(await peer.next()).toEqual({ type: 'sightings', seq: 1, items: [sighting(1), sighting(2)] });
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
  });

  it('holds a due batch while two are unacked, letting it grow until an ack comes', async () => {
    const c = await collector();
    const { uplink } = agent([c.origin], { flushDelayMs: 5, batchItems: 1000 });
    const peer = await c.peer(0);
    await peer.welcome();
    uplink.submit(sighting(1));
    await vi.waitFor(() => expect(peer.seqs).toEqual([1]));
    uplink.submit(sighting(2));
    await vi.waitFor(() => expect(peer.seqs).toEqual([1, 2]));
    // Two unacked: the collector is busy, so what comes next waits and gathers.
    for (let n = 3; n <= 6; n++) uplink.submit(sighting(n));
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(peer.seqs).toEqual([1, 2]);
    peer.send({ type: 'ack', seq: 1 });
    await vi.waitFor(() => expect(peer.seqs).toEqual([1, 2, 3]));
    expect(peer.messages.at(-1)).toEqual({ type: 'sightings', seq: 3, items: [3, 4, 5, 6].map((n) => sighting(n)) });
  });

  it('holds a due batch for the busy collector no longer than 100 ms', async () => {
    const c = await collector();
    const { uplink } = agent([c.origin], { flushDelayMs: 5, batchItems: 1000 });
    const peer = await c.peer(0);
    await peer.welcome();
    uplink.submit(sighting(1));
    uplink.flush();
    uplink.submit(sighting(2));
    uplink.flush();
    await vi.waitFor(() => expect(peer.seqs).toEqual([1, 2]));
    const started = performance.now();
    uplink.submit(sighting(3));
    await vi.waitFor(() => expect(peer.seqs).toEqual([1, 2, 3]), { timeout: 1000 });
    expect(performance.now() - started).toBeGreaterThanOrEqual(95);
  });

  it('sends nothing before the welcome, and after a reconnection only what the collector has not stored', async () => {
    const c = await collector();
    const { uplink, outbox } = agent([c.origin], { batchItems: 1 });
    const first = await c.peer(0);
    for (let n = 1; n <= 4; n++) uplink.submit(sighting(n));
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(first.messages.map((m) => m.type)).toEqual(['hello']);
    await first.welcome();
    await vi.waitFor(() => expect(first.seqs).toEqual([1, 2, 3, 4]));
    first.send({ type: 'ack', seq: 2 });
    await vi.waitFor(() => expect(outbox.pending().map((b) => b.seq)).toEqual([3, 4]));
    first.ws.terminate(); // the connection breaks; the ack of 3 was lost on the way
    const second = await c.peer(1);
    expect(await second.welcome({ lastSeq: 3 })).toMatchObject({ lastSeq: 4 });
    expect(await second.next()).toEqual({ type: 'sightings', seq: 4, items: [sighting(4)] });
    second.send({ type: 'ack', seq: 4 });
    await uplink.idle();
    expect(second.seqs).toEqual([4]);
  });

  it('numbers its batches anew above the seqs the collector holds from a lost state directory', async () => {
    const c = await collector();
    const dir = tempDir();
    const outbox = new Outbox({ dir, sync: false });
    outbox.append([sighting(1)]);
    outbox.append([sighting(2)]);
    const { log } = agent([c.origin], { dir, outbox });
    const peer = await c.peer(0);
    await peer.welcome({ lastSeq: 50 });
    await vi.waitFor(() => expect(peer.seqs).toEqual([51, 52]));
    expect(log.some((line) => line.includes('holds batches up to seq 50, above this outbox'))).toBe(true);
  });

  it('fails over to the next collector when the first refuses connections', async () => {
    const refusing = await refusingOrigin();
    const c = await collector();
    const { log } = agent([refusing, c.origin]);
    await (await c.peer(0)).welcome();
    await vi.waitFor(() => expect(log.some((line) => line.startsWith('welcomed by'))).toBe(true));
    expect(log[0]).toBe(
      `cannot connect to ${collectorUrl(refusing)}: connect ECONNREFUSED ${new URL(refusing).host}; retry to ${collectorUrl(c.origin)} in 0 ms`,
    );
  });

  it('waits longer after each failed attempt, a random part of a doubling bound', async () => {
    const refusing = await refusingOrigin();
    const draws = [0.5, 0.5, 0.5, 0.25, 0.5, 0.99];
    const { log } = agent([refusing], { random: () => draws.shift() ?? 0, backoff: { initialMs: 8, maxMs: 40 } });
    await vi.waitFor(() => expect(retries(log).length).toBeGreaterThanOrEqual(6));
    expect(retries(log).slice(0, 6)).toEqual([4, 8, 16, 10, 20, 39]);
  });

  it('starts the backoff over after a welcome, unless the collector then says it is unavailable', async () => {
    const c = await collector();
    const { log } = agent([c.origin], { random: () => 0.5, backoff: { initialMs: 8, maxMs: 1000 } });
    for (let n = 0; n < 3; n++) {
      const peer = await c.peer(n);
      await peer.welcome();
      peer.ws.close(1001, 'going away');
    }
    for (let n = 3; n < 6; n++) {
      const peer = await c.peer(n);
      await peer.welcome();
      peer.send({ type: 'error', code: 'unavailable', message: 'the database is down' });
      peer.ws.close(4503, 'unavailable');
    }
    await vi.waitFor(() => expect(retries(log).length).toBe(6));
    expect(retries(log)).toEqual([4, 4, 4, 8, 16, 32]);
    expect(log).toContain(`${collectorUrl(c.origin)} reports an error: unavailable: the database is down`);
  });

  it('keeps at most `window` batches unacked in flight, sending more as acks come', async () => {
    const c = await collector();
    const { uplink } = agent([c.origin], { batchItems: 1, window: 3 });
    const peer = await c.peer(0);
    await peer.welcome();
    for (let n = 1; n <= 10; n++) uplink.submit(sighting(n));
    await vi.waitFor(() => expect(peer.seqs).toEqual([1, 2, 3]));
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(peer.seqs).toEqual([1, 2, 3]);
    peer.send({ type: 'ack', seq: 1 });
    await vi.waitFor(() => expect(peer.seqs).toEqual([1, 2, 3, 4]));
    peer.send({ type: 'ack', seq: 4 });
    await vi.waitFor(() => expect(peer.seqs).toEqual([1, 2, 3, 4, 5, 6, 7]));
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(peer.seqs).toHaveLength(7);
  });

  it('stops sending while the socket holds more than highWaterBytes unsent, and goes on as it drains', async () => {
    const c = await collector();
    const { uplink } = agent([c.origin], { batchItems: 1, highWaterBytes: 256 * 1024 });
    const peer = await c.peer(0);
    await peer.welcome();
    // The collector stops reading (as it does under load): the kernel's buffers fill, then the socket's own.
    peer.ws.pause();
    const total = 64;
    const padding = 'x'.repeat(256 * 1024);
    for (let n = 1; n <= total; n++) uplink.submit(sighting(n, { detail: { padding } }));
    await vi.waitFor(() => expect(uplink.counters.sent).toBeGreaterThan(0));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(uplink.counters.sent).toBeLessThan(total / 2); // the window (64) would let all through
    peer.ws.resume();
    await vi.waitFor(() => expect(peer.seqs).toHaveLength(total), { timeout: 4000 });
  });

  it.each([
    ['text that is not JSON', 'ack 1', false, 4400],
    ['a message off its schema', { type: 'ack', seq: 0 }, true, 4422],
    ['a message the collector does not send', { type: 'hello' }, true, 4409],
    ['an ack before the welcome', { type: 'ack', seq: 1 }, false, 4409],
    ['an ack for a batch never sent', { type: 'ack', seq: 99 }, true, 4409],
    ['a second welcome', 'WELCOME', true, 4409],
  ])('closes with the catalogue code on %s and connects again', async (_, message, welcomeFirst, code) => {
    const c = await collector();
    const { log } = agent([c.origin]);
    const peer = await c.peer(0);
    if (welcomeFirst) await peer.welcome();
    else await peer.next();
    peer.send(
      message === 'WELCOME'
        ? { type: 'welcome', protocol: 1, agentId: 'again', lastSeq: 0, config: CONFIG }
        : (message as object),
    );
    expect((await peer.closed).code).toBe(code);
    await c.peer(1);
    expect(log.some((line) => line.startsWith(`invalid message from ${collectorUrl(c.origin)}`))).toBe(true);
  });

  it('hands the configuration of the welcome, whole, and every change of it to onConfig', async () => {
    const c = await collector();
    const configs: object[] = [];
    agent([c.origin], { onConfig: (config, whole) => configs.push({ config, whole }) });
    const peer = await c.peer(0);
    await peer.welcome({ config: { discovery: false, refreshSeconds: 60 } });
    const watch = { refreshSeconds: 30, addresses: [{ vlan: 7, ip: '10.99.0.1' }] };
    peer.send({ type: 'config', config: { discovery: true, watch } });
    await vi.waitFor(() => expect(configs).toHaveLength(2));
    expect(configs).toEqual([
      { config: { discovery: false, refreshSeconds: 60 }, whole: true },
      { config: { discovery: true, watch }, whole: false },
    ]);
  });

  it('sends stats only once welcomed', async () => {
    const c = await collector();
    const { uplink } = agent([c.origin]);
    const peer = await c.peer(0);
    const stats = { captured: 10, kernelDrops: 1, decodeErrors: 2, outboxDepth: 3, outboxDropped: 0 };
    await peer.next();
    expect(uplink.sendStats(stats)).toBe(false);
    peer.sendWelcome();
    await vi.waitFor(() => expect(uplink.sendStats(stats)).toBe(true));
    expect(await peer.next()).toEqual({ type: 'stats', ...stats });
  });

  it('drops only the sightings the collector would refuse, keeping the rest of their batch', async () => {
    const c = await collector();
    const { uplink, outbox, log } = agent([c.origin]);
    uplink.submit(sighting(1));
    uplink.submit(sighting(2, { mac: '02:00:00:00:00:0G' }));
    uplink.submit(sighting(3));
    uplink.flush();
    expect(outbox.pending()).toEqual([{ seq: 1, items: [sighting(1), sighting(3)] }]);
    expect(uplink.counters.refused).toBe(1);
    expect(log[0]).toMatch(
      /^dropped a sighting the collector would refuse \(invalid-message: sightings \/items\/0\/mac/,
    );
  });

  it('splits a batch too large for one message, and drops a sighting too large for any', async () => {
    const c = await collector();
    const { uplink, outbox, log } = agent([c.origin]);
    const bulky = (n: number, mib: number) => sighting(n, { detail: { padding: 'x'.repeat(mib * 1024 * 1024) } });
    for (const item of [bulky(1, 3), bulky(2, 3), bulky(3, 3), bulky(4, 9)]) uplink.submit(item);
    uplink.flush();
    expect(outbox.pending().map((b) => b.items.map((i) => i.at - sighting(0).at))).toEqual([[1, 2], [3]]);
    expect(uplink.counters.refused).toBe(1);
    expect(log).toEqual([
      expect.stringMatching(/^dropped a sighting the collector would refuse \(message-too-large: 94\d{5} bytes\)$/),
    ]);
  });

  it('logs what the collector says on one line, its control characters escaped', async () => {
    const c = await collector();
    const { log } = agent([c.origin]);
    const peer = await c.peer(0);
    await peer.next();
    peer.send({ type: 'error', code: 'unavailable', message: 'down\n2026-01-01T00:00:00.000Z welcomed by evil' });
    await vi.waitFor(() => expect(log).toHaveLength(2));
    expect(log[1]).toBe(
      `${collectorUrl(c.origin)} reports an error: unavailable: down\\x0a2026-01-01T00:00:00.000Z welcomed by evil`,
    );
  });

  it('gives up on a collector that stops answering pings', async () => {
    const c = await collector({ autoPong: false });
    const { log } = agent([c.origin], { pingIntervalMs: 20 });
    await (await c.peer(0)).welcome();
    await c.peer(1);
    expect(log.some((line) => line.includes('stopped answering (no pong within 20 ms)'))).toBe(true);
  });

  it('gives up on a collector that does not welcome it in time', async () => {
    const c = await collector();
    const { log } = agent([c.origin], { welcomeTimeoutMs: 20 });
    await c.peer(1);
    expect(log.some((line) => line.includes('no welcome from'))).toBe(true);
  });

  it('writes what it holds to the outbox on close, and closes normally (1000)', async () => {
    const c = await collector();
    const { uplink, outbox } = agent([c.origin], { flushDelayMs: 60_000 });
    const peer = await c.peer(0);
    await peer.welcome();
    uplink.submit(sighting(1));
    await uplink.close();
    expect(outbox.pending()).toEqual([{ seq: 1, items: [sighting(1)] }]);
    expect(await peer.closed).toEqual({ code: 1000, reason: 'agent stopping' });
    await expect(uplink.idle()).rejects.toThrow(/closed/);
  });

  it('speaks TLS to an https:// collector whose certificate it is told to trust', async () => {
    const dir = tempDir();
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1'].concat([
        '-subj',
        '/CN=ipwarden test collector',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        key,
        '-out',
        cert,
      ]),
      { stdio: 'ignore' },
    );
    const https = createHttpsServer({ key: readFileSync(key), cert: readFileSync(cert) });
    const c = await collector({ https });
    expect(c.origin).toMatch(/^https:/);

    const untrusting = agent([c.origin], { random: () => 1, backoff: { initialMs: 60_000, maxMs: 60_000 } });
    await vi.waitFor(() => expect(untrusting.log).toHaveLength(1));
    expect(untrusting.log[0]).toMatch(
      /^cannot connect to wss:\/\/127\.0\.0\.1:\d+\/agent\/v1: self[- ]signed certificate/,
    );

    const trusting = agent([c.origin], { ca: readFileSync(cert) });
    const peer = await c.peer(0);
    await peer.welcome();
    await vi.waitFor(() => expect(trusting.log.some((line) => line.startsWith('welcomed by wss://'))).toBe(true));
  });
});
