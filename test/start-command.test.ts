/**
 * The README's start command, `bash scripts/start.sh`, run for real inside a network namespace
 * that stands for a fresh machine: it installs what is missing (nothing, here), builds, starts
 * the collector on its embedded database and a local agent on the machine's interfaces, and
 * prints the API's address and the admin token — with which the API answers and shows a host
 * on the machine's network. Ctrl-C (SIGINT) stops everything it started.
 */
import { mkdtempSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { type DiscoveryRow, until } from './support/collector-process.js';
import { NetnsLab } from './support/netns-lab.js';
import { repoRoot } from './support/paths.js';
import { stopAll } from './support/processes.js';

let lab: NetnsLab | undefined;

afterAll(async () => {
  await lab?.destroy();
  await stopAll();
}, 60_000);

/** Processes whose network namespace is the one with inode `inode`. */
function processesIn(inode: number): string[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readlinkSync(`/proc/${pid}/ns/net`) === `net:[${inode}]`;
      } catch {
        return false;
      }
    });
}

it('starts the collector and a local agent, prints the addresses of the dashboard and the API and the admin token, and stops on Ctrl-C', async () => {
  lab = await NetnsLab.create(`iwd-${process.pid}s-`, 1);
  const machine = lab.bridge;
  await lab.exec(machine, 'ip', 'addr', 'add', '10.99.0.254/24', 'dev', 'br0');
  const start = lab.spawn(machine, 'start.sh', 'bash', [join(repoRoot, 'scripts', 'start.sh')], {
    IPWARDEN_DATA_DIR: mkdtempSync(join(tmpdir(), 'ipwarden-data-')),
    IPWARDEN_STATE_DIR: mkdtempSync(join(tmpdir(), 'ipwarden-agent-')),
    IPWARDEN_LISTEN: '0.0.0.0:8460',
  });
  const [, token] = await start.waitFor(/admin token:\s+(\S+)/, 180_000);
  expect(start.lines.join('\n')).toMatch(/API:\s+http:\/\/127\.0\.0\.1:8460\/api\/v1/);
  expect(start.lines.join('\n')).toMatch(/dashboard:\s+http:\/\/127\.0\.0\.1:8460\//);
  // The dashboard is there, from outside the machine too: the built page, under its policy.
  const page = await fetch('http://10.99.254.2:8460/');
  expect(page.status).toBe(200);
  expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
  expect(await page.text()).toContain('<div id="app">');
  // From outside the machine, over the lab's uplink veth.
  const api = async <T>(path: string) => {
    const response = await fetch(`http://10.99.254.2:8460/api/v1${path}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(response.status).toBe(200);
    return (await response.json()) as T;
  };
  await until(
    async () => (await api<{ items: { connected: boolean }[] }>('/agents')).items.find((a) => a.connected),
    30_000,
    'the local agent connected',
  );
  const [host] = lab.hosts;
  await lab.addIpv4(host!, '10.99.0.1/24');
  await until(
    async () => {
      await lab!.exec(host!, 'ping', '-n', '-c', '1', '-W', '1', '10.99.0.254').catch(() => undefined);
      return (await api<{ items: DiscoveryRow[] }>('/discoveries?ip=10.99.0.1')).items[0];
    },
    10_000,
    'a host on the machine network discovered',
  );

  const inode = statSync(`/run/netns/${machine}`).ino;
  start.child.kill('SIGINT');
  await start.exited;
  await until(async () => (processesIn(inode).length === 0 ? true : undefined), 10_000, 'every process stopped');
}, 240_000);
