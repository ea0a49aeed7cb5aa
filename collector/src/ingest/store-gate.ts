import { POOL_SIZE } from '../db/database.js';

/**
 * Batches stored at once, by default: each is a statement of a thousand rows, CPU-bound in
 * PostgreSQL, so two keep two of its cores busy — on a server of two cores, more only made the
 * reconciler's reads, the API's queries and the collector itself wait longer for a core (in
 * bench:ingest, judging fell from 0.1 s behind to 0.4 s, its offenders' p99 from 0.6 s to 1.3 s,
 * for no more sightings a second). Where PostgreSQL has cores to spare, `--ingest-statements`.
 */
export const STORING_AT_ONCE = 2;
/** Of the pool's connections, two at least are left to the API. */
export const MAX_STORING_AT_ONCE = POOL_SIZE - 2;

/** A batch of at most this many sightings waits in the short line (StoreGate). */
export const SMALL_BATCH = 100;

/**
 * How many batches are being stored at once. storeBatch builds a batch's statement — a few
 * hundred kilobytes of array literals — before it has a connection; a hundred agents' batches
 * built together and waiting in the driver's queue kept tens of megabytes alive and tripled the
 * garbage collector's share of bench:ingest. Past the gate, each batch finds a connection free;
 * behind it, the others wait with nothing built.
 *
 * Small batches go first: they are a quiet agent's few sightings (an agent sends a full batch
 * only when it has one), which cost next to nothing to store and would otherwise wait behind
 * every busy agent's thousand — a new host or an offender on a quiet segment seen seconds late
 * whenever ingestion runs at capacity. Nothing starves: each agent has one batch at a time in
 * storing, so a large batch waits for at most one small batch of each other agent.
 */
export class StoreGate {
  private active = 0;
  private readonly short: (() => void)[] = [];
  private readonly long: (() => void)[] = [];

  /** `limit`: at most the database pool's size, so that a batch let through is sent at once. */
  constructor(private readonly limit: number) {}

  /** `size`: the batch's sightings. */
  async run<T>(size: number, work: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) {
      const line = size <= SMALL_BATCH ? this.short : this.long;
      await new Promise<void>((resolve) => line.push(resolve));
    } else this.active++;
    try {
      return await work();
    } finally {
      // The slot goes straight to the next in line, if any: `active` counts it already.
      const next = this.short.shift() ?? this.long.shift();
      if (next === undefined) this.active--;
      else next();
    }
  }
}
