import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { instanceId } from './instance-id.js';

it('makes a random id once and gives the same one at every start after', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ipwarden-instance-'));
  const first = instanceId(dir);
  expect(first).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  expect(instanceId(dir)).toBe(first);
  expect(readFileSync(join(dir, 'instance'), 'utf8')).toBe(`${first}\n`);
  expect(statSync(join(dir, 'instance')).mode & 0o777).toBe(0o600);
  expect(instanceId(mkdtempSync(join(tmpdir(), 'ipwarden-instance-')))).not.toBe(first);
});

it('replaces a damaged id file with a new id', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ipwarden-instance-'));
  writeFileSync(join(dir, 'instance'), 'not an id\n');
  expect(instanceId(dir)).toMatch(/^[0-9a-f-]{36}$/);
});
