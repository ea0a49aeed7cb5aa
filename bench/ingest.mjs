#!/usr/bin/env node
/**
 * `pnpm bench:ingest`: how fast the collector stores sightings on PostgreSQL with reconciliation
 * on beside off, how soon a frame on the wire is a row in `GET /api/v1/discoveries`, and how soon
 * an offending frame is a conflict in `GET /api/v1/conflicts` under load. A benchmark, not a
 * timed test.
 *
 * - A throwaway PostgreSQL 15 cluster on disk (fsync on, synchronous_commit on: an ack means the
 *   batch is durable) and the collector as its own process (`ipwarden-collector`), started here
 *   and stopped at the end, even on failure or Ctrl-C.
 * - A network plan that makes the rules work, as production has one: through the API, for each
 *   simulated agent a /16 and a /64 on its VLAN (a gateway, a dynamic range), and 10.99.0.0/16
 *   for the lab link; then the allocations table pre-filled in SQL (bench/support.mjs,
 *   allocationFill: `addresses` and `taken_runs` as the allocator writes them) for 89.5% of the
 *   addresses the agents report, with the MAC they are seen with. Of the addresses: 10% in the
 *   dynamic range, 0.5% unallocated (unallocated-in-use), 0.5% allocated to a MAC never seen
 *   (mac-mismatch), the rest allocated and matching — the common case, which costs an allocation
 *   lookup. Moves happen in the dynamic ranges (leases changing hands); one in ten goes back to
 *   the MAC the address had before (duplicate-ip).
 * - Throughput, at each batch size, BENCH_ROUNDS rounds of two phases, reconciliation off
 *   (`--reconcile off`) then on, each on a collector of its own: this shared machine's speed drifts
 *   by 2× over minutes, so each round's ratio compares phases seconds apart, and the target is
 *   judged on the median round (as bench:alloc does). In a phase, 100 simulated agents, each a
 *   real WebSocket to /agent/v1 with its own token, stream pre-generated `sightings` batches
 *   (85% new, 10% refresh, 5% moved; ARP/NDP/mDNS/DHCP, IPv4 and IPv6) for a fixed time,
 *   keeping a window of unacked batches as the agent's outbox does. Sightings/s acked = stored
 *   (the collector acks after commit), counted after a warm-up. Afterwards the rows in PostgreSQL
 *   must be exactly those of the batches up to each agent's stored seq, which must cover every
 *   ack. Every phase starts from empty bindings, sighting_events, conflicts and events, and the
 *   agents report the same addresses in each. Judging happens after the ack, so an "on" phase
 *   also shows whether it kept up: the collector's reconcile lag and dropped sightings at the end
 *   of the phase, how far behind it was when the agents stopped, and how long it then took to
 *   catch up; the conflicts it opened are counted per kind. The collector is killed at the end of
 *   a phase (the batches it is still storing are rolled back, not waited for).
 * - Latency, frame → discovery, at light load: `ipwarden-agent run` captures on a veth in the
 *   root namespace (10.99.0.1/16) whose peer lives in a namespace of its own; gratuitous ARP
 *   announcements, each a new IP and MAC in 10.99.0.0/24, are sent from that namespace with a
 *   raw socket, and `GET /discoveries?ip=` is polled until the row appears. Nothing is sent on
 *   any other link.
 * - Latency, frame → conflict, under load: while the 100 simulated agents stream at
 *   BENCH_LOAD_RATE sightings/s (paced, batches of 1000), the same lab sends an announcement from
 *   a fresh unallocated address (10.99.4.0 on) every 100 ms, and `GET /conflicts?ip=&status=open`
 *   is polled every 5 ms until its unallocated-in-use conflict is there. The background rate
 *   achieved meanwhile is printed beside it.
 *
 * Targets (2-core machine; issues 3 and 10): ≥ 50,000 sightings/s stored with 100 agents at the
 * agent's batch size with reconciliation on, and on ≥ 80% of off; p99 frame → discovery < 100 ms
 * at light load; p99 frame → conflict < 1 s under 50,000 sightings/s. Environment: BENCH_SECONDS
 * (per phase, default 25), BENCH_SIGHTINGS (pre-generated per phase, default 1,000,000),
 * BENCH_BATCHES (1000; the agent sends up to 1000, e.g. 500,1000,2000), BENCH_ROUNDS (2),
 * BENCH_WINDOW (unacked batches per agent, 64 as the agent), BENCH_AGENTS (100), BENCH_PROBES
 * (200, at most 240), BENCH_LOAD_RATE (50000), BENCH_OFFENDERS (300; 0 skips that phase),
 * BENCH_PROFILE=1 (each phase's collector under --cpu-prof and stopped gracefully, and
 * pg_stat_statements: where the time goes).
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { AGENT_PATH, PROTOCOL_VERSION } from '@ipwarden/protocol';
import WebSocket from 'ws';
import {
  allocationFill,
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
const BATCHES = (env.BENCH_BATCHES ?? '1000').split(',').map(Number);
const ROUNDS = Number(env.BENCH_ROUNDS ?? 2);
const WINDOW = Number(env.BENCH_WINDOW ?? 64); // the agent's own (DEFAULT_WINDOW in agent/src/uplink.ts)
const PROBES = Number(env.BENCH_PROBES ?? 200);
const PROBE_GAP_MS = 30;
const LOAD_RATE = Number(env.BENCH_LOAD_RATE ?? 50_000);
const OFFENDERS = Number(env.BENCH_OFFENDERS ?? 300);
const OFFENDER_GAP_MS = 100;
const OFFENDER_FIRST = 4 * 256; // 10.99.4.0: offsets in 10.99.0.0/16, clear of the discovery probes
const CONFLICT_POLL_MS = 5;
/** After the agents stop, how long an "on" collector is given to judge what it has stored. */
const CATCH_UP_SECONDS = 60;
const PROFILE = env.BENCH_PROFILE === '1';
const NETNS = 'iwb-host';
const VETH = 'iwb0'; // root namespace: the agent captures here
const VETH_PEER = 'iwb1'; // in NETNS: the frames are sent from here
const TARGET_RATE = 50_000;
const TARGET_RATIO = 0.8;
const AGENT_BATCH = 1000; // the agent's largest batch (DEFAULT_BATCH_ITEMS in agent/src/uplink.ts)
const TARGET_P99_MS = 100;
const TARGET_CONFLICT_P99_MS = 1000;

// ---------------------------------------------------------------------------------------------
// Synthetic sightings: a deterministic generator per agent. Agent `a` watches VLAN 100 + a, with
// 10.(100+a).0.0/16 and fd00:(a+1)::/64 on it. Its binding n is IPv6 when n % 4 = 3 (the k-th:
// k = n >> 2), else IPv4 (the m-th); the m-th (k-th) address's class is m % 200: below 20 in
// the dynamic range (10.(100+a).200.0 on, fd00:(a+1)::1:0 on), 20 unallocated, 21 allocated to
// another MAC, the rest allocated to the binding's MAC 02:a:n:n:n:00. Static addresses are
// 10.(100+a).0.(2+m) on and fd00:(a+1)::(16+k) on, so classes interleave at every rate, and the
// SQL fill (allocationRows) follows the same arithmetic. Of the items: 85% new, 10% refresh of
// an earlier binding, 5% moved: an earlier binding in a dynamic range given a new MAC (…:01,
// …:02), or in one move of ten back to the MAC it had before (a duplicate). Every phase starts
// again from binding 0 (its tables were emptied).

const PERIOD = 200;
const DYNAMIC_SHARE = 20; // classes 0–19 of PERIOD: 10%
const UNALLOCATED_CLASS = 20; // 0.5%
const OTHER_MAC_CLASS = 21; // 0.5%
const BACK_SHARE = 0.1;
const DYNAMIC4_START = 200 * 256; // 10.(100+a).200.0
const gateway4 = (a) => `10.${100 + a}.255.254`;

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

/** Binding n of agent a: [ip, mac, moves, previous mac, dynamic]. */
function bindingOf(a, n) {
  const v6 = n % 4 === 3;
  const i = v6 ? n >> 2 : 3 * (n >> 2) + (n % 4);
  const cls = i % PERIOD;
  const dynamic = cls < DYNAMIC_SHARE;
  const j = Math.floor(i / PERIOD) * DYNAMIC_SHARE + cls; // the j-th address of the dynamic range
  let ip;
  if (v6) ip = `fd00:${(a + 1).toString(16)}::${dynamic ? `1:${j.toString(16)}` : (16 + i).toString(16)}`;
  else {
    const offset = dynamic ? DYNAMIC4_START + j : 2 + i;
    ip = `10.${100 + a}.${offset >> 8}.${offset & 255}`;
  }
  return [ip, `02:${hex2(a)}:${hex2(n >> 16)}:${hex2(n >> 8)}:${hex2(n)}:00`, 0, undefined, dynamic];
}

/** The rows to allocate (subnet_id, ip, mac) for bindings 0 … n - 1 of every agent, as bindingOf has them. */
function allocationRows(agents, n) {
  const mac = (cls) => `('02' || lpad(to_hex(a), 2, '0') || lpad(to_hex((n >> 16) & 255), 2, '0')
      || lpad(to_hex((n >> 8) & 255), 2, '0') || lpad(to_hex(n & 255), 2, '0')
      || case when ${cls} = ${OTHER_MAC_CLASS} then 'ff' else '00' end)::macaddr`;
  return `select s.id as subnet_id, x.ip, x.mac from (
      select a, '10.0.0.0'::inet + ((100 + a) * 65536 + 2 + i) as ip, ${mac(`i % ${PERIOD}`)} as mac, 4 as family
      from generate_series(0, ${agents - 1}) a, generate_series(0, ${Math.ceil((3 * n) / 4)}) i,
           lateral (select 4 * (i / 3) + i % 3 as n) b
      where i % ${PERIOD} > ${UNALLOCATED_CLASS} and 4 * (i / 3) + i % 3 < ${n}
      union all
      select a, ('fd00:' || to_hex(a + 1) || '::')::inet + (16 + i), ${mac(`i % ${PERIOD}`)}, 6
      from generate_series(0, ${agents - 1}) a, generate_series(0, ${Math.ceil(n / 4)}) i,
           lateral (select 4 * i + 3 as n) b
      where i % ${PERIOD} > ${UNALLOCATED_CLASS} and 4 * i + 3 < ${n}
    ) x join subnets s on s.vlan = 100 + x.a and family(s.cidr) = x.family`;
}

class SyntheticAgent {
  constructor(index) {
    this.index = index;
    this.vlan = 100 + index;
    this.random = mulberry32(0x1b5 + index);
    this.seq = 0; // the last seq given out
    this.restart();
  }

  /** A phase of its own: from binding 0 again, nothing known (the tables were emptied). */
  restart() {
    this.next = 0; // bindings made so far in this phase
    this.known = []; // bindings of earlier batches
    this.dynamic = []; // those of them in a dynamic range
  }

  newBinding() {
    const n = this.next++;
    if (n >= 65_535) throw new Error('synthetic address space exhausted: lower BENCH_SIGHTINGS');
    return bindingOf(this.index, n);
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
      if (this.known.length > 0 && r < 0.1) {
        const b = this.known[Math.floor(this.random() * this.known.length)];
        items.push(this.item(at + i, 'refresh', b));
      } else if (this.dynamic.length > 0 && r < 0.15) {
        const b = this.dynamic[Math.floor(this.random() * this.dynamic.length)];
        const previous = b[1];
        // Back to the MAC before: a binding row that exists already (one per IP and MAC).
        const back = b[3] !== undefined && this.random() < BACK_SHARE;
        b[2]++;
        b[1] = back ? b[3] : `${previous.slice(0, 15)}${hex2(b[2])}`;
        b[3] = previous;
        items.push(this.item(at + i, 'moved', b, previous));
        events++;
        if (!back) bindings++;
      } else {
        const b = this.newBinding();
        made.push(b);
        items.push(this.item(at + i, 'new', b));
        events++;
        bindings++;
      }
    }
    for (const b of made) {
      this.known.push(b);
      if (b[4]) this.dynamic.push(b);
    }
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

// ---------------------------------------------------------------------------------------------
// The collector's /metrics: counters and histograms by name and labels.

async function readMetrics(collector) {
  const text = await (await fetch(`${collector.url}/metrics`)).text();
  const values = new Map();
  for (const match of text.matchAll(/^(ipwarden_[a-z_]+)(\{[^}]*\})? (\S+)$/gm)) {
    values.set(`${match[1]}${match[2] ?? ''}`, Number(match[3]));
  }
  return values;
}

/** A histogram's buckets [bound, cumulative count], sum and count. */
function histogramOf(metrics, name) {
  const buckets = [];
  for (const [key, value] of metrics) {
    const match = new RegExp(`^${name}_bucket\\{le="([^"]+)"\\}$`).exec(key);
    if (match) buckets.push([match[1] === '+Inf' ? Number.POSITIVE_INFINITY : Number(match[1]), value]);
  }
  buckets.sort((x, y) => x[0] - y[0]);
  return { buckets, sum: metrics.get(`${name}_sum`) ?? 0, count: metrics.get(`${name}_count`) ?? 0 };
}

/** Between two readings of a histogram: how many, their mean, and the bucket bound under which a quantile lies. */
function histogramDelta(a, b) {
  const buckets = b.buckets.map(([le, n], i) => [le, n - (a.buckets[i]?.[1] ?? 0)]);
  const count = b.count - a.count;
  const bound = (q) => buckets.find(([, n]) => n >= q * count)?.[0];
  return {
    count,
    mean: count === 0 ? undefined : ((b.sum - a.sum) / count) * 1000,
    p50: bound(0.5) * 1000,
    p99: bound(0.99) * 1000,
  };
}

/** Where the collector's reconciliation stands: sightings stored, judged, dropped unjudged. */
function reconcileState(metrics) {
  const stored = metrics.get('ipwarden_sightings_stored_total') ?? 0;
  const judged = metrics.get('ipwarden_reconcile_sightings_total') ?? 0;
  const dropped = metrics.get('ipwarden_reconcile_dropped_total') ?? 0;
  return { stored, judged, dropped, behind: stored - judged - dropped };
}

/** The conflicts in PostgreSQL, by kind (each phase starts with none). */
function conflictsByKind(pg) {
  const text = pg.psql(`select kind || '=' || count(*) from conflicts group by kind order by kind`);
  return Object.fromEntries(
    text
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split('='))
      .map(([k, n]) => [k, Number(n)]),
  );
}

const totalOf = (byKind) => Object.values(byKind).reduce((x, y) => x + y, 0);

/**
 * One phase on a collector of its own, reconciliation `on` or off: the agents stream `items`
 * sightings in batches of `batchSize` — as fast as acks allow, or paced at `rate` sightings/s
 * — for `seconds`, or until `during` (started after the warm-up, given the collector) resolves.
 * `before(collector)` runs once the collector is up (the lab agent of the conflict phase).
 */
async function streamPhase(pg, agents, { label, on, batchSize, items, seconds, rate, before, during }) {
  // Each phase starts from empty tables, so that phases are compared on equal terms; the
  // collector that starts next reads the (no) live conflicts.
  pg.psql('truncate bindings, sighting_events, conflicts, events', 'vacuum analyze', 'checkpoint');
  if (PROFILE) pg.psql('select pg_stat_statements_reset()');
  const profileDir = PROFILE ? join(root, '.bench', `collector-profile-${Date.now()}-${label}`) : undefined;
  if (profileDir !== undefined) mkdirSync(profileDir, { recursive: true });
  const collector = await startCollector(pg.url, profileDir, ['--reconcile', on ? 'on' : 'off']);
  const extra = before === undefined ? undefined : await before(collector);

  const perAgent = Math.ceil(items / agents.length / batchSize);
  say(`${label}: generating ${fmt(perAgent * batchSize * agents.length)} sightings`);
  const generatedAt = performance.now();
  const queues = agents.map((agent) => {
    agent.synthetic.restart();
    agent.synthetic.seq = agent.acked;
    const batches = [];
    for (let i = 0; i < perAgent; i++) batches.push(agent.synthetic.batch(batchSize));
    return batches;
  });
  const bytes = queues.flat().reduce((sum, b) => sum + b.bytes.length, 0);
  say(
    `${label}: ${(bytes / 1e6).toFixed(0)} MB of JSON in ${((performance.now() - generatedAt) / 1000).toFixed(1)} s; sending ${rate === undefined ? `for up to ${seconds} s` : `at ${fmt(rate)}/s`}`,
  );

  const wsUrl = `${collector.url.replace(/^http/, 'ws')}${AGENT_PATH}`;
  const sockets = await Promise.all(agents.map((agent) => connectAgent(wsUrl, agent)));
  const acks = []; // [time, items]
  const ackWaits = [];
  const config = { messages: 0, bytes: 0 }; // the watch lists the collector sends every agent
  const metricsBefore = await readMetrics(collector);
  // Counted from the end of the warm-up (the first acks wait for every agent's first batch):
  // sightings acked and CPU used from then to the end of the phase.
  let warm = cpuSnapshot(collector.pid, pg.postmaster);
  const labCpu = () => (extra?.pid === undefined ? 0 : cpuOf(extra.pid));
  let labWarm = labCpu();
  let duringDone;
  const start = performance.now();
  let deadline = start + seconds * 1000;
  let stopped;
  const stop = new Promise((r) => (stopped = r));
  const warmTimer = setTimeout(() => {
    warm = cpuSnapshot(collector.pid, pg.postmaster);
    labWarm = labCpu();
    if (during !== undefined) {
      duringDone = during(collector, extra).finally(() => {
        deadline = performance.now();
        stopped();
      });
    }
  }, WARMUP_SECONDS * 1000);
  // Paced: agent i sends its k-th batch at start + (i / agents + k) × interval, the agents
  // spread evenly over each interval.
  const interval = rate === undefined ? 0 : (batchSize * agents.length * 1000) / rate;
  const streams = sockets.map(
    (socket, i) =>
      new Promise((resolveAgent, reject) => {
        const queue = queues[i];
        const inFlight = new Map(); // seq → [batch, sent at]
        let next = 0;
        let timer;
        const due = (k) => start + (i / agents.length + k) * interval;
        const pump = () => {
          timer = undefined;
          while (inFlight.size < WINDOW && next < queue.length && performance.now() < deadline) {
            if (interval > 0 && performance.now() < due(next)) {
              timer = setTimeout(pump, due(next) - performance.now());
              return;
            }
            const batch = queue[next++];
            inFlight.set(batch.seq, [batch, performance.now()]);
            socket.send(batch.bytes, { binary: false });
          }
          if (inFlight.size === 0 && (next >= queue.length || performance.now() >= deadline)) resolveAgent();
        };
        socket.on('message', (data) => {
          // Not parsed: with thousands of conflicts open, a watch list is a few hundred kB.
          if (data.subarray(0, 16).toString() === '{"type":"config"') {
            config.messages++;
            config.bytes += data.length;
            return;
          }
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
          if (t < deadline) {
            if (timer === undefined) pump();
          } else resolveAgent();
        });
        socket.on('close', (code, reason) =>
          reject(new Error(`agent ${agents[i].name}: closed ${code} ${reason} with ${inFlight.size} in flight`)),
        );
        pump();
      }),
  );
  let timer;
  const limit = during === undefined ? new Promise((r) => (timer = setTimeout(r, seconds * 1000))) : stop;
  await Promise.race([Promise.all(streams), limit]);
  clearTimeout(timer);
  clearTimeout(warmTimer);
  const duringResult = await duringDone;
  const end = Math.min(performance.now(), deadline);
  const cpu = { ...cpuDelta(warm, cpuSnapshot(collector.pid, pg.postmaster)), lab: labCpu() - labWarm };
  const metricsEnd = await readMetrics(collector);
  // The agents leave at once, batches still in flight. The collector drops what it has queued
  // for a closed connection but finishes the batch of each agent it is storing — up to one batch
  // per agent, which at these rates takes long: unless profiling, it is killed instead, and
  // PostgreSQL rolls those transactions back.
  for (const socket of sockets) {
    socket.removeAllListeners();
    socket.on('error', () => {});
    socket.terminate();
  }
  // Judging comes after the ack: an "on" collector may be behind when the agents stop. It is
  // given time to catch up — how long it takes says by how much it fell behind — before it goes.
  const atEnd = reconcileState(metricsEnd);
  let caughtUp;
  let metricsAfter = metricsEnd;
  if (on) {
    const t0 = performance.now();
    for (;;) {
      metricsAfter = await readMetrics(collector);
      const state = reconcileState(metricsAfter);
      if (state.behind <= 0) {
        caughtUp = (performance.now() - t0) / 1000;
        break;
      }
      if (performance.now() - t0 > CATCH_UP_SECONDS * 1000) break;
      await sleep(100);
    }
  }
  if (extra?.stop !== undefined) await extra.stop();
  if (PROFILE) await collector.stop();
  else await collector.kill();
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
    .psql(
      `select (select count(*) from bindings where vlan >= 100), (select count(*) from sighting_events where vlan >= 100)`,
    )
    .split('|')
    .map(Number);
  ackWaits.sort((x, y) => x - y);
  const result = {
    label,
    on,
    batchSize,
    seconds: (end - start) / 1000,
    rate: counted / ((end - start - warmup) / 1000),
    counted,
    ackedItems,
    ackedBatches: acks.length,
    acks,
    ackP50: ackWaits[Math.floor(ackWaits.length * 0.5)],
    ackP99: ackWaits[Math.floor(ackWaits.length * 0.99)],
    cpu,
    stored: { bindings, events },
    expected,
    verified: seqsOk && bindings === expected.bindings && events === expected.events,
    conflicts: conflictsByKind(pg),
    config,
    reconcile: {
      atEnd,
      caughtUp,
      after: reconcileState(metricsAfter),
      dropped: reconcileState(metricsAfter).dropped - reconcileState(metricsBefore).dropped,
      lag: histogramDelta(
        histogramOf(metricsBefore, 'ipwarden_reconcile_lag_seconds'),
        histogramOf(metricsAfter, 'ipwarden_reconcile_lag_seconds'),
      ),
    },
    during: duringResult,
  };
  if (PROFILE) {
    result.statements = topStatements(pg);
    result.profile = summarizeProfile(profileDir);
    result.profileDir = profileDir;
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Latency: frame on the wire → row in GET /discoveries, and → conflict in GET /conflicts, with a
// real agent capturing.

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
  sh('ip', 'addr', 'add', '10.99.0.1/16', 'dev', VETH);
  sh('ip', 'link', 'set', VETH, 'up');
  sh('ip', 'netns', 'exec', NETNS, 'sysctl', '-qw', `net.ipv6.conf.${VETH_PEER}.disable_ipv6=1`);
  sh('ip', '-n', NETNS, 'addr', 'add', '10.99.0.2/16', 'dev', VETH_PEER);
  sh('ip', '-n', NETNS, 'link', 'set', 'lo', 'up');
  sh('ip', '-n', NETNS, 'link', 'set', VETH_PEER, 'up');
}

/**
 * Sends `count` gratuitous ARP announcements on VETH_PEER (inside NETNS), one every `gap` ms,
 * each from a new IP (10.99.0.0 + first, first + 1, …) and MAC; prints "ip ns-since-epoch" for
 * each, the time taken just before the frame is handed to the kernel.
 */
const ARP_SENDER = `
import socket, struct, sys, time
ifname, first, count, gap = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]) / 1000
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
sys.stdin.readline()  # go
for i in range(first, first + count):
    ip = bytes([10, 99, (i >> 8) & 255, i & 255])
    mac = bytes([0x02, 0x99, 0, (i >> 16) & 255, (i >> 8) & 255, i & 255])
    frame = (b'\\xff' * 6 + mac + b'\\x08\\x06' + struct.pack('!HHBBH', 1, 0x0800, 6, 4, 1)
             + mac + ip + b'\\x00' * 6 + ip + b'\\x00' * 18)
    t = time.time_ns()
    s.send(frame)
    print('10.99.%d.%d %d' % ((i >> 8) & 255, i & 255, t), flush=True)
    time.sleep(gap)
`;

function agentHasRun() {
  const help = spawnSync(process.execPath, [agentBin, '--help'], { encoding: 'utf8' });
  return /^\s+run\b/m.test(`${help.stdout}${help.stderr}`);
}

/**
 * `ipwarden-agent run` on the lab's veth, as agent `lab` (its token and state directory, kept
 * from one collector to the next), connected (welcomed) within 15 s or its own words say why not.
 */
async function startLabAgent(collector, lab) {
  // DESIGN.md, "Command-line contract": ipwarden-agent run.
  const args = ['run', '--collector', collector.url, '--token', lab.token, '--interface', VETH];
  args.push('--state-dir', lab.stateDir, '--name', 'bench-latency');
  const agent = spawn(process.execPath, [agentBin, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...env, IPWARDEN_LOG_LEVEL: 'warn' },
  });
  // pcap keeps a quiet interface's process alive after close(): SIGKILL after a short grace.
  const stop = stopper(agent, 2000);
  undo.push(stop);
  const agentLog = [];
  for (const stream of [agent.stdout, agent.stderr]) {
    createInterface({ input: stream }).on('line', (line) => agentLog.length < 100 && agentLog.push(line));
  }
  const connectedBy = Date.now() + 15_000;
  for (;;) {
    if (agent.exitCode !== null) throw new Error(`the agent exited ${agent.exitCode}:\n${agentLog.join('\n')}`);
    const { items } = await api(collector.url, 'GET', '/agents');
    if (items.find((a) => a.name === 'bench-latency')?.connected) break;
    if (Date.now() > connectedBy) throw new Error(`the agent did not connect in 15 s:\n${agentLog.join('\n')}`);
    await sleep(50);
  }
  await sleep(500); // the capture is open once the agent is welcomed; a margin for libpcap
  return { pid: agent.pid, stop };
}

/**
 * Announcements from `count` new addresses (10.99.0.0 + first on), one every `gap` ms; each is
 * timed from its send until `seenAt(ip)` says it is in the API (polled every `pollMs`, given
 * up after 10 s).
 */
async function sendAndTime({ first, count, gap, pollMs, isThere }) {
  const sender = spawn(
    'ip',
    ['netns', 'exec', NETNS, 'python3', '-u', '-c', ARP_SENDER, VETH_PEER, String(first), String(count), String(gap)],
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
    const giveUp = sentAt + 10_000;
    for (;;) {
      polls++;
      const there = await isThere(ip);
      const seen = now();
      if (there) return latencies.push(seen - sentAt);
      if (seen > giveUp) return missing.push(ip);
      await sleep(pollMs);
    }
  };
  const pollers = [];
  const pollStart = performance.now();
  const window = { start: pollStart };
  sender.stdin.write('go\n');
  for await (const line of createInterface({ input: sender.stdout })) {
    const [ip, ns] = line.split(' ');
    pollers.push(poll(ip, Number(ns) / 1e6));
  }
  await Promise.all(pollers);
  window.end = performance.now();
  const code = await senderExit;
  if (code !== 0) throw new Error(`the ARP sender failed (${code}): ${senderError}`);
  latencies.sort((x, y) => x - y);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))];
  return {
    count,
    seen: latencies.length,
    missing,
    min: latencies[0],
    p50: at(0.5),
    p99: at(0.99),
    max: latencies.at(-1),
    pollRate: polls / ((window.end - window.start) / 1000),
    window,
  };
}

async function latencyPhase(collector, pg, lab) {
  const probes = Math.min(PROBES, 240); // 10.99.0.10 – 10.99.0.249
  const agent = await startLabAgent(collector, lab);
  const storeHistogram = async () => {
    const metrics = await readMetrics(collector);
    return {
      ...histogramOf(metrics, 'ipwarden_batch_store_seconds'),
      stored: metrics.get('ipwarden_sightings_stored_total') ?? 0,
    };
  };
  const histogramBefore = await storeHistogram();
  const cpuBefore = { ...cpuSnapshot(collector.pid, pg.postmaster), agent: cpuOf(agent.pid) };
  const timed = await sendAndTime({
    first: 10,
    count: probes,
    gap: PROBE_GAP_MS,
    pollMs: 1,
    isThere: async (ip) => (await api(collector.url, 'GET', `/discoveries?ip=${ip}`)).items.length > 0,
  });
  const cpuAfter = { ...cpuSnapshot(collector.pid, pg.postmaster), agent: cpuOf(agent.pid) };
  const seconds = (timed.window.end - timed.window.start) / 1000;
  const cpu = { ...cpuDelta(cpuBefore, cpuAfter), agent: cpuAfter.agent - cpuBefore.agent, seconds };
  const histogramAfter = await storeHistogram();
  const store = {
    ...histogramDelta(histogramBefore, histogramAfter),
    sightings: histogramAfter.stored - histogramBefore.stored,
  };
  await agent.stop();
  return { ...timed, probes, cpu, store };
}

/**
 * Under load (streamPhase's `during`): offenders at fresh unallocated addresses of the lab subnet,
 * each timed from its frame until its conflict is open in the API.
 */
async function offendersDuring(collector) {
  const timed = await sendAndTime({
    first: OFFENDER_FIRST,
    count: OFFENDERS,
    gap: OFFENDER_GAP_MS,
    pollMs: CONFLICT_POLL_MS,
    isThere: async (ip) =>
      (await api(collector.url, 'GET', `/conflicts?ip=${ip}&status=open`)).items.some(
        (c) => c.kind === 'unallocated-in-use',
      ),
  });
  return timed;
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
  const { pg, version, settings, fsType } = stack;
  const { collector } = stack;

  say(`registering ${AGENTS} agents`);
  const agents = [];
  for (let i = 0; i < AGENTS; i++) {
    const name = `bench-agent-${String(i).padStart(3, '0')}`;
    const { token } = await api(collector.url, 'POST', '/agents', { name });
    agents.push({ name, token, instance: randomUUID(), synthetic: new SyntheticAgent(i), acked: 0 });
  }

  // The lab, for both latencies: its agent registered once, its state kept across collectors.
  const hasRun = agentHasRun();
  let lab;
  if (hasRun && (PROBES > 0 || OFFENDERS > 0)) {
    setUpLab();
    const stateDir = mkdtempSync(join(tmpdir(), 'ipwarden-bench-agent-'));
    undo.push(() => rmSync(stateDir, { recursive: true, force: true }));
    lab = { stateDir, ...(await api(collector.url, 'POST', '/agents', { name: 'bench-latency' })) };
  }

  // The plan, through the API as an admin would make it: per agent a /16 and a /64 on its VLAN,
  // each with a gateway and a dynamic range; the lab's /16 on VLAN 0 (untagged).
  say(`making ${2 * AGENTS + 1} subnets and their dynamic ranges`);
  const planStart = performance.now();
  for (let a = 0; a < AGENTS; a++) {
    const v4 = await api(collector.url, 'POST', '/subnets', {
      cidr: `10.${100 + a}.0.0/16`,
      vlan: 100 + a,
      gateway: gateway4(a),
    });
    await api(collector.url, 'POST', `/subnets/${v4.id}/ranges`, {
      start: `10.${100 + a}.${DYNAMIC4_START >> 8}.0`,
      end: `10.${100 + a}.255.253`,
      purpose: 'dynamic',
    });
    const prefix6 = `fd00:${(a + 1).toString(16)}::`;
    const v6 = await api(collector.url, 'POST', '/subnets', {
      cidr: `${prefix6}/64`,
      vlan: 100 + a,
      gateway: `${prefix6}1`,
    });
    await api(collector.url, 'POST', `/subnets/${v6.id}/ranges`, {
      start: `${prefix6}1:0`,
      end: `${prefix6}1:ffff`,
      purpose: 'dynamic',
    });
  }
  await api(collector.url, 'POST', '/subnets', { cidr: '10.99.0.0/16', gateway: '10.99.0.1' });
  const planSeconds = (performance.now() - planStart) / 1000;

  // The allocations, in SQL: every binding a phase can make (each item new, at most).
  const perAgentItems = (items, size) => Math.ceil(items / AGENTS / size) * size;
  const loadItems = OFFENDERS === 0 ? 0 : LOAD_RATE * (WARMUP_SECONDS + (OFFENDERS * OFFENDER_GAP_MS) / 1000 + 12);
  const bindingsPerAgent = Math.max(
    ...BATCHES.map((size) => perAgentItems(SIGHTINGS, size)),
    perAgentItems(loadItems, AGENT_BATCH),
  );
  if (bindingsPerAgent >= 65_535) throw new Error('synthetic address space exhausted: lower BENCH_SIGHTINGS');
  say(`allocating in SQL what the agents' first ${fmt(bindingsPerAgent)} bindings each will be`);
  const fillStart = performance.now();
  const owner = pg.psql(`select id from users where name = 'admin'`);
  pg.psql(...allocationFill(allocationRows(AGENTS, bindingsPerAgent), owner), 'vacuum analyze', 'checkpoint');
  const fillSeconds = (performance.now() - fillStart) / 1000;
  // The fill can outlast the collector's keep-alive timeout: the pooled connection it closed
  // fails one request, this one.
  await fetch(`${collector.url}/healthz`).catch(() => {});
  const [allocated, runs] = pg
    .psql('select (select count(*) from addresses), (select count(*) from taken_runs)')
    .split('|')
    .map(Number);

  const noRun = 'not measured: `ipwarden-agent --help` lists no `run` command';

  // Frame → discovery first, at light load: a quiet collector and database, not the aftermath
  // of the throughput phases.
  let latency;
  let latencyNote;
  if (PROBES === 0) latencyNote = 'not measured: BENCH_PROBES=0';
  else if (!hasRun) latencyNote = noRun;
  else {
    say(`latency: ${PROBES} gratuitous ARP announcements, one every ${PROBE_GAP_MS} ms`);
    pg.psql('checkpoint');
    latency = await latencyPhase(collector, pg, lab);
  }
  if (PROFILE) await collector.stop();
  else await collector.kill();

  // Off, on, off, on …: each round's two phases seconds apart.
  const rounds = [];
  for (const size of BATCHES) {
    for (let r = 1; r <= ROUNDS; r++) {
      const round = { size, r };
      for (const on of [false, true]) {
        const label = `batch ${size}, round ${r}, reconcile ${on ? 'on' : 'off'}`;
        const phase = await streamPhase(pg, agents, { label, on, batchSize: size, items: SIGHTINGS, seconds: SECONDS });
        round[on ? 'on' : 'off'] = phase;
        const judging = on
          ? `; ${fmt(totalOf(phase.conflicts))} conflicts; ${fmt(phase.reconcile.atEnd.behind)} sightings unjudged at the end, ${phase.reconcile.caughtUp === undefined ? `NOT caught up in ${CATCH_UP_SECONDS} s` : `caught up in ${phase.reconcile.caughtUp.toFixed(1)} s`}`
          : '';
        say(
          `${label}: ${fmt(phase.rate)} sightings/s, ${phase.verified ? 'rows verified' : 'ROW COUNTS DIFFER'}${judging}`,
        );
      }
      round.ratio = round.on.rate / round.off.rate;
      say(`batch ${size}, round ${r}: on / off = ${round.ratio.toFixed(2)}`);
      rounds.push(round);
    }
  }

  // Frame → conflict under load: paced background, offenders from the lab.
  let load;
  let loadNote;
  if (OFFENDERS === 0) loadNote = 'not measured: BENCH_OFFENDERS=0';
  else if (!hasRun) loadNote = noRun;
  else {
    say(
      `frame → conflict: ${OFFENDERS} offenders, one every ${OFFENDER_GAP_MS} ms, under ${fmt(LOAD_RATE)} sightings/s`,
    );
    load = await streamPhase(pg, agents, {
      label: 'under load, reconcile on',
      on: true,
      batchSize: AGENT_BATCH,
      items: loadItems,
      seconds: 3600,
      rate: LOAD_RATE,
      before: (c) => startLabAgent(c, lab),
      during: offendersDuring,
    });
    const { window } = load.during;
    const inWindow = load.acks.filter(([t]) => t >= window.start && t <= window.end);
    load.backgroundRate = inWindow.reduce((sum, [, n]) => sum + n, 0) / ((window.end - window.start) / 1000);
    say(
      `frame → conflict: p50 ${load.during.p50?.toFixed(0)} ms, p99 ${load.during.p99?.toFixed(0)} ms, ${load.during.seen}/${OFFENDERS} seen; background ${fmt(load.backgroundRate)} sightings/s`,
    );
  }

  say('reference: INSERT … SELECT on the same server');
  const ref = reference(pg, 200_000, false);
  const refFk = reference(pg, 200_000, true);

  // ------------------------------------------------------------------------- the report
  const cores = cpus().length;
  const line = (text = '') => console.log(text);
  const phases = rounds.flatMap((r) => [r.off, r.on]);
  line(
    `\nbench:ingest — the collector on PostgreSQL; ${cores} cores (${cpus()[0]?.model ?? '?'}), Node ${process.version}`,
  );
  line(`PostgreSQL ${version}, cluster on ${fsType}: ${settings}`);
  line(
    `plan: ${2 * AGENTS + 1} subnets (per agent a /16 and a /64 on its VLAN, each with a gateway and a dynamic range; the lab's /16) through the API in ${planSeconds.toFixed(1)} s;`,
  );
  line(
    `      ${fmt(allocated)} addresses allocated in SQL (${fmt(runs)} taken runs) in ${fillSeconds.toFixed(1)} s, with VACUUM ANALYZE: the first ${fmt(bindingsPerAgent)} bindings of each agent but those`,
  );
  line(
    '      in the dynamic ranges (10%) and 0.5% left unallocated; 0.5% allocated to a MAC never seen. Moves only in dynamic ranges, one in ten back (a duplicate)',
  );
  line(
    `load: ${AGENTS} agents, each a WebSocket to ${AGENT_PATH} with its own token, ${WINDOW} unacked batches at most per agent; ${SECONDS} s per phase at most, the first ${WARMUP_SECONDS} s not counted`,
  );
  line(
    '      items 85% new, 10% refresh, 5% moved; 75% IPv4 (ARP, DHCP ACK, mDNS), 25% IPv6 (NDP, mDNS); JSON made beforehand',
  );
  line(
    '      each phase on empty bindings / sighting_events / conflicts / events and a collector of its own (--reconcile off or on); the load generator runs on the same cores (its CPU is shown)',
  );
  line('');
  line(
    '  phase            batch  sightings/s   acked (batches)   rows stored: bindings / events   ack wait p50 / p99 │ CPU core-s: collector  postgres  bench  rest  stolen │ µs/sighting: collector  postgres',
  );
  const phaseLine = (p, name) => {
    const per = (cpuSeconds) => ((cpuSeconds * 1e6) / p.counted).toFixed(0);
    const rest = p.cpu.busy - p.cpu.collector - p.cpu.postgres - p.cpu.bench - p.cpu.lab;
    line(
      `  ${name.padEnd(15)} ${String(p.batchSize).padStart(6)} ${fmt(p.rate).padStart(12)}   ${`${fmt(p.ackedItems)} (${fmt(p.ackedBatches)})`.padEnd(16)} ${`${fmt(p.stored.bindings)} / ${fmt(p.stored.events)} ${p.verified ? 'ok' : 'DIFFER'}`.padStart(32)}   ${`${fmt(p.ackP50)} / ${fmt(p.ackP99)} ms`.padStart(18)} │ ${p.cpu.collector.toFixed(1).padStart(20)} ${p.cpu.postgres.toFixed(1).padStart(9)} ${p.cpu.bench.toFixed(1).padStart(6)} ${rest.toFixed(1).padStart(5)} ${p.cpu.steal.toFixed(1).padStart(7)} │ ${per(p.cpu.collector).padStart(22)} ${per(p.cpu.postgres).padStart(9)}`,
    );
    if (!p.verified) {
      line(
        `         expected ${fmt(p.expected.bindings)} bindings / ${fmt(p.expected.events)} events: the batches up to each agent's stored last_seq`,
      );
    }
  };
  for (const r of rounds) {
    phaseLine(r.off, `round ${r.r}, off`);
    phaseLine(r.on, `round ${r.r}, on`);
  }
  if (load !== undefined) phaseLine(load, 'under load, on');
  if (load !== undefined)
    line(
      `         Under load, the lab's \`ipwarden-agent run\` used ${load.cpu.lab.toFixed(1)} core-s (not in "rest").`,
    );
  line(
    `         CPU and µs per sighting from the end of the warm-up to the end of the phase (${cores} core-s available per second); "rest": kernel and other processes.`,
  );
  line(
    '         Ack wait = send → ack, mostly queueing at saturation. Acked includes the warm-up; rows stored include batches committed after the phase ended.',
  );
  line(
    '\nreconciliation, each "on" phase (judged after the ack, in rounds; lag = stored → judged, /metrics histogram bounds):',
  );
  const bucket = (ms) => (ms === Number.POSITIVE_INFINITY ? '> 10 s' : `≤ ${fmt(ms)} ms`);
  const judgingLine = (p, name) => {
    const { atEnd, caughtUp, lag, dropped } = p.reconcile;
    const kinds = Object.entries(p.conflicts)
      .map(([k, n]) => `${k} ${fmt(n)}`)
      .join(', ');
    line(
      `  ${name.padEnd(15)} conflicts opened ${fmt(totalOf(p.conflicts)).padStart(6)} (${kinds || 'none'}); at the last ack ${fmt(atEnd.behind)} of ${fmt(atEnd.stored)} stored unjudged, ${caughtUp === undefined ? `NOT caught up ${CATCH_UP_SECONDS} s later` : `caught up ${caughtUp.toFixed(1)} s later`}; lag p50 ${bucket(lag.p50)}, p99 ${bucket(lag.p99)}, mean ${lag.mean?.toFixed(0)} ms; dropped ${fmt(dropped)}; watch lists sent ${fmt(p.config.messages)} (${(p.config.bytes / 1e6).toFixed(0)} MB)`,
    );
  };
  for (const r of rounds) judgingLine(r.on, `round ${r.r}, on`);
  if (load !== undefined) judgingLine(load, 'under load, on');
  const offConflicts = rounds.reduce((sum, r) => sum + totalOf(r.off.conflicts), 0);
  line(`  (the "off" phases opened ${fmt(offConflicts)} conflicts)`);
  line('\nreconciliation on / off, each round (the phases seconds apart):');
  const median = (values) => {
    const sorted = [...values].sort((x, y) => x - y);
    return (sorted[Math.floor((sorted.length - 1) / 2)] + sorted[Math.ceil((sorted.length - 1) / 2)]) / 2;
  };
  for (const size of BATCHES) {
    const ofSize = rounds.filter((r) => r.size === size);
    line(
      `  batch ${size}: ${ofSize.map((r) => `round ${r.r} ${fmt(r.on.rate)} / ${fmt(r.off.rate)} = ${r.ratio.toFixed(2)}`).join('; ')}; median ratio ${median(ofSize.map((r) => r.ratio)).toFixed(2)}`,
    );
  }
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
    if (latency.missing.length > 0) line(`  not seen within 10 s: ${latency.missing.slice(0, 10).join(', ')}`);
    const { store, cpu } = latency;
    line(
      `  the collector's part (its /metrics histogram, arrival → ack): ${store.count} batches for ${store.sightings} sightings, mean ${store.mean?.toFixed(1)} ms, p50 ≤ ${store.p50} ms, p99 ≤ ${store.p99} ms`,
    );
    const rest = cpu.busy - cpu.collector - cpu.postgres - cpu.bench - cpu.agent;
    line(
      `  CPU core-s over those ${cpu.seconds.toFixed(1)} s: agent ${cpu.agent.toFixed(2)}, collector ${cpu.collector.toFixed(2)}, postgres ${cpu.postgres.toFixed(2)}, bench ${cpu.bench.toFixed(2)}, rest of machine ${rest.toFixed(2)}, stolen ${cpu.steal.toFixed(2)}`,
    );
  } else {
    line(`\nframe → row: ${latencyNote}`);
  }
  if (load !== undefined) {
    const d = load.during;
    line(
      `\nframe → conflict under load: ${OFFENDERS} gratuitous ARP announcements from fresh unallocated addresses of 10.99.0.0/16, one every ${OFFENDER_GAP_MS} ms, captured by \`ipwarden-agent run\`,`,
    );
    line(
      `  while the ${AGENTS} agents stream at ${fmt(LOAD_RATE)} sightings/s (paced, batches of ${AGENT_BATCH}): ${fmt(load.backgroundRate)} sightings/s stored and acked meanwhile;`,
    );
    line(
      `  GET /api/v1/conflicts?ip=&status=open polled every ${CONFLICT_POLL_MS} ms per offender in flight (${fmt(d.pollRate)} requests/s)`,
    );
    line(
      `  seen ${d.seen}/${d.count}: min ${d.min?.toFixed(0) ?? '—'} ms, p50 ${d.p50?.toFixed(0) ?? '—'} ms, p99 ${d.p99?.toFixed(0) ?? '—'} ms, max ${d.max?.toFixed(0) ?? '—'} ms`,
    );
    if (d.missing.length > 0) line(`  not seen within 10 s: ${d.missing.slice(0, 10).join(', ')}`);
  } else {
    line(`\nframe → conflict under load: ${loadNote}`);
  }
  if (PROFILE) {
    for (const p of [...phases, ...(load === undefined ? [] : [load])]) {
      line(`\nPostgreSQL, ${p.label}: top statements (total | calls | mean | query)\n${p.statements}`);
      line(`\ncollector CPU profile, ${p.label} (${p.profileDir}):\n${p.profile}`);
    }
  }

  line('');
  let ok = true;
  // Judged at the agent's own batch size, which its batching reaches under load (uplink.ts,
  // BUSY_IN_FLIGHT), on the median round.
  const judgedSize = BATCHES.includes(AGENT_BATCH) ? AGENT_BATCH : BATCHES[0];
  const judged = rounds.filter((r) => r.size === judgedSize);
  const onRate = median(judged.map((r) => r.on.rate));
  const ratio = median(judged.map((r) => r.ratio));
  const rateMet = onRate >= TARGET_RATE;
  ok &&= rateMet;
  line(
    `≥ ${fmt(TARGET_RATE)} sightings/s stored with ${AGENTS} agents, reconciliation on: ${rateMet ? 'met' : 'NOT met'} at batch ${judgedSize} (median of ${judged.length}: ${fmt(onRate)}/s)`,
  );
  const ratioMet = ratio >= TARGET_RATIO;
  ok &&= ratioMet;
  line(
    `reconciliation on ≥ ${TARGET_RATIO * 100}% of off: ${ratioMet ? 'met' : 'NOT met'} (median round ${ratio.toFixed(2)}; rounds ${judged.map((r) => r.ratio.toFixed(2)).join(', ')})`,
  );
  // Kept up: at the last ack no more than a round (MAX_ROUND in reconciler.ts, 20,000) unjudged, nothing dropped.
  const keptUp = judged.every((r) => r.on.reconcile.atEnd.behind <= 20_000 && r.on.reconcile.dropped === 0);
  line(
    `reconciliation kept up (at the last ack at most a round of 20,000 unjudged, nothing dropped): ${keptUp ? 'yes' : 'NO'} (${judged.map((r) => `${fmt(r.on.reconcile.atEnd.behind)} unjudged at the end`).join(', ')})`,
  );
  const verified = [...phases, ...(load === undefined ? [] : [load])].every((p) => p.verified);
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
  if (load === undefined) {
    ok = false;
    line(`p99 frame → conflict < ${TARGET_CONFLICT_P99_MS} ms under ${fmt(LOAD_RATE)} sightings/s: ${loadNote}`);
  } else {
    const d = load.during;
    const conflictMet = d.seen === d.count && d.p99 < TARGET_CONFLICT_P99_MS;
    ok &&= conflictMet;
    line(
      `p99 frame → conflict < ${TARGET_CONFLICT_P99_MS} ms under ${fmt(LOAD_RATE)} sightings/s: ${conflictMet ? 'met' : 'NOT met'} (p99 ${d.p99?.toFixed(0)} ms, ${d.seen}/${d.count} seen, background ${fmt(load.backgroundRate)}/s)`,
    );
  }
  line(ok ? '\ntargets met' : '\ntargets NOT met');
  say(`done in ${((performance.now() - startedAt) / 1000).toFixed(0)} s`);
}

await run(main);
