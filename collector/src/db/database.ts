/**
 * The collector's database: PostgreSQL through postgres.js when DATABASE_URL is set, else an
 * embedded PGlite (PostgreSQL in WebAssembly) in the data directory — one schema and one set of
 * drizzle-kit migrations for both, applied at start-up.
 */
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import type { SQL } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import * as schema from './schema/index.js';

export type Schema = typeof schema;
export type Database = PgDatabase<PgQueryResultHKT, Schema>;

/**
 * The database is down or going away: connection failures (postgres.js, PGlite), and
 * PostgreSQL's connection-exception (08) and operator-intervention (57, as at shutdown)
 * classes — looked for through the wrappers (drizzle's DrizzleQueryError) to the driver's error.
 */
export function databaseUnavailable(error: unknown): boolean {
  for (
    let e = error, depth = 0;
    e !== null && typeof e === 'object' && depth < 5;
    e = (e as { cause?: unknown }).cause, depth++
  ) {
    const code = (e as { code?: unknown }).code;
    if (typeof code !== 'string') continue;
    if (/^(08|57)/.test(code) || DRIVER_CONNECTION_CODES.has(code)) return true;
  }
  return false;
}

const DRIVER_CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
]);

/** A transaction's handle, as drizzle passes it to the body of `db.transaction`. */
export type Tx = Parameters<Parameters<Database['transaction']>[0]>[0];

/**
 * The rows of a raw statement: postgres.js answers `execute` with the rows themselves, PGlite
 * with a result that holds them.
 */
export async function rowsOf<Row>(db: Database | Tx, statement: SQL): Promise<Row[]> {
  const result = (await db.execute(statement)) as unknown as Row[] | { rows: Row[] };
  return Array.isArray(result) ? result : result.rows;
}

/**
 * Statements issued together on one connection — sent at once, one round trip — and answered in
 * order. The first failure in that order is the cause: once it aborts the transaction, the
 * statements after it fail only to say so, and may be reported first.
 */
export async function pipelined<T extends readonly unknown[]>(
  statements: T,
): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const settled = await Promise.allSettled(statements);
  for (const outcome of settled) if (outcome.status === 'rejected') throw outcome.reason;
  return settled.map((outcome) => (outcome as PromiseFulfilledResult<unknown>).value) as {
    -readonly [K in keyof T]: Awaited<T[K]>;
  };
}

/**
 * A connection of the pool kept for one caller until `release`: for transactions that send
 * BEGIN and COMMIT themselves, pipelined with their first and last statements.
 */
export interface Reserved {
  db: Database;
  release(): void;
}

export interface DatabaseHandle {
  db: Database;
  kind: 'pglite' | 'postgres';
  /** PostgreSQL only: on PGlite, in the same process, there are no round trips to save. */
  reserve?: () => Promise<Reserved>;
  /**
   * Calls `onNotify` for each NOTIFY on `channel` (from any collector on the same PostgreSQL
   * server; on PGlite, from this process); resolves to a function that stops listening.
   */
  listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>>;
  /**
   * A pool of `max` connections of its own on the same server, for work that must not queue
   * behind the main pool's (reconciliation behind a hundred agents' batches); on PGlite, the
   * one database there is.
   */
  separate(max: number): { db: Database; close(): Promise<void> };
  close(): Promise<void>;
}

/** The committed migrations (collector/drizzle), beside dist/ and src/. */
const MIGRATIONS = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'drizzle');

export interface DatabaseOptions {
  /** postgres://… to use a PostgreSQL server; unset for the embedded database. */
  url?: string;
  /** Where the embedded database lives; unset (with no url) for one in memory. */
  dataDir?: string;
}

/**
 * drizzle hands postgres.js every query unprepared, and postgres.js then spends two round trips
 * on each query with parameters: a Describe to learn their types, then the Execute. Prepared —
 * as postgres.js prepares its own tagged queries — a statement costs one round trip from its
 * second use on a connection. The SQL texts are drizzle's, a fixed set, so the per-connection
 * statement cache stays small.
 */
function preparing(client: postgres.Sql): postgres.Sql {
  return new Proxy(client, {
    get(target, key, receiver) {
      if (key === 'unsafe') {
        return (query: string, params?: postgres.ParameterOrJSON<never>[], options?: postgres.UnsafeQueryOptions) =>
          target.unsafe(query, params, { ...options, prepare: true });
      }
      if (key === 'begin' || key === 'savepoint') {
        // A transaction's queries go through its own sql, which needs the same treatment.
        return (...args: unknown[]) => {
          const body = args.pop() as (sql: postgres.Sql) => unknown;
          const method = Reflect.get(target, key, receiver) as (...a: unknown[]) => unknown;
          return method.call(target, ...args, (sql: postgres.Sql) => body(preparing(sql)));
        };
      }
      return Reflect.get(target, key, receiver);
    },
  });
}

/** Connections of a collector's pool on a PostgreSQL server (the reconciler opens its own). */
export const POOL_SIZE = 10;

/** Any number will do, as long as it is ipwarden's alone: "ipwarden" in ASCII, as a bigint. */
const MIGRATION_LOCK = 0x6970_7761_7264_656en;

/**
 * Brings a PostgreSQL database's schema up to date, one collector at a time. drizzle's migrator
 * takes no lock: two replicas starting on new migrations together would both apply them, and
 * one would fail on what the other created. A session-level advisory lock held on the one
 * connection the migrations run on makes the second wait, then find nothing left to do.
 */
async function migrateOnce(url: string): Promise<void> {
  const client = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await client`select pg_advisory_lock(${MIGRATION_LOCK.toString()}::bigint)`;
    await migratePostgres(drizzlePostgres(client), { migrationsFolder: MIGRATIONS });
  } finally {
    await client.end(); // ending the session releases the lock, whatever happened
  }
}

/** Opens the database and brings its schema up to date. */
export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  if (options.url !== undefined) {
    await migrateOnce(options.url);
    const client = postgres(options.url, { max: POOL_SIZE, onnotice: () => {} });
    const db = drizzlePostgres(preparing(client), { schema });
    // Queries still running get 5 s; after a server restart postgres.js would otherwise wait on
    // a connection that never answers again.
    const reserve = async (): Promise<Reserved> => {
      const connection = await client.reserve();
      // drizzle reads the client's options (its type parsers), which a reserved connection shares
      // but does not carry. No schema: it runs raw statements only, and is made per transaction.
      const shared = new Proxy(preparing(connection), {
        get: (target, key, receiver) => (key === 'options' ? client.options : Reflect.get(target, key, receiver)),
      });
      return { db: drizzlePostgres(shared) as unknown as Database, release: () => connection.release() };
    };
    const listen = async (channel: string, onNotify: (payload: string) => void) => {
      // postgres.js keeps one connection of its own for LISTEN, and listens again after it reconnects.
      const { unlisten } = await client.listen(channel, onNotify);
      return unlisten;
    };
    const separate = (max: number) => {
      const own = postgres(options.url!, { max, onnotice: () => {} });
      return {
        db: drizzlePostgres(preparing(own), { schema }) as unknown as Database,
        close: () => own.end({ timeout: 5 }),
      };
    };
    return {
      db: db as unknown as Database,
      kind: 'postgres',
      reserve,
      listen,
      separate,
      close: () => client.end({ timeout: 5 }),
    };
  }
  let client: PGlite;
  if (options.dataDir !== undefined) {
    const dir = join(options.dataDir, 'pglite');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    client = new PGlite(dir);
  } else {
    client = new PGlite();
  }
  const db = drizzlePglite(client, { schema });
  try {
    await migratePglite(db, { migrationsFolder: MIGRATIONS });
  } catch (error) {
    await client.close();
    throw error;
  }
  const listen = async (channel: string, onNotify: (payload: string) => void) => {
    const unlisten = await client.listen(channel, onNotify);
    return () => unlisten();
  };
  const separate = () => ({ db: db as unknown as Database, close: async () => {} });
  return { db: db as unknown as Database, kind: 'pglite', listen, separate, close: () => client.close() };
}
