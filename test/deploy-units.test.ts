/**
 * The systemd units in deploy/systemd are checked by systemd itself (`systemd-analyze verify`),
 * with the install directory pointed at this checkout: a misspelt directive or a bad value
 * fails here, not on an operator's machine.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { repoRoot } from './support/paths.js';

const units = join(repoRoot, 'deploy', 'systemd');

it.each(readdirSync(units).filter((file) => file.endsWith('.service')))('%s passes systemd-analyze verify', (unit) => {
  const dir = mkdtempSync(join(tmpdir(), 'ipwarden-units-'));
  const text = readFileSync(join(units, unit), 'utf8');
  expect(text).toContain('/opt/ipwarden/');
  writeFileSync(join(dir, unit), text.replaceAll('/opt/ipwarden/', `${repoRoot}/`));
  const run = spawnSync('systemd-analyze', ['verify', join(dir, unit)], { encoding: 'utf8' });
  expect(run.error).toBeUndefined();
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
});

it('grants the agent exactly the capabilities it asks for, and the collector none', () => {
  const agent = readFileSync(join(units, 'ipwarden-agent.service'), 'utf8');
  expect(agent).toMatch(/^AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN$/m);
  expect(agent).toMatch(/^CapabilityBoundingSet=CAP_NET_RAW CAP_NET_ADMIN$/m);
  expect(readFileSync(join(units, 'ipwarden-collector.service'), 'utf8')).toMatch(/^CapabilityBoundingSet=$/m);
});
