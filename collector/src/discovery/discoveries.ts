/**
 * What the agents have seen (API.md, "Discovery"): the observed bindings with their vendor,
 * the history of binding changes, and forgetting stale observations.
 */
import { bitsOf, parseIp } from '@ipwarden/ipam';
import { and, asc, desc, eq, or, type SQL, sql } from 'drizzle-orm';
import type { Database } from '../db/database.js';
import { addresses, agents, bindings, sightingEvents, subnets } from '../db/schema/index.js';
import { ErrorCode, fieldError } from '../errors.js';
import { checkMac as checkMacAs } from '../ipam/address-store.js';
import { decodeCursor, encodeCursor, isUuid } from '../paging.js';
import { vendorOf } from './vendors.js';

export interface DiscoveryFilter {
  subnet?: string;
  ip?: string;
  mac?: string;
  source?: string;
  unknown?: boolean;
  /** Part of a hostname, in any case. */
  hostname?: string;
  /** By address (the default), or the newest first by when last or first seen. */
  sort?: DiscoverySort;
  limit: number;
  cursor?: string;
}

export const DISCOVERY_SORTS = ['ip', 'lastSeen', 'firstSeen'] as const;
export type DiscoverySort = (typeof DISCOVERY_SORTS)[number];

/** The allocation matching a discovery (API.md: `address`, the matching allocation, if any). */
export interface DiscoveryAddress {
  ip: string;
  subnet: string;
  kind: string;
  mac: string | null;
  hostname: string | null;
}

export interface Discovery {
  ip: string;
  mac: string;
  vendor: string | null;
  hostnames: string[];
  vlan: number;
  outerVlan?: number;
  agent: string;
  agentId: string;
  interface: string;
  sources: string[];
  firstSeen: string;
  lastSeen: string;
  address?: DiscoveryAddress;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** 802.1Q VIDs are 12 bits. */
const MAX_VLAN = 4095;
/** 9999-12-31T23:59:59.999Z: later times have no ISO 8601 text PostgreSQL reads. */
const LAST_MILLIS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
/** An event's place in its batch, as a cursor holds it: an int column. */
const MAX_ITEM = 2 ** 31 - 1;

function invalid(field: string, message: string): never {
  throw fieldError(ErrorCode.VALIDATION_FAILED, field, message);
}

/** An address to compare inet columns with; checked here so PostgreSQL never sees bad text. */
function checkIp(field: string, text: string): string {
  // parseIp takes no zone (fe80::1%eth0): it names a link of the asking host; inet has none.
  if (parseIp(text) === undefined) invalid(field, `"${text}" is not an IPv4 or IPv6 address`);
  return text;
}

/** Filters answer a bad MAC as any bad query parameter: validation-failed. */
const checkMac = (field: string, text: string) => checkMacAs(field, text, ErrorCode.VALIDATION_FAILED);

function checkSubnet(text: string): string {
  const slash = text.indexOf('/');
  const address = slash < 0 ? '' : text.slice(0, slash);
  const bits = slash < 0 ? '' : text.slice(slash + 1);
  // Host bits may be set: PostgreSQL's inet containment reads 10.0.0.7/24 as 10.0.0.0/24.
  const ip = parseIp(address);
  if (ip === undefined || !/^\d{1,3}$/.test(bits) || Number(bits) > bitsOf(ip.family))
    invalid('subnet', `"${text}" is not a CIDR prefix (10.0.0.0/24, fd00::/64)`);
  return text;
}

export async function listDiscoveries(db: Database, filter: DiscoveryFilter): Promise<Page<Discovery>> {
  const where: (SQL | undefined)[] = [];
  if (filter.subnet !== undefined) where.push(sql`${bindings.ip} <<= ${checkSubnet(filter.subnet)}::inet`);
  if (filter.ip !== undefined) where.push(sql`${bindings.ip} = ${checkIp('ip', filter.ip)}::inet`);
  if (filter.mac !== undefined) where.push(sql`${bindings.mac} = ${checkMac('mac', filter.mac)}::macaddr`);
  if (filter.source !== undefined) where.push(sql`${filter.source} = any(${bindings.sources})`);
  // The allocation that explains a binding: the same address in a subnet of the binding's VLAN.
  const allocation = sql`from ${addresses} a join ${subnets} s on s.id = a.subnet_id
    where a.ip = ${bindings.ip} and s.vlan = ${bindings.vlan}`;
  if (filter.unknown === true) where.push(sql`not exists (select 1 ${allocation})`);
  if (filter.hostname !== undefined) {
    // LIKE's own wildcards in the text are matched as themselves.
    const pattern = `%${filter.hostname.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    where.push(sql`exists (select 1 from unnest(${bindings.hostnames}) h where h ilike ${pattern})`);
  }
  const sort = filter.sort ?? 'ip';
  // A time sort shows the newest first; the binding's key breaks ties, so the order is total.
  const time = sort === 'lastSeen' ? bindings.lastSeen : sort === 'firstSeen' ? bindings.firstSeen : undefined;
  const key = sql`${bindings.ip}, ${bindings.vlan}, ${bindings.outerVlan}, ${bindings.mac}`;
  if (filter.cursor !== undefined) {
    const parts = decodeCursor(
      filter.cursor,
      time === undefined
        ? ['string', MAX_VLAN, MAX_VLAN, 'string']
        : [LAST_MILLIS, 'string', MAX_VLAN, MAX_VLAN, 'string'],
    );
    const [ip, vlan, outerVlan, mac] = time === undefined ? parts : parts.slice(1);
    checkIp('cursor', ip as string);
    checkMac('cursor', mac as string);
    const after = sql`${ip}::inet, ${vlan}, ${outerVlan}, ${mac}::macaddr`;
    where.push(
      time === undefined
        ? sql`(${key}) > (${after})`
        : sql`(${time}, ${key}) < (${new Date(parts[0] as number).toISOString()}::timestamptz, ${after})`,
    );
  }
  const order = [bindings.ip, bindings.vlan, bindings.outerVlan, bindings.mac];
  const rows = await db
    .select({
      binding: bindings,
      agent: agents.name,
      address: sql<DiscoveryAddress | null>`(select json_build_object('ip', host(a.ip), 'subnet', a.subnet_id, 'kind', a.kind, 'mac', a.mac::text, 'hostname', a.hostname) ${allocation} limit 1)`,
    })
    .from(bindings)
    .innerJoin(agents, eq(agents.id, bindings.agentId))
    .where(and(...where))
    .orderBy(...(time === undefined ? order.map((c) => asc(c)) : [time, ...order].map((c) => desc(c))))
    .limit(filter.limit + 1);
  const more = rows.length > filter.limit;
  const items = rows.slice(0, filter.limit).map(({ binding: b, agent, address }) => ({
    ip: b.ip,
    mac: b.mac,
    vendor: vendorOf(b.mac) ?? null,
    hostnames: b.hostnames,
    vlan: b.vlan,
    ...(b.outerVlan !== 0 && { outerVlan: b.outerVlan }),
    agent,
    agentId: b.agentId,
    interface: b.interface,
    sources: b.sources,
    firstSeen: b.firstSeen.toISOString(),
    lastSeen: b.lastSeen.toISOString(),
    ...(address !== null && { address }),
  }));
  const last = items.at(-1);
  return {
    items,
    nextCursor:
      more && last
        ? encodeCursor([
            ...(time === undefined ? [] : [Date.parse(sort === 'lastSeen' ? last.lastSeen : last.firstSeen)]),
            last.ip,
            last.vlan,
            last.outerVlan ?? 0,
            last.mac,
          ])
        : null,
  };
}

export interface HistoryFilter {
  ip?: string;
  mac?: string;
  limit: number;
  cursor?: string;
}

export interface HistoryEntry {
  at: string;
  event: string;
  source: string;
  kind: string;
  ip: string;
  mac: string;
  previousMac?: string;
  hostname?: string;
  vlan: number;
  outerVlan?: number;
  agent: string;
  interface: string;
}

/** The binding changes (new, moved; probes and DHCP events) for an address or a MAC, oldest first. */
export async function discoveryHistory(db: Database, filter: HistoryFilter): Promise<Page<HistoryEntry>> {
  if (filter.ip === undefined && filter.mac === undefined) invalid('ip', 'give ip or mac (or both)');
  const where: (SQL | undefined)[] = [];
  if (filter.ip !== undefined) where.push(sql`${sightingEvents.ip} = ${checkIp('ip', filter.ip)}::inet`);
  if (filter.mac !== undefined) {
    const mac = checkMac('mac', filter.mac);
    where.push(or(sql`${sightingEvents.mac} = ${mac}::macaddr`, sql`${sightingEvents.previousMac} = ${mac}::macaddr`));
  }
  // Ties of one millisecond in the order the events were stored: by agent, batch and place in it.
  const key = sql`${sightingEvents.at}, ${sightingEvents.agentId}, ${sightingEvents.seq}, ${sightingEvents.item}`;
  if (filter.cursor !== undefined) {
    const [at, agentId, seq, item] = decodeCursor(
      filter.cursor,
      [LAST_MILLIS, 'string', Number.MAX_SAFE_INTEGER, MAX_ITEM],
      ([, agent]) => isUuid(agent),
    );
    where.push(
      sql`(${key}) > (${new Date(at as number).toISOString()}::timestamptz, ${agentId}::uuid, ${seq}::bigint, ${item}::int)`,
    );
  }
  const rows = await db
    .select({ event: sightingEvents, agent: agents.name })
    .from(sightingEvents)
    .innerJoin(agents, eq(agents.id, sightingEvents.agentId))
    .where(and(...where))
    .orderBy(asc(sightingEvents.at), asc(sightingEvents.agentId), asc(sightingEvents.seq), asc(sightingEvents.item))
    .limit(filter.limit + 1);
  const more = rows.length > filter.limit;
  const page = rows.slice(0, filter.limit);
  const items = page.map(({ event: e, agent }) => ({
    at: e.at.toISOString(),
    event: e.event,
    source: e.source,
    kind: e.kind,
    ip: e.ip,
    mac: e.mac,
    ...(e.previousMac !== null && { previousMac: e.previousMac }),
    ...(e.hostname !== null && { hostname: e.hostname }),
    vlan: e.vlan,
    ...(e.outerVlan !== 0 && { outerVlan: e.outerVlan }),
    agent,
    interface: e.interface,
  }));
  const last = page.at(-1)?.event;
  return {
    items,
    nextCursor: more && last ? encodeCursor([last.at.getTime(), last.agentId, last.seq, last.item]) : null,
  };
}

/** Forgets the observed bindings of an address, a MAC, or the two together; the history stays. */
export async function forgetDiscoveries(db: Database, filter: { ip?: string; mac?: string }): Promise<number> {
  if (filter.ip === undefined && filter.mac === undefined) invalid('ip', 'give ip or mac (or both)');
  const where: SQL[] = [];
  if (filter.ip !== undefined) where.push(sql`${bindings.ip} = ${checkIp('ip', filter.ip)}::inet`);
  if (filter.mac !== undefined) where.push(sql`${bindings.mac} = ${checkMac('mac', filter.mac)}::macaddr`);
  const rows = await db
    .delete(bindings)
    .where(and(...where))
    .returning({ ip: bindings.ip });
  return rows.length;
}
