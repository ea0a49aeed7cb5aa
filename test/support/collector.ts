/**
 * A real collector for cross-process tests, on either database target: the embedded PGlite in a
 * temporary data directory, or a PostgreSQL server of its own (started here, stopped on close).
 * Requests go through Node's fetch, as any client's would.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Collector, type CollectorOptions, schema, startCollector } from '@ipwarden/collector';
import { AGENT_PATH } from '@ipwarden/protocol';
import { sql } from 'drizzle-orm';
import { expect } from 'vitest';
import { type PostgresServer, startPostgres } from './postgres-server.js';

export type Target = 'PGlite' | 'PostgreSQL';

/** Both database targets, for `describe.each`. */
export const TARGETS: readonly Target[] = ['PGlite', 'PostgreSQL'];

/** A list cursor as the API encodes one, holding whatever key a client forged. */
export const forgedCursor = (key: unknown) => Buffer.from(JSON.stringify(key)).toString('base64url');

export const ADMIN_TOKEN = 'iwu_test-admin-token-0123456789';
export const AGENT_SECRET = 'test-enrollment-secret-0123456789';

export interface ApiResponse {
  status: number;
  contentType: string;
  /** The parsed JSON body, or the text of any other. */
  // biome-ignore lint/suspicious/noExplicitAny: tests read bodies freely; each asserts the shape it expects.
  body: any;
}

export interface RequestOptions {
  /** The bearer token; the admin's unless given, none when null. */
  token?: string | null;
  /** Sent as JSON. */
  json?: unknown;
  /** Sent as it is, with `contentType`. */
  raw?: string | Buffer;
  contentType?: string;
  /** The path is the server's, not below /api/v1. */
  root?: boolean;
}

export interface TestCollector {
  collector: Collector;
  /** The PostgreSQL server of a PostgreSQL target. */
  postgres: PostgresServer | undefined;
  /** http://127.0.0.1:port */
  url: string;
  /** ws://127.0.0.1:port/agent/v1 */
  agentUrl: string;
  /** `path` below /api/v1, unless it is under /api/ already, an operations path, or `root`. */
  api(method: string, path: string, options?: RequestOptions): Promise<ApiResponse>;
  /** Rows stored: observed bindings and their history. */
  counts(): Promise<{ bindings: number; events: number }>;
  close(): Promise<void>;
}

/**
 * A collector on `target`. `options.databaseUrl`: a PostgreSQL server another collector already
 * uses — a second replica, which leaves the server to the first to stop. `options.collector`:
 * more of the collector's own options (shorter webhook timings, a data directory of the test's).
 */
export async function startTestCollector(
  target: Target,
  options: { databaseUrl?: string; collector?: Partial<CollectorOptions> } = {},
): Promise<TestCollector> {
  // The collector logs through pino unless given a logger; tests want it quiet.
  process.env.IPWARDEN_LOG_LEVEL ??= 'silent';
  const dataDir = mkdtempSync(join(tmpdir(), 'ipwarden-collector-'));
  let postgres: PostgresServer | undefined;
  let collector: Collector;
  try {
    if (target === 'PostgreSQL' && options.databaseUrl === undefined) postgres = startPostgres();
    collector = await startCollector({
      host: '127.0.0.1',
      port: 0,
      dataDir,
      databaseUrl: options.databaseUrl ?? postgres?.url,
      adminToken: ADMIN_TOKEN,
      agentSecret: AGENT_SECRET,
      ...options.collector,
    });
  } catch (error) {
    postgres?.stop();
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  const { db } = collector.database;
  const count = async (table: typeof schema.bindings | typeof schema.sightingEvents) =>
    Number((await db.select({ n: sql<number>`count(*)` }).from(table))[0]!.n);

  return {
    collector,
    postgres,
    url: collector.url,
    agentUrl: `${collector.url.replace(/^http/, 'ws')}${AGENT_PATH}`,
    async api(method, path, options = {}) {
      const headers: Record<string, string> = {};
      const token = options.token === undefined ? ADMIN_TOKEN : options.token;
      if (token !== null) headers.authorization = `Bearer ${token}`;
      let body: string | Buffer | undefined;
      if (options.json !== undefined) {
        body = JSON.stringify(options.json);
        headers['content-type'] = 'application/json';
      } else if (options.raw !== undefined) {
        body = options.raw;
      }
      if (options.contentType !== undefined) headers['content-type'] = options.contentType;
      const url = options.root || /^\/(api\/|healthz|readyz|metrics)/.test(path) ? path : `/api/v1${path}`;
      const response = await fetch(`${collector.url}${url}`, { method, headers, body });
      const contentType = response.headers.get('content-type') ?? '';
      const text = await response.text();
      return {
        status: response.status,
        contentType,
        body: /json/.test(contentType) && text !== '' ? JSON.parse(text) : text,
      };
    },
    async counts() {
      return { bindings: await count(schema.bindings), events: await count(schema.sightingEvents) };
    },
    async close() {
      try {
        await collector.close();
      } finally {
        postgres?.stop();
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
}

/** Polls `check` until it holds, for state that settles after an event (a socket closing). */
/**
 * `clients` loops at once, client i allocating through `allocate(i)` until it answers
 * `subnet-exhausted`: every address handed out, in the order each client got them.
 */
export async function allocateUntilExhausted(
  clients: number,
  allocate: (client: number) => Promise<ApiResponse>,
): Promise<string[]> {
  const got = Array.from({ length: clients }, async (_, i) => {
    const mine: string[] = [];
    for (;;) {
      const { status, body } = await allocate(i);
      if (status === 201) mine.push(body.ip);
      else if (body.code === 'subnet-exhausted') return mine;
      else throw new Error(`unexpected ${status}: ${JSON.stringify(body)}`);
    }
  });
  return (await Promise.all(got)).flat();
}

export async function eventually(check: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`condition still false after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** An RFC 9457 problem with the catalogue's code and, for validation failures, the field. */
export function expectProblem(response: ApiResponse, status: number, code: string, field?: string): void {
  expect(response.status, JSON.stringify(response.body)).toBe(status);
  expect(response.contentType).toMatch(/^application\/problem\+json/);
  expect(response.body).toMatchObject({ type: expect.any(String), title: expect.any(String), status, code });
  expect(response.body.detail).toEqual(expect.any(String));
  if (field !== undefined) {
    expect(response.body.errors).toEqual(
      expect.arrayContaining([{ field: expect.stringContaining(field), message: expect.any(String) }]),
    );
  }
}
