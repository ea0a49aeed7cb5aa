/**
 * The allocator (API.md, "Addresses"; issue 4's allocation rules). Requests for addresses queue
 * per subnet and are decided in batches: one transaction per batch, with the subnet's row locked
 * through it — one batch at a time per subnet, other subnets not held up — and the database's
 * unique (subnet, ip) constraint behind it. The requests that arrive while a batch commits share
 * the next one, so a busy subnet pays one commit for many allocations (group commit), and a lone
 * request pays a handful of statements:
 *
 * 1. the subnet's row locked and read, with its ranges, its pools' ranges and the observation
 *    window (one round trip, pipelined);
 * 2. reads of `taken_runs` and `bindings` where packages/ipam's BatchPicker asks: a window of
 *    runs and sightings from an address on (lowest free), or single addresses with their
 *    neighbours (a wanted address, a random draw) — usually one round trip, through indexes,
 *    never walking the subnet's addresses;
 * 3. the rows inserted and the runs joined up (one round trip), then the commit.
 *
 * The batch decides its requests in arrival order, each as if after the ones before it. A batch
 * that fails on a lost race (another collector's claim, a unique violation) is retried with each
 * request alone, so that one request's conflict does not fail the others.
 */
import { randomBytes } from 'node:crypto';
import {
  type AllocationPolicy,
  BatchPicker,
  contains,
  firstOf,
  formatIp,
  IntervalSet,
  lastOf,
  type Outcome,
  type Reads,
  randomBelowFrom,
  SubnetView,
  unavailableIn,
  type Want,
} from '@ipwarden/ipam';
import { eq, sql } from 'drizzle-orm';
import { type Database, pipelined, rowsOf, type Tx } from '../db/database.js';
import { type AddressKind, subnets } from '../db/schema/index.js';
import { ApiError, ErrorCode, fieldError } from '../errors.js';
import { readSettings } from '../settings.js';
import { checkAddress, checkPrefix, ipValue, type Subnet, subnetView } from './subnet-store.js';

/** Requests decided in one transaction at most. */
const MAX_BATCH = 256;
/** Rows one window read takes of `taken_runs` and of `bindings` (at least 2: see SubnetView). */
const WINDOW_ROWS = 256;
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
  subnet: Subnet;
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
  /** The requests waiting per subnet; a subnet is here while a batch of it runs. */
  readonly #lines = new Map<string, Pending[]>();

  constructor(db: Database) {
    this.#db = db;
  }

  /** An address for the request; rejects with an ApiError when there is none to give. */
  allocate(request: AllocationRequest): Promise<Allocated> {
    return new Promise((resolve, reject) => {
      const pending: Pending = { request, resolve, reject, attempts: 0, alone: false };
      const line = this.#lines.get(request.subnetId);
      if (line !== undefined) {
        line.push(pending);
        return;
      }
      const started = [pending];
      this.#lines.set(request.subnetId, started);
      void this.#drain(request.subnetId, started);
    });
  }

  async #drain(subnetId: string, line: Pending[]): Promise<void> {
    while (line.length > 0) {
      let size = 1;
      if (!line[0]!.alone) while (size < line.length && size < MAX_BATCH && !line[size]!.alone) size++;
      const batch = line.splice(0, size);
      const retry = await this.#run(subnetId, batch);
      line.unshift(...retry);
    }
    this.#lines.delete(subnetId);
  }

  /** Decides and settles one batch; the requests to try again. Never throws. */
  async #run(subnetId: string, batch: Pending[]): Promise<Pending[]> {
    try {
      const results = await this.#db.transaction((tx) =>
        decide(
          tx,
          subnetId,
          batch.map((p) => p.request),
          this.#random,
        ),
      );
      for (const [i, pending] of batch.entries()) {
        const result = results[i]!;
        if (result instanceof Error) pending.reject(result);
        else pending.resolve(result);
      }
      return [];
    } catch (error) {
      const retry: Pending[] = [];
      for (const pending of batch) {
        if (retriable(error) && ++pending.attempts < MAX_ATTEMPTS) {
          pending.alone = true;
          retry.push(pending);
        } else {
          pending.reject(error);
        }
      }
      return retry;
    }
  }
}

/** The request's answer, or the ApiError that refuses it. */
type Result = Allocated | ApiError;

async function decide(
  tx: Tx,
  subnetId: string,
  requests: readonly AllocationRequest[],
  random: (bound: bigint) => bigint,
): Promise<Result[]> {
  // The subnet's row is its allocation lock. NO KEY: rows of other tables that reference the
  // subnet are not held up by it. The statements after it, pipelined behind it, see what the
  // holder of the lock before us committed (each statement takes its own snapshot).
  const [locked, spans, settings] = await pipelined([
    tx.select().from(subnets).where(eq(subnets.id, subnetId)).for('no key update'),
    rowsOf<{ start: string; end: string; pool: boolean }>(
      tx,
      sql`select host(start) as "start", host("end") as "end", false as "pool" from ranges where subnet_id = ${subnetId}
          union all
          select host(start), host("end"), true from pool_ranges where subnet_id = ${subnetId}`,
    ),
    readSettings(tx as unknown as Database),
  ]);
  if (locked[0] === undefined) return requests.map(() => new ApiError(ErrorCode.NOT_FOUND, `no subnet ${subnetId}`));
  const subnet = subnetView(locked[0]);
  if (!subnet.managed) {
    return requests.map(
      () => new ApiError(ErrorCode.SUBNET_UNMANAGED, `${subnet.cidr} is watched, not allocated from`),
    );
  }

  const prefix = checkPrefix('cidr', subnet.cidr);
  const fixed = [subnet.gateway, ...subnet.dnsServers].filter((a): a is string => a !== null).map(ipValue);
  const spanOf = (s: { start: string; end: string }) => [ipValue(s.start), ipValue(s.end)] as const;
  // Never handed out: the network and broadcast addresses, gateway, DNS servers, dynamic and
  // reserved ranges — and, outside a pool, every pool's ranges.
  const neverInPool = unavailableIn(prefix, { addresses: fixed, spans: spans.filter((s) => !s.pool).map(spanOf) });
  const outsidePools = new IntervalSet([[firstOf(prefix), lastOf(prefix)]]).minus(
    unavailableIn(prefix, { addresses: fixed, spans: spans.map(spanOf) }),
  );

  const results: (Result | undefined)[] = requests.map(() => undefined);
  const wants: Want[] = [];
  const wantOf: number[] = [];
  for (const [i, request] of requests.entries()) {
    try {
      let wanted: bigint | undefined;
      if (request.ip !== undefined) {
        const ip = checkAddress('ip', request.ip, prefix.family);
        if (!contains(prefix, ip))
          throw fieldError(ErrorCode.IP_NOT_IN_SUBNET, 'ip', `${formatIp(ip)} is not in ${subnet.cidr}`);
        wanted = ip.value;
      }
      wants.push({
        available: request.within === undefined ? outsidePools : request.within.minus(neverInPool),
        policy: request.policy ?? subnet.allocation,
        wanted,
        acceptObserved: request.acceptObserved === true,
      });
      wantOf.push(i);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      results[i] = error;
    }
  }

  const view = new SubnetView<Seen>(firstOf(prefix), lastOf(prefix));
  const picker = new BatchPicker(view, wants, random);
  for (let round = 0; ; round++) {
    const reads = picker.step();
    if (reads.from.length + reads.around.length === 0) break;
    if (round === MAX_ROUNDS) {
      picker.exhaust();
      break;
    }
    await read(tx, subnet, prefix.family, settings.observationWindowSeconds, view, reads);
  }

  const text = (value: bigint) => formatIp({ family: prefix.family, value });
  const chosen: { index: number; ip: string }[] = [];
  for (const [k, outcome] of (picker.outcomes as Outcome<Seen>[]).entries()) {
    const i = wantOf[k]!;
    if (outcome.outcome === 'allocated') chosen.push({ index: i, ip: text(outcome.value) });
    else results[i] = refusal(outcome, subnet, requests[i]!, wants[k]!.wanted, text);
  }
  if (chosen.length > 0) {
    const written = await write(
      tx,
      subnet.id,
      chosen.map(({ index, ip }) => ({ ip, ...requests[index]!.row })),
      view.runChanges(),
      text,
    );
    for (const { index, ip } of chosen) results[index] = { ...written.get(ip)!, ip, subnet };
  }
  return results as Result[];
}

function refusal(
  outcome: Exclude<Outcome<Seen>, { outcome: 'allocated' }>,
  subnet: Subnet,
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
          ? `${ip} is never handed out in ${subnet.cidr}: the network or broadcast address, the gateway, a DNS server, or in a range`
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
      return new ApiError(ErrorCode.SUBNET_EXHAUSTED, `no address of ${subnet.cidr} is free`);
  }
}

/** One round of the reads the picker asked for, all pipelined. */
async function read(
  tx: Tx,
  subnet: Subnet,
  family: 4 | 6,
  windowSeconds: number,
  view: SubnetView<Seen>,
  reads: Reads,
): Promise<void> {
  const text = (value: bigint) => formatIp({ family, value });
  const [first, last] = [firstOf(checkPrefix('cidr', subnet.cidr)), lastOf(checkPrefix('cidr', subnet.cidr))];
  const below = (v: bigint) => (v > first ? v - 1n : v);
  const above = (v: bigint) => (v < last ? v + 1n : v);
  const recent = sql`last_seen > now() - make_interval(secs => ${windowSeconds})`;
  const seenRow = (r: SeenRow) => [ipValue(r.ip), { mac: r.mac, lastSeen: new Date(r.lastSeen) }] as const;
  const runRow = (r: RunRow) => [ipValue(r.lo), ipValue(r.hi)] as const;

  const windows = reads.from.map(async (from) => {
    const [runs, seen] = await pipelined([
      // Every run meeting [from - 1, …]: the one before `from` is needed to join runs up.
      rowsOf<RunRow>(
        tx,
        sql`select host(lo) as "lo", host(hi) as "hi" from taken_runs
            where subnet_id = ${subnet.id} and hi >= ${text(below(from))}::inet
            order by taken_runs.hi limit ${WINDOW_ROWS}`,
      ),
      rowsOf<SeenRow>(
        tx,
        sql`select host(ip) as "ip", mac::text as "mac", last_seen as "lastSeen" from bindings
            where ip >= ${text(from)}::inet and ip <= ${text(last)}::inet and ${recent}
            order by bindings.ip, bindings.last_seen desc limit ${WINDOW_ROWS}`,
      ),
    ]);
    // A full window knows up to its last row; a short one, to the end of the subnet.
    view.learnRuns(below(from), runs.length === WINDOW_ROWS ? ipValue(runs.at(-1)!.hi) : last, runs.map(runRow));
    view.learnSeen(from, seen.length === WINDOW_ROWS ? ipValue(seen.at(-1)!.ip) : last, seen.map(seenRow));
  });

  const points = async () => {
    if (reads.around.length === 0) return;
    const around = JSON.stringify(reads.around.map((v) => ({ lo: text(below(v)), hi: text(above(v)), ip: text(v) })));
    const [runs, seen] = await pipelined([
      // At most two runs meet [v - 1, v + 1] without one holding v: runs never touch.
      rowsOf<RunRow>(
        tx,
        sql`select distinct host(r.lo) as "lo", host(r.hi) as "hi"
            from json_to_recordset(${around}::json) as v(lo inet, hi inet, ip inet)
            cross join lateral (
              select lo, hi from taken_runs
              where subnet_id = ${subnet.id} and taken_runs.hi >= v.lo order by taken_runs.hi limit 2) as r
            where r.lo <= v.hi`,
      ),
      rowsOf<SeenRow>(
        tx,
        sql`select distinct on (bindings.ip) host(ip) as "ip", mac::text as "mac", last_seen as "lastSeen" from bindings
            where ip in (select v.ip from json_to_recordset(${around}::json) as v(ip inet)) and ${recent}
            order by bindings.ip, bindings.last_seen desc`,
      ),
    ]);
    const runs_ = runs.map(runRow);
    for (const v of reads.around) {
      view.learnRuns(
        below(v),
        above(v),
        runs_.filter(([lo, hi]) => hi >= below(v) && lo <= above(v)),
      );
    }
    const seen_ = new Map(seen.map(seenRow));
    for (const v of reads.around) view.learnSeen(v, v, seen_.has(v) ? [[v, seen_.get(v)!]] : []);
  };

  await pipelined([...windows, points()]);
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
 * The batch's rows, and its runs joined up, pipelined in one round trip: each table's rows as one
 * JSON parameter (fixed SQL text, prepared once per connection). What each address was last seen
 * as comes back with it.
 */
async function write(
  tx: Tx,
  subnetId: string,
  rows: ({ ip: string } & AddressRow)[],
  runs: { removed: bigint[]; added: [bigint, bigint][] },
  text: (value: bigint) => string,
): Promise<Map<string, Omit<Allocated, 'ip' | 'subnet'>>> {
  const json = (value: unknown) => JSON.stringify(value);
  const [inserted] = await pipelined([
    rowsOf<{ ip: string; createdAt: string | Date; seenMac: string | null; lastSeen: string | Date | null }>(
      tx,
      sql`with inserted as (
            insert into addresses (subnet_id, ip, kind, mac, hostname, node_id, pool_id, claim, owner_id, comment)
            select ${subnetId}::uuid, r.ip::inet, r."kind", r.mac::macaddr, r.hostname, r."nodeId"::uuid, r."poolId"::uuid,
                   r.claim, r."ownerId"::uuid, r.comment
            from json_to_recordset(${json(rows)}::json) as r(
              ip text, "kind" text, mac text, hostname text, "nodeId" text, "poolId" text, claim text, "ownerId" text, comment text)
            returning ip, created_at)
          select host(i.ip) as "ip", i.created_at as "createdAt", seen.mac::text as "seenMac", seen.last_seen as "lastSeen"
          from inserted i left join lateral (
            select mac, last_seen from bindings b where b.ip = i.ip order by last_seen desc limit 1) as seen on true`,
    ),
    runs.removed.length === 0
      ? undefined
      : tx.execute(
          sql`delete from taken_runs where subnet_id = ${subnetId}
              and lo in (select (value #>> '{}')::inet from json_array_elements(${json(runs.removed.map(text))}::json))`,
        ),
    tx.execute(
      sql`insert into taken_runs (subnet_id, lo, hi)
          select ${subnetId}::uuid, r.lo::inet, r.hi::inet
          from json_to_recordset(${json(runs.added.map(([lo, hi]) => ({ lo: text(lo), hi: text(hi) })))}::json) as r(lo text, hi text)`,
    ),
  ]);
  const date = (value: string | Date) => (value instanceof Date ? value : new Date(value));
  return new Map(
    inserted.map((r) => [
      formatIp(checkAddress('ip', r.ip)),
      {
        createdAt: date(r.createdAt),
        seenMac: r.seenMac,
        lastSeen: r.lastSeen === null ? null : date(r.lastSeen),
      },
    ]),
  );
}
