#!/usr/bin/env node
/**
 * bench:dhcp — from the API call to every serving agent having applied the change: the
 * collector on PostgreSQL, 100 agents connected over real WebSockets, each running the agent's
 * own DHCP service (agent/dist/dhcp) with the `file` backend and serving its rack's subnet — a
 * /16 of 10,000 hosts each (the agent sits in it: its hello says so). Measured:
 *
 * - the time from `POST /addresses` (a device with a MAC, the default DHCP wait) to its answer,
 *   which comes once every serving agent has acknowledged the change — p50/p99 over a run of
 *   calls one after another, with each agent's own count of what it applied checked after;
 * - allocations per second with the DHCP wait beside without it (`?wait=0`), clients in parallel;
 * - a real dnsmasq and a real Kea with a 10,000-host map (bench/dhcp-servers.mjs): the time to
 *   take up one change, and how many of a steady stream of DHCP requests go unanswered meanwhile.
 *
 * BENCH_ONLY=servers measures the real servers alone.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { AGENT_PATH, decodeCollectorMessage, encodeMessage, PROTOCOL_VERSION } from '@ipwarden/protocol';
import WebSocket from 'ws';
import { DhcpService } from '../agent/dist/dhcp/dhcp-service.js';
import { FileApplier } from '../agent/dist/dhcp/file-applier.js';
import { measureServers, serverLines } from './dhcp-servers.mjs';
import { allocationFill, api, fmt, run, say, sleep, startStack, undo } from './support.mjs';

const env = process.env;
const AGENTS = Number(env.BENCH_AGENTS ?? 100);
const HOSTS = Number(env.BENCH_HOSTS ?? 10_000);
const CALLS = Number(env.BENCH_CALLS ?? 300);
const RATE_SECONDS = Number(env.BENCH_RATE_SECONDS ?? 10);
const CLIENTS = Number(env.BENCH_CLIENTS ?? 16);
const SERVER_HOSTS = Number(env.BENCH_SERVER_HOSTS ?? 10_000);
const DISCOVER_RATE = Number(env.BENCH_DISCOVER_RATE ?? 300);
const CHANGES = Number(env.BENCH_CHANGES ?? 12);
const ONLY_SERVERS = env.BENCH_ONLY === 'servers';
const TARGET_P99_MS = 100;
/** Agent i's rack: 10.(100 + i).0.0/16. */
const cidrOf = (i) => `10.${100 + i}.0.0/16`;

/** The n-th MAC of rack i. */
const mac = (i, n) =>
  `02:be:${[i & 255, (n >> 16) & 255, (n >> 8) & 255, n & 255].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;

/** One agent: a WebSocket, the agent's DHCP service and file backend; counts what it applied. */
async function connectAgent(url, token, name, dir, rack) {
  const socket = new WebSocket(`${url.replace(/^http/, 'ws')}${AGENT_PATH}`, {
    headers: { authorization: `Bearer ${token}` },
    perMessageDeflate: false,
  });
  const agent = { name, applied: 0, version: 0, failed: 0 };
  const service = new DhcpService({
    stateDir: dir,
    applier: new FileApplier(join(dir, 'map.json')),
    report: (message) => {
      if (message.type === 'dhcpApplied') {
        agent.applied++;
        agent.version = message.version;
      } else agent.failed++;
      if (socket.readyState !== WebSocket.OPEN) return false;
      socket.send(encodeMessage(message));
      return true;
    },
    log: (line) => say(`${name}: ${line}`),
  });
  await new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.once('open', () =>
      socket.send(
        encodeMessage({
          type: 'hello',
          protocol: PROTOCOL_VERSION,
          agentId: name,
          instance: randomUUID(),
          hostname: name,
          version: 'bench',
          // It sits in the subnet: it serves it by the rule.
          interfaces: [{ name: 'eth0', vlans: [], addresses: [`10.${100 + rack}.255.250/16`] }],
          lastSeq: 0,
          dhcp: { backend: 'file', appliedVersion: null },
        }),
      ),
    );
    socket.on('message', (data) => {
      const decoded = decodeCollectorMessage(data.toString());
      if (!decoded.ok) return reject(new Error(`${name}: ${decoded.detail}`));
      const message = decoded.message;
      if (message.type === 'welcome') resolve();
      else if (message.type === 'dhcpMap' || message.type === 'dhcpMapChange') service.received(message);
      else if (message.type === 'error') reject(new Error(`${name}: ${message.code} ${message.message}`));
    });
  });
  agent.close = async () => {
    socket.close();
    await service.close();
  };
  return agent;
}

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))];

/** `clients` loops allocating a device address each for `seconds`; allocations/s and how many answered applied. */
async function allocationRate(url, subnets, first, clients, seconds, wait) {
  let next = first;
  let made = 0;
  let applied = 0;
  const deadline = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < deadline) {
        const n = next++;
        const rack = n % subnets.length;
        const address = await api(url, 'POST', `/addresses${wait === undefined ? '' : `?wait=${wait}`}`, {
          subnet: subnets[rack],
          kind: 'device',
          mac: mac(rack, HOSTS + n),
        });
        made++;
        if (address.dhcp.state === 'applied') applied++;
      }
    }),
  );
  return { rate: made / seconds, made, applied, next };
}

/**
 * The agents run in a worker thread of their own: their applies (each writes a 10,000-host map
 * and keeps it) do not hold up the event loop that times the calls. It connects them and then
 * answers `count` with what each applied.
 */
async function agentsWorker({ url, agents: list, work }) {
  const agents = [];
  for (const { name, token, rack } of list) {
    agents.push(await connectAgent(url, token, name, mkdtempSync(join(work, `${name}-`)), rack));
  }
  parentPort.on('message', async (message) => {
    if (message === 'count') parentPort.postMessage(agents.map((a) => a.applied));
    if (message === 'close') {
      await Promise.all(agents.map((a) => a.close()));
      parentPort.postMessage('closed');
    }
  });
  parentPort.postMessage('ready');
}

/** Asks the worker something and waits for its answer. */
const ask = (worker, message) =>
  new Promise((resolve) => {
    worker.once('message', resolve);
    worker.postMessage(message);
  });

/** The file backend with 100 agents: the API call to every serving agent applied, allocations per second. */
async function measureFileBackend(pg, collector) {
  say(`making ${AGENTS} racks' subnets and allocating ${fmt(HOSTS)} device addresses with MACs in each, in SQL`);
  const owner = pg.psql(`select id from users where name = 'admin'`);
  const subnets = [];
  for (let i = 0; i < AGENTS; i++) {
    const { id } = await api(collector.url, 'POST', '/subnets', { cidr: cidrOf(i), gateway: `10.${100 + i}.0.1` });
    subnets.push(id);
    pg.psql(
      ...allocationFill(
        `select '${id}'::uuid as subnet_id, '10.${100 + i}.0.0'::inet + (10 + g) as ip,
                ('02:be:${(i & 255).toString(16).padStart(2, '0')}:' || lpad(to_hex((g >> 16) & 255), 2, '0') || ':'
                 || lpad(to_hex((g >> 8) & 255), 2, '0') || ':' || lpad(to_hex(g & 255), 2, '0'))::macaddr as mac
         from generate_series(0, ${HOSTS - 1}) g`,
        owner,
        'device',
      ),
    );
  }
  pg.psql('vacuum analyze');

  say(`connecting ${AGENTS} agents (DHCP backend: file)`);
  const work = mkdtempSync(join(tmpdir(), 'ipwarden-bench-dhcp-'));
  undo.push(() => rmSync(work, { recursive: true, force: true }));
  const list = [];
  for (let i = 0; i < AGENTS; i++) {
    const name = `bench-dhcp-${String(i).padStart(3, '0')}`;
    const { token } = await api(collector.url, 'POST', '/agents', { name });
    list.push({ name, token, rack: i });
  }
  const connectStart = performance.now();
  const worker = new Worker(new URL(import.meta.url), { workerData: { url: collector.url, agents: list, work } });
  undo.push(async () => {
    await ask(worker, 'close');
    await worker.terminate();
  });
  const ready = await new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  if (ready !== 'ready') throw new Error(`the agents' worker said ${ready}`);
  for (;;) {
    const { items } = await api(collector.url, 'GET', '/agents');
    if (items.filter((a) => a.dhcp.inStep && a.dhcp.appliedVersion !== null).length >= AGENTS) break;
    if (performance.now() - connectStart > 300_000) throw new Error('the agents were not in step after 300 s');
    await sleep(200);
  }
  const inStepSeconds = (performance.now() - connectStart) / 1000;

  say(`${CALLS} calls one after another, each answered once the agent serving its rack applied it`);
  const times = [];
  let notApplied = 0;
  const before = await ask(worker, 'count');
  for (let i = 0; i < CALLS; i++) {
    const t0 = performance.now();
    const rack = (i * 37) % AGENTS; // racks in turn, spread
    const address = await api(collector.url, 'POST', '/addresses', {
      subnet: subnets[rack],
      kind: 'device',
      mac: mac(rack, 2 * HOSTS + i),
    });
    times.push(performance.now() - t0);
    if (address.dhcp.state !== 'applied' || address.dhcp.agents.length !== 1) notApplied++;
  }
  times.sort((x, y) => x - y);
  const applies = (await ask(worker, 'count')).map((n, i) => n - before[i]);

  say(`allocations per second, ${CLIENTS} clients for ${RATE_SECONDS} s each: with the DHCP wait, and with ?wait=0`);
  const withWait = await allocationRate(collector.url, subnets, 0, CLIENTS, RATE_SECONDS, undefined);
  const without = await allocationRate(collector.url, subnets, withWait.next, CLIENTS, RATE_SECONDS, 0);

  return { inStepSeconds, times, notApplied, applies, withWait, without };
}

/** The file backend's part of the report; whether its target was met. */
function fileLines({ inStepSeconds, times, notApplied, applies, withWait, without }, line) {
  line(
    `${AGENTS} agents over WebSockets in a worker thread, each the agent's DHCP service with the file backend, serving its rack's /16`,
  );
  line(
    `maps: ${fmt(HOSTS)} device addresses with MACs a rack (allocated in SQL), plus those the run makes; every agent in step ${inStepSeconds.toFixed(1)} s after the first connected`,
  );
  line(
    "the agents share this machine's cores and disk (each apply writes the map and keeps it, fsync'd): on racks each has its own",
  );
  line('');
  line(
    `POST /addresses (device, a new MAC, racks in turn), answered once the agent serving the rack applied it; ${CALLS} calls one after another:`,
  );
  line(
    `  p50 ${times[Math.floor(times.length / 2)].toFixed(1)} ms, p99 ${quantile(times, 0.99).toFixed(1)} ms, max ${times.at(-1).toFixed(1)} ms; answered not "applied" by all: ${notApplied}`,
  );
  line(
    `  applies per agent meanwhile: min ${Math.min(...applies)}, max ${Math.max(...applies)} (changes that came together were applied together)`,
  );
  line('');
  line(`allocations per second, ${CLIENTS} clients in parallel, ${RATE_SECONDS} s each:`);
  line(
    `  with the DHCP wait: ${fmt(withWait.rate)}/s (${fmt(withWait.applied)} of ${fmt(withWait.made)} answered applied)`,
  );
  line(
    `  without (?wait=0):  ${fmt(without.rate)}/s — the wait costs ${((1 - withWait.rate / without.rate) * 100).toFixed(0)}%`,
  );
  line('');
  const met = quantile(times, 0.99) < TARGET_P99_MS && notApplied === 0;
  line(
    `p99 API call → every serving agent applied < ${TARGET_P99_MS} ms (file backend, loopback): ${met ? 'met' : 'NOT met'} (p99 ${quantile(times, 0.99).toFixed(1)} ms)`,
  );
  return [met];
}

async function main() {
  if (process.getuid?.() !== 0) throw new Error('run as root: PostgreSQL runs as postgres');
  const { pg, version, settings, collector } = await startStack({
    profile: false,
    settings: ['fsync', 'synchronous_commit', 'shared_buffers'],
  });
  const file = ONLY_SERVERS ? undefined : await measureFileBackend(pg, collector);
  const serverOptions = { hosts: SERVER_HOSTS, rate: DISCOVER_RATE, changes: CHANGES };
  const servers = await measureServers(pg, serverOptions);

  const line = (text = '') => console.log(text);
  line(
    `\nbench:dhcp — the collector on PostgreSQL ${version} (${settings}); ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), Node ${process.version}`,
  );
  const met = [];
  if (file !== undefined) met.push(...fileLines(file, line));
  line('');
  for (const text of serverLines(servers, serverOptions)) line(text);
  line('');
  for (const s of servers) {
    const ok = s.all.unanswered === 0;
    if (s.hosts === SERVER_HOSTS) met.push(ok);
    line(
      `DISCOVERs left unanswered by ${s.backend} (${fmt(s.hosts)} hosts) while it took up changes: none: ${ok ? 'met' : 'NOT met'} (${s.all.unanswered} of ${fmt(s.all.sent)})`,
    );
  }
  line(met.every(Boolean) ? '\ntargets met' : '\ntargets NOT met');
}

if (isMainThread) await run(main);
else await agentsWorker(workerData);
