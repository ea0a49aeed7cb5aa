/**
 * People and scripts with API tokens (API.md, "Users and tokens"), and the admin bootstrap:
 * IPWARDEN_ADMIN_TOKEN presets the admin's token; otherwise the first start makes one, prints
 * it once and keeps it (mode 0600) in the data directory.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { and, asc, eq, isNull } from 'drizzle-orm';
import type { Database } from '../db/database.js';
import { type Role, users } from '../db/schema/index.js';
import { ApiError, ErrorCode } from '../errors.js';
import { hashToken, newToken } from './tokens.js';

export interface Principal {
  id: string;
  name: string;
  role: Role;
}

export const ADMIN_NAME = 'admin';
const ADMIN_TOKEN_FILE = 'admin-token';

/** How long a token's user is remembered: a revocation through another replica takes this long here. */
const PRINCIPAL_TTL_MS = 5_000;
/** Tokens remembered at most; past it the memory starts afresh (a flood of made-up tokens is bounded). */
const MAX_REMEMBERED = 10_000;

/**
 * The user each bearer token belongs to, remembered for a few seconds: a busy API client would
 * otherwise cost a query per request. A revocation or rotation through this collector is seen at
 * once (`forget`); one through another collector sharing the database, within PRINCIPAL_TTL_MS.
 */
export class Principals {
  readonly #db: Database;
  readonly #known = new Map<string, { principal: Principal | undefined; until: number }>();
  /** Counts `forget`s: a lookup that began before one is not remembered after it. */
  #generation = 0;

  constructor(db: Database) {
    this.#db = db;
  }

  /** The token's user, unless the token is unknown or revoked. */
  async of(token: string): Promise<Principal | undefined> {
    const hash = hashToken(token);
    const now = Date.now();
    const known = this.#known.get(hash);
    if (known !== undefined && known.until > now) return known.principal;
    const generation = this.#generation;
    const [principal] = await this.#db
      .select({ id: users.id, name: users.name, role: users.role })
      .from(users)
      .where(and(eq(users.tokenHash, hash), isNull(users.revokedAt)));
    if (generation !== this.#generation) return principal;
    if (this.#known.size >= MAX_REMEMBERED) this.#known.clear();
    this.#known.set(hash, { principal, until: now + PRINCIPAL_TTL_MS });
    return principal;
  }

  /** Forgets every token: after a revocation or rotation. */
  forget(): void {
    this.#generation++;
    this.#known.clear();
  }
}

export interface Bootstrap {
  /** Set when this start made the admin token: to be printed once. */
  newToken?: string;
  /** Where the made token is kept. */
  tokenFile?: string;
}

export async function bootstrapAdmin(
  db: Database,
  options: { adminToken?: string; dataDir?: string },
): Promise<Bootstrap> {
  if (options.adminToken !== undefined) {
    await db
      .insert(users)
      .values({ name: ADMIN_NAME, role: 'admin', tokenHash: hashToken(options.adminToken) })
      .onConflictDoUpdate({
        target: users.name,
        set: { role: 'admin', tokenHash: hashToken(options.adminToken), revokedAt: null },
      });
    return {};
  }
  const [admin] = await db.select({ id: users.id }).from(users).where(eq(users.name, ADMIN_NAME));
  if (admin !== undefined) return {};
  const token = newToken('user');
  let tokenFile: string | undefined;
  if (options.dataDir !== undefined) {
    mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
    tokenFile = join(options.dataDir, ADMIN_TOKEN_FILE);
    writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  }
  await db.insert(users).values({ name: ADMIN_NAME, role: 'admin', tokenHash: hashToken(token) });
  return { newToken: token, tokenFile };
}

/** The admin token kept in the data directory by an earlier start, if there is one. */
export function storedAdminToken(dataDir: string): string | undefined {
  const file = join(dataDir, ADMIN_TOKEN_FILE);
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined;
}

export interface UserView {
  id: string;
  name: string;
  role: Role;
  createdAt: string;
  revoked: boolean;
}

function view(row: typeof users.$inferSelect): UserView {
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    createdAt: row.createdAt.toISOString(),
    revoked: row.revokedAt !== null,
  };
}

export async function createUser(db: Database, name: string, role: Role): Promise<UserView & { token: string }> {
  const token = newToken('user');
  const rows = await db
    .insert(users)
    .values({ name, role, tokenHash: hashToken(token) })
    .onConflictDoNothing({ target: users.name })
    .returning();
  if (rows.length === 0) throw new ApiError(ErrorCode.NAME_TAKEN, `a user named "${name}" exists`);
  return { ...view(rows[0]!), token };
}

export async function listUsers(db: Database): Promise<UserView[]> {
  return (await db.select().from(users).orderBy(asc(users.name))).map(view);
}

/** Revokes every token of the user at once. */
export async function revokeUser(db: Database, id: string): Promise<void> {
  const rows = await db
    .update(users)
    .set({ tokenHash: null, revokedAt: new Date() })
    .where(eq(users.id, id))
    .returning({ id: users.id });
  if (rows.length === 0) throw new ApiError(ErrorCode.NOT_FOUND, `no user ${id}`);
}

/** A new token for the user; the old one stops working. */
export async function rotateUserToken(db: Database, id: string): Promise<{ id: string; token: string }> {
  const token = newToken('user');
  const rows = await db
    .update(users)
    .set({ tokenHash: hashToken(token) })
    .where(and(eq(users.id, id), isNull(users.revokedAt)))
    .returning({ id: users.id });
  // A deleted user stays deleted: a new token would bring them back.
  if (rows.length === 0) throw new ApiError(ErrorCode.NOT_FOUND, `no active user ${id}`);
  return { id, token };
}
