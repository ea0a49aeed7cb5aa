/**
 * The agent without root (the "Agent" list): as an ordinary user (uid 65534) holding
 * only CAP_NET_RAW and CAP_NET_ADMIN — granted the way its own error message says, with setpriv
 * and ambient capabilities — `ipwarden-agent run` captures in the lab and its sightings reach
 * the collector. Without them it refuses to start, naming both (agent/src/cli.test.ts).
 */
import { chownSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import {
  agentConnected,
  CollectorProcess,
  type DiscoveryRow,
  startLabAgent,
  until,
} from './support/collector-process.js';
import { NetnsLab, UPLINK_COLLECTOR_IP } from './support/netns-lab.js';
import { stopAll } from './support/processes.js';

const NOBODY = 65_534;
let lab: NetnsLab | undefined;
let collector: CollectorProcess | undefined;

afterAll(async () => {
  await lab?.destroy();
  await collector?.stop();
  await stopAll();
}, 60_000);

it('captures as a non-root user granted CAP_NET_RAW and CAP_NET_ADMIN, and nothing more', async () => {
  lab = await NetnsLab.create(`iwd-${process.pid}u-`, 1);
  collector = new CollectorProcess(UPLINK_COLLECTOR_IP, undefined);
  await collector.start();
  const stateDir = mkdtempSync(join(tmpdir(), 'ipwarden-agent-'));
  chownSync(stateDir, NOBODY, NOBODY);
  const agent = startLabAgent(lab, collector.url, 'unprivileged', stateDir, [
    'setpriv',
    `--reuid=${NOBODY}`,
    `--regid=${NOBODY}`,
    '--clear-groups',
    '--inh-caps=-all,+net_raw,+net_admin',
    '--ambient-caps=-all,+net_raw,+net_admin',
    '--bounding-set=-all,+net_raw,+net_admin',
  ]);
  await agentConnected(collector, 'unprivileged');
  await agent.waitFor(/capture opened on br0/);
  const status = readFileSync(`/proc/${agent.pid}/status`, 'utf8');
  expect(status).toMatch(new RegExp(`^Uid:\\s+${NOBODY}\\s`, 'm'));
  // CAP_NET_ADMIN is bit 12, CAP_NET_RAW bit 13: 0x3000, and nothing else.
  expect(/^CapEff:\s+(\S+)/m.exec(status)![1]).toBe('0000000000003000');

  await lab.arping(lab.hosts[0]!, { ip: '10.99.0.80', mac: '02:00:00:00:00:80' });
  const { value } = await until(
    async () => (await collector!.api<{ items: DiscoveryRow[] }>('/discoveries?ip=10.99.0.80')).body.items[0],
    2_000,
    '10.99.0.80 in GET /discoveries',
  );
  expect(value).toMatchObject({ mac: '02:00:00:00:00:80', agent: 'unprivileged' });
}, 120_000);
