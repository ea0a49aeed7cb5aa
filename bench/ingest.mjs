#!/usr/bin/env node
/**
 * `pnpm bench:ingest`: how fast the collector stores sightings on PostgreSQL, and how soon a
 * frame on the wire is a row in `GET /api/v1/discoveries`. A benchmark, not a timed test.
 *
 * - A throwaway PostgreSQL 15 cluster on disk (fsync on, synchronous_commit on: an ack means the
 *   batch is durable) and the collector as its own process (`ipwarden-collector`), started here
 *   and stopped at the end, even on failure or Ctrl-C.
 * - Throughput, one phase per batch size: 100 simulated agents, each a real WebSocket to
 *   /agent/v1 with its own token, stream pre-generated `sightings` batches (distinct bindings
 *   per agent; mostly `new`, some `refresh` and `moved`; ARP/NDP/mDNS/DHCP, IPv4 and IPv6) for a
 *   fixed time, keeping a window of unacked batches as the agent's outbox does. Sightings/s
 *   acked = stored (the collector acks after commit), counted after a warm-up. Afterwards the
 *   rows in PostgreSQL must be exactly those of the batches up to each agent's stored seq, which
 *   must cover every ack. The collector is restarted between phases (killed at the end of one:
 *   the batches it is still storing are rolled back, not waited for).
 * - Latency: `ipwarden-agent run` captures on a veth in the root namespace (10.99.0.1/24) whose
 *   peer lives in a namespace of its own; gratuitous ARP announcements, each a new IP and MAC
 *   in 10.99.0.0/24, are sent from that namespace with a raw socket, and
 *   `GET /discoveries?ip=` is polled until the row appears. Nothing is sent on any other link.
 *
 * Targets (2-core machine): ≥ 50,000 sightings/s stored with 100 agents; p99 frame → row
 * < 100 ms at light load. Environment: BENCH_SECONDS (per phase, default 25), BENCH_SIGHTINGS
 * (pre-generated per phase, default 1,000,000), BENCH_BATCHES (500,1000,2000; the agent sends up to 1000), BENCH_WINDOW
 * (unacked batches per agent, 64 as the agent), BENCH_AGENTS (100), BENCH_PROBES (200, at most 240),
 * BENCH_PROFILE=1 (one collector for all phases, under --cpu-prof, and pg_stat_statements:
 * where the time goes).
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { AGENT_PATH, PROTOCOL_VERSION } from '@ipwarden/protocol';
import WebSocket from 'ws';
import {
  api,
  cpuDelta,
  cpuOf,
  cpuSnapshot,
  fmt,
  now,
  root,
  run,
  say,
  sh,
  sleep,
  startCollector,
  startStack,
  stopper,
  summarizeProfile,
  topStatements,
  undo,
} from './support.mjs';

const agentBin = join(root, 'agent', 'bin', 'ipwarden-agent.js');

const env = process.env;
const AGENTS = Number(env.BENCH_AGENTS ?? 100);
const SIGHTINGS = Number(env.BENCH_SIGHTINGS ?? 1_000_000);
const SECONDS = Number(env.BENCH_SECONDS ?? 25);
const WARMUP_SECONDS = 3;
const BATCHES = (env.BENCH_BATCHES ?? '500,1000,2000').split(',').map(Number);
const WINDOW = Number(env.BENCH_WINDOW ?? 64); // the agent's own (DEFAULT_WINDOW in agent/src/uplink.ts)
const PROBES = Number(env.BENCH_PROBES ?? 200);
const PROBE_GAP_MS = 30;
const PROFILE = env.BENCH_PROFILE === '1';
const NETNS = 'iwb-host';
const VETH = 'iwb0'; // root namespace: the agent captures here
const VETH_PEER = 'iwb1'; // in NETNS: the frames are sent from here
const TARGET_RATE = 50_000;
const AGENT_BATCH = 1000; // the agent's largest batch (DEFAULT_BATCH_ITEMS in agent/src/uplink.ts)
const TARGET_P99_MS = 100;

// ---------------------------------------------------------------------------------------------
// Synthetic sightings: a deterministic generator per agent. Agent `a` watches VLAN 100 + a;
// binding n of agent a is 10.(100+a).(n>>8).(n&255) or fd00:(a+1)::(n+1), MAC 02:a:n:n:n:00
// (a moved binding takes …:01, …:02). Of the items: 85% new, 10% refresh of an earlier binding,
// 5% moved (an earlier address, a new MAC).

function mulberry32(seed) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const hex2 = (n) => (n & 255).toString(16).padStart(2, '0');

class SyntheticAgent {
  constructor(index) {
    this.index = index;
    this.vlan = 100 + index;
    this.next = 0; // bindings made so far (never reused, across phases too)
    this.random = mulberry32(0x1b5 + index);
    this.seq = 0; // the last seq given out
    this.known = []; // bindings of earlier batches: [ip, mac, moves]
  }

  newBinding() {
    const n = this.next++;
    if (n >= 65_535) throw new Error('synthetic address space exhausted: lower BENCH_SIGHTINGS');
    const a = this.index;
    const v6 = n % 4 === 3;
    const ip = v6 ? `fd00:${(a + 1).toString(16)}::${(n + 1).toString(16)}` : `10.${100 + a}.${n >> 8}.${n & 255}`;
    return [ip, `02:${hex2(a)}:${hex2(n >> 16)}:${hex2(n >> 8)}:${hex2(n)}:00`, 0];
  }

  /** One item as the agent would send it, written straight to JSON (the generator stays cheap). */
  item(at, event, binding, previousMac) {
    const [ip, mac] = binding;
    const v6 = ip.includes(':');
    const r = this.random();
    const moved = previousMac === undefined ? '' : `,"previousMac":"${previousMac}"`;
    const head = `{"at":${at},`;
    const tail = `"ip":"${ip}","mac":"${mac}","vlan":${this.vlan},"event":"${event}"${moved}`;
    const iface = `"interface":"${this.index % 2 === 0 ? 'eth0' : 'bond0'}"}`;
    if (r < 0.1) {
      const name = `node-${this.index}-${ip.replace(/[.:]/g, '-')}`;
      return `${head}"source":"mdns","kind":"host",${tail},"hostname":"${name}","detail":{"name":"${name}.local","ttl":120},${iface}`;
    }
    if (!v6 && r < 0.2) {
      return `${head}"source":"dhcp","kind":"dhcp-lease",${tail},"detail":{"messageType":"ack","server":"10.${100 + this.index}.0.1"},${iface}`;
    }
    if (v6) {
      return `${head}"source":"ndp","kind":"host",${tail},"detail":{"type":"na","router":false,"solicited":true,"override":true},${iface}`;
    }
    return `${head}"source":"arp","kind":"host",${tail},"detail":{"op":"${r < 0.6 ? 'request' : 'reply'}"},${iface}`;
  }

  /** The next batch as UTF-8 JSON, and what storing it must add: events and binding rows. */
  batch(size) {
    const items = [];
    const made = [];
    let events = 0;
    let bindings = 0;
    const at = Date.now();
    for (let i = 0; i < size; i++) {
      const r = this.random();
      const earlier = this.known.length > 0;
      if (earlier && r < 0.1) {
        const b = this.known[Math.floor(this.random() * this.known.length)];
        items.push(this.item(at + i, 'refresh', b));
      } else if (earlier && r < 0.15) {
        const b = this.known[Math.floor(this.random() * this.known.length)];
        const previous = b[1];
        b[2]++;
        b[1] = `${previous.slice(0, 15)}${hex2(b[2])}`;
        items.push(this.item(at + i, 'moved', b, previous));
        events++;
        bindings++;
      } else {
        const b = this.newBinding();
        made.push(b);
        items.push(this.item(at + i, 'new', b));
        events++;
        bindings++;
      }
    }
    for (const b of made) this.known.push(b);
    const seq = ++this.seq;
    const bytes = Buffer.from(`{"type":"sightings","seq":${seq},"items":[${items.join(',')}]}`);
    return { seq, size, events, bindings, bytes };
  }
}

// ---------------------------------------------------------------------------------------------
// Throughput: every agent connects, says hello, then keeps WINDOW batches in flight.

function connectAgent(wsUrl, agent) {
  return new Promise((resolveAgent, reject) => {
    const socket = new WebSocket(wsUrl, {
      headers: { authorization: `Bearer ${agent.token}` },
      perMessageDeflate: false,
      // An all-zero mask: ws skips masking the payload, sparing the load generator's CPU (the
      // collector unmasks as it would any frame).
      generateMask: (mask) => mask.fill(0),
    });
    socket.once('error', reject);
    socket.once('unexpected-response', (_request, response) =>
      reject(new Error(`agent ${agent.name}: upgrade refused, HTTP ${response.statusCode}`)),
    );
    socket.once('open', () =>
      socket.send(
        JSON.stringify({
          type: 'hello',
          protocol: PROTOCOL_VERSION,
          agentId: agent.name,
          instance: agent.instance,
          hostname: agent.name,
          version: 'bench',
          interfaces: [],
          lastSeq: agent.acked,
          dhcp: { backend: 'none', appliedVersion: null },
        }),
      ),
    );
    socket.once('message', (data) => {
      const message = JSON.parse(data.toString());
      if (message.type !== 'welcome') {
        reject(new Error(`agent ${agent.name}: ${data}`));
        return;
      }
      if (message.lastSeq !== agent.acked) {
        reject(new Error(`agent ${agent.name}: welcome says lastSeq ${message.lastSeq}, ${agent.acked} was acked`));
        return;
      }
      socket.removeAllListeners('error');
      resolveAgent(socket);
    });
  });
}

/** Waits until no batch is being stored: the agents' seqs stop moving and no query runs. */
async function quiesce(pg, seconds) {
  let last = '';
  for (let i = 0; i < seconds * 5; i++) {
    const state = pg.psql(
      `select (select coalesce(sum(last_seq), 0) from agents) || '/' || (select count(*) from pg_stat_activity
         where backend_type = 'client backend' and state <> 'idle' and pid <> pg_backend_pid())`,
    );
    if (state === last && state.endsWith('/0')) return;
    last = state;
    await sleep(200);
  }
  throw new Error(`the collector was still storing ${seconds} s after the agents left (${last})`);
}

async function throughputPhase(collector, pg, agents, batchSize) {
  // Each phase starts from empty tables, so that batch sizes are compared on equal terms.
  pg.psql('truncate bindings, sighting_events', 'vacuum analyze', 'checkpoint');
  const perAgent = Math.ceil(SIGHTINGS / agents.length / batchSize);
  say(`batch ${batchSize}: generating ${fmt(perAgent * batchSize * agents.length)} sightings`);
  const generatedAt = performance.now();
  const queues = agents.map((agent) => {
    // Refreshes and moves refer to bindings of this phase only: the tables were just emptied.
    agent.synthetic.known = [];
    agent.synthetic.seq = agent.acked;
    const batches = [];
    for (let i = 0; i < perAgent; i++) batches.push(agent.synthetic.batch(batchSize));
    return batches;
  });
  const bytes = queues.flat().reduce((sum, b) => sum + b.bytes.length, 0);
  say(
    `batch ${batchSize}: ${(bytes / 1e6).toFixed(0)} MB of JSON in ${((performance.now() - generatedAt) / 1000).toFixed(1)} s; sending for up to ${SECONDS} s`,
  );

  const wsUrl = `${collector.url.replace(/^http/, 'ws')}${AGENT_PATH}`;
  const sockets = await Promise.all(agents.map((agent) => connectAgent(wsUrl, agent)));
  const acks = []; // [time, items]
  const ackWaits = [];
  // Counted from the end of the warm-up (the first acks wait for every agent's first batch):
  // sightings acked and CPU used from then to the end of the phase.
  let warm = cpuSnapshot(collector.pid, pg.postmaster);
  const start = performance.now();
  const warmTimer = setTimeout(() => {
    warm = cpuSnapshot(collector.pid, pg.postmaster);
  }, WARMUP_SECONDS * 1000);
  const deadline = start + SECONDS * 1000;
  const streams = sockets.map(
    (socket, i) =>
      new Promise((resolveAgent, reject) => {
        const queue = queues[i];
        const inFlight = new Map(); // seq → [batch, sent at]
        let next = 0;
        const pump = () => {
          while (inFlight.size < WINDOW && next < queue.length) {
            const batch = queue[next++];
            inFlight.set(batch.seq, [batch, performance.now()]);
            socket.send(batch.bytes, { binary: false });
          }
          if (inFlight.size === 0) resolveAgent();
        };
        socket.on('message', (data) => {
          const message = JSON.parse(data.toString());
          const entry = message.type === 'ack' ? inFlight.get(message.seq) : undefined;
          if (entry === undefined) {
            reject(new Error(`agent ${agents[i].name}: unexpected ${data}`));
            return;
          }
          inFlight.delete(message.seq);
          const t = performance.now();
          acks.push([t, entry[0].size]);
          ackWaits.push(t - entry[1]);
          agents[i].acked = message.seq;
          if (t < deadline) pump();
          else resolveAgent();
        });
        socket.on('close', (code, reason) =>
          reject(new Error(`agent ${agents[i].name}: closed ${code} ${reason} with ${inFlight.size} in flight`)),
        );
        pump();
      }),
  );
  let timer;
  await Promise.race([Promise.all(streams), new Promise((r) => (timer = setTimeout(r, SECONDS * 1000)))]);
  clearTimeout(timer);
  clearTimeout(warmTimer);
  const end = Math.min(performance.now(), deadline);
  const cpu = cpuDelta(warm, cpuSnapshot(collector.pid, pg.postmaster));
  // The agents leave at once, batches still in flight. The collector drops what it has queued
  // for a closed connection but finishes the batch of each agent it is storing — up to one batch
  // per agent, which at these rates takes long: unless profiling, it is killed instead, and
  // PostgreSQL rolls those transactions back.
  for (const socket of sockets) {
    socket.removeAllListeners();
    socket.on('error', () => {});
    socket.terminate();
  }
  if (!PROFILE) await collector.kill();
  await quiesce(pg, PROFILE ? 300 : 60);

  const warmup = warm.at - performance.timeOrigin - start; // 0 when the phase ended first
  const counted = acks.filter(([t]) => t >= start + warmup && t <= end).reduce((sum, [, n]) => sum + n, 0);
  const ackedItems = acks.reduce((sum, [, n]) => sum + n, 0);

  // What PostgreSQL holds must be exactly the batches up to each agent's stored last_seq, and
  // that seq must cover every batch acked.
  const storedSeq = new Map(
    pg
      .psql(`select name, last_seq from agents where name like 'bench-agent-%'`)
      .split('\n')
      .map((line) => line.split('|'))
      .map(([name, seq]) => [name, Number(seq)]),
  );
  const expected = { events: 0, bindings: 0 };
  let seqsOk = true;
  agents.forEach((agent, i) => {
    const last = storedSeq.get(agent.name);
    if (!(last >= agent.acked)) seqsOk = false;
    for (const batch of queues[i]) {
      if (batch.seq > last) break;
      expected.events += batch.events;
      expected.bindings += batch.bindings;
    }
    // An unacked batch that was stored anyway counts as acked for the next phase's hello.
    agent.acked = last;
  });
  const [bindings, events] = pg
    .psql('select (select count(*) from bindings), (select count(*) from sighting_events)')
    .split('|')
    .map(Number);
  ackWaits.sort((a, b) => a - b);
  return {
    batchSize,
    seconds: (end - start) / 1000,
    rate: counted / ((end - start - warmup) / 1000),
    counted,
    ackedItems,
    ackedBatches: acks.length,
    ackP50: ackWaits[Math.floor(ackWaits.length * 0.5)],
    ackP99: ackWaits[Math.floor(ackWaits.length * 0.99)],
    cpu,
    stored: { bindings, events },
    expected,
    verified: seqsOk && bindings === expected.bindings && events === expected.events,
  };
}

// ---------------------------------------------------------------------------------------------
// Latency: frame on the wire → row in GET /discoveries, with a real agent capturing.

function tearDownLab() {
  spawnSync('ip', ['netns', 'del', NETNS], { stdio: 'ignore' });
  spawnSync('ip', ['link', 'del', VETH], { stdio: 'ignore' });
}

function setUpLab() {
  tearDownLab(); // leftovers of an interrupted run
  undo.push(tearDownLab);
  sh('ip', 'netns', 'add', NETNS);
  sh('ip', 'link', 'add', VETH, 'type', 'veth', 'peer', 'name', VETH_PEER, 'netns', NETNS);
  // IPv4 only on the lab link: no router solicitations or DAD of our own in the capture.
  sh('sysctl', '-qw', `net.ipv6.conf.${VETH}.disable_ipv6=1`);
  sh('ip', 'addr', 'add', '10.99.0.1/24', 'dev', VETH);
  sh('ip', 'link', 'set', VETH, 'up');
  sh('ip', 'netns', 'exec', NETNS, 'sysctl', '-qw', `net.ipv6.conf.${VETH_PEER}.disable_ipv6=1`);
  sh('ip', '-n', NETNS, 'addr', 'add', '10.99.0.2/24', 'dev', VETH_PEER);
  sh('ip', '-n', NETNS, 'link', 'set', 'lo', 'up');
  sh('ip', '-n', NETNS, 'link', 'set', VETH_PEER, 'up');
}

/**
 * Sends `count` gratuitous ARP announcements on VETH_PEER (inside NETNS), one every `gap` ms,
 * each from a new IP (10.99.0.10 on) and MAC; prints "ip ns-since-epoch" for each, the time
 * taken just before the frame is handed to the kernel.
 */
const ARP_SENDER = `
import socket, struct, sys, time
ifname, count, gap = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]) / 1000
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
sys.stdin.readline()  # go
for i in range(count):
    ip = bytes([10, 99, 0, 10 + i])
    mac = bytes([0x02, 0x99, 0, 0, (i >> 8) & 255, i & 255])
    frame = (b'\\xff' * 6 + mac + b'\\x08\\x06' + struct.pack('!HHBBH', 1, 0x0800, 6, 4, 1)
             + mac + ip + b'\\x00' * 6 + ip + b'\\x00' * 18)
    t = time.time_ns()
    s.send(frame)
    print('10.99.0.%d %d' % (10 + i, t), flush=True)
    time.sleep(gap)
`;

/** The collector's own histogram of batch store time (arrival → ack), cumulative, by bucket. */
async function batchHistogram(collector) {
  const text = await (await fetch(`${collector.url}/metrics`)).text();
  const buckets = [];
  for (const match of text.matchAll(/^ipwarden_batch_store_seconds_bucket\{le="([^"]+)"\} (\d+)/gm)) {
    buckets.push([Number(match[1]), Number(match[2])]);
  }
  const sum = Number(/^ipwarden_batch_store_seconds_sum (\S+)/m.exec(text)?.[1] ?? 0);
  const stored = Number(/^ipwarden_sightings_stored_total (\S+)/m.exec(text)?.[1] ?? 0);
  return { buckets, sum, stored };
}

/** Between two histograms: how many batches, and the bucket bound under which a quantile lies. */
function histogramDelta(a, b) {
  const buckets = b.buckets.map(([le, n], i) => [le, n - (a.buckets[i]?.[1] ?? 0)]);
  const count = buckets.at(-1)?.[1] ?? 0;
  const bound = (q) => buckets.find(([, n]) => n >= q * count)?.[0];
  return {
    batches: count,
    sightings: b.stored - a.stored,
    mean: count === 0 ? undefined : ((b.sum - a.sum) / count) * 1000,
    p50: bound(0.5) * 1000,
    p99: bound(0.99) * 1000,
  };
}

function agentHasRun() {
  const help = spawnSync(process.execPath, [agentBin, '--help'], { encoding: 'utf8' });
  return /^\s+run\b/m.test(`${help.stdout}${help.stderr}`);
}

async function latencyPhase(collector, pg) {
  const probes = Math.min(PROBES, 240); // 10.99.0.10 – 10.99.0.249
  setUpLab();
  const { token } = await api(collector.url, 'POST', '/agents', { name: 'bench-latency' });
  const stateDir = mkdtempSync(join(tmpdir(), 'ipwarden-bench-agent-'));
  undo.push(() => rmSync(stateDir, { recursive: true, force: true }));
  // DESIGN.md, "Command-line contract": ipwarden-agent run.
  const args = ['run', '--collector', collector.url, '--token', token, '--interface', VETH];
  args.push('--state-dir', stateDir, '--name', 'bench-latency');
  const agent = spawn(process.execPath, [agentBin, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...env, IPWARDEN_LOG_LEVEL: 'warn' },
  });
  // pcap keeps a quiet interface's process alive after close(): SIGKILL after a short grace.
  const stopAgent = stopper(agent, 2000);
  undo.push(stopAgent);
  const agentLog = [];
  for (const stream of [agent.stdout, agent.stderr]) {
    createInterface({ input: stream }).on('line', (line) => agentLog.length < 100 && agentLog.push(line));
  }
  // Connected (welcomed) within 15 s, or the agent's own words say why not.
  const connectedBy = Date.now() + 15_000;
  for (;;) {
    if (agent.exitCode !== null) throw new Error(`the agent exited ${agent.exitCode}:\n${agentLog.join('\n')}`);
    const { items } = await api(collector.url, 'GET', '/agents');
    if (items.find((a) => a.name === 'bench-latency')?.connected) break;
    if (Date.now() > connectedBy) throw new Error(`the agent did not connect in 15 s:\n${agentLog.join('\n')}`);
    await sleep(50);
  }
  await sleep(500); // the capture is open once the agent is welcomed; a margin for libpcap
  const histogramBefore = await batchHistogram(collector);
  const cpuBefore = { ...cpuSnapshot(collector.pid, pg.postmaster), agent: cpuOf(agent.pid) };

  const sender = spawn(
    'ip',
    ['netns', 'exec', NETNS, 'python3', '-u', '-c', ARP_SENDER, VETH_PEER, String(probes), String(PROBE_GAP_MS)],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const senderExit = new Promise((r) => sender.once('exit', (code) => r(code)));
  undo.push(stopper(sender, 1000));
  let senderError = '';
  sender.stderr.on('data', (d) => {
    senderError += d;
  });
  const latencies = [];
  const missing = [];
  let polls = 0;
  const poll = async (ip, sentAt) => {
    const giveUp = sentAt + 5_000;
    for (;;) {
      polls++;
      const { items } = await api(collector.url, 'GET', `/discoveries?ip=${ip}`);
      const seen = now();
      if (items.length > 0) return latencies.push(seen - sentAt);
      if (seen > giveUp) return missing.push(ip);
      await sleep(1);
    }
  };
  const pollers = [];
  const pollStart = performance.now();
  sender.stdin.write('go\n');
  for await (const line of createInterface({ input: sender.stdout })) {
    const [ip, ns] = line.split(' ');
    pollers.push(poll(ip, Number(ns) / 1e6));
  }
  await Promise.all(pollers);
  const pollSeconds = (performance.now() - pollStart) / 1000;
  const cpuAfter = { ...cpuSnapshot(collector.pid, pg.postmaster), agent: cpuOf(agent.pid) };
  const cpu = { ...cpuDelta(cpuBefore, cpuAfter), agent: cpuAfter.agent - cpuBefore.agent, seconds: pollSeconds };
  const store = histogramDelta(histogramBefore, await batchHistogram(collector));
  const code = await senderExit;
  if (code !== 0) throw new Error(`the ARP sender failed (${code}): ${senderError}`);
  await stopAgent();
  tearDownLab();
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))];
  return {
    probes,
    seen: latencies.length,
    missing,
    min: latencies[0],
    p50: at(0.5),
    p99: at(0.99),
    max: latencies.at(-1),
    pollRate: polls / pollSeconds,
    cpu,
    store,
  };
}

// ---------------------------------------------------------------------------------------------
// Reference: what this server does with no client at all — INSERT … SELECT generate_series into
// copies of bindings and sighting_events (same columns, defaults and indexes), without and with
// the foreign keys to agents that the real tables have.

function reference(pg, rows, foreignKeys) {
  pg.psql(
    'drop table if exists ref_bindings, ref_events',
    'create table ref_bindings (like bindings including all)',
    'create table ref_events (like sighting_events including all)',
    ...(foreignKeys
      ? [
          'alter table ref_bindings add foreign key (agent_id) references agents (id) on delete cascade',
          'alter table ref_events add foreign key (agent_id) references agents (id) on delete cascade',
        ]
      : []),
    'checkpoint',
  );
  const agentId = pg.psql(`select id from agents limit 1`);
  const t0 = performance.now();
  pg.psql(`begin;
    insert into ref_events (agent_id, seq, at, interface, vlan, source, kind, event, ip, mac)
      select '${agentId}', g / 1000 + 1, now(), 'eth0', 7, 'arp', 'host', 'new',
             '10.0.0.0'::inet + g, lpad(to_hex(g), 12, '0')::macaddr
      from generate_series(1, ${rows}) g;
    insert into ref_bindings (vlan, ip, mac, agent_id, interface, sources, hostnames, first_seen, last_seen)
      select 7, '10.0.0.0'::inet + g, lpad(to_hex(g), 12, '0')::macaddr, '${agentId}', 'eth0', '{arp}', '{}', now(), now()
      from generate_series(1, ${rows}) g;
    commit`);
  const seconds = (performance.now() - t0) / 1000;
  pg.psql('drop table ref_bindings, ref_events');
  return { rows, seconds, rate: rows / seconds };
}

// ---------------------------------------------------------------------------------------------

async function main() {
  if (process.getuid?.() !== 0) throw new Error('run as root: PostgreSQL runs as postgres, the lab needs namespaces');
  const startedAt = performance.now();
  const stack = await startStack({
    profile: PROFILE,
    settings: ['fsync', 'synchronous_commit', 'shared_buffers', 'max_wal_size', 'wal_level', 'full_page_writes'],
  });
  const { pg, version, settings, fsType, profileDir } = stack;
  let { collector } = stack;

  say(`registering ${AGENTS} agents`);
  const agents = [];
  for (let i = 0; i < AGENTS; i++) {
    const name = `bench-agent-${String(i).padStart(3, '0')}`;
    const { token } = await api(collector.url, 'POST', '/agents', { name });
    agents.push({ name, token, instance: randomUUID(), synthetic: new SyntheticAgent(i), acked: 0 });
  }

  // Latency first, at light load: a quiet collector and database, not the aftermath of the
  // throughput phases.
  let latency;
  let latencyNote;
  if (PROBES === 0) latencyNote = 'not measured: BENCH_PROBES=0';
  else if (!agentHasRun()) latencyNote = 'not measured: `ipwarden-agent --help` lists no `run` command';
  else {
    say(`latency: ${PROBES} gratuitous ARP announcements, one every ${PROBE_GAP_MS} ms`);
    pg.psql('checkpoint');
    latency = await latencyPhase(collector, pg);
  }

  const phases = [];
  for (const size of BATCHES) {
    if (PROFILE) pg.psql('select pg_stat_statements_reset()');
    collector ??= await startCollector(pg.url);
    const phase = await throughputPhase(collector, pg, agents, size);
    if (!PROFILE) collector = undefined; // killed at the end of the phase
    phases.push(phase);
    say(`batch ${size}: ${fmt(phase.rate)} sightings/s, ${phase.verified ? 'rows verified' : 'ROW COUNTS DIFFER'}`);
    if (PROFILE) phase.statements = topStatements(pg);
  }

  await collector?.stop();

  say('reference: INSERT … SELECT on the same server');
  const ref = reference(pg, 200_000, false);
  const refFk = reference(pg, 200_000, true);
  const profile = PROFILE ? summarizeProfile(profileDir) : undefined;

  // ------------------------------------------------------------------------- the report
  const cores = cpus().length;
  const line = (text = '') => console.log(text);
  line(
    `\nbench:ingest — the collector on PostgreSQL; ${cores} cores (${cpus()[0]?.model ?? '?'}), Node ${process.version}`,
  );
  line(`PostgreSQL ${version}, cluster on ${fsType}: ${settings}`);
  line(
    `load: ${AGENTS} agents, each a WebSocket to ${AGENT_PATH} with its own token, ${WINDOW} unacked batches at most per agent; ${SECONDS} s per batch size, the first ${WARMUP_SECONDS} s not counted`,
  );
  line(
    '      items 85% new, 10% refresh, 5% moved; 75% IPv4 (ARP, DHCP ACK, mDNS), 25% IPv6 (NDP, mDNS); JSON made beforehand',
  );
  line(
    '      each phase on empty bindings / sighting_events; the load generator runs on the same cores (its CPU is shown)',
  );
  line('');
  line(
    '  batch  sightings/s   acked (batches)   rows stored: bindings / events   ack wait p50 / p99 │ CPU core-s: collector  postgres  bench  rest of machine  stolen │ CPU µs per sighting: collector  postgres',
  );
  for (const p of phases) {
    const per = (cpuSeconds) => ((cpuSeconds * 1e6) / p.counted).toFixed(0);
    const rest = p.cpu.busy - p.cpu.collector - p.cpu.postgres - p.cpu.bench;
    line(
      `${String(p.batchSize).padStart(7)} ${fmt(p.rate).padStart(12)}   ${`${fmt(p.ackedItems)} (${fmt(p.ackedBatches)})`.padEnd(16)} ${`${fmt(p.stored.bindings)} / ${fmt(p.stored.events)} ${p.verified ? 'ok' : 'DIFFER'}`.padStart(32)}   ${`${fmt(p.ackP50)} / ${fmt(p.ackP99)} ms`.padStart(18)} │ ${p.cpu.collector.toFixed(1).padStart(20)} ${p.cpu.postgres.toFixed(1).padStart(9)} ${p.cpu.bench.toFixed(1).padStart(6)} ${rest.toFixed(1).padStart(16)} ${p.cpu.steal.toFixed(1).padStart(7)} │ ${per(p.cpu.collector).padStart(30)} ${per(p.cpu.postgres).padStart(9)}`,
    );
    if (!p.verified) {
      line(
        `         expected ${fmt(p.expected.bindings)} bindings / ${fmt(p.expected.events)} events: the batches up to each agent's stored last_seq`,
      );
    }
  }
  line(
    `         CPU and µs per sighting from the end of the warm-up to the end of the phase (${cores * (SECONDS - WARMUP_SECONDS)} core-s available); "rest of machine": kernel and other processes.`,
  );
  line(
    '         Ack wait = send → ack, mostly queueing at saturation. Acked includes the warm-up; rows stored include batches committed after the phase ended.',
  );
  line(
    `\nreference, same server, no collector: INSERT … SELECT generate_series of ${fmt(ref.rows)} rows into copies of sighting_events and bindings (same indexes), one transaction, one backend:`,
  );
  line(
    `  ${fmt(ref.rate)} sightings/s without foreign keys, ${fmt(refFk.rate)} sightings/s with the agent_id foreign keys`,
  );

  if (latency !== undefined) {
    line(
      `\nframe → row: ${latency.probes} gratuitous ARP announcements (a new IP and MAC each, one every ${PROBE_GAP_MS} ms) sent in a namespace, captured on the veth by \`ipwarden-agent run\`;`,
    );
    line(
      `  GET /api/v1/discoveries?ip= polled every ~1 ms per address in flight (${fmt(latency.pollRate)} requests/s)`,
    );
    line(
      `  seen ${latency.seen}/${latency.probes}: min ${latency.min?.toFixed(1)} ms, p50 ${latency.p50?.toFixed(1)} ms, p99 ${latency.p99?.toFixed(1)} ms, max ${latency.max?.toFixed(1)} ms`,
    );
    if (latency.missing.length > 0) line(`  not seen within 5 s: ${latency.missing.slice(0, 10).join(', ')}`);
    const { store, cpu } = latency;
    line(
      `  the collector's part (its /metrics histogram, arrival → ack): ${store.batches} batches for ${store.sightings} sightings, mean ${store.mean?.toFixed(1)} ms, p50 ≤ ${store.p50} ms, p99 ≤ ${store.p99} ms`,
    );
    const rest = cpu.busy - cpu.collector - cpu.postgres - cpu.bench - cpu.agent;
    line(
      `  CPU core-s over those ${cpu.seconds.toFixed(1)} s: agent ${cpu.agent.toFixed(2)}, collector ${cpu.collector.toFixed(2)}, postgres ${cpu.postgres.toFixed(2)}, bench ${cpu.bench.toFixed(2)}, rest of machine ${rest.toFixed(2)}, stolen ${cpu.steal.toFixed(2)}`,
    );
  } else {
    line(`\nframe → row: ${latencyNote}`);
  }
  if (PROFILE) {
    for (const p of phases) {
      line(`\nPostgreSQL, batch ${p.batchSize}: top statements (total | calls | mean | query)\n${p.statements}`);
    }
    line(`\ncollector CPU profile, all phases (${profileDir}):\n${profile}`);
  }

  line('');
  let ok = true;
  // Judged at the agent's own batch size, which its batching reaches under load (uplink.ts, BUSY_IN_FLIGHT).
  const judged = phases.find((p) => p.batchSize === AGENT_BATCH) ?? phases.reduce((a, b) => (b.rate > a.rate ? b : a));
  const rateMet = judged.rate >= TARGET_RATE;
  ok &&= rateMet;
  line(
    `≥ ${fmt(TARGET_RATE)} sightings/s stored with ${AGENTS} agents: ${rateMet ? 'met' : 'NOT met'} at batch ${judged.batchSize} (${phases.map((p) => `${fmt(p.rate)}/s at batch ${p.batchSize}`).join(', ')})`,
  );
  const verified = phases.every((p) => p.verified);
  ok &&= verified;
  line(`rows in PostgreSQL = the batches stored, every acked batch among them: ${verified ? 'yes' : 'NO'}`);
  if (latency === undefined) {
    ok = false;
    line(`p99 frame → row < ${TARGET_P99_MS} ms at light load: ${latencyNote}`);
  } else {
    const latencyMet = latency.seen === latency.probes && latency.p99 < TARGET_P99_MS;
    ok &&= latencyMet;
    line(
      `p99 frame → row < ${TARGET_P99_MS} ms at light load: ${latencyMet ? 'met' : 'NOT met'} (p99 ${latency.p99?.toFixed(1)} ms, ${latency.seen}/${latency.probes} seen)`,
    );
  }
  line(ok ? '\ntargets met' : '\ntargets NOT met');
  say(`done in ${((performance.now() - startedAt) / 1000).toFixed(0)} s`);
}

await run(main);
