/**
 * Metal3-style pools and claims (API.md, "Pools and claims"): a pool is an ordered list of
 * ranges, each inside a known subnet and possibly apart from the others, with per-range prefix,
 * gateway and DNS servers; claims get addresses from it — the same claim always the same
 * address, a pre-allocated claim its own — and never an excluded one, which Metal3 cannot do.
 * A pool's ranges are off limits to every other allocation (allocator.ts). Export and import carry
 * a pool with its claims to another collector without changing an address.
 */
import { randomBytes } from 'node:crypto';
import {
  contains,
  drawOrder,
  firstOf,
  formatIp,
  formatPrefix,
  IntervalSet,
  lastOf,
  parseExclusion,
  randomBelowFrom,
} from '@ipwarden/ipam';
import { and, asc, eq, gt, inArray, sql } from 'drizzle-orm';
import type { Principal } from '../auth/users.js';
import type { Database, Tx } from '../db/database.js';
import { poolRanges, pools, subnets } from '../db/schema/index.js';
import { ApiError, ErrorCode, fieldError } from '../errors.js';
import { type Address, ALL, checkMac, freeAddresses, readAddresses } from './address-store.js';
import { type Allocator, retriable } from './allocator.js';
import {
  canonicalIp,
  checkAddress,
  checkPrefix,
  createSubnet,
  deleteSubnet,
  findSubnet,
  ipValue,
  type Subnet,
  touchSubnets,
} from './subnet-store.js';

export interface PoolRangeInput {
  start?: string;
  end?: string;
  subnet?: string;
  prefix?: number;
  gateway?: string;
  dnsServers?: string[];
}

export interface PoolInput {
  name: string;
  namePrefix: string;
  ranges: PoolRangeInput[];
  prefix?: number;
  gateway?: string;
  dnsServers?: string[];
  preAllocations?: Record<string, string>;
  exclusions?: string[];
  allocation?: 'sequential' | 'random';
}

const random = randomBelowFrom((length) => randomBytes(length));

export interface PoolRange {
  start: string;
  end: string;
  subnet: string;
  cidr: string;
  prefix?: number;
  gateway?: string;
  dnsServers?: string[];
}

export interface Pool {
  id: string;
  name: string;
  namePrefix: string;
  ranges: PoolRange[];
  prefix?: number;
  gateway?: string;
  dnsServers?: string[];
  preAllocations: Record<string, string>;
  exclusions: string[];
  allocation: 'sequential' | 'random';
  status: { claims: Record<string, string> };
}

export interface Claim {
  /** `<namePrefix>-<address with . and : as ->`, as Metal3 names its IPAddress objects. */
  name: string;
  address: string;
  prefix: number;
  gateway: string | null;
  dnsServers: string[];
  pool: string;
  claim: string;
  mac: string | null;
}

const CLAIM_NAME = /^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$/;

function checkClaimName(field: string, name: string): string {
  if (!CLAIM_NAME.test(name))
    throw fieldError(ErrorCode.VALIDATION_FAILED, field, `"${name}" is not a claim name (a-z, 0-9, . and -)`);
  return name;
}

interface ResolvedRange {
  subnet: Subnet;
  lo: bigint;
  hi: bigint;
  prefix?: number;
  gateway?: string;
  dnsServers?: string[];
}

/** The subnet holding `ip`: named, or the one known subnet that contains it. */
async function subnetOf(db: Database, field: string, ip: string, named: string | undefined): Promise<Subnet> {
  if (named !== undefined) return findSubnet(db, named, `${field}.subnet`);
  const rows = await db.select({ id: subnets.id }).from(subnets).where(sql`${subnets.cidr} >>= ${ip}::inet`);
  if (rows.length === 0) throw fieldError(ErrorCode.IP_NOT_IN_SUBNET, field, `${ip} lies in no known subnet`);
  if (rows.length > 1)
    throw fieldError(ErrorCode.AMBIGUOUS_SUBNET, field, `${ip} lies in several subnets: name one with "subnet"`);
  return findSubnet(db, rows[0]!.id);
}

async function resolveRanges(db: Database, input: PoolInput): Promise<ResolvedRange[]> {
  if (input.ranges.length === 0)
    throw fieldError(ErrorCode.VALIDATION_FAILED, 'ranges', 'a pool has at least one range');
  const resolved: ResolvedRange[] = [];
  for (const [i, range] of input.ranges.entries()) {
    const field = `ranges[${i}]`;
    let subnet: Subnet;
    let lo: bigint;
    let hi: bigint;
    if (range.start === undefined || range.end === undefined) {
      if (range.subnet === undefined || range.start !== undefined || range.end !== undefined) {
        throw fieldError(ErrorCode.VALIDATION_FAILED, field, 'give start and end, or a subnet for the whole of it');
      }
      subnet = await findSubnet(db, range.subnet, `${field}.subnet`);
      const prefix = checkPrefix('cidr', subnet.cidr);
      [lo, hi] = [firstOf(prefix), lastOf(prefix)];
    } else {
      const start = formatIp(checkAddress(`${field}.start`, range.start));
      subnet = await subnetOf(db, `${field}.start`, start, range.subnet);
      const prefix = checkPrefix('cidr', subnet.cidr);
      const [a, b] = [
        checkAddress(`${field}.start`, range.start, prefix.family),
        checkAddress(`${field}.end`, range.end, prefix.family),
      ];
      for (const [name, ip] of [
        ['start', a],
        ['end', b],
      ] as const) {
        if (!contains(prefix, ip)) {
          throw fieldError(ErrorCode.IP_NOT_IN_SUBNET, `${field}.${name}`, `${formatIp(ip)} is not in ${subnet.cidr}`);
        }
      }
      if (a.value > b.value) throw fieldError(ErrorCode.VALIDATION_FAILED, `${field}.end`, 'comes before start');
      [lo, hi] = [a.value, b.value];
    }
    for (const other of resolved) {
      if (other.subnet.id === subnet.id && other.lo <= hi && lo <= other.hi) {
        throw fieldError(ErrorCode.RANGE_OVERLAPS, field, 'overlaps another range of the pool');
      }
    }
    const gateway = range.gateway === undefined ? undefined : formatIp(checkAddress(`${field}.gateway`, range.gateway));
    const dnsServers = range.dnsServers?.map((dns, j) => formatIp(checkAddress(`${field}.dnsServers[${j}]`, dns)));
    // One family per pool: its claims' prefixes, exclusions and pre-allocations are read in it.
    const family = checkPrefix('cidr', subnet.cidr).family;
    const first = resolved[0] === undefined ? family : checkPrefix('cidr', resolved[0].subnet.cidr).family;
    if (family !== first) {
      throw fieldError(ErrorCode.INVALID_IP, field, `an IPv${family} range in a pool of IPv${first} ranges`);
    }
    resolved.push({ subnet, lo, hi, prefix: range.prefix, gateway, dnsServers });
  }
  return resolved;
}

/** Every other pool's ranges are off limits to this one, as this one's are to everything else. */
async function checkAgainstOtherPools(tx: Tx, ranges: ResolvedRange[]): Promise<void> {
  for (const [i, range] of ranges.entries()) {
    const family = checkPrefix('cidr', range.subnet.cidr).family;
    const [lo, hi] = [formatIp({ family, value: range.lo }), formatIp({ family, value: range.hi })];
    const [clash] = await tx
      .select({ pool: pools.name })
      .from(poolRanges)
      .innerJoin(pools, eq(pools.id, poolRanges.poolId))
      .where(
        and(
          eq(poolRanges.subnetId, range.subnet.id),
          sql`${poolRanges.start} <= ${hi}::inet`,
          sql`${poolRanges.end} >= ${lo}::inet`,
        ),
      )
      .limit(1);
    if (clash !== undefined)
      throw fieldError(ErrorCode.RANGE_OVERLAPS, `ranges[${i}]`, `overlaps a range of pool ${clash.pool}`);
  }
}

export async function createPool(db: Database, input: PoolInput): Promise<Pool> {
  const ranges = await resolveRanges(db, input);
  const family = checkPrefix('cidr', ranges[0]!.subnet.cidr).family;
  const exclusions = (input.exclusions ?? []).map((text, i) => {
    const parsed = parseExclusion(text, family);
    if (!parsed.ok) throw fieldError(ErrorCode.VALIDATION_FAILED, `exclusions[${i}]`, parsed.reason);
    return parsed.value;
  });
  const excluded = new IntervalSet(exclusions);
  const gateway = input.gateway === undefined ? undefined : formatIp(checkAddress('gateway', input.gateway));
  const dnsServers = input.dnsServers?.map((dns, i) => formatIp(checkAddress(`dnsServers[${i}]`, dns)));
  const preAllocations: Record<string, string> = {};
  const claimedBy = new Map<string, string>();
  for (const [claim, ip] of Object.entries(input.preAllocations ?? {})) {
    const field = `preAllocations.${claim}`;
    checkClaimName(field, claim);
    const address = checkAddress(field, ip, family);
    if (!ranges.some((r) => r.lo <= address.value && address.value <= r.hi)) {
      throw fieldError(ErrorCode.VALIDATION_FAILED, field, `${formatIp(address)} is in none of the pool's ranges`);
    }
    if (excluded.has(address.value))
      throw fieldError(ErrorCode.VALIDATION_FAILED, field, `${formatIp(address)} is excluded`);
    const text = formatIp(address);
    if (claimedBy.has(text)) {
      throw fieldError(ErrorCode.VALIDATION_FAILED, field, `${text} is pre-allocated to ${claimedBy.get(text)} too`);
    }
    claimedBy.set(text, claim);
    preAllocations[claim] = text;
  }
  const id = await db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${0x69_70_77_02})`); // "ipw" 2: pool ranges
    // What the pools' subnets hand out outside pools changes with the pool.
    await touchSubnets(
      tx,
      ranges.map((r) => r.subnet.id),
    );
    const [taken] = await tx.select({ id: pools.id }).from(pools).where(eq(pools.name, input.name));
    if (taken !== undefined) throw new ApiError(ErrorCode.NAME_TAKEN, `a pool named "${input.name}" exists`);
    await checkAgainstOtherPools(tx, ranges);
    const [row] = await tx
      .insert(pools)
      .values({
        name: input.name,
        namePrefix: input.namePrefix,
        prefix: input.prefix,
        gateway,
        dnsServers,
        preAllocations,
        exclusions: input.exclusions ?? [],
        allocation: input.allocation ?? 'sequential',
      })
      .returning({ id: pools.id });
    await tx.insert(poolRanges).values(
      ranges.map((r, position) => ({
        poolId: row!.id,
        subnetId: r.subnet.id,
        start: formatIp({ family, value: r.lo }),
        end: formatIp({ family, value: r.hi }),
        prefix: r.prefix,
        gateway: r.gateway,
        dnsServers: r.dnsServers,
        position,
      })),
    );
    return row!.id;
  });
  return findPool(db, id);
}

async function poolRow(db: Database | Tx, ref: string) {
  const byId = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(ref);
  const [row] = await db
    .select()
    .from(pools)
    .where(byId ? eq(pools.id, ref) : eq(pools.name, ref));
  if (row === undefined) throw new ApiError(ErrorCode.NOT_FOUND, `no pool ${ref}`);
  return row;
}

/** The ranges of the pools, each with its subnet's CIDR, in pool and position order. */
async function rangesOf(db: Database | Tx, poolIds: string[]) {
  return db
    .select({ range: poolRanges, cidr: subnets.cidr })
    .from(poolRanges)
    .innerJoin(subnets, eq(subnets.id, poolRanges.subnetId))
    .where(inArray(poolRanges.poolId, poolIds))
    .orderBy(asc(poolRanges.poolId), asc(poolRanges.position));
}

export async function findPool(db: Database, ref: string): Promise<Pool> {
  const [pool] = await poolsOf(db, [await poolRow(db, ref)]);
  return pool!;
}

/** Pools by name; `after` (a page's last name) and `limit` for keyset pagination. */
export async function listPools(db: Database, page: { limit?: number; after?: string } = {}): Promise<Pool[]> {
  const rows = await db
    .select()
    .from(pools)
    .where(page.after === undefined ? undefined : gt(pools.name, page.after))
    .orderBy(asc(pools.name))
    .limit(page.limit ?? 1000);
  return poolsOf(db, rows);
}

/** The pools of `rows` whole: their ranges and claims read for all of them at once. */
async function poolsOf(db: Database, rows: (typeof pools.$inferSelect)[]): Promise<Pool[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((row) => row.id);
  const rangesBy = new Map<string, Awaited<ReturnType<typeof rangesOf>>>(ids.map((id) => [id, []]));
  for (const r of await rangesOf(db, ids)) rangesBy.get(r.range.poolId)!.push(r);
  const claimsBy = new Map<string, Address[]>(ids.map((id) => [id, []]));
  for (const address of await readAddresses(db, { poolIds: ids, limit: ALL }))
    claimsBy.get(address.pool!)!.push(address);
  return rows.map((row) => ({
    id: row.id,
    name: row.name,
    namePrefix: row.namePrefix,
    ranges: rangesBy.get(row.id)!.map(({ range, cidr }) => ({
      start: canonicalIp(range.start),
      end: canonicalIp(range.end),
      subnet: range.subnetId,
      cidr: formatPrefix(checkPrefix('cidr', cidr)),
      ...(range.prefix !== null && { prefix: range.prefix }),
      ...(range.gateway !== null && { gateway: canonicalIp(range.gateway) }),
      ...(range.dnsServers !== null && { dnsServers: range.dnsServers.map(canonicalIp) }),
    })),
    ...(row.prefix !== null && { prefix: row.prefix }),
    ...(row.gateway !== null && { gateway: canonicalIp(row.gateway) }),
    ...(row.dnsServers !== null && { dnsServers: row.dnsServers.map(canonicalIp) }),
    preAllocations: row.preAllocations,
    exclusions: row.exclusions,
    allocation: row.allocation,
    status: { claims: Object.fromEntries(claimsBy.get(row.id)!.map((a) => [a.claim!, a.ip])) },
  }));
}

async function claimView(
  db: Database,
  pool: Pool,
  address: { ip: string; claim: string | null; mac: string | null },
): Promise<Claim> {
  const ip = ipValue(address.ip);
  const range = pool.ranges.find((r) => ipValue(r.start) <= ip && ip <= ipValue(r.end))!;
  const subnet = await findSubnet(db, range.subnet);
  return {
    name: `${pool.namePrefix}-${address.ip.replaceAll(/[.:]/g, '-')}`,
    address: address.ip,
    prefix: range.prefix ?? pool.prefix ?? checkPrefix('cidr', subnet.cidr).length,
    gateway: range.gateway ?? pool.gateway ?? subnet.gateway,
    dnsServers: range.dnsServers ?? pool.dnsServers ?? subnet.dnsServers,
    pool: pool.name,
    claim: address.claim!,
    mac: address.mac,
  };
}

/**
 * The claim's address: the one it holds (idempotent), its pre-allocation, the one asked for, or
 * the next free in the pool's ranges in order (sequential) or drawn at random — never excluded,
 * never another claim's pre-allocation, never allocated or observed in use.
 */
export async function claimAddress(
  db: Database,
  allocator: Allocator,
  principal: Principal,
  poolRef: string,
  claimName: string,
  input: { mac?: string; ip?: string },
  /** Import: the claims' hosts are likely up and seen, which must not refuse their own addresses. */
  options: { acceptObserved?: boolean } = {},
): Promise<Claim> {
  checkClaimName('claim', claimName);
  const pool = await findPool(db, poolRef);
  const held = async () => (await readAddresses(db, { poolId: pool.id, claim: claimName }))[0];
  const holding = await held();
  if (holding !== undefined) return claimView(db, pool, holding);
  const mac = input.mac === undefined ? null : checkMac('mac', input.mac);
  const family = checkAddress('ip', pool.ranges[0]!.start).family;
  const wanted =
    pool.preAllocations[claimName] ??
    (input.ip === undefined ? undefined : formatIp(checkAddress('ip', input.ip, family)));
  const excluded = new IntervalSet(
    pool.exclusions.map((text) => (parseExclusion(text, family) as { value: [bigint, bigint] }).value),
  );
  for (const [claim, ip] of Object.entries(pool.preAllocations))
    if (claim !== claimName) excluded.add(ipValue(ip), ipValue(ip));
  const inside = (r: PoolRange) => ipValue(r.start) <= ipValue(wanted!) && ipValue(wanted!) <= ipValue(r.end);
  const candidates = wanted === undefined ? pool.ranges : pool.ranges.filter(inside);
  if (candidates.length === 0)
    throw fieldError(ErrorCode.IP_NOT_IN_SUBNET, 'ip', `${wanted} is in none of the pool's ranges`);
  // Sequential: the ranges in their order, the lowest free address of each. Random: the ranges
  // drawn with odds by their size, an address drawn within each — any address of the pool about
  // as likely as any other, wherever it lies.
  const order =
    pool.allocation === 'random'
      ? drawOrder(candidates, (r) => ipValue(r.end) - ipValue(r.start) + 1n, random)
      : candidates;
  for (const range of order) {
    try {
      const got = await allocator.allocate({
        subnetId: range.subnet,
        within: new IntervalSet([[ipValue(range.start), ipValue(range.end)]]).minus(excluded),
        policy: pool.allocation === 'random' ? 'random' : 'lowest',
        ip: wanted,
        acceptObserved: options.acceptObserved === true,
        row: { kind: 'claim', ownerId: principal.id, mac, poolId: pool.id, claim: claimName },
      });
      return claimView(db, pool, { ip: got.ip, claim: claimName, mac });
    } catch (error) {
      if (error instanceof ApiError && error.kind === ErrorCode.SUBNET_EXHAUSTED) continue;
      // A concurrent PUT of the same claim won: answer with what it got.
      const won = retriable(error) ? await held() : undefined;
      if (won !== undefined) return claimView(db, pool, won);
      throw error;
    }
  }
  throw new ApiError(ErrorCode.SUBNET_EXHAUSTED, `no address of pool ${pool.name} is free`);
}

/** Releases a claim: its owner's or an admin's to release, as a reservation is. */
export async function releaseClaim(
  db: Database,
  principal: Principal,
  poolRef: string,
  claimName: string,
): Promise<Address> {
  const pool = await poolRow(db, poolRef);
  const [held] = await readAddresses(db, { poolId: pool.id, claim: claimName });
  if (held === undefined) throw new ApiError(ErrorCode.NOT_FOUND, `pool ${pool.name} has no claim ${claimName}`);
  if (principal.role !== 'admin' && held.owner !== principal.name) {
    throw new ApiError(ErrorCode.FORBIDDEN, `claim ${claimName} of pool ${pool.name} belongs to ${held.owner}`);
  }
  await db.transaction((tx) => freeAddresses(tx, [held]));
  return held;
}

/** The address a claim holds, as the allocations table has it (its subnet, its MAC). */
export async function claimedAddress(db: Database, poolRef: string, claimName: string): Promise<Address | undefined> {
  const pool = await poolRow(db, poolRef);
  return (await readAddresses(db, { poolId: pool.id, claim: claimName }))[0];
}

export async function deletePool(db: Database, poolRef: string, force: boolean): Promise<void> {
  const pool = await poolRow(db, poolRef);
  const claims = await readAddresses(db, { poolId: pool.id, limit: ALL });
  if (claims.length > 0 && !force) {
    throw new ApiError(
      ErrorCode.POOL_IN_USE,
      `pool ${pool.name} has ${claims.length} claims; delete them, or use ?force=true`,
    );
  }
  await db.transaction(async (tx) => {
    // Every subnet the pool has a range or a claim in, locked at once (in id order, as every
    // writer locks them): its ranges go with it.
    await touchSubnets(tx, [
      ...(await rangesOf(tx, [pool.id])).map(({ range }) => range.subnetId),
      ...claims.map((claim) => claim.subnet),
    ]);
    await freeAddresses(tx, claims);
    await tx.delete(pools).where(eq(pools.id, pool.id));
  });
}

/** The whole pool, its subnets and claims included, as `POST /pools/import` takes it. */
export interface PoolExport {
  pool: Omit<Pool, 'id' | 'status' | 'ranges'> & { ranges: (PoolRangeInput & { start: string; end: string })[] };
  subnets: { cidr: string; vlan: number; gateway: string | null; dnsServers: string[] }[];
  claims: { claim: string; ip: string; mac: string | null }[];
}

export async function exportPool(db: Database, poolRef: string): Promise<PoolExport> {
  const { id: _, status: __, ranges, ...spec } = await findPool(db, poolRef);
  const subnetIds = [...new Set(ranges.map((r) => r.subnet))];
  const subnetList = await Promise.all(subnetIds.map((id) => findSubnet(db, id)));
  const claims = await readAddresses(db, { poolId: _, limit: ALL });
  return {
    pool: {
      ...spec,
      ranges: ranges.map(({ subnet: __s, cidr, ...range }) => ({ ...range, subnet: cidr })),
    },
    subnets: subnetList.map((s) => ({ cidr: s.cidr, vlan: s.vlan, gateway: s.gateway, dnsServers: s.dnsServers })),
    claims: claims.map((a) => ({ claim: a.claim!, ip: a.ip, mac: a.mac })),
  };
}

/**
 * Recreates an exported pool: its subnets where missing, then every claim at its address. All or
 * nothing: the document is checked whole before anything is written, and whatever a later step's
 * failure would leave (a pool name taken, an address in use) is undone — the pool with its
 * claims, then the subnets the import made.
 */
export async function importPool(
  db: Database,
  allocator: Allocator,
  principal: Principal,
  doc: PoolExport,
): Promise<Pool> {
  const cidrs = doc.subnets.map((subnet, i) => formatPrefix(checkPrefix(`subnets[${i}].cidr`, subnet.cidr)));
  // Ranges given as a whole subnet are known only once it is; their claims are checked on claiming.
  const spans = doc.pool.ranges.every((range) => range.start !== undefined && range.end !== undefined)
    ? doc.pool.ranges.map((range, i) => [
        checkAddress(`pool.ranges[${i}].start`, range.start!).value,
        checkAddress(`pool.ranges[${i}].end`, range.end!).value,
      ])
    : undefined;
  for (const [i, claim] of doc.claims.entries()) {
    checkClaimName(`claims[${i}].claim`, claim.claim);
    const ip = checkAddress(`claims[${i}].ip`, claim.ip);
    if (spans !== undefined && !spans.some(([lo, hi]) => lo! <= ip.value && ip.value <= hi!)) {
      throw fieldError(ErrorCode.IP_NOT_IN_SUBNET, `claims[${i}].ip`, `${claim.ip} is in none of the pool's ranges`);
    }
    if (claim.mac !== null) checkMac(`claims[${i}].mac`, claim.mac);
  }
  const made: string[] = [];
  let poolId: string | undefined;
  try {
    for (const [i, subnet] of doc.subnets.entries()) {
      const [existing] = await db
        .select({ id: subnets.id })
        .from(subnets)
        .where(and(sql`${subnets.cidr} = ${cidrs[i]}::cidr`, eq(subnets.vlan, subnet.vlan)));
      if (existing !== undefined) continue;
      const created = await createSubnet(db, {
        cidr: cidrs[i]!,
        vlan: subnet.vlan,
        gateway: subnet.gateway,
        dnsServers: subnet.dnsServers,
      });
      made.push(created.id);
    }
    poolId = (await createPool(db, doc.pool)).id;
    for (const claim of doc.claims) {
      await claimAddress(
        db,
        allocator,
        principal,
        poolId,
        claim.claim,
        { ip: claim.ip, ...(claim.mac !== null && { mac: claim.mac }) },
        { acceptObserved: true },
      );
    }
    return await findPool(db, poolId);
  } catch (error) {
    // Undone in the reverse order of making; a failure here (the database gone) leaves the
    // original error to answer with.
    try {
      if (poolId !== undefined) await deletePool(db, poolId, true);
      for (const id of made.reverse()) await deleteSubnet(db, id, true);
    } catch {}
    throw error;
  }
}
