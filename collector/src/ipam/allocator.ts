/**
 * The allocator (API.md, "Addresses"; issue 4's allocation rules). Requests for addresses queue
 * and are decided in batches, one transaction each, with every subnet of the batch locked
 * through it (its row, FOR NO KEY UPDATE, in id order) and the database's unique (subnet, ip)
 * constraint behind it. A subnet is in one batch at a time; batches of other subnets run beside
 * it (up to MAX_IN_FLIGHT), so no subnet holds up another. The requests that arrive while a batch
 * runs share the next one: a busy collector pays one commit for many allocations (group commit).
 * On PostgreSQL a lone request costs two round trips:
 *
 * 1. BEGIN, the subnets locked and read, their ranges and pools' ranges, the observation window,
 *    and — from what the subnet's last batch found — a window of its runs and sightings from its
 *    first address (lowest free), the addresses asked for and random draws, each with its
 *    neighbours: all pipelined, and behind the lock, so that they see what the lock's last
 *    holder committed;
 * 2. the rows inserted, the runs joined up, and COMMIT, pipelined.
 *
 * In between, more reads only where packages/ipam's BatchPicker still asks (a window further
 * on, another random draw): through indexes, never walking a subnet's addresses. (PGlite runs in
 * this process: drizzle's own transaction, with no round trips to save.)
 *
 * A batch decides each subnet's requests in arrival order, each as if after the ones before it.
 * A batch that fails on a lost race (another collector's claim, a unique violation) is retried
 * with each request alone, so that one request's conflict does not fail the others.
 */
import { randomBytes } from 'node:crypto';
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
  randomBelowFrom,
  SubnetView,
  unavailableIn,
  type Want,
} from '@ipwarden/ipam';
import { type SQL, sql } from 'drizzle-orm';
import { type Database, databaseUnavailable, pipelined, type Reserved, rowsOf, type Tx } from '../db/database.js';
import type { AddressKind } from '../db/schema/index.js';
import { ApiError, ErrorCode, fieldError } from '../errors.js';
import { checkAddress, checkPrefix, ipValue } from './subnet-store.js';

/** Requests decided in one transaction at most. */
const MAX_BATCH = 256;
/** Batches under way at once (the database pool holds 10 connections). */
const MAX_IN_FLIGHT = 4;
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
/** Tries of a request whose batch lost a race. */
const MAX_ATTEMPTS = 3;

/** The row an allocation writes, beside its subnet and address. */
export interface AddressRow {
  kind: AddressKind;
  ownerId: string;
  mac?: string | null;
  hostname?: string | null;
  nodeId?: string | null;
  poolId?: string | null;
  claim?: string | null;
  comment?: string | null;
}

export interface AllocationRequest {
  subnetId: string;
  /**
   * What the request may be given: a pool range less the pool's exclusions. Unset: the subnet's
   * addresses outside every pool.
   */
  within?: IntervalSet;
  /** Unset: the subnet's own policy. */
  policy?: AllocationPolicy;
  /** The address asked for, as the client wrote it; unset to have one picked. */
  ip?: string;
  /** Hand out an address observed in use: an admin's force, or an import. */
  acceptObserved?: boolean;
  row: AddressRow;
}

export interface Allocated {
  ip: string;
  subnetId: string;
  cidr: string;
  createdAt: Date;
  /** The latest sighting of the address, if any. */
  lastSeen: Date | null;
  seenMac: string | null;
}

interface Pending {
  request: AllocationRequest;
  resolve: (allocated: Allocated) => void;
  reject: (error: unknown) => void;
  attempts: number;
  /** After a lost race: decided in a batch of its own. */
  alone: boolean;
}

/** Who saw an address in use. */
interface Seen {
  mac: string;
  lastSeen: Date;
}

/** What a subnet's last batch found, to read ahead with in the next batch's first round trip. */
interface Hint {
  cidr: string;
  policy: AllocationPolicy;
  windowSeconds: number;
  /** What the subnet hands out outside pools, and what it never hands out inside one. */
  outsidePools: IntervalSet;
  neverInPool: IntervalSet;
}

/** PostgreSQL's unique_violation and serialization_failure: a race lost, worth one more try. */
export function retriable(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Object && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (code === '23505' || code === '40001') return true;
  }
  return false;
}

export class Allocator {
  readonly #db: Database;
  readonly #random = randomBelowFrom((length) => randomBytes(length));
  /** Requests not yet in a batch, oldest first. */
  #queue: Pending[] = [];
  /** Subnets in a batch under way. */
  readonly #busy = new Set<string>();
  #inFlight = 0;
  readonly #hints = new Map<string, Hint>();

  readonly #reserve: (() => Promise<Reserved>) | undefined;

  /** `reserve` (PostgreSQL): connections on which a batch pipelines its own BEGIN and COMMIT. */
  constructor(db: Database, reserve?: () => Promise<Reserved>) {
    this.#db = db;
    this.#reserve = reserve;
  }

  /** An address for the request; rejects with an ApiError when there is none to give. */
  allocate(request: AllocationRequest): Promise<Allocated> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ request, resolve, reject, attempts: 0, alone: false });
      this.#pump();
    });
  }

  /**
   * Starts batches while there are requests for idle subnets and room for another batch. A
   * subnet is idle again as soon as its batch holds its lock: the next batch of it is sent at
   * once and waits on that lock in the database, which hands it over the moment the first
   * commits. The two batches' round trips overlap; only the database's own work on them is in
   * series.
   */
  #pump(): void {
    while (this.#inFlight < MAX_IN_FLIGHT) {
      const batch = this.#take();
      if (batch.length === 0) return;
      const held = new Set(batch.map((p) => p.request.subnetId));
      for (const id of held) this.#busy.add(id);
      this.#inFlight++;
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        for (const id of held) this.#busy.delete(id);
        this.#pump();
      };
      void this.#run(batch, release).then((retry) => {
        this.#inFlight--;
        this.#queue.unshift(...retry);
        release();
        this.#pump();
      });
    }
  }

  /** The oldest requests of subnets no batch holds, up to MAX_BATCH; a retried request alone. */
  #take(): Pending[] {
    const batch: Pending[] = [];
    const rest: Pending[] = [];
    for (const pending of this.#queue) {
      const open = batch.length < MAX_BATCH && !batch[0]?.alone && !this.#busy.has(pending.request.subnetId);
      if (open && (!pending.alone || batch.length === 0)) batch.push(pending);
      else rest.push(pending);
    }
    this.#queue = rest;
    return batch;
  }

  /** Decides and settles one batch; the requests to try again. Never throws. */
  async #run(batch: Pending[], locked: () => void): Promise<Pending[]> {
    try {
      const requests = batch.map((p) => p.request);
      const results = await this.#transaction((tx, commit) =>
        decide(tx, requests, this.#random, this.#hints, locked, commit),
      );
      for (const [i, pending] of batch.entries()) {
        const result = results[i]!;
        if (result instanceof Error) pending.reject(result);
        else pending.resolve(result);
      }
      return [];
    } catch (error) {
      // A lost race is worth another try. Any other failure of a batch of several may be one
      // request's doing (its node deleted under it): each is tried alone before any is refused.
      const again = retriable(error) || (batch.length > 1 && !databaseUnavailable(error));
      const retry: Pending[] = [];
      for (const pending of batch) {
        if (again && ++pending.attempts < MAX_ATTEMPTS) {
          pending.alone = true;
          retry.push(pending);
        } else {
          pending.reject(error);
        }
      }
      return retry;
    }
  }

  /**
   * A transaction for `body`. On PostgreSQL its BEGIN goes out with the first statements and its
   * COMMIT with the last (`commit`, for the body to pipeline): two round trips fewer per batch,
   * and the subnets' locks are let go a round trip sooner. A failed statement aborts the
   * transaction, which turns the pipelined COMMIT into a ROLLBACK.
   */
  async #transaction<T>(body: (tx: Tx, commit?: SQL) => Promise<T>): Promise<T> {
    if (this.#reserve === undefined) return this.#db.transaction((tx) => body(tx));
    const connection = await this.#reserve();
    const tx = connection.db as unknown as Tx;
    try {
      const [, result] = await pipelined([rowsOf(tx, sql`begin`), body(tx, sql`commit`)]);
      return result;
    } catch (error) {
      await rowsOf(tx, sql`rollback`).catch(() => {}); // nothing to roll back once COMMIT ran
      throw error;
    } finally {
      connection.release();
    }
  }
}

/** The request's answer, or the ApiError that refuses it. */
type Result = Allocated | ApiError;

/** One subnet's part of a batch. */
interface Group {
  id: string;
  indexes: number[];
  prefix?: Prefix;
  view?: SubnetView<Seen>;
  picker?: BatchPicker<Seen>;
  wants: Want[];
  /** For each want, the request it came from. */
  wantOf: number[];
}

interface SubnetRow {
  id: string;
  cidr: string;
  gateway: string | null;
  dnsServers: string;
  managed: boolean;
  allocation: AllocationPolicy;
  windowSeconds: number;
}

const json = (value: unknown) => JSON.stringify(value);
/** A JSON array of ids as a set of uuids, in SQL. */
const idsIn = (ids: string[]) => sql`(select (value #>> '{}')::uuid from json_array_elements(${json(ids)}::json))`;

async function decide(
  tx: Tx,
  requests: readonly AllocationRequest[],
  random: (bound: bigint) => bigint,
  hints: Map<string, Hint>,
  /** Called once the batch holds its subnets' locks. */
  locked: () => void,
  /** The statement that ends the transaction, pipelined with the batch's last round trip. */
  commit?: SQL,
): Promise<Result[]> {
  const groups = new Map<string, Group>();
  for (const [i, request] of requests.entries()) {
    const group = groups.get(request.subnetId) ?? { id: request.subnetId, indexes: [], wants: [], wantOf: [] };
    group.indexes.push(i);
    groups.set(request.subnetId, group);
  }
  const ids = [...groups.keys()].sort();

  // Round trip 2: statements sent in the order made here (each through rowsOf, the same path), and
  // run in that order, each with its own snapshot — so every one after the lock sees what the
  // lock's last holder committed. The subnets are locked in id order: two batches never wait on
  // each other crosswise. NO KEY: rows referencing the subnets are not held up.
  const lock = rowsOf<SubnetRow>(
    tx,
    sql`select id::text as "id", cidr::text as "cidr", host(gateway) as "gateway",
               array_to_json(dns_servers)::text as "dnsServers", managed, allocation,
               (select observation_window_seconds from settings where id = 1) as "windowSeconds"
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
    const prefix = checkPrefix('cidr', hint.cidr);
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
  locked();
  // Read with the lock's snapshot, which may predate a settings change committed while it
  // waited: a window a moment old is as good.
  const windowSeconds = lockedRows[0]?.windowSeconds ?? 86_400;

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
      continue;
    }
    if (!row.managed) {
      refuseAll(new ApiError(ErrorCode.SUBNET_UNMANAGED, `${row.cidr} is watched, not allocated from`));
      continue;
    }
    const hint = hints.get(id);
    const prefix = checkPrefix('cidr', row.cidr);
    group.prefix = prefix;
    group.view = new SubnetView<Seen>(firstOf(prefix), lastOf(prefix));
    // What was read ahead holds if the subnet and the window are still those it was read for.
    const ahead = hint !== undefined && hint.cidr === row.cidr && hint.windowSeconds === windowSeconds;
    if (ahead) learned[k]?.(group.view);

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
    hints.set(id, { cidr: row.cidr, policy: row.allocation, windowSeconds, outsidePools, neverInPool });
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
        group.wants.push({
          available: request.within === undefined ? outsidePools : request.within.minus(neverInPool),
          policy: request.policy ?? row.allocation,
          wanted,
          acceptObserved: request.acceptObserved === true,
          candidate: ahead ? drawn.get(i) : undefined,
        });
        group.wantOf.push(i);
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        results[i] = error;
      }
    }
    group.picker = new BatchPicker(group.view, group.wants, random);
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

  const chosen: { index: number; group: Group; ip: string }[] = [];
  const runs: { removed: { subnetId: string; lo: string }[]; added: { subnetId: string; lo: string; hi: string }[] } = {
    removed: [],
    added: [],
  };
  for (const group of deciding) {
    const family = group.prefix!.family;
    const text = (value: bigint) => formatIp({ family, value });
    for (const [k, outcome] of (group.picker!.outcomes as Outcome<Seen>[]).entries()) {
      const i = group.wantOf[k]!;
      const row = subnetRows.get(group.id)!;
      if (outcome.outcome === 'allocated') chosen.push({ index: i, group, ip: text(outcome.value) });
      else results[i] = refusal(outcome, row.cidr, requests[i]!, group.wants[k]!.wanted, text);
    }
    const changes = group.view!.runChanges();
    for (const lo of changes.removed) runs.removed.push({ subnetId: group.id, lo: text(lo) });
    for (const [lo, hi] of changes.added) runs.added.push({ subnetId: group.id, lo: text(lo), hi: text(hi) });
  }
  if (chosen.length > 0) {
    const rows = chosen.map(({ index, group, ip }) => ({ subnetId: group.id, ip, ...requests[index]!.row }));
    const written = await write(tx, rows, runs, commit);
    for (const { index, group, ip } of chosen) {
      results[index] = {
        ...written.get(`${group.id} ${ip}`)!,
        ip,
        subnetId: group.id,
        cidr: subnetRows.get(group.id)!.cidr,
      };
    }
  } else if (commit !== undefined) await rowsOf(tx, commit);
  return results as Result[];
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

const date = (value: string | Date) => (value instanceof Date ? value : new Date(value));

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

/**
 * The batch's rows and its runs joined up, in one statement pipelined with the COMMIT: each
 * table's rows as one JSON parameter (a fixed SQL text, prepared once per connection). What each
 * address was last seen as comes back with it, keyed by "<subnet id> <ip>".
 */
async function write(
  tx: Tx,
  rows: ({ subnetId: string; ip: string } & AddressRow)[],
  runs: { removed: { subnetId: string; lo: string }[]; added: { subnetId: string; lo: string; hi: string }[] },
  commit?: SQL,
): Promise<Map<string, Pick<Allocated, 'createdAt' | 'lastSeen' | 'seenMac'>>> {
  // One statement: its data-modifying parts all run, whatever the select reads of them. None
  // of them meets another's row: a run that keeps its first address is extended in place (it
  // is the left neighbour of a chosen address), the runs deleted are right neighbours, and a
  // run added starts at a chosen, free, address.
  const kept = new Set(runs.added.map((r) => `${r.subnetId} ${r.lo}`));
  const removed = runs.removed.filter((r) => !kept.has(`${r.subnetId} ${r.lo}`));
  const wasThere = new Set(runs.removed.map((r) => `${r.subnetId} ${r.lo}`));
  const extended = runs.added.filter((r) => wasThere.has(`${r.subnetId} ${r.lo}`));
  const added = runs.added.filter((r) => !wasThere.has(`${r.subnetId} ${r.lo}`));
  const inserted = rowsOf<{
    subnetId: string;
    ip: string;
    createdAt: string | Date;
    seenMac: string | null;
    lastSeen: string | Date | null;
  }>(
    tx,
    sql`with inserted as (
          insert into addresses (subnet_id, ip, kind, mac, hostname, node_id, pool_id, claim, owner_id, comment)
          select r."subnetId", r.ip, r."kind", r.mac, r.hostname, r."nodeId", r."poolId", r.claim, r."ownerId", r.comment
          from json_to_recordset(${json(rows)}::json) as r(
            "subnetId" uuid, ip inet, "kind" text, mac macaddr, hostname text, "nodeId" uuid, "poolId" uuid, claim text,
            "ownerId" uuid, comment text)
          returning subnet_id, ip, created_at),
        removed as (
          delete from taken_runs t using json_to_recordset(${json(removed)}::json) as r("subnetId" uuid, lo inet)
          where t.subnet_id = r."subnetId" and t.lo = r.lo),
        extended as (
          update taken_runs t set hi = r.hi from json_to_recordset(${json(extended)}::json) as r("subnetId" uuid, lo inet, hi inet)
          where t.subnet_id = r."subnetId" and t.lo = r.lo),
        added as (
          insert into taken_runs (subnet_id, lo, hi)
          select r."subnetId", r.lo, r.hi from json_to_recordset(${json(added)}::json) as r("subnetId" uuid, lo inet, hi inet))
        select i.subnet_id::text as "subnetId", host(i.ip) as "ip", i.created_at as "createdAt",
               seen.mac::text as "seenMac", seen.last_seen as "lastSeen"
        from inserted i left join lateral (
          select mac, last_seen from bindings b where b.ip = i.ip order by last_seen desc limit 1) as seen on true`,
  );
  const ended = commit === undefined ? undefined : rowsOf(tx, commit);
  const [insertedRows] = await pipelined([inserted, ended]);
  return new Map(
    insertedRows.map((r) => [
      `${r.subnetId} ${formatIp(checkAddress('ip', r.ip))}`,
      { createdAt: date(r.createdAt), seenMac: r.seenMac, lastSeen: r.lastSeen === null ? null : date(r.lastSeen) },
    ]),
  );
}
