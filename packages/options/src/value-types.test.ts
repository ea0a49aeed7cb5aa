import { describe, expect, it } from 'vitest';
import {
  choice,
  httpUrl,
  integer,
  list,
  onOff,
  path,
  secret,
  text,
  ValueProblem,
  type ValueType,
} from './value-types.js';

/** The value `raw` reads as, or the problem it is refused with. */
function read<T>(type: ValueType<T>, raw: unknown, fromText = true): T | string {
  try {
    return type.parse(raw, fromText);
  } catch (error) {
    if (error instanceof ValueProblem) return `refused: ${error.message}`;
    throw error;
  }
}

describe('value types', () => {
  it.each<[string, ValueType<unknown>, unknown, boolean, unknown]>([
    ['text', text(), 'x', true, 'x'],
    ['empty text', text(), '', true, 'refused: a non-empty string'],
    ['text past its bound', text({ maxLength: 2 }), 'abc', true, 'refused: at most 2 characters'],
    ['a path', path('DIR'), '/var/lib/x', true, '/var/lib/x'],
    [
      'a number in a file as text',
      integer({ min: 0, max: 9 }),
      '5',
      false,
      'refused: a whole number from 0 to 9, not "5"',
    ],
    ['a number from a file', integer({ min: 0, max: 9 }), 5, false, 5],
    ['a number with spaces', integer({ min: 0, max: 9 }), ' 5 ', true, 5],
    ['a fraction', integer({ min: 0, max: 9 }), '1.5', true, 'refused: a whole number from 0 to 9, not "1.5"'],
    ['a negative number', integer({ min: 0, max: 9 }), '-1', true, 'refused: a whole number from 0 to 9, not "-1"'],
    ['past the range', integer({ min: 0, max: 9 }), '10', true, 'refused: a whole number from 0 to 9, not "10"'],
    ['on', onOff(), 'on', true, true],
    ['off', onOff(), 'off', true, false],
    ['true from a file', onOff(), true, false, true],
    ['yes', onOff(), 'yes', true, 'refused: on or off, not "yes"'],
    ['a choice', choice(['a', 'b']), 'b', true, 'b'],
    ['no choice', choice(['a', 'b']), 'c', true, 'refused: one of a, b'],
    ['an URL, as its origin', httpUrl(), 'https://h:1/p/', true, 'https://h:1'],
    ['an URL with its path', httpUrl({ keepPath: true }), 'https://h:1/p//', true, 'https://h:1/p'],
    ['not http', httpUrl(), 'ftp://h', true, 'refused: "ftp://h" is not http:// or https://'],
    ['not an URL', httpUrl(), 'not a url', true, 'refused: "not a url" is not a URL'],
    ['a list of URLs', list(httpUrl()), 'http://a:1, http://b:2/x', true, ['http://a:1', 'http://b:2']],
    ['a list with a bad item', list(httpUrl()), ['http://a', 'x'], true, 'refused: "x" is not a URL'],
    ['a list that is a number', list(text()), 5, false, 'refused: a string or a list of strings'],
    ['a token', secret(), 'a-b.c', true, 'a-b.c'],
    ['a token with a space', secret(), 'a b', true, 'refused: a token of printable characters without spaces'],
    [
      'a short secret',
      secret({ minLength: 4, maxLength: 8 }),
      'abc',
      true,
      'refused: 4 to 8 printable characters without spaces',
    ],
  ])('reads %s', (_, type, raw, fromText, expected) => {
    expect(read(type, raw, fromText)).toEqual(expected);
  });

  it('never echoes a secret it refuses', () => {
    expect(read(secret(), 'my secret')).not.toContain('my');
    expect(read(secret({ minLength: 16, maxLength: 512 }), 'short')).not.toContain('short');
  });

  it.each<[ValueType<never>, unknown, string | undefined]>([
    [integer({ min: 0, max: 1, unit: 's' }) as ValueType<never>, 300, '300 s'],
    [integer({ min: 0, max: 1, unit: 'ms' }) as ValueType<never>, 5, '5 ms'],
    [integer({ min: 0, max: 1, unit: 'bytes' }) as ValueType<never>, 64 * 1024 * 1024, '64 MiB'],
    [integer({ min: 0, max: 1, unit: 'bytes' }) as ValueType<never>, 64 * 1024, '64 KiB'],
    [integer({ min: 0, max: 1, unit: 'bytes' }) as ValueType<never>, 1000, '1000 bytes'],
    [integer({ min: 0, max: 1, unit: 'sightings' }) as ValueType<never>, 1000, '1000 sightings'],
    [onOff() as ValueType<never>, true, 'on'],
    [list(text()) as ValueType<never>, [], undefined],
    [list(text()) as ValueType<never>, ['a', 'b'], 'a, b'],
    [secret() as ValueType<never>, 'hidden', undefined],
  ])('shows a default with its unit: %#', (type, value, shown) => {
    expect(type.format(value as never)).toBe(shown);
  });

  it('says what a range accepts with its unit', () => {
    expect(integer({ min: 1, max: 86_400, unit: 's' }).accepts).toBe('1 to 86400 s');
    expect(integer({ min: 64 * 1024, max: 256 * 1024 * 1024, unit: 'bytes' }).accepts).toBe('64 KiB to 256 MiB');
  });
});
