/**
 * A batch read, then written (allocator.ts): its subnets locked and read — with windows of their
 * runs and sightings read ahead from what their last batches found — then decided and written.
 */
import {
  type AllocationPolicy,
  BatchPicker,
  contains,
  type Family,
  firstOf,
  formatIp,
  IntervalSet,
  lastOf,
  type Outcome,
  type Prefix,
  parseIp,
  pickFree,
  type Reads,
  SubnetView,
  unavailableIn,
} from '@ipwarden/ipam';
import { sql } from 'drizzle-orm';
import { pipelined, rowsOf, type Tx } from '../db/database.js';
import { DEFAULT_OBSERVATION_WINDOW_SECONDS } from '../db/schema/index.js';
import { ApiError, ErrorCode, fieldError } from '../errors.js';
import type { AllocationRequest } from './allocator.js';
import { type Group, groupsOf, wantOf } from './batch-groups.js';
import { AGAIN, advanceStamps, answers, chosenIn, type Result, rowsFor } from './batch-outcome.js';
import { date, json, WINDOW_SECONDS, write } from './batch-write.js';
import type { Commit } from './lanes.js';
import { forgetStale, type Hint, type Memory, type Seen } from './subnet-memory.js';
import { checkAddress, checkPrefix, ipValue } from './subnet-store.js';

/**
 * Rows a window read takes of `taken_runs` and of `bindings` (at least 2: see SubnetView): 256
 * in the first round, twice as many each round after, up to MAX_WINDOW_ROWS — so that a search
 * past many thousands of addresses seen in use (a subnet watched long before it was managed)
 * takes a few rounds, not hundreds.
 */
const WINDOW_ROWS = 256;
const MAX_WINDOW_ROWS = 65_536;
/** Rounds of reads one batch may make before its undecided requests are answered "exhausted". */
const MAX_ROUNDS = 64;

/** One batch read, then written. */
export async function decide(
  tx: Tx,
  requests: readonly AllocationRequest[],
  random: (bound: bigint) => bigint,
  memory: Memory,
  /** Called once the batch has sent its write (or knows it has none). */
  sent: () => void,
  /** The statement that ends the transaction, pipelined with the batch's last round trip. */
  commit?: Commit,
): Promise<Result[]> {
  const groups = groupsOf(requests);
  const ids = [...groups.keys()].sort();
  try {
    return await decideRead(tx, requests, groups, ids, random, memory, sent, commit);
  } catch (error) {
    // Whatever failed, the batches decided ahead on what this one chose fail with it.
    for (const id of ids) memory.carried.delete(id);
    throw error;
  }
}

interface SubnetRow {
  id: string;
  cidr: string;
  gateway: string | null;
  dnsServers: string;
  managed: boolean;
  allocation: AllocationPolicy;
  stamp: string;
  windowSeconds: number;
}

/** A JSON array of ids as a set of uuids, in SQL. */
const idsIn = (ids: string[]) => sql`(select (value #>> '{}')::uuid from json_array_elements(${json(ids)}::json))`;

/** Two round trips (or more, where the pickers ask): the subnets locked and read, then written. */
async function decideRead(
  tx: Tx,
  requests: readonly AllocationRequest[],
  groups: Map<string, Group>,
  ids: string[],
  random: (bound: bigint) => bigint,
  memory: Memory,
  sent: () => void,
  commit?: Commit,
): Promise<Result[]> {
  const { hints } = memory;
  // Round trip 1: statements sent in the order made here (each through rowsOf, the same path), and
  // run in that order, each with its own snapshot — so every one after the lock sees what the
  // lock's last holder committed. The subnets are locked in id order (two batches never wait on
  // each other crosswise); NO KEY: rows referencing them are not held up.
  const lock = rowsOf<SubnetRow>(
    tx,
    sql`select id::text as "id", cidr::text as "cidr", host(gateway) as "gateway",
               array_to_json(dns_servers)::text as "dnsServers", managed, allocation, alloc_stamp::text as "stamp",
               ${WINDOW_SECONDS} as "windowSeconds"
        from subnets where id in ${idsIn(ids)} order by id for no key update`,
  );
  const spans = rowsOf<{ subnetId: string; start: string; end: string; pool: boolean }>(
    tx,
    sql`select subnet_id::text as "subnetId", host(start) as "start", host("end") as "end", false as "pool"
        from ranges where subnet_id in ${idsIn(ids)}
        union all
        select subnet_id::text, host(start), host("end"), true from pool_ranges where subnet_id in ${idsIn(ids)}`,
  );
  // Read ahead, from what the subnet's last batch found: the window a lowest-free search starts
  // with, the addresses asked for, and random draws made now — each with its neighbours.
  const drawn = new Map<number, bigint>();
  const readAhead = ids.map((id) => {
    const hint = hints.get(id);
    if (hint === undefined) return undefined;
    const { prefix } = hint;
    const from = new Set<bigint>();
    const around = new Set<bigint>();
    for (const i of groups.get(id)!.indexes) {
      const request = requests[i]!;
      if (request.ip !== undefined) {
        const ip = parseIp(request.ip);
        if (ip !== undefined && ip.family === prefix.family && contains(prefix, ip)) around.add(ip.value);
        continue;
      }
      const available = request.within?.minus(hint.neverInPool) ?? hint.outsidePools;
      if ((request.policy ?? hint.policy) === 'lowest') {
        const start = available.first();
        if (start !== undefined) from.add(start);
        continue;
      }
      const candidate = pickFree(available, 'random', random);
      if (candidate === undefined) continue;
      drawn.set(i, candidate);
      around.add(candidate);
    }
    return read(tx, id, prefix, hint.windowSeconds, { from: [...from], around: [...around] });
  });
  const [lockedRows, spanRows, ...learned] = await pipelined([lock, spans, ...readAhead]);
  const readAt = performance.now();
  // Read with the lock's snapshot, which may predate a settings change committed while it
  // waited: a window a moment old is as good (and the write checks it).
  const windowSeconds = lockedRows[0]?.windowSeconds ?? DEFAULT_OBSERVATION_WINDOW_SECONDS;

  const results: (Result | undefined)[] = requests.map(() => undefined);
  const subnetRows = new Map(lockedRows.map((row) => [row.id, row]));
  for (const [k, id] of ids.entries()) {
    const group = groups.get(id)!;
    const row = subnetRows.get(id);
    const refuseAll = (error: ApiError) => {
      for (const i of group.indexes) results[i] = error;
    };
    if (row === undefined) {
      refuseAll(new ApiError(ErrorCode.NOT_FOUND, `no subnet ${id}`));
      hints.delete(id);
      memory.carried.delete(id);
      continue;
    }
    if (!row.managed) {
      refuseAll(new ApiError(ErrorCode.SUBNET_UNMANAGED, `${row.cidr} is watched, not allocated from`));
      memory.carried.delete(id);
      continue;
    }
    const hint = hints.get(id);
    const prefix = checkPrefix('cidr', row.cidr);
    group.prefix = prefix;
    group.view = new SubnetView<Seen>(firstOf(prefix), lastOf(prefix));
    // What was read ahead holds if the subnet and the window are still those it was read for.
    const readFor = hint !== undefined && hint.cidr === row.cidr && hint.windowSeconds === windowSeconds;
    if (readFor) learned[k]?.(group.view);

    const fixed = [row.gateway, ...(JSON.parse(row.dnsServers) as string[])]
      .filter((a): a is string => a !== null)
      .map(ipValue);
    const own = spanRows.filter((s) => s.subnetId === id);
    const spanOf = (s: { start: string; end: string }) => [ipValue(s.start), ipValue(s.end)] as const;
    // Never handed out: the network and broadcast addresses, gateway, DNS servers, dynamic and
    // reserved ranges — and, outside a pool, every pool's ranges.
    const neverInPool = unavailableIn(prefix, { addresses: fixed, spans: own.filter((s) => !s.pool).map(spanOf) });
    const outsidePools = new IntervalSet([[firstOf(prefix), lastOf(prefix)]]).minus(
      unavailableIn(prefix, { addresses: fixed, spans: own.map(spanOf) }),
    );
    const fresh: Hint = { cidr: row.cidr, prefix, policy: row.allocation, windowSeconds, outsidePools, neverInPool };
    group.hint = fresh;
    hints.delete(id); // to the end: the map is oldest first
    hints.set(id, fresh);
    for (const i of group.indexes) {
      const request = requests[i]!;
      try {
        let wanted: bigint | undefined;
        if (request.ip !== undefined) {
          const ip = checkAddress('ip', request.ip, prefix.family);
          if (!contains(prefix, ip)) {
            throw fieldError(ErrorCode.IP_NOT_IN_SUBNET, 'ip', `${formatIp(ip)} is not in ${row.cidr}`);
          }
          wanted = ip.value;
        }
        group.wants.push(wantOf(request, fresh, wanted, readFor ? drawn.get(i) : undefined));
        group.wantOf.push(i);
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        results[i] = error;
      }
    }
    group.picker = new BatchPicker(group.view, group.wants, random);
    group.carried = { epoch: ++memory.epochs, stamp: row.stamp, view: group.view, readAt };
  }

  // Round trip 3, rarely needed: what the pickers still ask for, every subnet's reads at once.
  const deciding = [...groups.values()].filter((g) => g.picker !== undefined);
  for (let round = 0; ; round++) {
    const asking = deciding
      .map((group) => ({ group, reads: group.picker!.step() }))
      .filter(({ reads }) => reads.from.length + reads.around.length > 0);
    if (asking.length === 0) break;
    if (round === MAX_ROUNDS) {
      for (const { group } of asking) group.picker!.exhaust();
      break;
    }
    const rows = Math.min(WINDOW_ROWS * 2 ** (round + 1), MAX_WINDOW_ROWS);
    const reads = asking.map(({ group, reads }) => read(tx, group.id, group.prefix!, windowSeconds, reads, rows));
    for (const [j, learn] of (await pipelined(reads)).entries()) learn(asking[j]!.group.view!);
  }

  for (const group of deciding) {
    const text = (value: bigint) => formatIp({ family: group.prefix!.family, value });
    for (const [k, outcome] of (group.picker!.outcomes as Outcome<Seen>[]).entries()) {
      const i = group.wantOf[k]!;
      if (outcome.outcome !== 'allocated') {
        results[i] = refusal(outcome, group.hint!.cidr, requests[i]!, group.wants[k]!.wanted, text);
      }
    }
  }
  const { chosen, runs } = chosenIn(deciding);
  // The views go on to the subnets' next batches, which may be decided ahead as soon as this
  // one's write is sent.
  const guards = advanceStamps(new Set(chosen.map((c) => c.group)));
  for (const group of deciding) {
    group.view!.settle();
    memory.carried.set(group.id, group.carried!);
  }
  forgetStale(memory);
  if (chosen.length === 0) {
    const ending = commit?.();
    sent();
    await ending;
    return results.map((r) => r ?? AGAIN);
  }
  const written = write(tx, rowsFor(requests, chosen), runs, guards, windowSeconds, [], commit);
  sent();
  const answered = answers(requests, chosen, await written, memory);
  // A held-back subnet's refusals go too: one may have come of what an earlier request chose.
  for (const group of answered.heldBack) for (const i of group.indexes) results[i] = AGAIN;
  return results.map((r, i) => r ?? answered.results[i]!);
}

function refusal(
  outcome: Exclude<Outcome<Seen>, { outcome: 'allocated' }>,
  cidr: string,
  request: AllocationRequest,
  wanted: bigint | undefined,
  text: (value: bigint) => string,
): ApiError {
  const ip = wanted === undefined ? '' : text(wanted);
  switch (outcome.outcome) {
    case 'unavailable':
      return fieldError(
        ErrorCode.IP_UNAVAILABLE,
        'ip',
        request.within === undefined
          ? `${ip} is never handed out in ${cidr}: the network or broadcast address, the gateway, a DNS server, or in a range`
          : `${ip} is outside the pool's range or excluded from it`,
      );
    case 'taken':
      return fieldError(ErrorCode.IP_IN_USE, 'ip', `${ip} is allocated`);
    case 'observed':
      return fieldError(
        ErrorCode.IP_IN_USE,
        'ip',
        `${ip} was seen in use by ${outcome.seen.mac} at ${outcome.seen.lastSeen.toISOString()}; an admin may force it`,
      );
    default:
      return new ApiError(ErrorCode.SUBNET_EXHAUSTED, `no address of ${cidr} is free`);
  }
}

interface RunRow {
  lo: string;
  hi: string;
}
interface SeenRow {
  ip: string;
  mac: string;
  lastSeen: string | Date;
}

/**
 * Sends the statements of one subnet's reads (in the order made, so behind whatever was sent
 * before them); resolves to what to teach the subnet's view. A window from an address reads the
 * runs and sightings from there on; an address "around" reads the runs meeting it and its
 * neighbours, and its own sightings.
 */
function read(
  tx: Tx,
  subnetId: string,
  prefix: Prefix,
  windowSeconds: number,
  reads: Reads,
  rows = WINDOW_ROWS,
): Promise<(view: SubnetView<Seen>) => void> {
  const family: Family = prefix.family;
  const text = (value: bigint) => formatIp({ family, value });
  const [first, last] = [firstOf(prefix), lastOf(prefix)];
  const below = (v: bigint) => (v > first ? v - 1n : v);
  const above = (v: bigint) => (v < last ? v + 1n : v);
  const recent = sql`last_seen > now() - make_interval(secs => ${windowSeconds})`;
  const seenRow = (r: SeenRow) => [ipValue(r.ip), { mac: r.mac, lastSeen: date(r.lastSeen) }] as const;
  const runRow = (r: RunRow) => [ipValue(r.lo), ipValue(r.hi)] as const;
  const statements: Promise<(view: SubnetView<Seen>) => void>[] = [];

  for (const from of reads.from) {
    // Every run meeting [from - 1, …]: the one before `from` is needed to join runs up. (The
    // columns are named in ORDER BY: the output names, being text, would sort 10.0.0.99 after
    // 10.0.0.199.)
    const runs = rowsOf<RunRow>(
      tx,
      sql`select host(lo) as "lo", host(hi) as "hi" from taken_runs
          where subnet_id = ${subnetId} and hi >= ${text(below(from))}::inet
          order by taken_runs.hi limit ${rows}`,
    );
    const seen = rowsOf<SeenRow>(
      tx,
      // One row per address (its latest sighting): several MACs or VLANs of one address would
      // otherwise use up the window.
      sql`select distinct on (bindings.ip) host(ip) as "ip", mac::text as "mac", last_seen as "lastSeen" from bindings
          where ip >= ${text(from)}::inet and ip <= ${text(last)}::inet and ${recent}
          order by bindings.ip, bindings.last_seen desc limit ${rows}`,
    );
    statements.push(
      (async () => {
        const [runRows, seenRows] = await pipelined([runs, seen]);
        // A full window knows up to its last row; a short one, to the end of the subnet.
        const runsTo = runRows.length === rows ? ipValue(runRows.at(-1)!.hi) : last;
        const seenTo = seenRows.length === rows ? ipValue(seenRows.at(-1)!.ip) : last;
        return (view: SubnetView<Seen>) => {
          view.learnRuns(below(from), runsTo, runRows.map(runRow));
          view.learnSeen(from, seenTo, seenRows.map(seenRow));
        };
      })(),
    );
  }

  if (reads.around.length > 0) {
    const around = json(reads.around.map((v) => ({ lo: text(below(v)), hi: text(above(v)), ip: text(v) })));
    // At most two runs meet [v - 1, v + 1] without one holding v: runs never touch.
    const runs = rowsOf<RunRow>(
      tx,
      sql`select distinct host(r.lo) as "lo", host(r.hi) as "hi"
          from json_to_recordset(${around}::json) as v(lo inet, hi inet, ip inet)
          cross join lateral (
            select lo, hi from taken_runs
            where subnet_id = ${subnetId} and taken_runs.hi >= v.lo order by taken_runs.hi limit 2) as r
          where r.lo <= v.hi`,
    );
    const seen = rowsOf<SeenRow>(
      tx,
      sql`select distinct on (bindings.ip) host(ip) as "ip", mac::text as "mac", last_seen as "lastSeen" from bindings
          where ip in (select v.ip from json_to_recordset(${around}::json) as v(ip inet)) and ${recent}
          order by bindings.ip, bindings.last_seen desc`,
    );
    statements.push(
      (async () => {
        const [runRows, seenRows] = await pipelined([runs, seen]);
        const found = runRows.map(runRow);
        const seenBy = new Map(seenRows.map(seenRow));
        return (view: SubnetView<Seen>) => {
          for (const v of reads.around) {
            view.learnRuns(
              below(v),
              above(v),
              found.filter(([lo, hi]) => hi >= below(v) && lo <= above(v)),
            );
            view.learnSeen(v, v, seenBy.has(v) ? [[v, seenBy.get(v)!]] : []);
          }
        };
      })(),
    );
  }

  return pipelined(statements).then((learners) => (view: SubnetView<Seen>) => {
    for (const learn of learners) learn(view);
  });
}
