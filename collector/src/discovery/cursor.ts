/**
 * Opaque cursors for keyset pagination (API.md, "Lists"): the sort key of the last item of a
 * page, which the next page starts after. A cursor that does not decode is a 400, not a 500.
 */
import { ApiError, ErrorCode } from '../errors.js';

export function encodeCursor(key: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/**
 * The key of `cursor`, checked against the parts the list sorts by: `'string'` for text, a
 * number for an integer from 0 to that number — a forged cursor must not reach the database
 * with a value its column cannot hold.
 */
export function decodeCursor(cursor: string, types: readonly ('string' | number)[]): (string | number)[] {
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
      if (type === 'string') return typeof part !== 'string' || part.length > 64;
      return typeof part !== 'number' || !Number.isSafeInteger(part) || part < 0 || part > type;
    })
  ) {
    throw new ApiError(ErrorCode.VALIDATION_FAILED, 'cursor is not one this server gave out', [
      { field: 'cursor', message: 'not a cursor of this list' },
    ]);
  }
  return key as (string | number)[];
}
