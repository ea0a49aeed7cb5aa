/**
 * The allocations table and the allocator (API.md, "Addresses"). Allocation runs in one
 * transaction per request with the subnet's row locked — concurrent requests on one subnet take
 * turns, other subnets are not held up — and the database's unique (subnet, ip) constraint
 * stands behind it. The next free address comes from the `taken_runs` bookkeeping and the few
 * spans the subnet never hands out, walked through indexes: no step reads the subnet's
 * addresses one by one.
 */
import { randomBytes } from 'node:crypto';
import {
  type AllocationPolicy,
  contains,
  firstOf,
  formatIp,
  formatPrefix,
  IntervalSet,
  lastOf,
  pickFree,
  randomBelowFrom,
  unavailableIn,
} from '@ipwarden/ipam';
import { and, asc, eq, sql } from 'drizzle-orm';
import type { Principal } from '../auth/users.js';
import type { Database } from '../db/database.js';
import {
  type AddressKind,
  addresses,
  bindings,
  nodeInterfaces,
  nodes,
  poolRanges,
  ranges,
  subnets,
  takenRuns,
  users,
} from '../db/schema/index.js';
import { ApiError, ErrorCode, type ErrorKind, fieldError } from '../errors.js';
import { readSettings } from '../settings.js';
import { checkAddress, checkPrefix, findSubnet, ipValue, type Subnet } from './subnet-store.js';

export type Tx = Parameters<Parameters<Database['transaction']>[0]>[0];

const random = randomBelowFrom((length) => randomBytes(length));
/** Random draws before a nearly full subnet is searched from its lowest address instead. */
const RANDOM_ATTEMPTS = 32;
/** Addresses observed in use that one search steps over before it gives up. */
const MAX_OBSERVED_SKIPS = 4096;

/** Kinds made through POST /addresses, and who may make them (the others come with nodes and pools). */
const KINDS: Partial<Record<AddressKind, { adminOnly: boolean; macRequired: boolean; nodeRequired?: boolean }>> = {
  reserved: { adminOnly: false, macRequired: false },
  device: { adminOnly: true, macRequired: true },
  sticky: { adminOnly: true, macRequired: true },
  extra: { adminOnly: true, macRequired: true, nodeRequired: true },
};
/** Made by the system itself: node deploy (auto); pools come with their own issue (claim). */
const INTERNAL_KINDS: Partial<Record<AddressKind, { adminOnly: boolean; macRequired: boolean }>> = {
  auto: { adminOnly: true, macRequired: true },
};

export interface AddressInput {
  subnet: string;
  kind: AddressKind;
  ip?: string;
  mac?: string;
  hostname?: string;
  /** The node (id) the address belongs to. */
  node?: string;
  comment?: string;
  force?: boolean;
}

export interface Address {
  ip: string;
  subnet: string;
  cidr: string;
  kind: AddressKind;
  mac: string | null;
  hostname: string | null;
  node: string | null;
  pool: string | null;
  claim: string | null;
  owner: string;
  comment: string | null;
  createdAt: string;
  /** The latest sighting of the address, if any. */
  lastSeen: string | null;
  seenMac: string | null;
  /** The DHCP push comes with its own issue: until then no agent waits for a map. */
  dhcp: { state: 'none'; version: null; agents: [] };
}

/** PostgreSQL's unique_violation and serialization_failure: a race lost, worth one more try. */
export function retriable(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Object && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (code === '23505' || code === '40001') return true;
  }
  return false;
}

/** A MAC address in its one form (lowercase, colons); `kind` is the code a bad one answers with. */
export function checkMac(field: string, text: string, kind: ErrorKind = ErrorCode.INVALID_MAC): string {
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(text)) {
    throw fieldError(kind, field, `"${text}" is not a MAC address (aa:bb:cc:dd:ee:ff)`);
  }
  return text.toLowerCase();
}

/** RFC 1123 2.1 host names: dot-separated labels of letters, digits and inner hyphens. */
export function checkHostname(field: string, text: string): string {
  const label = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;
  if (text.length > 253 || !text.split('.').every((part) => label.test(part))) {
    throw fieldError(ErrorCode.INVALID_HOSTNAME, field, `"${text}" is not a host name`);
  }
  return text.toLowerCase();
}

const ip = (family: 4 | 6, value: bigint): string => formatIp({ family, value });

/** Whether `text` was seen in use within the observation window, and by whom. */
async function observed(
  tx: Tx,
  text: string,
  windowSeconds: number,
): Promise<{ mac: string; lastSeen: Date } | undefined> {
  const [row] = await tx
    .select({ mac: bindings.mac, lastSeen: bindings.lastSeen })
    .from(bindings)
    .where(
      and(
        sql`${bindings.ip} = ${text}::inet`,
        sql`${bindings.lastSeen} > now() - make_interval(secs => ${windowSeconds})`,
      ),
    )
    .orderBy(sql`${bindings.lastSeen} desc`)
    .limit(1);
  return row;
}

/** The run of allocated addresses holding `value`, or the first one after it. */
async function runAtOrAfter(tx: Tx, subnetId: string, text: string): Promise<{ lo: string; hi: string } | undefined> {
  const [run] = await tx
    .select({ lo: takenRuns.lo, hi: takenRuns.hi })
    .from(takenRuns)
    .where(and(eq(takenRuns.subnetId, subnetId), sql`${takenRuns.hi} >= ${text}::inet`))
    .orderBy(asc(takenRuns.hi))
    .limit(1);
  return run;
}

export interface Plan {
  subnet: Subnet;
  family: 4 | 6;
  /** Addresses the subnet may ever hand out: its usable span minus gateway, DNS servers and ranges. */
  available: IntervalSet;
  windowSeconds: number;
}

/** Why `value` may not be handed out, or undefined if it may (force: observed use is overridden). */
export async function refusal(tx: Tx, plan: Plan, value: bigint, force: boolean): Promise<ApiError | undefined> {
  const text = ip(plan.family, value);
  if (!plan.available.has(value)) {
    return fieldError(
      ErrorCode.IP_UNAVAILABLE,
      'ip',
      `${text} is never handed out in ${plan.subnet.cidr}: the network or broadcast address, the gateway, a DNS server, or in a range`,
    );
  }
  const run = await runAtOrAfter(tx, plan.subnet.id, text);
  if (run !== undefined && checkAddress('ip', run.lo).value <= value) {
    return fieldError(ErrorCode.IP_IN_USE, 'ip', `${text} is allocated`);
  }
  if (!force) {
    const seen = await observed(tx, text, plan.windowSeconds);
    if (seen !== undefined) {
      return fieldError(
        ErrorCode.IP_IN_USE,
        'ip',
        `${text} was seen in use by ${seen.mac} at ${seen.lastSeen.toISOString()}; an admin may force it`,
      );
    }
  }
  return undefined;
}

/**
 * The lowest free address at or after `from`: steps over spans never handed out and runs of
 * allocated addresses by index lookups, and over addresses observed in use one at a time.
 */
async function lowestFree(tx: Tx, plan: Plan, from: bigint): Promise<bigint | undefined> {
  let value: bigint | undefined = from;
  let skips = 0;
  for (;;) {
    value = plan.available.firstAtOrAfter(value);
    if (value === undefined) return undefined;
    const text = ip(plan.family, value);
    const run = await runAtOrAfter(tx, plan.subnet.id, text);
    if (run !== undefined && checkAddress('lo', run.lo).value <= value) {
      value = checkAddress('hi', run.hi).value + 1n;
      continue;
    }
    if ((await observed(tx, text, plan.windowSeconds)) === undefined) return value;
    if (++skips > MAX_OBSERVED_SKIPS) return undefined;
    value += 1n;
  }
}

export async function pick(tx: Tx, plan: Plan, policy: AllocationPolicy): Promise<bigint | undefined> {
  if (policy === 'random') {
    for (let attempt = 0; attempt < RANDOM_ATTEMPTS; attempt++) {
      const value = pickFree(plan.available, 'random', random);
      if (value === undefined) return undefined;
      if ((await refusal(tx, plan, value, false)) === undefined) return value;
    }
  }
  return lowestFree(tx, plan, plan.available.first() ?? 0n);
}

/** Adds `value` to the subnet's runs, joining the runs next to it. */
export async function markTaken(tx: Tx, subnetId: string, family: 4 | 6, value: bigint): Promise<void> {
  const [before, at, after] = [ip(family, value - 1n), ip(family, value), ip(family, value + 1n)];
  const [left] = await tx
    .select({ lo: takenRuns.lo })
    .from(takenRuns)
    .where(and(eq(takenRuns.subnetId, subnetId), sql`${takenRuns.hi} = ${before}::inet`));
  const [right] = await tx
    .delete(takenRuns)
    .where(and(eq(takenRuns.subnetId, subnetId), sql`${takenRuns.lo} = ${after}::inet`))
    .returning({ hi: takenRuns.hi });
  const hi = right?.hi ?? at;
  if (left !== undefined) {
    await tx
      .update(takenRuns)
      .set({ hi })
      .where(and(eq(takenRuns.subnetId, subnetId), sql`${takenRuns.lo} = ${left.lo}::inet`));
  } else {
    await tx.insert(takenRuns).values({ subnetId, lo: at, hi });
  }
}

/** Takes `value` out of the subnet's runs, splitting the run that held it. */
async function markFree(tx: Tx, subnetId: string, family: 4 | 6, value: bigint): Promise<void> {
  const at = ip(family, value);
  const [run] = await tx
    .delete(takenRuns)
    .where(
      and(eq(takenRuns.subnetId, subnetId), sql`${takenRuns.lo} <= ${at}::inet`, sql`${takenRuns.hi} >= ${at}::inet`),
    )
    .returning({ lo: takenRuns.lo, hi: takenRuns.hi });
  if (run === undefined) return;
  const [lo, hi] = [checkAddress('lo', run.lo).value, checkAddress('hi', run.hi).value];
  const pieces: { subnetId: string; lo: string; hi: string }[] = [];
  if (lo < value) pieces.push({ subnetId, lo: run.lo, hi: ip(family, value - 1n) });
  if (value < hi) pieces.push({ subnetId, lo: ip(family, value + 1n), hi: run.hi });
  if (pieces.length > 0) await tx.insert(takenRuns).values(pieces);
}

/**
 * What `subnet` may hand out: its usable span less gateway, DNS servers, dynamic and reserved
 * ranges — and less every pool's ranges, unless `within` names the span of a pool's own range
 * (less that pool's exclusions), which is then all it may hand out.
 */
export async function planFor(tx: Tx, subnet: Subnet, windowSeconds: number, within?: IntervalSet): Promise<Plan> {
  const prefix = checkPrefix('cidr', subnet.cidr);
  // One round trip for the subnet's ranges and, for an allocation outside pools, the pools' ranges.
  const spans = tx.select({ start: ranges.start, end: ranges.end }).from(ranges).where(eq(ranges.subnetId, subnet.id));
  const spanRows = await (within === undefined
    ? spans.unionAll(
        tx
          .select({ start: poolRanges.start, end: poolRanges.end })
          .from(poolRanges)
          .where(eq(poolRanges.subnetId, subnet.id)),
      )
    : spans);
  const unavailable = unavailableIn(prefix, {
    addresses: [subnet.gateway, ...subnet.dnsServers].filter((a): a is string => a !== null).map(ipValue),
    spans: spanRows.map((span) => [ipValue(span.start), ipValue(span.end)] as const),
  });
  return {
    subnet,
    family: prefix.family,
    available: (within ?? new IntervalSet([[firstOf(prefix), lastOf(prefix)]])).minus(unavailable),
    windowSeconds,
  };
}

export async function allocateAddress(
  db: Database,
  principal: Principal,
  input: AddressInput,
  internal = false,
): Promise<Address> {
  const rule = KINDS[input.kind] ?? (internal ? INTERNAL_KINDS[input.kind] : undefined);
  if (rule === undefined) {
    throw fieldError(
      ErrorCode.VALIDATION_FAILED,
      'kind',
      `${input.kind} addresses come with nodes and pools, not POST /addresses`,
    );
  }
  if (rule.adminOnly && principal.role !== 'admin') {
    throw new ApiError(ErrorCode.FORBIDDEN, `only an admin makes ${input.kind} addresses`);
  }
  if (input.force && principal.role !== 'admin')
    throw new ApiError(ErrorCode.FORBIDDEN, 'only an admin may force an address');
  const mac = input.mac === undefined ? undefined : checkMac('mac', input.mac);
  if (rule.macRequired && mac === undefined) {
    throw fieldError(ErrorCode.VALIDATION_FAILED, 'mac', `${input.kind} addresses carry the MAC they belong to`);
  }
  const hostname = input.hostname === undefined ? undefined : checkHostname('hostname', input.hostname);
  if ('nodeRequired' in rule && rule.nodeRequired && input.node === undefined) {
    throw fieldError(ErrorCode.VALIDATION_FAILED, 'node', `${input.kind} addresses belong to a node`);
  }
  if (input.node !== undefined) {
    const [owned] = await db
      .select({ mac: nodeInterfaces.mac })
      .from(nodeInterfaces)
      .where(
        and(
          eq(nodeInterfaces.nodeId, input.node),
          mac === undefined ? undefined : sql`${nodeInterfaces.mac} = ${mac}::macaddr`,
        ),
      );
    if (owned === undefined) {
      const [node] = await db.select({ id: nodes.id }).from(nodes).where(eq(nodes.id, input.node));
      if (node === undefined) throw new ApiError(ErrorCode.NOT_FOUND, `no node ${input.node}`);
      throw fieldError(ErrorCode.VALIDATION_FAILED, 'mac', `${mac} is not an interface of node ${input.node}`);
    }
  }
  const subnet = await findSubnet(db, input.subnet);
  if (!subnet.managed) throw new ApiError(ErrorCode.SUBNET_UNMANAGED, `${subnet.cidr} is watched, not allocated from`);
  const prefix = checkPrefix('cidr', subnet.cidr);
  const wanted = input.ip === undefined ? undefined : checkAddress('ip', input.ip, prefix.family);
  if (wanted !== undefined && !contains(prefix, wanted)) {
    throw fieldError(ErrorCode.IP_NOT_IN_SUBNET, 'ip', `${formatIp(wanted)} is not in ${subnet.cidr}`);
  }

  // Read before the lock, which is held for as few round trips as the allocation needs.
  const { observationWindowSeconds } = await readSettings(db);
  for (let attempt = 1; ; attempt++) {
    try {
      const text = await db.transaction(async (tx) => {
        // The subnet's row is its allocation lock: one allocation at a time per subnet. NO KEY:
        // rows of other tables that reference the subnet are not held up by it.
        await tx.select({ id: subnets.id }).from(subnets).where(eq(subnets.id, subnet.id)).for('no key update');
        const plan = await planFor(tx, subnet, observationWindowSeconds);
        let value: bigint;
        if (wanted !== undefined) {
          const refused = await refusal(tx, plan, wanted.value, input.force === true);
          if (refused !== undefined) throw refused;
          value = wanted.value;
        } else {
          const found = await pick(tx, plan, subnet.allocation);
          if (found === undefined)
            throw new ApiError(ErrorCode.SUBNET_EXHAUSTED, `no address of ${subnet.cidr} is free`);
          value = found;
        }
        const text = ip(plan.family, value);
        await tx.insert(addresses).values({
          subnetId: subnet.id,
          ip: text,
          kind: input.kind,
          mac: mac ?? null,
          hostname: hostname ?? null,
          nodeId: input.node ?? null,
          ownerId: principal.id,
          comment: input.comment ?? null,
        });
        await markTaken(tx, subnet.id, plan.family, value);
        return text;
      });
      return (await readAddresses(db, { subnetId: subnet.id, ip: text }))[0]!;
    } catch (error) {
      if (attempt < 3 && retriable(error)) continue;
      throw error;
    }
  }
}

interface AddressQuery {
  subnetId?: string;
  ip?: string;
  kind?: string;
  ownerId?: string;
  mac?: string;
  nodeId?: string;
  poolId?: string;
  claim?: string;
  limit?: number;
  after?: { ip: string; subnetId: string };
}

export async function readAddresses(tx: Tx | Database, query: AddressQuery): Promise<Address[]> {
  const where = [
    query.subnetId === undefined ? undefined : eq(addresses.subnetId, query.subnetId),
    query.ip === undefined ? undefined : sql`${addresses.ip} = ${query.ip}::inet`,
    query.kind === undefined ? undefined : eq(addresses.kind, query.kind as AddressKind),
    query.ownerId === undefined ? undefined : eq(addresses.ownerId, query.ownerId),
    query.mac === undefined ? undefined : sql`${addresses.mac} = ${query.mac}::macaddr`,
    query.nodeId === undefined ? undefined : eq(addresses.nodeId, query.nodeId),
    query.poolId === undefined ? undefined : eq(addresses.poolId, query.poolId),
    query.claim === undefined ? undefined : eq(addresses.claim, query.claim),
    query.after === undefined
      ? undefined
      : sql`(${addresses.ip}, ${addresses.subnetId}) > (${query.after.ip}::inet, ${query.after.subnetId}::uuid)`,
  ];
  const rows = await tx
    .select({
      address: addresses,
      cidr: subnets.cidr,
      owner: users.name,
      lastSeen:
        sql<Date | null>`(select max(${bindings.lastSeen}) from ${bindings} where ${bindings.ip} = ${addresses.ip})`.mapWith(
          (value: string | Date | null) => (value === null ? null : new Date(value)),
        ),
      seenMac: sql<
        string | null
      >`(select ${bindings.mac}::text from ${bindings} where ${bindings.ip} = ${addresses.ip} order by ${bindings.lastSeen} desc limit 1)`,
    })
    .from(addresses)
    .innerJoin(subnets, eq(subnets.id, addresses.subnetId))
    .innerJoin(users, eq(users.id, addresses.ownerId))
    .where(and(...where))
    .orderBy(asc(addresses.ip), asc(addresses.subnetId))
    .limit(query.limit ?? 1000);
  return rows.map(({ address: a, cidr, owner, lastSeen, seenMac }) => ({
    ip: formatIp(checkAddress('ip', a.ip)),
    subnet: a.subnetId,
    cidr: formatPrefix(checkPrefix('cidr', cidr)),
    kind: a.kind,
    mac: a.mac,
    hostname: a.hostname,
    node: a.nodeId,
    pool: a.poolId,
    claim: a.claim,
    owner,
    comment: a.comment,
    createdAt: a.createdAt.toISOString(),
    lastSeen: lastSeen?.toISOString() ?? null,
    seenMac,
    dhcp: { state: 'none', version: null, agents: [] },
  }));
}

export interface AddressFilter {
  subnet?: string;
  node?: string;
  kind?: string;
  owner?: string;
  mac?: string;
  limit: number;
  cursor?: { ip: string; subnetId: string };
}

export async function listAddresses(db: Database, filter: AddressFilter): Promise<Address[]> {
  const subnetId = filter.subnet === undefined ? undefined : (await findSubnet(db, filter.subnet)).id;
  let ownerId: string | undefined;
  if (filter.owner !== undefined) {
    const [owner] = await db.select({ id: users.id }).from(users).where(eq(users.name, filter.owner));
    if (owner === undefined) return [];
    ownerId = owner.id;
  }
  return readAddresses(db, {
    subnetId,
    kind: filter.kind,
    ownerId,
    mac: filter.mac === undefined ? undefined : checkMac('mac', filter.mac),
    nodeId: filter.node,
    limit: filter.limit,
    after: filter.cursor,
  });
}

/** The one address `text` names (in `subnet`, when the same IP is allocated on several VLANs). */
export async function findAddress(db: Database, text: string, subnet?: string): Promise<Address> {
  const address = formatIp(checkAddress('ip', text));
  const subnetId = subnet === undefined ? undefined : (await findSubnet(db, subnet)).id;
  const found = await readAddresses(db, { ip: address, subnetId, limit: 2 });
  if (found.length === 0) throw new ApiError(ErrorCode.NOT_FOUND, `${address} is not allocated`);
  if (found.length > 1) {
    throw new ApiError(
      ErrorCode.AMBIGUOUS_ADDRESS,
      `${address} is allocated in ${found.map((a) => a.cidr).join(' and ')}: add ?subnet=`,
    );
  }
  return found[0]!;
}

/** Releases an address: its owner or an admin; a reservation of another user is theirs to release. */
export async function releaseAddress(db: Database, principal: Principal, text: string, subnet?: string): Promise<void> {
  const address = await findAddress(db, text, subnet);
  if (principal.role !== 'admin' && address.owner !== principal.name) {
    throw new ApiError(ErrorCode.FORBIDDEN, `${address.ip} belongs to ${address.owner}`);
  }
  await db.transaction((tx) => freeAddresses(tx, [address]));
}

export async function updateAddress(
  db: Database,
  principal: Principal,
  text: string,
  change: { hostname?: string | null; mac?: string | null; comment?: string | null },
  subnet?: string,
): Promise<Address> {
  const address = await findAddress(db, text, subnet);
  if (principal.role !== 'admin' && address.owner !== principal.name) {
    throw new ApiError(ErrorCode.FORBIDDEN, `${address.ip} belongs to ${address.owner}`);
  }
  const mac = change.mac === undefined || change.mac === null ? change.mac : checkMac('mac', change.mac);
  if (mac === null && KINDS[address.kind]?.macRequired) {
    throw fieldError(ErrorCode.VALIDATION_FAILED, 'mac', `${address.kind} addresses carry a MAC`);
  }
  const hostname =
    change.hostname === undefined || change.hostname === null
      ? change.hostname
      : checkHostname('hostname', change.hostname);
  const values = { mac, hostname, comment: change.comment };
  if (Object.values(values).some((v) => v !== undefined)) {
    await db
      .update(addresses)
      .set(values)
      .where(and(eq(addresses.subnetId, address.subnet), sql`${addresses.ip} = ${address.ip}::inet`));
  }
  return findAddress(db, address.ip, address.subnet);
}

/**
 * Frees the given addresses in one transaction: each subnet locked (in id order, so two of
 * these never wait on each other crosswise), the rows deleted and the runs split.
 */
export async function freeAddresses(tx: Tx, freed: readonly { subnet: string; ip: string }[]): Promise<void> {
  const bySubnet = [...new Set(freed.map((a) => a.subnet))].sort();
  for (const subnetId of bySubnet) {
    await tx.select({ id: subnets.id }).from(subnets).where(eq(subnets.id, subnetId)).for('no key update');
  }
  for (const address of freed) {
    const ipValue = checkAddress('ip', address.ip);
    const deleted = await tx
      .delete(addresses)
      .where(and(eq(addresses.subnetId, address.subnet), sql`${addresses.ip} = ${address.ip}::inet`))
      .returning({ id: addresses.id });
    if (deleted.length > 0) await markFree(tx, address.subnet, ipValue.family, ipValue.value);
  }
}
