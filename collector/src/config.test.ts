import { UsageError } from '@ipwarden/options';
import { describe, expect, it } from 'vitest';
import { loadCollectorConfig } from './config.js';
import { MAX_STORING_AT_ONCE, STORING_AT_ONCE } from './ingest/store-gate.js';

describe('--ingest-statements', () => {
  it('defaults to STORING_AT_ONCE and is read from the flag or the environment', () => {
    expect(loadCollectorConfig({}, {}).ingestStatements).toBe(STORING_AT_ONCE);
    expect(loadCollectorConfig({ 'ingest-statements': '4' }, {}).ingestStatements).toBe(4);
    expect(loadCollectorConfig({}, { IPWARDEN_INGEST_STATEMENTS: '3' }).ingestStatements).toBe(3);
  });

  it.each(['0', String(MAX_STORING_AT_ONCE + 1), '2.5', 'many', ''])('refuses %j, naming the option', (value) => {
    expect(() => loadCollectorConfig({ 'ingest-statements': value }, {})).toThrow(UsageError);
    expect(() => loadCollectorConfig({ 'ingest-statements': value }, {})).toThrow(/--ingest-statements/);
  });
});
