/**
 * What the netns lab's captures must show, shared by the committed fixtures' test and the live
 * run: ipwarden's per-frame observations equal tshark's (the corpus test's comparison), and the
 * hosts the manifest names appear with the addresses, MACs and hostnames it gives.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Observation } from '@ipwarden/netcodec';
import { expect, it } from 'vitest';
import { agentBin } from '../support/paths.js';
import { observationKey, tsharkFrames } from '../support/tshark-oracle.js';

const run = promisify(execFile);

export const LAB_FILES = ['arp', 'ndp', 'mdns', 'dhcp'] as const;
export type LabFile = (typeof LAB_FILES)[number];

export interface LabHost {
  ns: string;
  role: string;
  ifname: string;
  mac: string;
  ipv4?: string;
  ipv6?: string;
  hostname?: string;
  dadProbe?: string;
  lease?: string;
}

export interface LabManifest {
  prefix: string;
  elapsedMs: number;
  files: Record<LabFile, string>;
  hosts: {
    pinger: LabHost & { ipv4: string; ipv6: string };
    pinged: LabHost & { ipv4: string; ipv6: string; dadProbe: string };
    mdns: LabHost & { ipv4: string; ipv6: string; hostname: string };
    dhcpServer: LabHost & { ipv4: string };
    dhcpClient: LabHost & { hostname: string; lease: string };
  };
  fakes: { ip: string; mac: string; how: string; gratuitous?: 'request' | 'reply' }[];
  dhcpRange: { first: string; last: string };
}

export function readManifest(dir: string): LabManifest {
  return JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as LabManifest;
}

/** A line of `ipwarden-agent read`: an observation (with --all, its frame) or a sighting. */
export type AgentRow = Observation & { at: number; frame?: number; event?: string; previousMac?: string };

export interface AgentOutput {
  rows: AgentRow[];
  /** The summary line on stderr (frames, observations, sightings, malformed, ...). */
  summary: string;
}

/** Runs `node agent/bin/ipwarden-agent.js read FILE [--all]` and parses its NDJSON. */
export async function agentRead(file: string, all: boolean): Promise<AgentOutput> {
  if (!existsSync(agentBin)) throw new Error(`${agentBin} not found: build first (pnpm build)`);
  const args = [agentBin, 'read', file, '--format', 'ndjson'];
  if (all) args.push('--all');
  const { stdout, stderr } = await run(process.execPath, args, { maxBuffer: 64 * 1024 * 1024 });
  const rows = stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as AgentRow);
  return { rows, summary: stderr.trim() };
}

const toObservation = (row: AgentRow): Observation => {
  const { at: _at, frame: _frame, event: _event, previousMac: _previousMac, ...observation } = row;
  return observation;
};

/**
 * Differences between tshark's and ipwarden's reading of one capture, one line each (empty when
 * they agree): the comparison of test/corpus-tshark.test.ts, through the agent's command line.
 */
export async function oracleDifferences(file: string): Promise<string[]> {
  const [theirs, ours] = await Promise.all([tsharkFrames(file), agentRead(file, true)]);
  const problems: string[] = [];
  if (!/\bmalformed 0\b/.test(ours.summary)) problems.push(`ipwarden reports malformed frames: ${ours.summary}`);
  if (theirs.length === 0) problems.push('tshark finds no ARP, NDP, mDNS or DHCP frame in the file');
  const have = new Map<number, string[]>();
  for (const row of ours.rows) {
    if (row.frame === undefined) throw new Error(`read --all printed a line without a frame: ${JSON.stringify(row)}`);
    const keys = have.get(row.frame) ?? [];
    keys.push(observationKey(toObservation(row)));
    have.set(row.frame, keys);
  }
  const listed = new Set<number>();
  for (const frame of theirs) {
    listed.add(frame.frame);
    // Real traffic from the lab: tshark has nothing to complain about either.
    if (frame.malformed) problems.push(`frame ${frame.frame} (${frame.protocols}): tshark calls it malformed`);
    const want = frame.direct ? frame.expected.map(observationKey).sort() : [];
    const got = (have.get(frame.frame) ?? []).sort();
    if (JSON.stringify(want) !== JSON.stringify(got)) {
      problems.push(
        `frame ${frame.frame} (${frame.protocols}): tshark ${JSON.stringify(want)} ipwarden ${JSON.stringify(got)}`,
      );
    }
  }
  for (const [frame, keys] of have) {
    if (!listed.has(frame))
      problems.push(`frame ${frame}: ipwarden observes ${JSON.stringify(keys)}, tshark sees none`);
  }
  return problems;
}

/** The dotted quad as a number, for range checks. */
export function ipv4Number(ip: string): number {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return Number.NaN;
  return parts.reduce((n, p) => n * 256 + p, 0);
}

type Want = Partial<Omit<AgentRow, 'detail'>> & { detail?: Record<string, unknown> };

/** The rows that have every field of `want` (detail: every key given, compared as JSON). */
export function matching(rows: readonly AgentRow[], want: Want): AgentRow[] {
  return rows.filter((row) =>
    Object.entries(want).every(([key, value]) => {
      if (key !== 'detail') return (row as unknown as Record<string, unknown>)[key] === value;
      return Object.entries(value as Record<string, unknown>).every(
        ([k, v]) => JSON.stringify(row.detail?.[k]) === JSON.stringify(v),
      );
    }),
  );
}

/** One line per expected row that is missing. */
function missing(file: string, rows: readonly AgentRow[], wants: Want[]): string[] {
  return wants
    .filter((want) => matching(rows, want).length === 0)
    .map((want) => `${file}: no ${JSON.stringify(want)} among ${rows.length} lines`);
}

/** What each capture must hold, given the manifest: observations (read --all). */
export function expectedObservations(m: LabManifest): Record<LabFile, Want[]> {
  const { pinger, pinged, mdns, dhcpServer, dhcpClient } = m.hosts;
  const [fake, ...gratuitous] = m.fakes;
  return {
    arp: [
      { source: 'arp', kind: 'host', ip: pinger.ipv4, mac: pinger.mac, detail: { op: 'request' } },
      { source: 'arp', kind: 'host', ip: pinged.ipv4, mac: pinged.mac, detail: { op: 'reply' } },
      // The fake host asks, the pinged host answers it: sender of the request, target of the reply.
      { source: 'arp', kind: 'host', ip: fake!.ip, mac: fake!.mac, detail: { op: 'request' } },
      { source: 'arp', kind: 'host', ip: fake!.ip, mac: fake!.mac, detail: { op: 'reply', target: true } },
      ...gratuitous.map(
        (g): Want => ({
          source: 'arp',
          kind: 'host',
          ip: g.ip,
          mac: g.mac,
          detail: { op: g.gratuitous, gratuitous: true, announcement: g.gratuitous === 'request' },
        }),
      ),
    ],
    ndp: [
      { source: 'ndp', kind: 'host', ip: pinger.ipv6, mac: pinger.mac, detail: { type: 'ns', target: pinged.ipv6 } },
      { source: 'ndp', kind: 'host', ip: pinged.ipv6, mac: pinged.mac, detail: { type: 'na', solicited: true } },
      { source: 'ndp', kind: 'probe', ip: pinged.dadProbe, mac: pinged.mac, detail: { type: 'ns', dad: true } },
    ],
    mdns: [
      { source: 'mdns', kind: 'host', ip: mdns.ipv4, mac: mdns.mac, hostname: mdns.hostname },
      { source: 'mdns', kind: 'host', ip: mdns.ipv6, mac: mdns.mac, hostname: mdns.hostname },
    ],
    dhcp: [
      {
        source: 'dhcp',
        kind: 'dhcp-client',
        mac: dhcpClient.mac,
        hostname: dhcpClient.hostname,
        detail: { messageType: 'discover' },
      },
      {
        source: 'dhcp',
        kind: 'dhcp-client',
        ip: dhcpClient.lease,
        mac: dhcpClient.mac,
        hostname: dhcpClient.hostname,
        detail: { messageType: 'request' },
      },
      {
        source: 'dhcp',
        kind: 'dhcp-lease',
        ip: dhcpClient.lease,
        mac: dhcpClient.mac,
        detail: { messageType: 'ack', server: dhcpServer.ipv4 },
      },
      { source: 'dhcp', kind: 'dhcp-server', ip: dhcpServer.ipv4, mac: dhcpServer.mac, detail: { messageType: 'ack' } },
    ],
  };
}

/** What each capture's sightings (read without --all) must include: a `new` event per host. */
export function expectedSightings(m: LabManifest): Record<LabFile, Want[]> {
  const { pinger, pinged, mdns, dhcpServer, dhcpClient } = m.hosts;
  const fresh = { event: 'new', vlan: 0 } as const;
  return {
    arp: [
      { ...fresh, source: 'arp', kind: 'host', ip: pinger.ipv4, mac: pinger.mac },
      { ...fresh, source: 'arp', kind: 'host', ip: pinged.ipv4, mac: pinged.mac },
      ...m.fakes.map((f): Want => ({ ...fresh, source: 'arp', kind: 'host', ip: f.ip, mac: f.mac })),
    ],
    ndp: [
      { ...fresh, source: 'ndp', kind: 'host', ip: pinger.ipv6, mac: pinger.mac },
      { ...fresh, source: 'ndp', kind: 'host', ip: pinged.ipv6, mac: pinged.mac },
      { ...fresh, source: 'ndp', kind: 'probe', ip: pinged.dadProbe, mac: pinged.mac },
    ],
    mdns: [
      { ...fresh, source: 'mdns', kind: 'host', ip: mdns.ipv4, mac: mdns.mac, hostname: mdns.hostname },
      { ...fresh, source: 'mdns', kind: 'host', ip: mdns.ipv6, mac: mdns.mac, hostname: mdns.hostname },
    ],
    dhcp: [
      // The lease carries the hostname the client announced in its DISCOVER/REQUEST.
      {
        ...fresh,
        source: 'dhcp',
        kind: 'dhcp-lease',
        ip: dhcpClient.lease,
        mac: dhcpClient.mac,
        hostname: dhcpClient.hostname,
      },
      { ...fresh, source: 'dhcp', kind: 'dhcp-server', ip: dhcpServer.ipv4, mac: dhcpServer.mac },
      {
        ...fresh,
        source: 'dhcp',
        kind: 'dhcp-client',
        ip: dhcpClient.lease,
        mac: dhcpClient.mac,
        hostname: dhcpClient.hostname,
      },
    ],
  };
}

const isBinding = (row: AgentRow) =>
  row.kind === 'host' || row.kind === 'router' || (row.kind === 'dhcp-lease' && row.detail?.messageType === 'ack');

/**
 * Registers the checks on one lab run's captures. `lab` is called when the tests run (a live
 * run only has its directory once its beforeAll is done).
 */
export function labChecks(lab: () => { dir: string; manifest: LabManifest }): void {
  const path = (file: LabFile) => join(lab().dir, lab().manifest.files[file]);

  it('has a consistent manifest', () => {
    const m = lab().manifest;
    const hosts = Object.values(m.hosts);
    for (const host of hosts) expect(host.mac, host.ns).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    expect(new Set(hosts.map((h) => h.mac)).size).toBe(hosts.length);
    expect(hosts.every((h) => h.ns.startsWith(m.prefix))).toBe(true);
    const lease = ipv4Number(m.hosts.dhcpClient.lease);
    expect(lease).toBeGreaterThanOrEqual(ipv4Number(m.dhcpRange.first));
    expect(lease).toBeLessThanOrEqual(ipv4Number(m.dhcpRange.last));
    expect(m.hosts.dhcpClient.hostname).toBe('labhost-dhcp');
    expect(m.hosts.mdns.hostname).toBe('labhost-mdns');
    expect(m.fakes.map((f) => f.gratuitous ?? null)).toEqual([null, 'request', 'reply']);
  });

  it.each(LAB_FILES)('%s: ipwarden observes what tshark decodes', async (file) => {
    expect(await oracleDifferences(path(file))).toEqual([]);
  });

  it.each(LAB_FILES)('%s: holds the manifest hosts (read --all)', async (file) => {
    const { rows } = await agentRead(path(file), true);
    expect(missing(file, rows, expectedObservations(lab().manifest)[file])).toEqual([]);
  });

  it.each(LAB_FILES)('%s: the binding table reports them as new (read)', async (file) => {
    const { rows } = await agentRead(path(file), false);
    expect(missing(file, rows, expectedSightings(lab().manifest)[file])).toEqual([]);
    // Keyed by (VLAN, IP): repeated frames (announcements, retransmissions) give one `new` each.
    const fresh = rows.filter((r) => r.event === 'new' && isBinding(r)).map((r) => `${r.vlan}/${r.ip}`);
    expect(fresh.length).toBe(new Set(fresh).size);
  });

  it('has the DHCP lease inside the range, to the client, with its hostname', async () => {
    const m = lab().manifest;
    const { rows } = await agentRead(path('dhcp'), true);
    const acks = matching(rows, { kind: 'dhcp-lease', mac: m.hosts.dhcpClient.mac, detail: { messageType: 'ack' } });
    expect(acks.length).toBeGreaterThan(0);
    for (const ack of acks) {
      expect(ipv4Number(ack.ip!)).toBeGreaterThanOrEqual(ipv4Number(m.dhcpRange.first));
      expect(ipv4Number(ack.ip!)).toBeLessThanOrEqual(ipv4Number(m.dhcpRange.last));
    }
    const clients = matching(rows, { kind: 'dhcp-client', mac: m.hosts.dhcpClient.mac });
    expect(clients.length).toBeGreaterThan(0);
    expect(clients.map((c) => c.hostname)).toEqual(clients.map(() => 'labhost-dhcp'));
    // Only the lab's dnsmasq answered.
    const servers = matching(rows, { kind: 'dhcp-server' });
    expect(new Set(servers.map((s) => `${s.ip} ${s.mac}`))).toEqual(
      new Set([`${m.hosts.dhcpServer.ipv4} ${m.hosts.dhcpServer.mac}`]),
    );
  });

  it('has avahi answering over both IPv4 and IPv6', async () => {
    const m = lab().manifest;
    const frames = await tsharkFrames(path('mdns'));
    const announcing = frames.filter((f) =>
      f.expected.some((o) => o.source === 'mdns' && o.hostname === m.hosts.mdns.hostname),
    );
    expect(announcing.some((f) => /:ip:udp:mdns/.test(f.protocols))).toBe(true);
    expect(announcing.some((f) => /:ipv6:udp:mdns/.test(f.protocols))).toBe(true);
  });
}
