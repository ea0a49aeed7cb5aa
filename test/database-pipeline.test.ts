/**
 * What the allocator's round trips rest on, on both databases: statements issued one after
 * another through `rowsOf` run in that order (so a read issued behind a lock sees what the
 * lock's last holder committed), and `pipelined` reports the statement that failed, not the
 * ones after it that only say the transaction is aborted. On PostgreSQL through a reserved
 * connection, BEGIN and COMMIT pipelined as the allocator sends them.
 */
import { type Database, pipelined, rowsOf } from '@ipwarden/collector';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCollector, TARGETS, type TestCollector } from './support/collector.js';

describe.each(TARGETS)('pipelined statements on %s', (target) => {
  let c: TestCollector;

  beforeAll(async () => {
    c = await startTestCollector(target);
    await c.collector.database.db.execute(sql`create sequence if not exists pipeline_order`);
  }, 60_000);

  afterAll(async () => c?.close());

  /** `body` in a transaction, as the allocator runs one on this database. */
  async function transaction<T>(body: (tx: Database) => Promise<T>): Promise<T> {
    const { db, reserve } = c.collector.database;
    if (reserve === undefined) return db.transaction((tx) => body(tx as unknown as Database));
    const connection = await reserve();
    try {
      const [, result] = await pipelined([rowsOf(connection.db, sql`begin`), body(connection.db)]);
      await rowsOf(connection.db, sql`commit`);
      return result;
    } catch (error) {
      await rowsOf(connection.db, sql`rollback`);
      throw error;
    } finally {
      connection.release();
    }
  }

  it('runs statements in the order they were issued', async () => {
    const values = await transaction((tx) =>
      pipelined(
        Array.from({ length: 40 }, (_, i) =>
          // Statements of different texts and sizes, as a batch's are.
          rowsOf<{ n: string }>(
            tx,
            i % 2 === 0
              ? sql`select nextval('pipeline_order')::text as n`
              : sql`select nextval('pipeline_order')::text as n, ${'x'.repeat(2000)}::text as padding`,
          ),
        ),
      ),
    );
    const numbers = values.map((rows) => Number(rows[0]!.n));
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
    expect(new Set(numbers).size).toBe(40);
  });

  it('reports the statement that failed, and leaves nothing of the transaction', async () => {
    await c.collector.database.db.execute(sql`create table if not exists pipeline_rows (n int primary key)`);
    const failed = transaction((tx) =>
      pipelined([
        rowsOf(tx, sql`insert into pipeline_rows values (1)`),
        rowsOf(tx, sql`select 1 / (select count(*) - 1 from pipeline_rows) as boom`), // division by zero
        rowsOf(tx, sql`insert into pipeline_rows values (2)`),
      ]),
    );
    const error = await failed.then(
      () => undefined,
      (e: Error) => e,
    );
    // drizzle wraps the database's error: the cause is the statement's own.
    expect(String((error?.cause as Error | undefined)?.message)).toMatch(/division by zero/);
    const left = await rowsOf<{ n: number }>(
      c.collector.database.db,
      sql`select count(*)::int as n from pipeline_rows`,
    );
    expect(left[0]!.n).toBe(0);
  });
});
