/**
 * The systemd units in deploy/systemd are checked by systemd itself (`systemd-analyze verify`),
 * with the install directory pointed at this checkout: a misspelt directive or a bad value
 * fails here, not on an operator's machine.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect, it } from 'vitest';
import { repoRoot } from './support/paths.js';

const units = join(repoRoot, 'deploy', 'systemd');

it.each(readdirSync(units).filter((file) => file.endsWith('.service')))('%s passes systemd-analyze verify', (unit) => {
  const dir = mkdtempSync(join(tmpdir(), 'ipwarden-units-'));
  const text = readFileSync(join(units, unit), 'utf8');
  expect(text).toContain('/opt/ipwarden/');
  writeFileSync(join(dir, unit), text.replaceAll('/opt/ipwarden/', `${repoRoot}/`));
  // Its drop-ins too: systemd reads them from beside the unit, and reports their faults as its own.
  if (existsSync(join(units, `${unit}.d`)))
    cpSync(join(units, `${unit}.d`), join(dir, `${unit}.d`), { recursive: true });
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

it('gives an agent that runs its own DHCP server the one more capability it needs: port 67', () => {
  const dropIn = readFileSync(join(units, 'ipwarden-agent.service.d', 'dhcp-server.conf'), 'utf8');
  expect(dropIn).toMatch(/^AmbientCapabilities=CAP_NET_BIND_SERVICE$/m);
  expect(dropIn).toMatch(/^CapabilityBoundingSet=CAP_NET_BIND_SERVICE$/m);
});

const { shebangFlags }: { shebangFlags(bin: string): string[] } = await import(
  pathToFileURL(join(repoRoot, 'scripts', 'shebang-flags.mjs')).href
);

it.each([
  ['collector', 'collector/bin/ipwarden-collector.js'],
  ['agent', 'agent/bin/ipwarden-agent.js'],
])('starts the %s with the Node flags of its shebang wherever it is started', (name, bin) => {
  const flags = shebangFlags(join(repoRoot, bin)).join(' ');
  expect(flags).toMatch(/^--max-semi-space-size=\d+$/);
  const unit = readFileSync(join(units, `ipwarden-${name}.service`), 'utf8');
  expect(unit).toContain(`ExecStart=/usr/bin/node ${flags} /opt/ipwarden/${bin}`);
  const containerfile = readFileSync(join(repoRoot, 'deploy', 'container', `${name}.Containerfile`), 'utf8');
  expect(containerfile).toContain(`ENTRYPOINT ["node", ${JSON.stringify(flags)}, "/opt/ipwarden/${bin}"]`);
  expect(readFileSync(join(repoRoot, 'scripts', 'start.sh'), 'utf8')).toContain(`node ${flags} ${bin}`);
});
