/**
 * Reads what the conflict rules need to know of the network from the database, as a
 * NetworkPlan (packages/ipam): subnets with their ranges, exemptions, declared DHCP servers,
 * the agents' own addresses, and the MACs seen on subnets' gateways (routers).
 */
import { type ConflictKind, NetworkPlan, type PlanSubnet } from '@ipwarden/ipam';
import { sql } from 'drizzle-orm';
import { type Database, rowsOf } from '../db/database.js';
import type { AgentInterface } from '../db/schema/index.js';
import { agents, bindings, conflictExemptions, dhcpServers, ranges, subnets } from '../db/schema/index.js';

export async function loadPlan(db: Database): Promise<NetworkPlan> {
  const [subnetRows, rangeRows, exemptionRows, serverRows, agentRows, routerRows] = await Promise.all([
    rowsOf<{
      id: string;
      cidr: string;
      vlan: number;
      managed: boolean;
      gateway: string | null;
      dns: string[];
      dhcp: string[];
    }>(
      db,
      sql`select id, cidr::text as cidr, vlan, managed, host(gateway) as gateway,
                 array(select host(x) from unnest(dns_servers) x) as dns,
                 array(select host(x) from unnest(${subnets.dhcpServers}) x) as dhcp
          from ${subnets}`,
    ),
    rowsOf<{ subnet_id: string; start: string; end: string; purpose: 'dynamic' | 'reserved' }>(
      db,
      sql`select subnet_id, host(start) as start, host("end") as "end", purpose from ${ranges}`,
    ),
    rowsOf<{ id: string; cidr: string; macs: string[]; kinds: string[] }>(
      db,
      sql`select id, cidr::text as cidr, array(select x::text from unnest(macs) x) as macs, kinds from ${conflictExemptions}`,
    ),
    rowsOf<{ vlan: number; outer_vlan: number; ip: string | null; mac: string | null }>(
      db,
      sql`select vlan, outer_vlan, host(ip) as ip, mac::text as mac from ${dhcpServers}`,
    ),
    rowsOf<{ id: string; name: string; interfaces: AgentInterface[]; dhcp_backend: string }>(
      db,
      sql`select id, name, interfaces, dhcp_backend from ${agents} where revoked_at is null`,
    ),
    rowsOf<{ vlan: number; mac: string }>(
      db,
      sql`select distinct b.vlan, b.mac::text as mac from ${bindings} b
          join ${subnets} s on s.vlan = b.vlan and s.gateway = b.ip`,
    ),
  ]);
  const rangesOf = new Map<string, PlanSubnet['ranges'][number][]>();
  for (const r of rangeRows) {
    let list = rangesOf.get(r.subnet_id);
    if (list === undefined) {
      list = [];
      rangesOf.set(r.subnet_id, list);
    }
    list.push({ start: r.start, end: r.end, purpose: r.purpose });
  }
  const plan = new NetworkPlan({
    subnets: subnetRows.map((s) => ({
      id: s.id,
      cidr: s.cidr,
      vlan: s.vlan,
      managed: s.managed,
      gateway: s.gateway ?? undefined,
      dnsServers: s.dns,
      dhcpServers: s.dhcp,
      ranges: rangesOf.get(s.id) ?? [],
    })),
    exemptions: exemptionRows.map((e) => ({
      id: e.id,
      cidr: e.cidr,
      macs: e.macs,
      kinds: e.kinds as ConflictKind[],
    })),
    dhcpServers: serverRows.map((s) => ({
      vlan: s.vlan,
      outerVlan: s.outer_vlan,
      ip: s.ip ?? undefined,
      mac: s.mac ?? undefined,
    })),
    agents: agentRows.map((a) => ({
      id: a.id,
      name: a.name,
      interfaces: a.interfaces.map((i) => ({ mac: i.mac, addresses: i.addresses })),
      servesDhcp: a.dhcp_backend !== 'none',
    })),
  });
  for (const r of routerRows) plan.learnRouter(r.vlan, r.mac);
  return plan;
}
