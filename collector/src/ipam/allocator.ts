/**
 * The allocator (API.md, "Addresses"; issue 4's allocation rules). Requests for addresses queue
 * and are decided in batches, one transaction each, with every subnet of the batch locked
 * through it (its row, FOR NO KEY UPDATE, in id order) and the database's unique (subnet, ip)
 * constraint behind it. Batches of different subnets run side by side (up to MAX_IN_FLIGHT); the
 * requests that arrive while a subnet's batch is under way share its next one: a busy collector
 * pays one commit for many allocations (group commit).
 *
 * A batch is decided one of two ways (on PostgreSQL; PGlite runs in this process, in drizzle's
 * own transaction, with no round trips to save):
 *
 * - Read, then written — two round trips. (1) BEGIN, the subnets locked and read: their ranges
 *   and pools' ranges, the observation window, and — from what the subnet's last batch found —
 *   a window of its runs and sightings from its first address (lowest free), the addresses asked
 *   for and random draws, each with its neighbours; all pipelined behind the lock, so that they
 *   see what the lock's last holder committed. (2) The rows inserted, the runs joined up, COMMIT.
 *   In between, more reads only where packages/ipam's BatchPicker still asks (a window further
 *   on, another random draw): through indexes, never walking a subnet's addresses.
 * - Decided ahead — one round trip. The collector keeps what it knew of a subnet after its last
 *   batch (`Carried`: the view, with that batch's addresses in it) and decides the next batch
 *   from it before locking anything, if it can without reading a window (an address asked for
 *   or drawn at random that it has not read is taken to be unused, and the write checks that it
 *   is: what makes random allocation in a /64 one round trip). The batch is then one statement,
 *   a transaction of its own, sent on the connection the last batch went out on (its lane, so
 *   that they reach the database in the order decided); the subnet's lock is held for no round
 *   trip at all. The
 *   write locks the subnet and checks that its `alloc_stamp` is the one the view was carried
 *   to — every other change to the subnet, by any collector, sets a new one (`touchSubnets`) — and
 *   that no address chosen was seen in use since; if not, it writes nothing, and the batch is
 *   decided again the first way. So the next batch of a subnet is sent as soon as the last has
 *   sent its write, and waits in the database, not in the collector.
 *
 * A batch decides each subnet's requests in arrival order, each as if after the ones before it.
 * A batch that fails on a lost race (another collector's claim, a unique violation) is retried
 * with each request alone, so that one request's conflict does not fail the others.
 */
import { randomBytes, randomUUID } from 'node:crypto';
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
import { sql } from 'drizzle-orm';
import { type Database, databaseUnavailable, pipelined, type Reserved, rowsOf, type Tx } from '../db/database.js';
import { type AddressKind, DEFAULT_OBSERVATION_WINDOW_SECONDS } from '../db/schema/index.js';
import { ApiError, ErrorCode, fieldError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import { checkAddress, checkPrefix, ipValue } from './subnet-store.js';

/** Requests decided in one transaction at most. */
const MAX_BATCH = 256;
/** Batches under way at once (the database pool holds 10 connections). */
const MAX_IN_FLIGHT = 4;
/** Batches of one subnet under way at once: one holding its lock, the next waiting for it. */
const MAX_AHEAD = 2;
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
/**
 * How long what a batch read of a subnet is carried to decide later batches ahead, before the
 * subnet is read afresh: sightings age out of the observation window, and an address that did
 * is free again. (Changes to the subnet are never written over, however young the view: see
 * `alloc_stamp`.)
 */
const CARRY_MS = 1_000;
/** Rounds of addresses a batch decided ahead may take to be unused before it is read instead. */
const MAX_ASSUMED_ROUNDS = 4;
/** Subnets whose views are kept before the stale ones are let go. */
const MAX_CARRIED = 256;
/** Subnets whose hints are kept (the most recently read). */
const MAX_HINTS = 4_096;

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
  /** After a batch decided ahead wrote nothing: decided on what the database says now. */
  fresh: boolean;
}

/** Who saw an address in use. */
interface Seen {
  mac: string;
  lastSeen: Date;
}

/** What a subnet's last batch found, to read ahead with in the next batch's first round trip. */
interface Hint {
  cidr: string;
  prefix: Prefix;
  policy: AllocationPolicy;
  windowSeconds: number;
  /** What the subnet hands out outside pools, and what it never hands out inside one. */
  outsidePools: IntervalSet;
  neverInPool: IntervalSet;
}

/** What the collector knows of a subnet after its last batch: enough to decide the next one ahead. */
interface Carried {
  /** The batch that read it: a failure drops the view only if it is still that read's. */
  epoch: number;
  /**
   * The subnet's `alloc_stamp` once the batches sent so far have committed: each sets a new one
   * of its own, so that a batch decided on one that did not write cannot write either.
   */
  stamp: string;
  /** Exact where read, with every batch's addresses since settled in. */
  view: SubnetView<Seen>;
  readAt: number;
}

/** What the allocator remembers of subnets from one batch to the next, and where it counts its batches. */
interface Memory {
  hints: Map<string, Hint>;
  carried: Map<string, Carried>;
  epochs: number;
  metrics?: AllocatorMetrics;
}

export type AllocatorMetrics = Pick<Metrics, 'allocationBatches' | 'allocationsHeldBack'>;

/** Forgets the subnet's view if it is the one `epoch` read: a batch built on it failed. */
function drop(memory: Memory, subnetId: string, epoch: number): void {
  if (memory.carried.get(subnetId)?.epoch === epoch) memory.carried.delete(subnetId);
}

/** A request whose batch wrote nothing for its subnet (decided on a view no longer true): decide it again. */
const AGAIN = Symbol('again');

/** PostgreSQL's unique_violation, serialization_failure and deadlock_detected: a race lost, worth one more try. */
export function retriable(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Object && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (code === '23505' || code === '40001' || code === '40P01') return true;
  }
  return false;
}

/**
 * A connection kept for a chain of batches (PostgreSQL): each sends its BEGIN after the last
 * one's COMMIT, so a subnet's batches reach the database in the order they were decided in, and
 * one decided ahead never overtakes the one it was decided after.
 */
interface Lane {
  connection: Promise<Reserved>;
  /** Batches on it not yet answered. */
  batches: number;
  /** A batch on it has not sent its COMMIT: no other may begin behind it yet. */
  open: boolean;
}

/** What ends a batch's transaction, pipelined with its last statements; sent once. */
type Commit = () => Promise<unknown>;

export class Allocator {
  readonly #db: Database;
  readonly #random = randomBelowFrom((length) => randomBytes(length));
  /** Requests not yet in a batch, oldest first. */
  #queue: Pending[] = [];
  /** Subnets in a batch that has not sent its write yet. */
  readonly #busy = new Set<string>();
  /** Batches under way per subnet, written or not. */
  readonly #outstanding = new Map<string, number>();
  /** The lane of each subnet with batches under way. */
  readonly #lanes = new Map<string, Lane>();
  #inFlight = 0;
  readonly #memory: Memory;

  readonly #reserve: (() => Promise<Reserved>) | undefined;

  /** `reserve` (PostgreSQL): connections on which a batch pipelines its own BEGIN and COMMIT. */
  constructor(db: Database, reserve?: () => Promise<Reserved>, metrics?: AllocatorMetrics) {
    this.#db = db;
    this.#reserve = reserve;
    this.#memory = { hints: new Map(), carried: new Map(), epochs: 0, metrics };
  }

  /** An address for the request; rejects with an ApiError when there is none to give. */
  allocate(request: AllocationRequest): Promise<Allocated> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ request, resolve, reject, attempts: 0, alone: false, fresh: false });
      this.#pump();
    });
  }

  /**
   * Starts batches while there are requests for subnets that can take one and room for another
   * batch. A subnet can as soon as its last batch has sent its write (up to MAX_AHEAD under
   * way): the next is decided ahead from what that one chose, sent on the same lane at once,
   * and waits on the subnet's lock in the database, which hands it over the moment the first
   * commits.
   */
  #pump(): void {
    while (this.#inFlight < MAX_IN_FLIGHT) {
      const { batch, lane } = this.#take();
      if (batch.length === 0) return;
      const held = new Set(batch.map((p) => p.request.subnetId));
      for (const id of held) {
        this.#busy.add(id);
        this.#outstanding.set(id, (this.#outstanding.get(id) ?? 0) + 1);
        if (lane !== undefined) this.#lanes.set(id, lane);
      }
      if (lane !== undefined) {
        lane.batches++;
        lane.open = true;
      }
      this.#inFlight++;
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        if (lane !== undefined) lane.open = false;
        for (const id of held) this.#busy.delete(id);
        this.#pump();
      };
      void this.#run(batch, lane, release).then(({ retry, settle }) => {
        this.#inFlight--;
        for (const id of held) {
          const n = this.#outstanding.get(id)! - 1;
          if (n > 0) this.#outstanding.set(id, n);
          else {
            this.#outstanding.delete(id);
            this.#lanes.delete(id);
          }
        }
        if (lane !== undefined && --lane.batches === 0) {
          lane.connection.then(
            (connection) => connection.release(),
            () => {},
          );
        }
        this.#queue.unshift(...retry);
        release();
        this.#pump();
        // Answered once the next batches are on their way: the database works on them while
        // this process writes the answers out.
        settle();
      });
    }
  }

  /**
   * The oldest requests of subnets that can take a batch, up to MAX_BATCH, all of one lane (a
   * new one for subnets with none); a retried request alone.
   */
  #take(): { batch: Pending[]; lane?: Lane } {
    const batch: Pending[] = [];
    const rest: Pending[] = [];
    let lane: Lane | undefined;
    const ready = (id: string) => {
      if (this.#busy.has(id) || (this.#outstanding.get(id) ?? 0) >= MAX_AHEAD) return false;
      const own = this.#lanes.get(id);
      if (own?.open) return false;
      return batch.length === 0 || own === undefined || own === lane;
    };
    for (const pending of this.#queue) {
      const open = batch.length < MAX_BATCH && !batch[0]?.alone && ready(pending.request.subnetId);
      if (open && (!pending.alone || batch.length === 0)) {
        if (batch.length === 0) lane = this.#lanes.get(pending.request.subnetId);
        batch.push(pending);
      } else rest.push(pending);
    }
    this.#queue = rest;
    if (batch.length > 0 && lane === undefined && this.#reserve !== undefined) {
      const connection = this.#reserve();
      connection.catch(() => {}); // the batch's transaction reports it
      lane = { connection, batches: 0, open: false };
    }
    return { batch, lane };
  }

  /** Decides one batch: the requests to try again, and how to answer the others. Never throws. */
  async #run(
    batch: Pending[],
    lane: Lane | undefined,
    sent: () => void,
  ): Promise<{ retry: Pending[]; settle: () => void }> {
    const retry: Pending[] = [];
    const answers: (() => void)[] = [];
    try {
      const requests = batch.map((p) => p.request);
      const results = await this.#decide(
        requests,
        lane,
        batch.some((p) => p.fresh),
        sent,
      );
      for (const [i, pending] of batch.entries()) {
        const result = results[i]!;
        if (result === AGAIN) {
          // A view carried ahead is dropped when found wrong: the next try reads afresh, and
          // only a change made between its read and its write (a sighting) costs an attempt.
          if (pending.fresh && ++pending.attempts >= MAX_ATTEMPTS) {
            const error = new ApiError(
              ErrorCode.UNAVAILABLE,
              'the subnet kept changing during the allocation; try again',
            );
            answers.push(() => pending.reject(error));
          } else {
            pending.fresh = true;
            retry.push(pending);
          }
        } else if (result instanceof Error) answers.push(() => pending.reject(result));
        else answers.push(() => pending.resolve(result));
      }
    } catch (error) {
      // A lost race is worth another try. Any other failure of a batch of several may be one
      // request's doing (its node deleted under it): each is tried alone before any is refused.
      const again = retriable(error) || (batch.length > 1 && !databaseUnavailable(error));
      for (const pending of batch) {
        if (again && ++pending.attempts < MAX_ATTEMPTS) {
          pending.alone = true;
          pending.fresh = true;
          retry.push(pending);
        } else {
          answers.push(() => pending.reject(error));
        }
      }
    }
    return {
      retry,
      settle: () => {
        for (const answer of answers) answer();
      },
    };
  }

  /**
   * On a lane, a batch that can be decided ahead is one statement, a transaction of its own
   * (no BEGIN or COMMIT to wait for); any other is read, then written, in a transaction.
   */
  async #decide(
    requests: readonly AllocationRequest[],
    lane: Lane | undefined,
    fresh: boolean,
    sent: () => void,
  ): Promise<Result[]> {
    const memory = this.#memory;
    if (lane !== undefined && !fresh) {
      const tx = (await lane.connection).db as unknown as Tx;
      const planned = planAhead(requests, memory, this.#random);
      if (planned !== undefined) {
        memory.metrics?.allocationBatches.inc({ decided: 'ahead' });
        return decideAhead(tx, requests, planned, memory, sent);
      }
    }
    memory.metrics?.allocationBatches.inc({ decided: 'read' });
    return this.#transaction(lane, (tx, commit) => decide(tx, requests, this.#random, memory, sent, commit));
  }

  /**
   * A transaction for `body`. On a lane (PostgreSQL) its BEGIN goes out with the first
   * statements and its COMMIT with the last (`commit`, for the body to pipeline): two round trips
   * fewer per batch, and the subnets' locks are let go a round trip sooner. A failed statement
   * aborts the transaction, which turns the pipelined COMMIT into a ROLLBACK.
   */
  async #transaction<T>(lane: Lane | undefined, body: (tx: Tx, commit?: Commit) => Promise<T>): Promise<T> {
    if (lane === undefined) return this.#db.transaction((tx) => body(tx));
    const tx = (await lane.connection).db as unknown as Tx;
    let ended = false;
    const commit = () => {
      ended = true;
      return rowsOf(tx, sql`commit`);
    };
    try {
      const [, result] = await pipelined([rowsOf(tx, sql`begin`), body(tx, commit)]);
      return result;
    } catch (error) {
      // Until its COMMIT is sent no other batch is on the lane; after, the next one may be.
      if (!ended) await rowsOf(tx, sql`rollback`).catch(() => {});
      throw error;
    }
  }
}

/** The request's answer, the ApiError that refuses it, or AGAIN. */
type Result = Allocated | ApiError | typeof AGAIN;

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
  /** What the batch knows of the subnet's row: its CIDR, policy, window and what it never hands out. */
  hint?: Hint;
  /** The view carried from the subnet's last batch, or made by this one, and so its stamp. */
  carried?: Carried;
  /** Decided ahead: the stretches taken to hold no run (unread ones, around an address), for the write to check. */
  assumed?: [bigint, bigint][];
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

const json = (value: unknown) => JSON.stringify(value);
/** A JSON array of ids as a set of uuids, in SQL. */
const idsIn = (ids: string[]) => sql`(select (value #>> '{}')::uuid from json_array_elements(${json(ids)}::json))`;
/** The observation window in force (settings.ts), in SQL. */
const WINDOW_SECONDS = sql`coalesce((select observation_window_seconds from settings where id = 1), ${DEFAULT_OBSERVATION_WINDOW_SECONDS})`;

/** The batch's requests by subnet. */
function groupsOf(requests: readonly AllocationRequest[]): Map<string, Group> {
  const groups = new Map<string, Group>();
  for (const [i, request] of requests.entries()) {
    const group = groups.get(request.subnetId) ?? { id: request.subnetId, indexes: [], wants: [], wantOf: [] };
    group.indexes.push(i);
    groups.set(request.subnetId, group);
  }
  return groups;
}

/** What a request of a subnet may be given, as the picker takes it. */
function wantOf(request: AllocationRequest, hint: Hint, wanted?: bigint, candidate?: bigint): Want {
  return {
    available: request.within === undefined ? hint.outsidePools : request.within.minus(hint.neverInPool),
    policy: request.policy ?? hint.policy,
    wanted,
    acceptObserved: request.acceptObserved === true,
    candidate,
  };
}

/** One batch read, then written. */
async function decide(
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

/**
 * The batch decided from the views its subnets' last batches left, with no read — or undefined
 * (nothing chosen) when some subnet has no view young enough, or a request needs a read or would
 * be refused: refusals are answered from what the database says.
 */
function planAhead(
  requests: readonly AllocationRequest[],
  memory: Memory,
  random: (bound: bigint) => bigint,
): Group[] | undefined {
  const groups = groupsOf(requests);
  const ids = [...groups.keys()].sort();
  const planned: Group[] = [];
  const giveUp = () => {
    for (const group of planned) group.view!.discard();
    return undefined;
  };
  const now = performance.now();
  for (const id of ids) {
    const group = groups.get(id)!;
    const carried = memory.carried.get(id);
    const hint = memory.hints.get(id);
    if (carried === undefined || hint === undefined) return giveUp();
    if (now - carried.readAt > CARRY_MS) {
      memory.carried.delete(id);
      return giveUp();
    }
    const { prefix } = hint;
    Object.assign(group, { prefix, hint, view: carried.view, carried });
    for (const i of group.indexes) {
      const request = requests[i]!;
      let wanted: bigint | undefined;
      if (request.ip !== undefined) {
        const ip = parseIp(request.ip);
        if (ip === undefined || ip.family !== prefix.family || !contains(prefix, ip)) return giveUp();
        wanted = ip.value;
      }
      group.wants.push(wantOf(request, hint, wanted));
      group.wantOf.push(i);
    }
    planned.push(group);
    group.picker = new BatchPicker(carried.view, group.wants, random);
    group.assumed = [];
    const [first, last] = [firstOf(prefix), lastOf(prefix)];
    for (let round = 0; ; round++) {
      const reads = group.picker.step();
      if (reads.from.length + reads.around.length === 0) break;
      // A window of runs (a lowest-free search past what is known) is read first. An address
      // asked for, or drawn at random, with its neighbours, is taken to be unused — in a subnet
      // too big to have been read, as a /64 is, it nearly always is — and the write checks it
      // (holding the subnet back if not; the view then goes, assumption and all).
      if (reads.from.length > 0 || round === MAX_ASSUMED_ROUNDS) return giveUp();
      for (const v of reads.around) {
        for (const [lo, hi] of carried.view.unreadRuns(v > first ? v - 1n : v, v < last ? v + 1n : v)) {
          carried.view.learnRuns(lo, hi, []);
          group.assumed.push([lo, hi]);
        }
        carried.view.learnSeen(v, v, []);
      }
    }
    if (group.picker.outcomes.some((o) => o?.outcome !== 'allocated')) return giveUp();
  }
  return planned;
}

/**
 * One statement, a transaction of its own: the write, which locks the subnets and checks that
 * the views still hold.
 */
async function decideAhead(
  tx: Tx,
  requests: readonly AllocationRequest[],
  planned: Group[],
  memory: Memory,
  sent: () => void,
): Promise<Result[]> {
  const { chosen, runs } = chosenIn(planned);
  const assumed = planned.flatMap((group) => {
    const text = (value: bigint) => formatIp({ family: group.prefix!.family, value });
    return group.assumed!.map(([lo, hi]) => ({ subnetId: group.id, lo: text(lo), hi: text(hi) }));
  });
  const guards = advanceStamps(planned);
  const { windowSeconds } = planned[0]!.hint!;
  const writing = write(tx, rowsFor(requests, chosen), runs, guards, windowSeconds, assumed);
  for (const group of planned) group.view!.settle();
  sent();
  let written: Awaited<typeof writing>;
  try {
    written = await writing;
  } catch (error) {
    for (const group of planned) drop(memory, group.id, group.carried!.epoch);
    throw error;
  }
  return answers(requests, chosen, written, memory).results;
}

/** What the batch's pickers chose, and the runs to write back for it. */
function chosenIn(groups: readonly Group[]) {
  const chosen: Chosen[] = [];
  const runs: RunChanges = { removed: [], added: [] };
  for (const group of groups) {
    const family = group.prefix!.family;
    const text = (value: bigint) => formatIp({ family, value });
    for (const [k, outcome] of (group.picker!.outcomes as Outcome<Seen>[]).entries()) {
      if (outcome.outcome === 'allocated') chosen.push({ index: group.wantOf[k]!, group, ip: text(outcome.value) });
    }
    const changes = group.view!.runChanges();
    for (const lo of changes.removed) runs.removed.push({ subnetId: group.id, lo: text(lo) });
    for (const [lo, hi] of changes.added) runs.added.push({ subnetId: group.id, lo: text(lo), hi: text(hi) });
  }
  return { chosen, runs };
}

/**
 * The answers to the chosen requests: what was written, or — for a subnet whose write was held
 * back (its view no longer true) — AGAIN, with the view dropped.
 */
function answers(
  requests: readonly AllocationRequest[],
  chosen: readonly Chosen[],
  written: Map<string, Pick<Allocated, 'createdAt' | 'lastSeen' | 'seenMac'>>,
  memory: Memory,
): { results: Result[]; heldBack: Set<Group> } {
  const results: Result[] = requests.map(() => AGAIN);
  const heldBack = new Set<Group>();
  for (const { group, ip } of chosen) if (!written.has(`${group.id} ${ip}`)) heldBack.add(group);
  for (const group of heldBack) drop(memory, group.id, group.carried!.epoch);
  if (heldBack.size > 0) memory.metrics?.allocationsHeldBack.inc(heldBack.size);
  for (const { index, group, ip } of chosen) {
    if (heldBack.has(group)) continue;
    results[index] = { ...written.get(`${group.id} ${ip}`)!, ip, subnetId: group.id, cidr: group.hint!.cidr };
  }
  return { results, heldBack };
}

/**
 * The guards of the groups' writes: the stamp each subnet's view was carried to, and the new one
 * the write sets — which the view is carried to from now on.
 */
function advanceStamps(groups: Iterable<Group>): { subnetId: string; stamp: string; next: string }[] {
  return [...groups].map((group) => {
    const guard = { subnetId: group.id, stamp: group.carried!.stamp, next: randomUUID() };
    group.carried!.stamp = guard.next;
    return guard;
  });
}

interface Chosen {
  index: number;
  group: Group;
  ip: string;
}

/** The rows to insert for the chosen addresses. */
function rowsFor(requests: readonly AllocationRequest[], chosen: readonly Chosen[]): WrittenRow[] {
  return chosen.map(({ index, group, ip }) => {
    const request = requests[index]!;
    return { subnetId: group.id, ip, acceptObserved: request.acceptObserved === true, ...request.row };
  });
}

interface RunChanges {
  removed: { subnetId: string; lo: string }[];
  added: { subnetId: string; lo: string; hi: string }[];
}

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

/** Lets go of views past their age once there are many, and of the hints read longest ago. */
function forgetStale(memory: Memory): void {
  for (const id of memory.hints.keys()) {
    if (memory.hints.size <= MAX_HINTS) break;
    memory.hints.delete(id);
  }
  if (memory.carried.size <= MAX_CARRIED) return;
  const now = performance.now();
  for (const [id, carried] of memory.carried) if (now - carried.readAt > CARRY_MS) memory.carried.delete(id);
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

/** An address row to insert, and whether it may be one observed in use. */
type WrittenRow = { subnetId: string; ip: string; acceptObserved: boolean } & AddressRow;

/**
 * The batch's rows and its runs joined up, in one statement pipelined with the COMMIT: each
 * table's rows as one JSON parameter (a fixed SQL text, prepared once per connection). What each
 * address was last seen as comes back with it, keyed by "<subnet id> <ip>".
 *
 * Each subnet's part is written only if the subnet is as the batch decided it (`guards`: its
 * `alloc_stamp`; the observation window), no address chosen for it was seen in use since it was
 * read, unless the request accepts that, and no run meets a stretch it took to hold none
 * (`assumed`); it then gets the guard's next stamp. A subnet held
 * back writes nothing, and its addresses are missing from the answer. The check is the UPDATE
 * of the subnet's row: it waits for the row's lock if another transaction holds it, and then
 * checks the stamp that transaction left (READ COMMITTED re-reads an updated row), so that a
 * batch decided ahead needs no lock statement of its own. Its snapshot, taken before any such
 * wait, is as good for the runs: a change to them since came with a new stamp, and holds the
 * subnet back.
 */
async function write(
  tx: Tx,
  rows: WrittenRow[],
  runs: RunChanges,
  guards: { subnetId: string; stamp: string; next: string }[],
  windowSeconds: number,
  /**
   * Stretches taken to hold no run, around addresses not read (asked for, or drawn at random):
   * no run may meet [lo, hi]. (That the addresses were not seen in use is checked with the rows:
   * each was chosen.)
   */
  assumed: { subnetId: string; lo: string; hi: string }[],
  commit?: Commit,
): Promise<Map<string, Pick<Allocated, 'createdAt' | 'lastSeen' | 'seenMac'>>> {
  // One statement: its data-modifying parts all run, whatever the select reads of them. None
  // of them meets another's row: a run that keeps its first address is extended in place (it
  // is the left neighbour of a chosen address), the runs deleted are right neighbours, and a
  // run added starts at a chosen, free, address. Every part reads `ok`, and so writes only for
  // the subnets whose checks passed (see above for the snapshot).
  const kept = new Set(runs.added.map((r) => `${r.subnetId} ${r.lo}`));
  const removed = runs.removed.filter((r) => !kept.has(`${r.subnetId} ${r.lo}`));
  const wasThere = new Set(runs.removed.map((r) => `${r.subnetId} ${r.lo}`));
  const extended = runs.added.filter((r) => wasThere.has(`${r.subnetId} ${r.lo}`));
  const added = runs.added.filter((r) => !wasThere.has(`${r.subnetId} ${r.lo}`));
  const rowsJson = json(rows);
  const inserted = rowsOf<{
    subnetId: string;
    ip: string;
    createdAt: string | Date;
    seenMac: string | null;
    lastSeen: string | Date | null;
  }>(
    tx,
    sql`with ${
      // Several subnets are locked in id order, as everywhere (touchSubnets, the lock statement):
      // an UPDATE of several rows takes their locks in whatever order its plan visits them.
      guards.length > 1
        ? sql`locked as (
          select id from subnets where id in (select "subnetId" from json_to_recordset(${json(guards)}::json)
            as g("subnetId" uuid)) order by id for no key update),`
        : sql``
    } ok as (
          update subnets s set alloc_stamp = g.next
          from json_to_recordset(${json(guards)}::json) as g("subnetId" uuid, stamp uuid, next uuid)
          where s.id = g."subnetId" and s.alloc_stamp = g.stamp
            ${guards.length > 1 ? sql`and s.id in (select id from locked)` : sql``}
            and ${WINDOW_SECONDS} = ${windowSeconds}
            and not exists (
              select 1 from json_to_recordset(${rowsJson}::json) as r("subnetId" uuid, ip inet, "acceptObserved" boolean)
              join bindings b on b.ip = r.ip
              where r."subnetId" = g."subnetId" and not r."acceptObserved"
                and b.last_seen > now() - make_interval(secs => ${windowSeconds}))
            and not exists (
              select 1 from json_to_recordset(${json(assumed)}::json) as a("subnetId" uuid, lo inet, hi inet)
              cross join lateral (
                select t.lo from taken_runs t where t.subnet_id = a."subnetId" and t.hi >= a.lo
                order by t.hi limit 1) as r
              where a."subnetId" = g."subnetId" and r.lo <= a.hi)
          returning s.id),
        inserted as (
          insert into addresses (subnet_id, ip, kind, mac, hostname, node_id, pool_id, claim, owner_id, comment)
          select r."subnetId", r.ip, r."kind", r.mac, r.hostname, r."nodeId", r."poolId", r.claim, r."ownerId", r.comment
          from json_to_recordset(${rowsJson}::json) as r(
            "subnetId" uuid, ip inet, "kind" text, mac macaddr, hostname text, "nodeId" uuid, "poolId" uuid, claim text,
            "ownerId" uuid, comment text)
          where r."subnetId" in (select id from ok)
          returning subnet_id, ip, created_at),
        removed as (
          delete from taken_runs t using json_to_recordset(${json(removed)}::json) as r("subnetId" uuid, lo inet)
          where t.subnet_id = r."subnetId" and t.lo = r.lo and r."subnetId" in (select id from ok)),
        extended as (
          update taken_runs t set hi = r.hi from json_to_recordset(${json(extended)}::json) as r("subnetId" uuid, lo inet, hi inet)
          where t.subnet_id = r."subnetId" and t.lo = r.lo and r."subnetId" in (select id from ok)),
        added as (
          insert into taken_runs (subnet_id, lo, hi)
          select r."subnetId", r.lo, r.hi from json_to_recordset(${json(added)}::json) as r("subnetId" uuid, lo inet, hi inet)
          where r."subnetId" in (select id from ok))
        select i.subnet_id::text as "subnetId", host(i.ip) as "ip", i.created_at as "createdAt",
               seen.mac::text as "seenMac", seen.last_seen as "lastSeen"
        from inserted i left join lateral (
          select mac, last_seen from bindings b where b.ip = i.ip order by last_seen desc limit 1) as seen on true`,
  );
  const ended = commit?.();
  const [insertedRows] = await pipelined([inserted, ended]);
  return new Map(
    insertedRows.map((r) => [
      `${r.subnetId} ${formatIp(checkAddress('ip', r.ip))}`,
      { createdAt: date(r.createdAt), seenMac: r.seenMac, lastSeen: r.lastSeen === null ? null : date(r.lastSeen) },
    ]),
  );
}
