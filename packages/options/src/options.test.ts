import { describe, expect, it } from 'vitest';
import { configFileValues, defineOptions, loadOptions, optionName, parseArgsOptions } from './options.js';
import { UsageError } from './usage-error.js';
import { choice, integer, list, presence, text } from './value-types.js';

const OPTIONS = defineOptions([
  {
    key: 'refreshSeconds',
    flag: 'refresh',
    env: 'X_REFRESH',
    type: integer({ min: 1, max: 60, unit: 's' }),
    default: 10,
    description: 'd',
  },
  { key: 'names', flag: 'name', env: 'X_NAMES', type: list(text()), default: [], description: 'd' },
  { key: 'mode', flag: 'mode', type: choice(['a', 'b']), description: 'd' },
  { key: 'json', flag: 'json', type: presence(), default: false, description: 'd', inFile: false },
]);

const file = (values: Record<string, unknown>) => ({ name: '/etc/x.json', values });

describe('loadOptions', () => {
  it('takes flags over the environment over the file over the defaults', () => {
    const values = { refreshSeconds: 30, mode: 'b' };
    expect(loadOptions(OPTIONS, { flags: {}, env: {} })).toEqual({
      refreshSeconds: 10,
      names: [],
      mode: undefined,
      json: false,
    });
    expect(loadOptions(OPTIONS, { flags: {}, env: {}, file: file(values) })).toMatchObject({
      refreshSeconds: 30,
      mode: 'b',
    });
    expect(loadOptions(OPTIONS, { flags: {}, env: { X_REFRESH: '20' }, file: file(values) }).refreshSeconds).toBe(20);
    expect(
      loadOptions(OPTIONS, { flags: { refresh: '5' }, env: { X_REFRESH: '20' }, file: file(values) }).refreshSeconds,
    ).toBe(5);
  });

  it('treats an empty variable and an empty list of flags as unset, an empty flag as a value', () => {
    expect(loadOptions(OPTIONS, { flags: { name: [] }, env: { X_REFRESH: '', X_NAMES: 'a' } })).toMatchObject({
      refreshSeconds: 10,
      names: ['a'],
    });
    expect(() => loadOptions(OPTIONS, { flags: { refresh: '' }, env: {} })).toThrow('--refresh: a whole number');
  });

  it('reads repeated flags as given, a variable comma-separated, a single-valued flag given twice as its last', () => {
    expect(loadOptions(OPTIONS, { flags: { name: ['a,b', 'c'] }, env: {} }).names).toEqual(['a,b', 'c']);
    expect(loadOptions(OPTIONS, { flags: {}, env: { X_NAMES: ' a, ,b ' } }).names).toEqual(['a', 'b']);
    expect(loadOptions(OPTIONS, { flags: { refresh: ['3', '4'] }, env: {} }).refreshSeconds).toBe(4);
  });

  it.each([
    [{ flags: { refresh: '0' }, env: {} }, '--refresh: a whole number from 1 to 60, not "0"'],
    [{ flags: {}, env: { X_REFRESH: 'soon' } }, 'X_REFRESH (--refresh): a whole number from 1 to 60, not "soon"'],
    [
      { flags: {}, env: {}, file: file({ refreshSeconds: '5' }) },
      '"refreshSeconds" in /etc/x.json (--refresh): a whole number',
    ],
    [{ flags: { mode: 'c' }, env: {} }, '--mode: one of a, b'],
    [{ flags: {}, env: {}, file: file({ names: [1] }) }, '"names" in /etc/x.json (--name): a list of strings'],
  ])('refuses a bad value with a UsageError naming the option and where it came from: %#', (sources, message) => {
    expect(() => loadOptions(OPTIONS, sources)).toThrow(UsageError);
    expect(() => loadOptions(OPTIONS, sources)).toThrow(message);
  });

  it('does not read an option a file cannot hold from the file', () => {
    expect(loadOptions(OPTIONS, { flags: {}, env: {}, file: file({ json: true }) }).json).toBe(false);
  });
});

describe('defineOptions', () => {
  it('refuses a key, flag or variable declared twice', () => {
    const option = { key: 'a', flag: 'a', env: 'A', type: text(), description: 'd' };
    expect(() => defineOptions([option, { ...option, key: 'b' }])).toThrow('option b: --a is declared twice');
    expect(() => defineOptions([option, { ...option, key: 'b', flag: 'b' }])).toThrow('option b: A is declared twice');
  });
});

describe('optionName', () => {
  it('names the flag and, where there is one, the variable', () => {
    expect(optionName(OPTIONS[0]!)).toBe('--refresh (X_REFRESH)');
    expect(optionName(OPTIONS[2]!)).toBe('--mode');
  });
});

describe('configFileValues', () => {
  it.each([
    ['{', /^configuration f\.json is not JSON: /],
    ['[]', /^configuration f\.json must be a JSON object$/],
    ['null', /^configuration f\.json must be a JSON object$/],
    ['{"refresh": 5}', /^configuration f\.json: unknown option "refresh"$/],
    ['{"json": true}', /^configuration f\.json: unknown option "json"$/],
  ])('refuses %s', (text, message) => {
    expect(() => configFileValues(OPTIONS, text, 'f.json')).toThrow(message);
  });

  it('answers the values by key', () => {
    expect(configFileValues(OPTIONS, '{"refreshSeconds": 5, "names": ["a"]}', 'f.json')).toEqual({
      refreshSeconds: 5,
      names: ['a'],
    });
  });
});

describe('parseArgsOptions', () => {
  it('reads a repeatable option as a list and a presence flag as a boolean', () => {
    expect(parseArgsOptions(OPTIONS)).toEqual({
      refresh: { type: 'string', multiple: false },
      name: { type: 'string', multiple: true },
      mode: { type: 'string', multiple: false },
      json: { type: 'boolean' },
    });
  });
});
