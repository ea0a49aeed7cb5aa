/**
 * Tokens for people (`iwu_…`) and agents (`iwa_…`): 256 random bits, shown once; only their
 * SHA-256 is stored, so a copy of the database holds no usable token. A prefix tells an
 * operator (and a secret scanner) what a leaked string is.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type TokenKind = 'user' | 'agent';

const PREFIX: Record<TokenKind, string> = { user: 'iwu_', agent: 'iwa_' };

export function newToken(kind: TokenKind): string {
  return PREFIX[kind] + randomBytes(32).toString('base64url');
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Equality of two secrets in time that does not depend on where they differ. */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

/** The token of an `Authorization: Bearer <token>` header, if that is what it holds. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer +([\x21-\x7e]{1,512}) *$/i.exec(header);
  return match?.[1];
}

/**
 * The enrollment secret kept in the data directory when none is configured: made at the first
 * start (mode 0600), the same at every start after, so agents enrolled once keep enrolling.
 */
export function storedAgentSecret(dataDir: string): { secret: string; file: string; created: boolean } {
  const file = join(dataDir, 'agent-secret');
  if (existsSync(file)) return { secret: readFileSync(file, 'utf8').trim(), file, created: false };
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  return { secret, file, created: true };
}
