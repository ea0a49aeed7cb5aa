#!/usr/bin/env node
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventStreamParser } from '@ipwarden/client/event-stream';
import { AGENT_PATH, PROTOCOL_VERSION } from '@ipwarden/protocol';
import WebSocket from 'ws';
import {
  AGENT_BATCH,
  AGENTS,
  BATCHES,
  CATCH_UP_SECONDS,
  LOAD_RATE,
  OFFENDER_FIRST,
  OFFENDER_GAP_MS,
  OFFENDERS,
  PROBE_GAP_MS,
  PROBES,
  PROFILE,
  ROUNDS,
  SECONDS,
  SIGHTINGS,
  WARMUP_SECONDS,
  WINDOW,
} from './ingest-config.mjs';
import { agentHasRun, sendAndTime, setUpLab, startLabAgent } from './ingest-lab.mjs';
import { allocationRows, DYNAMIC4_START, gateway4, SyntheticAgent } from './ingest-load.mjs';
import { report, totalOf } from './ingest-report.mjs';
import {
  ADMIN_TOKEN,
  allocationFill,
  api,
  cpuDelta,
  cpuOf,
  cpuSnapshot,
  fmt,
  histogramDelta,
  histogramOf,
  now,
  readMetrics,
  root,
  run,
  say,
  sleep,
  startCollector,
  startStack,
  storageOf,
  summarizeProfile,
  topStatements,
  undo,
} from './support.mjs';

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
// Reconciliation as the collector's /metrics tell it (support.mjs reads them).

/** Where the collector's reconciliation stands: sightings stored, judged, dropped unjudged. */
function reconcileState(metrics) {
  const stored = metrics.get('ipwarden_sightings_stored_total') ?? 0;
  const judged = metrics.get('ipwarden_reconcile_sightings_total') ?? 0;
  const dropped = metrics.get('ipwarden_reconcile_dropped_total') ?? 0;
  return { stored, judged, dropped, behind: stored - judged - dropped };
}

/** Waits until the collector holds every managed subnet's allocations; how long that took, in s. */
async function allocationsWarm(collector, pg) {
  const subnets = Number(pg.psql('select count(*) from subnets where managed'));
  const t0 = performance.now();
  for (;;) {
    const held = (await readMetrics(collector)).get('ipwarden_reconcile_allocation_snapshots{state="held"}') ?? 0;
    if (held >= subnets) return (performance.now() - t0) / 1000;
    if (performance.now() - t0 > 300_000)
      throw new Error(`the collector held ${held} of ${subnets} subnets' allocations after 300 s`);
    await sleep(100);
  }
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
  // A reconciling collector reads every subnet's allocations into memory as it starts (once in
  // its life, allocation-cache.ts); the phase measures it judging, after that, and says how long it took.
  const warmSeconds = on ? await allocationsWarm(collector, pg) : undefined;
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
    warmSeconds,
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
// real agent capturing on the lab's veth (ingest-lab.mjs).

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
 * each timed from its frame until its conflict reaches a client of the API: `conflict.opened` on
 * `GET /events`, the stream a dashboard follows (the event is committed with the conflict). Polling
 * `GET /conflicts?ip=` every few milliseconds for each offender in flight (as this bench did) was
 * load of its own on the collector it measured: 70 requests/s, about 1 ms of its CPU each. At the
 * end, each offender's conflict is looked up once in `GET /conflicts?ip=&status=open`.
 */
async function offendersDuring(collector) {
  const stream = await openConflictStream(collector.url, '10.99.'); // the lab's /16 (ingest-lab.mjs)
  try {
    const timed = await sendAndTime({
      first: OFFENDER_FIRST,
      count: OFFENDERS,
      gap: OFFENDER_GAP_MS,
      arrivalOf: (ip, giveUpAt) => stream.arrival(ip, 'unallocated-in-use', giveUpAt),
    });
    let listed = 0;
    for (const ip of stream.opened.keys()) {
      const { items } = await api(collector.url, 'GET', `/conflicts?ip=${ip}&status=open`);
      if (items.some((c) => c.kind === 'unallocated-in-use')) listed++;
    }
    return { ...timed, listed };
  } finally {
    stream.close();
  }
}

/**
 * `GET /events?types=conflict.opened` followed as a client would: the arrival (wall clock, ms) of
 * the first conflict of each address that starts with `ipPrefix` — only those are parsed, not the
 * agents' thousands.
 */
async function openConflictStream(base, ipPrefix) {
  const abort = new AbortController();
  const response = await fetch(`${base}/api/v1/events?types=conflict.opened`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, accept: 'text/event-stream' },
    signal: abort.signal,
  });
  if (response.status !== 200) throw new Error(`GET /events: ${response.status} ${await response.text()}`);
  const opened = new Map(); // ip → { kind, at } of its first conflict.opened
  const waiting = new Map(); // ip → [kind, resolve]
  const reader = response.body.getReader();
  const parser = new EventStreamParser();
  void (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        const at = now();
        for (const { data } of parser.push(value)) {
          if (!data.includes(`"ip":"${ipPrefix}`)) continue;
          const conflict = JSON.parse(data).data;
          if (opened.has(conflict.ip)) continue;
          opened.set(conflict.ip, { kind: conflict.kind, at });
          const waiter = waiting.get(conflict.ip);
          if (waiter !== undefined && waiter[0] === conflict.kind) {
            waiting.delete(conflict.ip);
            waiter[1](at);
          }
        }
      }
    } catch {
      // Closed at the end of the phase.
    }
  })();
  /** When the first conflict.opened of `ip` came, if of `kind`; undefined if none by `giveUpAt`. */
  const arrival = (ip, kind, giveUpAt) =>
    new Promise((resolve) => {
      const seen = opened.get(ip);
      if (seen !== undefined) return resolve(seen.kind === kind ? seen.at : undefined);
      const timer = setTimeout(() => {
        waiting.delete(ip);
        resolve(undefined);
      }, giveUpAt - now());
      waiting.set(ip, [
        kind,
        (at) => {
          clearTimeout(timer);
          resolve(at);
        },
      ]);
    });
  return { opened, arrival, close: () => abort.abort() };
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
    ...storageOf(pg, 'bindings', 'ref_bindings'),
    ...storageOf(pg, 'sighting_events', 'ref_events'),
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
    insert into ref_events (agent_id, seq, item, at, interface, vlan, source, kind, event, ip, mac)
      select '${agentId}', g / 1000 + 1, g % 1000, now(), 'eth0', 7, 'arp', 'host', 'new',
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
  const { pg } = stack;
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
  report(
    stack,
    { planSeconds, allocated, runs, fillSeconds, bindingsPerAgent },
    { rounds, latency, latencyNote, load, loadNote, ref, refFk },
  );
  say(`done in ${((performance.now() - startedAt) / 1000).toFixed(0)} s`);
}

await run(main);
