/**
 * What DHCP maps are made of, read from the database: the subnets with the options their DHCP
 * servers hand out, the hosts of a subnet (every address with a MAC but reservations, API.md
 * "Addresses"), and what changed in a subnet since a version (dhcp_changes, written by the
 * database's triggers, migration 0012). Each read is one statement, so what it returns is one
 * moment of the database: the hosts and the version they are at.
 */
import type { DhcpHost, DhcpSubnet } from '@ipwarden/protocol';
import { sql } from 'drizzle-orm';
import { type Database, rowsOf } from '../db/database.js';
import { addresses, dhcpChanges, ranges, subnets } from '../db/schema/index.js';

/** A subnet as maps need it: where it is, its DHCP version, and what its servers hand out. */
export interface DhcpSubnetRow {
  id: string;
  cidr: string;
  vlan: number;
  managed: boolean;
  version: number;
  options: DhcpSubnet;
}

/** Every subnet, with its options and dynamic ranges. */
export async function readDhcpSubnets(db: Database): Promise<DhcpSubnetRow[]> {
  const rows = await rowsOf<{
    id: string;
    cidr: string;
    vlan: number;
    managed: boolean;
    version: number;
    gateway: string | null;
    dns: string[];
    ntp: string[];
    domain: string | null;
    lease_seconds: number | null;
    next_server: string | null;
    boot_file: string | null;
    dynamic: { start: string; end: string }[];
  }>(
    db,
    sql`select s.id, s.cidr::text as cidr, s.vlan, s.managed, s.dhcp_version::float8 as version,
               host(s.gateway) as gateway, array(select host(x) from unnest(s.dns_servers) x) as dns,
               array(select host(x) from unnest(s.ntp_servers) x) as ntp, s.domain, s.lease_seconds,
               host(s.next_server) as next_server, s.boot_file,
               coalesce((select json_agg(json_build_object('start', host(r.start), 'end', host(r."end")) order by r.start)
                         from ${ranges} r where r.subnet_id = s.id and r.purpose = 'dynamic'), '[]') as dynamic
        from ${subnets} s`,
  );
  return rows.map((r) => ({
    id: r.id,
    cidr: r.cidr,
    vlan: r.vlan,
    managed: r.managed,
    version: Number(r.version),
    options: {
      cidr: r.cidr,
      vlan: r.vlan,
      ...(r.gateway !== null && { gateway: r.gateway }),
      ...(r.dns.length > 0 && { dnsServers: r.dns }),
      ...(r.ntp.length > 0 && { ntpServers: r.ntp }),
      ...(r.domain !== null && { domain: r.domain }),
      ...(r.lease_seconds !== null && { leaseSeconds: r.lease_seconds }),
      ...(r.next_server !== null && { nextServer: r.next_server }),
      ...(r.boot_file !== null && { bootFile: r.boot_file }),
      ...(r.dynamic.length > 0 && { dynamicRanges: r.dynamic }),
    },
  }));
}

interface HostRow {
  subnet_id: string;
  cidr: string;
  mac: string;
  ip: string;
  hostname: string | null;
}

const hostOf = (row: HostRow): DhcpHost => ({
  mac: row.mac,
  ip: row.ip,
  ...(row.hostname !== null && { hostname: row.hostname }),
  subnet: row.cidr,
});

/**
 * The condition for an address to be in DHCP maps. One MAC with two such addresses in a subnet
 * is one host, the older address (a DHCP server can hand a MAC one address per subnet).
 */
const IN_MAPS = sql`a.mac is not null and a.kind <> 'reserved'`;

/** The hosts of `subnetIds` now, and each subnet's version they are at. */
export async function readHosts(
  db: Database,
  subnetIds: readonly string[],
): Promise<{ hosts: Map<string, DhcpHost[]>; versions: Map<string, number> }> {
  const hosts = new Map<string, DhcpHost[]>(subnetIds.map((id) => [id, []]));
  const versions = new Map<string, number>();
  if (subnetIds.length === 0) return { hosts, versions };
  const rows = await rowsOf<HostRow & { version: number | null }>(
    db,
    sql`with s as (select id, cidr, dhcp_version from ${subnets} where id = any(${`{${subnetIds.join(',')}}`}::uuid[]))
        select s.id as subnet_id, s.cidr::text as cidr, s.dhcp_version::float8 as version,
               h.mac, h.ip, h.hostname
        from s left join lateral (
          select distinct on (a.mac) a.mac::text as mac, host(a.ip) as ip, a.hostname
          from ${addresses} a where a.subnet_id = s.id and ${IN_MAPS}
          order by a.mac, a.created_at, a.ip
        ) h on true`,
  );
  for (const row of rows) {
    versions.set(row.subnet_id, Number(row.version));
    if (row.mac !== null) hosts.get(row.subnet_id)!.push(hostOf(row));
  }
  return { hosts, versions };
}

/** What changed in a subnet after `since`: its version now, its hosts of the MACs that changed, whether its options did. */
export interface SubnetChanges {
  version: number;
  /** MACs whose host changed, with the host each has now (undefined: none, it left the map). */
  hosts: Map<string, DhcpHost | undefined>;
  options: boolean;
  /** False when the log no longer reaches back to `since` (pruned): the whole map is needed. */
  complete: boolean;
}

export async function readChanges(db: Database, subnetId: string, since: number): Promise<SubnetChanges | undefined> {
  const rows = await rowsOf<{
    version: number;
    oldest: number | null;
    options: boolean;
    changed: string[] | null;
    mac: string | null;
    ip: string | null;
    hostname: string | null;
    cidr: string;
  }>(
    db,
    sql`with s as (select id, cidr, dhcp_version from ${subnets} where id = ${subnetId}),
        c as (select mac from ${dhcpChanges} where subnet_id = ${subnetId} and version > ${since}),
        macs as (select distinct mac from c where mac is not null)
        select s.dhcp_version::float8 as version, s.cidr::text as cidr,
               (select min(version)::float8 from ${dhcpChanges} where subnet_id = ${subnetId}) as oldest,
               exists (select 1 from c where mac is null) as options,
               array(select mac::text from macs) as changed,
               h.mac, h.ip, h.hostname
        from s left join lateral (
          select distinct on (a.mac) a.mac::text as mac, host(a.ip) as ip, a.hostname
          from ${addresses} a where a.subnet_id = s.id and ${IN_MAPS} and a.mac in (select mac from macs)
          order by a.mac, a.created_at, a.ip
        ) h on true`,
  );
  const first = rows[0];
  if (first === undefined) return undefined; // the subnet is gone
  const version = Number(first.version);
  const hosts = new Map<string, DhcpHost | undefined>((first.changed ?? []).map((mac) => [mac, undefined]));
  for (const row of rows) {
    if (row.mac !== null) hosts.set(row.mac, hostOf({ ...row, subnet_id: subnetId, mac: row.mac, ip: row.ip! }));
  }
  // Complete when nothing was pruned between `since` and now: the oldest row left is at most since + 1.
  const complete = version === since || (first.oldest !== null && Number(first.oldest) <= since + 1);
  return { version, hosts, options: first.options, complete };
}
