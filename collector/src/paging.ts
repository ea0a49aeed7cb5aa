/**
 * Opaque cursors for keyset pagination (API.md, "Lists"): the sort key of the last item of a
 * page, which the next page starts after. A cursor that does not decode is a 400, not a 500.
 */
import { ApiError, ErrorCode } from './errors.js';

/** A uuid as the API takes one (its ids, the agents' ids a cursor holds). */
export const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
const UUID = new RegExp(UUID_PATTERN);

/** A cursor's part that must reach a uuid column. */
export const isUuid = (part: unknown) => typeof part === 'string' && UUID.test(part);

export function encodeCursor(key: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/**
 * The key of `cursor`, checked against the parts the list sorts by: `'string'` for text, a
 * number for an integer from 0 to that number — a forged cursor must not reach the database
 * with a value its column cannot hold.
 */
export function decodeCursor(
  cursor: string,
  types: readonly ('string' | number)[],
  /** What the list's columns must hold of it beyond its types: an address that parses, a uuid. */
  valid: (key: Key) => boolean = () => true,
): Key {
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    key = undefined;
  }
  if (
    !Array.isArray(key) ||
    key.length !== types.length ||
    key.some((part, i) => {
      const type = types[i]!;
      if (type === 'string') return typeof part !== 'string' || part.length > 253;
      return typeof part !== 'number' || !Number.isSafeInteger(part) || part < 0 || part > type;
    }) ||
    !valid(key as (string | number)[])
  ) {
    throw new ApiError(ErrorCode.VALIDATION_FAILED, 'cursor is not one this server gave out', [
      { field: 'cursor', message: 'not a cursor of this list' },
    ]);
  }
  return key as (string | number)[];
}

/** The sort key of a list's item, as a cursor holds it. */
export type Key = (string | number)[];

/**
 * One page of a list sorted by a key (API.md, "Lists"): the cursor checked as `decodeCursor`
 * does, `limit + 1` items loaded after its key, and the cursor to the page after this one
 * (null on the last).
 */
export async function paged<T>(
  cursor: string | undefined,
  limit: number,
  load: (limit: number, after: Key | undefined) => Promise<T[]>,
  key: { types: readonly ('string' | number)[]; valid?: (key: Key) => boolean; of: (item: NoInfer<T>) => Key },
): Promise<{ items: T[]; nextCursor: string | null }> {
  const after = cursor === undefined ? undefined : decodeCursor(cursor, key.types, key.valid);
  const items = await load(limit + 1, after);
  const page = items.slice(0, limit);
  const last = page.at(-1);
  return { items: page, nextCursor: items.length > limit && last !== undefined ? encodeCursor(key.of(last)) : null };
}
