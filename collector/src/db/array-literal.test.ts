import { describe, expect, it } from 'vitest';
import { plainArray, textArray } from './array-literal.js';

describe('array literals', () => {
  it('writes numbers and wire formats bare, with NULL for what is missing', () => {
    expect(plainArray([1, 2.5, '10.0.0.1', 'fd99::1', null, undefined, '02:00:00:00:00:01'])).toBe(
      '{1,2.5,10.0.0.1,fd99::1,NULL,NULL,02:00:00:00:00:01}',
    );
    expect(plainArray([])).toBe('{}');
  });

  it('quotes every string, escaping quotes and backslashes, so "NULL" stays a string', () => {
    expect(textArray(['eth0', 'NULL', 'a"b', 'c\\d', '{x,y}', '', null])).toBe(
      '{"eth0","NULL","a\\"b","c\\\\d","{x,y}","",NULL}',
    );
  });

  it('nests: an array literal as an element of another', () => {
    expect(textArray([textArray(['a"b']), plainArray(['arp', 'mdns'])])).toBe('{"{\\"a\\\\\\"b\\"}","{arp,mdns}"}');
  });
});
