/**
 * The Kea backend's configuration file: the subnets with their pools and options (what changes
 * rarely, and costs a `config-reload`), the control socket, the leases, and the hosts database
 * the reservations live in (kea-hosts-database.ts). No reservation is ever in this file.
 */
import type { DhcpMapContent, DhcpSubnet } from '@ipwarden/protocol';
import type { KeaDatabase } from './kea-hosts-database.js';

/** Kea's subnet id for each served subnet, by CIDR. */
export type KeaSubnetIds = ReadonlyMap<string, number>;

/**
 * A subnet's Kea id: its network address as a number (1 for 0.0.0.0), stable across maps and
 * agents, so that the hosts rows of a subnet keep pointing at it whatever else the map holds.
 */
export function keaSubnetId(cidr: string): number {
  const network = cidr.split('/')[0]!.split('.');
  return network.reduce((n, octet) => n * 256 + Number(octet), 0) || 1;
}

export function keaSubnetIds(subnets: readonly DhcpSubnet[]): KeaSubnetIds {
  return new Map(subnets.filter((s) => !s.cidr.includes(':')).map((s) => [s.cidr, keaSubnetId(s.cidr)]));
}

/** What Kea's DHCPv4 server cannot serve from a map beyond what unfits it for any server (mapProblems). */
export function keaProblems(map: DhcpMapContent): string[] {
  const problems: string[] = [];
  const seen = new Map<number, string>();
  for (const s of map.subnets) {
    if (s.cidr.includes(':')) {
      problems.push(`subnet ${s.cidr}: this backend serves DHCPv4 only`);
      continue;
    }
    const id = keaSubnetId(s.cidr);
    const other = seen.get(id);
    if (other !== undefined) problems.push(`subnets ${other} and ${s.cidr} share a network address`);
    seen.set(id, s.cidr);
  }
  return problems;
}

export interface KeaConfigPlaces {
  interfaces: readonly string[];
  controlSocket: string;
  leaseFile: string;
  database: KeaDatabase;
}

function subnet4(s: DhcpSubnet): Record<string, unknown> {
  const options: { name: string; data: string }[] = [];
  if (s.gateway !== undefined) options.push({ name: 'routers', data: s.gateway });
  if (s.dnsServers !== undefined) options.push({ name: 'domain-name-servers', data: s.dnsServers.join(', ') });
  if (s.ntpServers !== undefined) options.push({ name: 'ntp-servers', data: s.ntpServers.join(', ') });
  if (s.domain !== undefined) options.push({ name: 'domain-name', data: s.domain });
  return {
    id: keaSubnetId(s.cidr),
    subnet: s.cidr,
    pools: (s.dynamicRanges ?? []).map((r) => ({ pool: `${r.start} - ${r.end}` })),
    'option-data': options,
    ...(s.leaseSeconds !== undefined && { 'valid-lifetime': s.leaseSeconds }),
    ...(s.nextServer !== undefined && { 'next-server': s.nextServer }),
    ...(s.bootFile !== undefined && { 'boot-file-name': s.bootFile }),
  };
}

/** The whole `kea-dhcp4` configuration for `map`'s subnets. */
export function keaConfig(subnets: readonly DhcpSubnet[], places: KeaConfigPlaces): object {
  const db = places.database;
  return {
    Dhcp4: {
      'interfaces-config': { interfaces: [...places.interfaces] },
      'control-socket': { 'socket-type': 'unix', 'socket-name': places.controlSocket },
      'lease-database': { type: 'memfile', persist: true, name: places.leaseFile },
      'hosts-database': {
        type: 'postgresql',
        name: db.name,
        host: db.host,
        port: db.port,
        user: db.user,
        ...(db.password !== undefined && { password: db.password }),
        // Kea 2.2 stops at its first failed query by default; this keeps it serving (clients with
        // a reservation then get pool addresses) and reconnecting by itself.
        'on-fail': 'serve-retry-continue',
        'max-reconnect-tries': 1_000_000,
        'reconnect-wait-time': 2_000,
      },
      subnet4: subnets.filter((s) => !s.cidr.includes(':')).map(subnet4),
      loggers: [{ name: 'kea-dhcp4', output_options: [{ output: 'stdout' }], severity: 'INFO' }],
    },
  };
}
