/**
 * The allocator's lanes (allocator.ts): on PostgreSQL, a connection kept for a subnet's chain of
 * batches, and the transaction a batch runs on it, its BEGIN and COMMIT pipelined with its own
 * statements.
 */
import { sql } from 'drizzle-orm';
import { type Database, pipelined, type Reserved, rowsOf, type Tx } from '../db/database.js';

/**
 * A connection kept for a chain of batches (PostgreSQL): each sends its BEGIN after the last
 * one's COMMIT, so a subnet's batches reach the database in the order they were decided in, and
 * one decided ahead never overtakes the one it was decided after.
 */
export interface Lane {
  connection: Promise<Reserved>;
  /** Batches on it not yet answered. */
  batches: number;
  /** A batch on it has not sent its COMMIT: no other may begin behind it yet. */
  open: boolean;
}

/** What ends a batch's transaction, pipelined with its last statements; sent once. */
export type Commit = () => Promise<unknown>;

/**
 * A transaction for `body`. On a lane (PostgreSQL) its BEGIN goes out with the first
 * statements and its COMMIT with the last (`commit`, for the body to pipeline): two round trips
 * fewer per batch, and the subnets' locks are let go a round trip sooner. A failed statement
 * aborts the transaction, which turns the pipelined COMMIT into a ROLLBACK.
 */
export async function transaction<T>(
  db: Database,
  lane: Lane | undefined,
  body: (tx: Tx, commit?: Commit) => Promise<T>,
): Promise<T> {
  if (lane === undefined) return db.transaction((tx) => body(tx));
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
