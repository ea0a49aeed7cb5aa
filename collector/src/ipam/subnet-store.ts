/**
 * Subnets and their ranges (API.md, "Subnets and ranges"): checked with packages/ipam's math
 * before anything is written, stored with PostgreSQL's own cidr/inet types, and named in paths
 * by id or by CIDR. Overlaps are refused under a lock per VLAN (subnets) or per subnet
 * (ranges), so two concurrent requests cannot both slip past the check.
 */
import {
  contains,
  type Family,
  formatIp,
  formatPrefix,
  type Ip,
  type Prefix,
  parseIp,
  parsePrefix,
} from '@ipwarden/ipam';
import { and, asc, eq, gte, lte, sql } from 'drizzle-orm';
import type { Database, Tx } from '../db/database.js';
import { addresses, poolRanges, pools, ranges, subnets } from '../db/schema/index.js';
import { ApiError, ErrorCode, fieldError } from '../errors.js';

/**
 * Locks the subnets (in id order, so that two callers never wait on each other crosswise) and
 * gives them a new `alloc_stamp`: every transaction that changes what the allocator decides
 * from — a subnet's row, its ranges or pools' ranges, its addresses — goes through here, so that
 * a batch the allocator decided ahead writes nothing over it (allocator.ts). The ids that exist.
 */
export async function touchSubnets(tx: Tx | Database, ids: Iterable<string>): Promise<Set<string>> {
  const touched = new Set<string>();
  for (const id of [...new Set(ids)].sort()) {
    const [row] = await tx
      .update(subnets)
      .set({ allocStamp: sql`gen_random_uuid()` })
      .where(eq(subnets.id, id))
      .returning({ id: subnets.id });
    if (row !== undefined) touched.add(row.id);
  }
  return touched;
}

/** The advisory-lock class of subnet creation; the second key is the VLAN. */
const SUBNET_LOCK = 0x69_70_77_01; // "ipw" 1

export type AllocationPolicy = 'lowest' | 'random';

export interface SubnetFields {
  name?: string | null;
  gateway?: string | null;
  dnsServers?: string[];
  ntpServers?: string[];
  dhcpServers?: string[];
  domain?: string | null;
  leaseSeconds?: number | null;
  nextServer?: string | null;
  bootFile?: string | null;
  managed?: boolean;
  allocation?: AllocationPolicy;
}

export interface SubnetInput extends SubnetFields {
  cidr: string;
  vlan?: number;
}

export interface Subnet {
  id: string;
  cidr: string;
  vlan: number;
  name: string | null;
  gateway: string | null;
  dnsServers: string[];
  ntpServers: string[];
  /** DHCP servers known to serve the subnet: their OFFERs are not rogue (API.md, "Conflicts and alerts"). */
  dhcpServers: string[];
  domain: string | null;
  leaseSeconds: number | null;
  nextServer: string | null;
  bootFile: string | null;
  managed: boolean;
  allocation: AllocationPolicy;
  createdAt: string;
}

export interface Range {
  id: string;
  subnet: string;
  start: string;
  end: string;
  purpose: 'dynamic' | 'reserved';
  comment: string | null;
  createdAt: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function checkPrefix(field: string, text: string): Prefix {
  const parsed = parsePrefix(text);
  if (!parsed.ok) throw fieldError(ErrorCode.INVALID_CIDR, field, `"${text}": ${parsed.reason}`);
  return parsed.value;
}

export function checkAddress(field: string, text: string, family?: Family): Ip {
  const ip = parseIp(text);
  if (ip === undefined) throw fieldError(ErrorCode.INVALID_IP, field, `"${text}" is not an IPv4 or IPv6 address`);
  if (family !== undefined && ip.family !== family) {
    throw fieldError(ErrorCode.INVALID_IP, field, `"${text}" is not an IPv${family} address, as the subnet is`);
  }
  return ip;
}

function checkInSubnet(field: string, text: string, prefix: Prefix): Ip {
  const ip = checkAddress(field, text, prefix.family);
  if (!contains(prefix, ip)) {
    throw fieldError(ErrorCode.IP_NOT_IN_SUBNET, field, `${formatIp(ip)} is not in ${formatPrefix(prefix)}`);
  }
  return ip;
}

/** The columns of `fields` as stored: addresses checked and written in their one canonical form. */
function columns(fields: SubnetFields, prefix: Prefix) {
  const one = (field: string, text: string | null | undefined) =>
    text === undefined || text === null ? text : formatIp(checkAddress(field, text));
  const list = (field: string, texts: string[] | undefined) =>
    texts?.map((text, i) => formatIp(checkAddress(`${field}[${i}]`, text)));
  return {
    name: fields.name,
    gateway:
      fields.gateway === undefined || fields.gateway === null
        ? fields.gateway
        : formatIp(checkInSubnet('gateway', fields.gateway, prefix)),
    dnsServers: list('dnsServers', fields.dnsServers),
    ntpServers: list('ntpServers', fields.ntpServers),
    dhcpServers: list('dhcpServers', fields.dhcpServers),
    domain: fields.domain,
    leaseSeconds: fields.leaseSeconds,
    nextServer: one('nextServer', fields.nextServer),
    bootFile: fields.bootFile,
    managed: fields.managed,
    allocation: fields.allocation,
  };
}

/** An address as PostgreSQL printed it, in the API's canonical form, and as a number. */
export const canonicalIp = (text: string) => formatIp(parseIp(text)!);
export const ipValue = (text: string) => parseIp(text)!.value;

/** A subnet's row as the API shows it. */
export function subnetView(row: typeof subnets.$inferSelect): Subnet {
  return {
    id: row.id,
    cidr: formatPrefix(checkPrefix('cidr', row.cidr)),
    vlan: row.vlan,
    name: row.name,
    gateway: row.gateway === null ? null : canonicalIp(row.gateway),
    dnsServers: row.dnsServers.map(canonicalIp),
    ntpServers: row.ntpServers.map(canonicalIp),
    dhcpServers: row.dhcpServers.map(canonicalIp),
    domain: row.domain,
    leaseSeconds: row.leaseSeconds,
    nextServer: row.nextServer === null ? null : canonicalIp(row.nextServer),
    bootFile: row.bootFile,
    managed: row.managed,
    allocation: row.allocation,
    createdAt: row.createdAt.toISOString(),
  };
}

export async function createSubnet(db: Database, input: SubnetInput): Promise<Subnet> {
  const prefix = checkPrefix('cidr', input.cidr);
  const cidr = formatPrefix(prefix);
  const vlan = input.vlan ?? 0;
  const values = {
    ...columns(input, prefix),
    cidr,
    vlan,
    // IPv6 subnets are too large to walk in order usefully; random also hides the allocation order.
    allocation: input.allocation ?? (prefix.family === 4 ? 'lowest' : 'random'),
  };
  return db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${SUBNET_LOCK}, ${vlan})`);
    const [overlapping] = await tx
      .select({ id: subnets.id, cidr: subnets.cidr })
      .from(subnets)
      .where(and(eq(subnets.vlan, vlan), sql`${subnets.cidr} && ${cidr}::cidr`))
      .limit(1);
    if (overlapping !== undefined) {
      throw new ApiError(
        ErrorCode.SUBNET_OVERLAPS,
        `${cidr} overlaps ${formatPrefix(checkPrefix('cidr', overlapping.cidr))} (${overlapping.id}) on VLAN ${vlan}`,
        [{ field: 'cidr', message: 'overlaps another subnet of the VLAN' }],
      );
    }
    const [row] = await tx.insert(subnets).values(values).returning();
    return subnetView(row!);
  });
}

/** Subnets by VLAN and CIDR; `after` (a page's last) and `limit` for keyset pagination. */
export async function listSubnets(
  db: Database,
  filter: { vlan?: number; limit?: number; after?: { vlan: number; cidr: string } } = {},
): Promise<Subnet[]> {
  const rows = await db
    .select()
    .from(subnets)
    .where(
      and(
        filter.vlan === undefined ? undefined : eq(subnets.vlan, filter.vlan),
        filter.after === undefined
          ? undefined
          : sql`(${subnets.vlan}, ${subnets.cidr}) > (${filter.after.vlan}, ${filter.after.cidr}::cidr)`,
      ),
    )
    .orderBy(asc(subnets.vlan), asc(subnets.cidr))
    .limit(filter.limit ?? 1000);
  return rows.map(subnetView);
}

/** The subnet a path or body names: its id, or its CIDR (API.md, "Subnet references"). */
export async function findSubnet(db: Database, ref: string, field = 'subnet'): Promise<Subnet> {
  let rows: (typeof subnets.$inferSelect)[];
  if (UUID.test(ref)) {
    rows = await db.select().from(subnets).where(eq(subnets.id, ref.toLowerCase()));
  } else {
    const cidr = formatPrefix(checkPrefix(field, ref));
    rows = await db.select().from(subnets).where(sql`${subnets.cidr} = ${cidr}::cidr`);
  }
  if (rows.length === 0) throw new ApiError(ErrorCode.NOT_FOUND, `no subnet ${ref}`);
  if (rows.length > 1) {
    throw new ApiError(
      ErrorCode.AMBIGUOUS_SUBNET,
      `${ref} is a subnet on VLANs ${rows.map((r) => r.vlan).join(', ')}: name it by id (${rows.map((r) => r.id).join(', ')})`,
    );
  }
  return subnetView(rows[0]!);
}

/** The id of the subnet `ref` names: an id as it is (the allocator finds out whether it exists), a CIDR looked up. */
export async function subnetIdOf(db: Database, ref: string): Promise<string> {
  return UUID.test(ref) ? ref.toLowerCase() : (await findSubnet(db, ref)).id;
}

export async function updateSubnet(db: Database, ref: string, fields: SubnetFields): Promise<Subnet> {
  const subnet = await findSubnet(db, ref);
  const values = columns(fields, checkPrefix('cidr', subnet.cidr));
  if (Object.values(values).every((v) => v === undefined)) return subnet;
  const [row] = await db
    .update(subnets)
    .set({ ...values, allocStamp: sql`gen_random_uuid()` })
    .where(eq(subnets.id, subnet.id))
    .returning();
  return subnetView(row!);
}

/** Deletes a subnet with its ranges; one that holds addresses only when forced, and them with it. */
export async function deleteSubnet(db: Database, ref: string, force: boolean): Promise<void> {
  const subnet = await findSubnet(db, ref);
  await db.transaction(async (tx) => {
    const [held] = await tx
      .select({ n: sql<number>`count(*)::int` })
      .from(addresses)
      .where(eq(addresses.subnetId, subnet.id));
    if ((held?.n ?? 0) > 0 && !force) {
      throw new ApiError(
        ErrorCode.SUBNET_IN_USE,
        `${subnet.cidr} holds ${held!.n} addresses; release them, or delete with ?force=true`,
      );
    }
    // A pool's range is the pool's: the subnet goes once no pool has a range in it.
    const [pool] = await tx
      .select({ name: pools.name })
      .from(poolRanges)
      .innerJoin(pools, eq(pools.id, poolRanges.poolId))
      .where(eq(poolRanges.subnetId, subnet.id))
      .limit(1);
    if (pool !== undefined) {
      throw new ApiError(
        ErrorCode.SUBNET_IN_USE,
        `${subnet.cidr} has ranges of pool ${pool.name}; delete the pool first`,
      );
    }
    await tx.delete(subnets).where(eq(subnets.id, subnet.id));
  });
}

function rangeView(row: typeof ranges.$inferSelect): Range {
  return {
    id: row.id,
    subnet: row.subnetId,
    start: canonicalIp(row.start),
    end: canonicalIp(row.end),
    purpose: row.purpose,
    comment: row.comment,
    createdAt: row.createdAt.toISOString(),
  };
}

export interface RangeInput {
  start: string;
  end: string;
  purpose: 'dynamic' | 'reserved';
  comment?: string;
}

export async function createRange(db: Database, ref: string, input: RangeInput): Promise<Range> {
  const subnet = await findSubnet(db, ref);
  const prefix = checkPrefix('cidr', subnet.cidr);
  const start = checkInSubnet('start', input.start, prefix);
  const end = checkInSubnet('end', input.end, prefix);
  if (start.value > end.value) {
    throw fieldError(ErrorCode.VALIDATION_FAILED, 'end', `${formatIp(end)} comes before start ${formatIp(start)}`);
  }
  const [startText, endText] = [formatIp(start), formatIp(end)];
  return db.transaction(async (tx) => {
    // The subnet's row is the lock: concurrent ranges of one subnet are checked one at a time.
    if ((await touchSubnets(tx, [subnet.id])).size === 0) throw new ApiError(ErrorCode.NOT_FOUND, `no subnet ${ref}`);
    const [overlapping] = await tx
      .select()
      .from(ranges)
      .where(
        and(
          eq(ranges.subnetId, subnet.id),
          lte(ranges.start, sql`${endText}::inet`),
          gte(ranges.end, sql`${startText}::inet`),
        ),
      )
      .limit(1);
    if (overlapping !== undefined) {
      const other = rangeView(overlapping);
      throw new ApiError(
        ErrorCode.RANGE_OVERLAPS,
        `${startText}-${endText} overlaps the ${other.purpose} range ${other.start}-${other.end} (${other.id})`,
        [{ field: 'start', message: 'overlaps another range of the subnet' }],
      );
    }
    if (input.purpose === 'dynamic') {
      // DHCP would hand these out to anyone: a dynamic range may not cover an allocated address.
      const [held] = await tx
        .select({ ip: addresses.ip })
        .from(addresses)
        .where(
          and(eq(addresses.subnetId, subnet.id), sql`${addresses.ip} between ${startText}::inet and ${endText}::inet`),
        )
        .limit(1);
      if (held !== undefined) {
        throw new ApiError(
          ErrorCode.IP_IN_USE,
          `${canonicalIp(held.ip)} is allocated; a dynamic range may not cover it`,
          [{ field: 'start', message: 'covers an allocated address' }],
        );
      }
    }
    const [row] = await tx
      .insert(ranges)
      .values({ subnetId: subnet.id, start: startText, end: endText, purpose: input.purpose, comment: input.comment })
      .returning();
    return rangeView(row!);
  });
}

/** A subnet's ranges by start; `after` (a page's last start) and `limit` for keyset pagination. */
export async function listRanges(
  db: Database,
  ref: string,
  page: { limit?: number; after?: string } = {},
): Promise<Range[]> {
  const subnet = await findSubnet(db, ref);
  const rows = await db
    .select()
    .from(ranges)
    .where(
      and(
        eq(ranges.subnetId, subnet.id),
        page.after === undefined ? undefined : sql`${ranges.start} > ${page.after}::inet`,
      ),
    )
    .orderBy(asc(ranges.start))
    .limit(page.limit ?? 1000);
  return rows.map(rangeView);
}

export async function deleteRange(db: Database, id: string): Promise<void> {
  await db.transaction(async (tx) => {
    const [row] = await tx.delete(ranges).where(eq(ranges.id, id)).returning({ subnetId: ranges.subnetId });
    if (row === undefined) throw new ApiError(ErrorCode.NOT_FOUND, `no range ${id}`);
    await touchSubnets(tx, [row.subnetId]);
  });
}
