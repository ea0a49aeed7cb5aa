import { describe, expect, it } from 'vitest';
import { defineOptions } from './options.js';
import { configurationReference } from './reference.js';
import { optionsHelp } from './usage.js';
import { choice, integer, path, presence } from './value-types.js';

const OPTIONS = defineOptions([
  { key: 'configFile', flag: 'config', env: 'X_CONFIG', type: path('FILE'), description: 'the file', inFile: false },
  {
    key: 'backend',
    flag: 'backend',
    env: 'X_BACKEND',
    type: choice(['none', 'file']),
    default: 'none',
    description:
      'which backend; a description long enough that it has to be wrapped to stay within one hundred columns of a terminal',
  },
  { key: 'delayMs', flag: 'delay', type: integer({ min: 0, max: 10, unit: 'ms' }), default: 5, description: 'wait' },
  { key: 'json', flag: 'json', type: presence(), default: false, description: 'print JSON' },
]);

describe('optionsHelp', () => {
  it('shows each flag with its variable and default, the description wrapped to 100 columns', () => {
    const help = optionsHelp(OPTIONS);
    expect(help).toContain('  --backend none|file                    X_BACKEND, default none\n      which backend;');
    expect(help).toContain('  --delay MS                             default 5 ms\n      wait');
    expect(help).toContain('  --json\n      print JSON');
    expect(Math.max(...help.split('\n').map((line) => line.length))).toBeLessThanOrEqual(100);
  });
});

describe('configurationReference', () => {
  it('writes a table per section, pipes escaped, with the file key only where there is a file', () => {
    const text = configurationReference('# Configuration\n', [
      { title: 'prog run', intro: 'Flags win.', options: OPTIONS, fileKeys: true },
      { title: 'other', intro: 'No file.', options: OPTIONS.slice(2) },
    ]);
    expect(text).toBe(
      [
        '# Configuration',
        '',
        '## `prog run`',
        '',
        'Flags win.',
        '',
        '| Flag | Environment | File key | Default | Accepts | Description |',
        '| --- | --- | --- | --- | --- | --- |',
        '| `--config FILE` | `X_CONFIG` | — | — | a file | the file |',
        '| `--backend none\\|file` | `X_BACKEND` | `backend` | `none` | none \\| file | which backend; a description long enough that it has to be wrapped to stay within one hundred columns of a terminal |',
        '| `--delay MS` | — | `delayMs` | `5 ms` | 0 to 10 ms | wait |',
        '| `--json` | — | `json` | — | no value | print JSON |',
        '',
        '## `other`',
        '',
        'No file.',
        '',
        '| Flag | Environment | Default | Accepts | Description |',
        '| --- | --- | --- | --- | --- |',
        '| `--delay MS` | — | `5 ms` | 0 to 10 ms | wait |',
        '| `--json` | — | — | no value | print JSON |',
        '',
      ].join('\n'),
    );
  });
});
