/**
 * What the PostgreSQL benchmarks share (bench/ingest.mjs, bench/alloc.mjs): a throwaway
 * PostgreSQL 15 cluster on disk, the collector as its own process, clean-up that runs after
 * success, on an exception and on SIGINT/SIGTERM/SIGHUP, CPU accounting from /proc, and the
 * profile summaries of BENCH_PROFILE=1 (pg_stat_statements, the collector's --cpu-prof).
 */
import { execFileSync, spawn } from 'node:child_process';
import { chownSync, createWriteStream, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { shebangFlags } from '../scripts/shebang-flags.mjs';
export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const collectorBin = join(root, 'collector', 'bin', 'ipwarden-collector.js');
export const PG_BIN = '/usr/lib/postgresql/15/bin';
export const ADMIN_TOKEN = 'bench-admin-token-0123456789abcdef';
export const AGENT_SECRET = 'bench-agent-secret-0123456789abcdef';

const env = process.env;
/** "bench:ingest" for bench/ingest.mjs: the prefix of progress lines on stderr. */
const benchName = `bench:${basename(process.argv[1] ?? 'bench', '.mjs')}`;

export const fmt = (n) => Math.round(n).toLocaleString('en-US');
export const say = (line) => process.stderr.write(`${benchName}: ${line}\n`);
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** The middle value (the mean of the two middle ones for an even count). */
export function median(values) {
  const sorted = [...values].sort((x, y) => x - y);
  return (sorted[Math.floor((sorted.length - 1) / 2)] + sorted[Math.ceil((sorted.length - 1) / 2)]) / 2;
}
export const now = () => performance.timeOrigin + performance.now(); // wall clock, sub-millisecond

export function sh(command, ...args) {
  return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

// ---------------------------------------------------------------------------------------------
// Clean-up: every resource registers an undo step as soon as it exists; they run newest first
// on the way out — after success, on an exception, on SIGINT/SIGTERM. A step is called with
// `urgent` true from the 'exit' handler (an uncaught error, say EPIPE on a closed stdout), where
// only synchronous work happens: there every step runs at once, none awaited, or only the first
// would run before the process is gone.

export const undo = [];
let interrupted = false;
export async function cleanUp(urgent = false) {
  while (undo.length > 0) {
    const step = undo.pop();
    try {
      const done = step(urgent);
      if (urgent) done?.catch?.(() => {});
      else await done;
    } catch (error) {
      say(`clean-up: ${error.message}`);
    }
  }
}

/**
 * Runs the benchmark's `main` with the clean-up installed: undo steps run newest first when it
 * ends, throws, or a signal arrives (exit status 130), and on 'exit' whatever is left.
 */
export async function run(main) {
  process.on('exit', () => void cleanUp(true));
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.once(signal, () => {
      interrupted = true;
      say(`${signal}: cleaning up`);
      cleanUp().finally(() => process.exit(130));
    });
  }
  try {
    await main();
  } catch (error) {
    process.exitCode = 1;
    if (!interrupted) say(`failed: ${error.stack ?? error}`);
  } finally {
    await cleanUp();
  }
}

/**
 * Ends a child process we started, by its PID: SIGTERM (or SIGKILL at once), then SIGKILL
 * after `graceMs`; resolves when it has exited.
 */
export function stopper(child, graceMs) {
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  const exited = new Promise((r) => (gone() ? r() : child.once('exit', () => r())));
  const signal = (name) => {
    try {
      process.kill(child.pid, name);
    } catch {
      // already gone
    }
  };
  return async (urgent = false, hard = false) => {
    if (gone()) return;
    if (urgent) return signal('SIGKILL');
    signal(hard ? 'SIGKILL' : 'SIGTERM');
    const timer = setTimeout(() => signal('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };
}

export function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL: durable (fsync on, synchronous_commit on: a commit acknowledged is on disk).

export const PG_SETTINGS = {
  listen_addresses: '127.0.0.1',
  fsync: 'on',
  synchronous_commit: 'on',
  shared_buffers: '256MB',
  max_wal_size: '4GB', // no forced checkpoint in the middle of a phase
};

/**
 * The statements that give `copy` the storage parameters of `table` (its fillfactor): `create
 * table … (like … including all)` copies columns, defaults and indexes, not those.
 */
export function storageOf(pg, table, copy = table) {
  const options = pg.psql(`select array_to_string(reloptions, ', ') from pg_class where relname = '${table}'`);
  return options === '' ? [] : [`alter table ${copy} set (${options})`];
}

/** With `profile`, pg_stat_statements is loaded (the caller creates the extension). */
export async function startPostgres({ profile = false, settings = {} } = {}) {
  const all = {
    ...PG_SETTINGS,
    ...(profile && { shared_preload_libraries: 'pg_stat_statements', 'pg_stat_statements.track': 'all' }),
    ...settings,
  };
  const dir = mkdtempSync(join(tmpdir(), 'ipwarden-bench-pg-'));
  undo.push(() => rmSync(dir, { recursive: true, force: true }));
  const id = (flag) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  chownSync(dir, id('-u'), id('-g'));
  const data = join(dir, 'data');
  const port = await freePort();
  const as = (command, ...args) =>
    execFileSync('runuser', ['-u', 'postgres', '--', join(PG_BIN, command), ...args], { stdio: 'pipe' });
  as('initdb', '-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync');
  const options = [`-p ${port}`, `-k ${dir}`, ...Object.entries(all).map(([k, v]) => `-c ${k}=${v}`)];
  undo.push((urgent) => {
    try {
      as('pg_ctl', '-D', data, '-m', urgent ? 'immediate' : 'fast', '-w', '-t', '20', 'stop');
    } catch {
      as('pg_ctl', '-D', data, '-m', 'immediate', '-w', 'stop');
    }
  });
  as('pg_ctl', '-D', data, '-o', options.join(' '), '-l', join(dir, 'log'), '-w', 'start');
  const postmaster = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
  // Each statement its own -c: psql runs one -c string as one transaction (VACUUM refuses that).
  const psql = (...statements) =>
    execFileSync(
      'psql',
      [
        '-h',
        dir,
        '-p',
        String(port),
        '-U',
        'postgres',
        '-d',
        'postgres',
        '-X',
        '-q',
        '-At',
        ...statements.flatMap((s) => ['-c', s]),
      ],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        maxBuffer: 64 << 20,
      },
    ).trim();
  return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, dir, data, postmaster, psql };
}

// ---------------------------------------------------------------------------------------------
// CPU accounting from /proc: seconds of CPU used by a process (and, for the postmaster, its
// children, living and reaped), and by the whole machine.

const TICK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

export function procStat(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // f[0] is field 3 (state): utime 14, stime 15, cutime 16, cstime 17, ppid 4.
    return {
      ppid: Number(f[1]),
      self: (Number(f[11]) + Number(f[12])) / TICK,
      reaped: (Number(f[13]) + Number(f[14])) / TICK,
    };
  } catch {
    return undefined;
  }
}

export function cpuOf(pid, withChildren = false) {
  const own = procStat(pid);
  if (own === undefined) return 0;
  let total = own.self + (withChildren ? own.reaped : 0);
  if (withChildren) {
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      const stat = procStat(name);
      if (stat?.ppid === pid) total += stat.self + stat.reaped;
    }
  }
  return total;
}

/** The whole machine, from /proc/stat: busy (user, nice, system, irq, softirq), idle (with iowait), stolen. */
export function machineCpu() {
  const [user, nice, system, idle, iowait, irq, softirq, steal] = readFileSync('/proc/stat', 'utf8')
    .split('\n')[0]
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return { busy: (user + nice + system + irq + softirq) / TICK, idle: (idle + iowait) / TICK, steal: steal / TICK };
}

export function cpuSnapshot(collectorPid, postmaster) {
  const self = process.cpuUsage();
  return {
    at: now(),
    collector: cpuOf(collectorPid),
    postgres: cpuOf(postmaster, true),
    bench: (self.user + self.system) / 1e6,
    machine: machineCpu(),
  };
}

export function cpuDelta(a, b) {
  return {
    collector: b.collector - a.collector,
    postgres: b.postgres - a.postgres,
    bench: b.bench - a.bench,
    /** Core-seconds: all of the machine's work in the interval, and what the hypervisor took. */
    busy: b.machine.busy - a.machine.busy,
    steal: b.machine.steal - a.machine.steal,
  };
}

// ---------------------------------------------------------------------------------------------
// The collector

/** `extraArgs`: more of the collector's own options (bench:ingest's `--reconcile off`). */
export async function startCollector(databaseUrl, profileDir, extraArgs = []) {
  const dataDir = mkdtempSync(join(tmpdir(), 'ipwarden-bench-collector-'));
  undo.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const args = [
    ...(profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`]),
    ...shebangFlags(collectorBin),
    collectorBin,
    '--listen',
    '127.0.0.1:0',
    '--data-dir',
    dataDir,
    ...extraArgs,
  ];
  const child = spawn(process.execPath, args, {
    env: {
      ...env,
      DATABASE_URL: databaseUrl,
      IPWARDEN_ADMIN_TOKEN: ADMIN_TOKEN,
      IPWARDEN_AGENT_SECRET: AGENT_SECRET,
      IPWARDEN_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stop = stopper(child, 10_000); // a profiled collector writes its profile on the way out
  let stopping = false;
  undo.push((urgent) => {
    stopping = true;
    return stop(urgent);
  });
  const log = [];
  // All of its output, for the failures a benchmark only counts: .bench/collector.log.
  mkdirSync(join(root, '.bench'), { recursive: true });
  const logFile = createWriteStream(join(root, '.bench', 'collector.log'));
  const url = await new Promise((resolveUrl, reject) => {
    const early = (code) => reject(new Error(`the collector exited (${code}):\n${log.join('')}`));
    const timer = setTimeout(() => reject(new Error(`the collector did not start in 20 s:\n${log.join('')}`)), 20_000);
    child.once('exit', early);
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => {
        logFile.write(`${line}\n`);
        if (log.length < 200) log.push(`${line}\n`);
        const match = /listening on (http:\/\/\S+)/.exec(line);
        if (match) {
          clearTimeout(timer);
          child.off('exit', early);
          resolveUrl(match[1]);
        }
      });
    }
  });
  child.once('exit', (code, signal) => {
    if (!stopping) say(`the collector exited (${code ?? signal}) unasked:\n${log.slice(-20).join('')}`);
  });
  return {
    url,
    pid: child.pid,
    /** SIGTERM: a graceful close (and the CPU profile written). */
    stop: () => {
      stopping = true;
      return stop();
    },
    /** SIGKILL: what it was storing is rolled back by PostgreSQL. */
    kill: () => {
      stopping = true;
      return stop(false, true);
    },
  };
}

export async function api(base, method, path, body) {
  const response = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: {
      authorization: `Bearer ${ADMIN_TOKEN}`,
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text === '' ? undefined : JSON.parse(text);
}

// ---------------------------------------------------------------------------------------------
// Allocations made in SQL, as the allocator itself would have written them: rows in `addresses`
// and their coalesced runs in `taken_runs` (bench/alloc.mjs writes its fills by hand, knowing
// their runs; this works them out, gaps and islands, for any set of addresses).

/**
 * The statements that allocate, as addresses of `kind` (`reserved` unless given) owned by `owner`, the rows of the query
 * `rows` (columns subnet_id, ip, mac — mac may be null) in subnets that hold no allocation yet.
 * Run them in order in one session (a temporary table joins them): psql's -c one after another,
 * or postgres.js's `unsafe` in one transaction.
 */
export function allocationFill(rows, owner, kind = 'reserved') {
  return [
    `create temporary table bench_fill as ${rows}`,
    `insert into addresses (subnet_id, ip, kind, mac, owner_id)
       select subnet_id, ip, '${kind}', mac, '${owner}' from bench_fill`,
    // Consecutive addresses share ip - (their rank in the subnet): one run each.
    `insert into taken_runs (subnet_id, lo, hi)
       select subnet_id, min(ip), max(ip)
       from (select subnet_id, ip, ip - row_number() over (partition by subnet_id order by ip) as island from bench_fill) t
       group by subnet_id, island`,
    'drop table bench_fill',
  ];
}

// ---------------------------------------------------------------------------------------------
// Profiling (BENCH_PROFILE=1): the statements PostgreSQL spent its time on, and the collector's
// hottest functions from its CPU profile.

export function topStatements(pg) {
  return pg.psql(`select round(total_exec_time)::bigint || ' ms|' || calls || '|' || round(mean_exec_time::numeric, 2) || ' ms|' ||
      left(regexp_replace(query, '\\s+', ' ', 'g'), 110)
    from pg_stat_statements order by total_exec_time desc limit 8`);
}

export function summarizeProfile(dir) {
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (file === undefined) return 'no profile written';
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const where = (callFrame) => callFrame.url.replace(/^file:\/\//, '').replace(root, '');
  const label = (callFrame) =>
    `${callFrame.functionName || '(anonymous)'} ${where(callFrame).split('/').slice(-2).join('/')}:${callFrame.lineNumber + 1}`;
  const packageOf = (callFrame) => {
    const path = where(callFrame);
    const pnpm = /node_modules\/\.pnpm\/(@[^/]+\+[^@/]+|[^@/]+)/.exec(path)?.[1]?.replace('+', '/');
    if (pnpm) return pnpm;
    if (path.startsWith('/collector/')) return 'collector';
    if (path.startsWith('/packages/')) return `@ipwarden/${path.split('/')[2]}`;
    if (path === '') return callFrame.functionName; // (garbage collector), (program), natives
    return 'node';
  };
  const self = new Map();
  const inclusive = new Map();
  const byPackage = new Map();
  let busy = 0;
  const ticks = new Map();
  for (const id of profile.samples) ticks.set(id, (ticks.get(id) ?? 0) + 1);
  for (const [id, n] of ticks) {
    const { callFrame } = byId.get(id);
    if (callFrame.functionName === '(idle)') continue;
    busy += n;
    self.set(label(callFrame), (self.get(label(callFrame)) ?? 0) + n);
    byPackage.set(packageOf(callFrame), (byPackage.get(packageOf(callFrame)) ?? 0) + n);
    const seen = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const key = label(byId.get(at).callFrame);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + n);
    }
  }
  const top = (map, n, keep = () => true) =>
    [...map.entries()]
      .filter(([k]) => keep(k))
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, v]) => `  ${((100 * v) / busy).toFixed(1).padStart(5)}%  ${k}`)
      .join('\n');
  const interesting = (k) =>
    !/^(\(root\)|\(program\)|\(anonymous\)|processTicksAndRejections|emit |listOnTimeout|processTimers)/.test(k);
  return [
    `${fmt(busy)} busy samples (idle left out); shares of those.`,
    `self time by package:\n${top(byPackage, 10)}`,
    `self time by function:\n${top(self, 15)}`,
    `inclusive time (the function and what it calls):\n${top(inclusive, 25, interesting)}`,
  ].join('\n');
}

/** The server's durability and memory settings and the file system under it, for the report. */
export function describeCluster(pg, names) {
  const settings = pg.psql(
    `select string_agg(name || '=' || setting || coalesce(unit, ''), ', ' order by name) from pg_settings
     where name in (${names.map((n) => `'${n}'`).join(', ')})`,
  );
  return { settings, fsType: sh('stat', '-f', '-c', '%T', pg.dir).trim() };
}

/** With BENCH_PROFILE=1: a directory for the collector's CPU profile, and pg_stat_statements on. */
export function profileDirFor(pg, profile) {
  if (!profile) return undefined;
  const dir = join(root, '.bench', `collector-profile-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  pg.psql('create extension if not exists pg_stat_statements');
  return dir;
}

/**
 * How both benchmarks begin: a throwaway PostgreSQL cluster, what it is (version and the named
 * settings, for the report), and the collector on it, profiled when asked.
 */
export async function startStack({ profile, settings }) {
  say('starting PostgreSQL');
  const pg = await startPostgres({ profile });
  const version = pg.psql('show server_version').replace(/ \(.*/, '');
  const described = describeCluster(pg, settings);
  const profileDir = profileDirFor(pg, profile);
  say('starting the collector');
  const collector = await startCollector(pg.url, profileDir);
  return { pg, version, ...described, profileDir, collector };
}

/** The collector's /metrics: counters and histograms by name and labels. */
export async function readMetrics(collector) {
  const text = await (await fetch(`${collector.url}/metrics`)).text();
  const values = new Map();
  for (const match of text.matchAll(/^(ipwarden_[a-z_]+)(\{[^}]*\})? (\S+)$/gm)) {
    values.set(`${match[1]}${match[2] ?? ''}`, Number(match[3]));
  }
  return values;
}

/** A histogram's buckets [bound, cumulative count], sum and count. */
export function histogramOf(metrics, name) {
  const buckets = [];
  for (const [key, value] of metrics) {
    const match = new RegExp(`^${name}_bucket\\{le="([^"]+)"\\}$`).exec(key);
    if (match) buckets.push([match[1] === '+Inf' ? Number.POSITIVE_INFINITY : Number(match[1]), value]);
  }
  buckets.sort((x, y) => x[0] - y[0]);
  return { buckets, sum: metrics.get(`${name}_sum`) ?? 0, count: metrics.get(`${name}_count`) ?? 0 };
}

/** Between two readings of a histogram: how many, their mean, and the bucket bound under which a quantile lies. */
export function histogramDelta(a, b) {
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
