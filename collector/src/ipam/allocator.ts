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
import { randomBytes } from 'node:crypto';
import { type AllocationPolicy, type IntervalSet, randomBelowFrom } from '@ipwarden/ipam';
import { type Database, databaseUnavailable, type Reserved, type Tx } from '../db/database.js';
import type { AddressKind } from '../db/schema/index.js';
import { ApiError, ErrorCode } from '../errors.js';
import type { Metrics } from '../metrics.js';
import { AGAIN, type Result } from './batch-outcome.js';
import { decideAhead, planAhead } from './decide-ahead.js';
import { decide } from './decide-read.js';
import { type Lane, transaction } from './lanes.js';
import type { Memory } from './subnet-memory.js';

/** Requests decided in one transaction at most. */
const MAX_BATCH = 256;
/** Batches under way at once (the database pool holds 10 connections). */
const MAX_IN_FLIGHT = 4;
/** Batches of one subnet under way at once: one holding its lock, the next waiting for it. */
const MAX_AHEAD = 2;
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
  /** After a batch decided ahead wrote nothing: decided on what the database says now. */
  fresh: boolean;
}

export type AllocatorMetrics = Pick<Metrics, 'allocationBatches' | 'allocationsHeldBack'>;

/** PostgreSQL's unique_violation, serialization_failure and deadlock_detected: a race lost, worth one more try. */
export function retriable(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Object && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (code === '23505' || code === '40001' || code === '40P01') return true;
  }
  return false;
}

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
    return transaction(this.#db, lane, (tx, commit) => decide(tx, requests, this.#random, memory, sent, commit));
  }
}
