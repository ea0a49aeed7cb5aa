/**
 * The allocations table (API.md, "Addresses"): who may make which kind of address, the API's
 * view of an address, listing, changing and releasing. Handing addresses out is the
 * allocator's (allocator.ts); freeing them here keeps its `taken_runs` bookkeeping in step.
 */

import { formatIp, formatPrefix } from '@ipwarden/ipam';
import { isDhcpHostname } from '@ipwarden/protocol';
import { and, asc, desc, eq, inArray, sql } from 'drizzle-orm';
import type { Principal } from '../auth/users.js';
import type { Database, Tx } from '../db/database.js';
import {
  type AddressKind,
  addresses,
  bindings,
  nodeInterfaces,
  nodes,
  subnets,
  takenRuns,
  users,
} from '../db/schema/index.js';
import { type DhcpOutcome, NO_DHCP } from '../dhcp/dhcp-wait.js';
import { ApiError, ErrorCode, type ErrorKind, fieldError } from '../errors.js';
import type { Allocator } from './allocator.js';
import { canonicalIp, checkAddress, checkPrefix, findSubnet, subnetIdOf, touchSubnets } from './subnet-store.js';

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
  /** Where the DHCP maps stand with this address (API.md, "DHCP wait"); filled in by the route that changed it. */
  dhcp: DhcpOutcome;
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
  // What DHCP can carry (option 12): an address's name goes into the DHCP maps.
  if (!isDhcpHostname(text)) {
    throw fieldError(ErrorCode.INVALID_HOSTNAME, field, `"${text}" is not a host name`);
  }
  return text.toLowerCase();
}

const ip = (family: 4 | 6, value: bigint): string => formatIp({ family, value });

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

export async function allocateAddress(
  db: Database,
  allocator: Allocator,
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
  // The address's form now; its family and place in the subnet once the subnet is read.
  if (input.ip !== undefined) checkAddress('ip', input.ip);
  const row = {
    kind: input.kind,
    ownerId: principal.id,
    mac: mac ?? null,
    hostname: hostname ?? null,
    nodeId: input.node ?? null,
    comment: input.comment ?? null,
  };
  const subnetId = await subnetIdOf(db, input.subnet);
  if (mac !== undefined && input.kind !== 'reserved') await checkMacUnmapped(db, subnetId, mac);
  const got = await allocator.allocate({
    subnetId,
    ip: input.ip,
    acceptObserved: input.force === true,
    row,
  });
  return addressOf({ ...row, ...got, owner: principal.name });
}

/**
 * A DHCP map holds one address per MAC in a subnet (a server hands a client one): a second
 * address in the map for a MAC that has one is refused, naming the one it has. (Should two
 * calls race past this check, the map still holds one: the oldest — dhcp/map-store.ts.)
 */
async function checkMacUnmapped(db: Database | Tx, subnetId: string, mac: string, exceptIp?: string): Promise<void> {
  const [held] = await db
    .select({ ip: addresses.ip, kind: addresses.kind })
    .from(addresses)
    .where(
      and(
        eq(addresses.subnetId, subnetId),
        sql`${addresses.mac} = ${mac}::macaddr and ${addresses.kind} <> 'reserved'`,
        exceptIp === undefined ? undefined : sql`${addresses.ip} <> ${exceptIp}::inet`,
      ),
    )
    .limit(1);
  if (held !== undefined) {
    throw fieldError(
      ErrorCode.MAC_IN_DHCP_MAP,
      'mac',
      `${mac} already has ${canonicalIp(held.ip)} (${held.kind}) in this subnet's DHCP map, and DHCP hands a MAC one address in a subnet: release or change that one first, or make this one reserved`,
    );
  }
}

/** An address as the API shows it, from its row and what is known around it. */
function addressOf(a: {
  ip: string;
  subnetId: string;
  cidr: string;
  kind: AddressKind;
  mac: string | null;
  hostname: string | null;
  nodeId: string | null;
  poolId?: string | null;
  claim?: string | null;
  owner: string;
  comment: string | null;
  createdAt: Date;
  lastSeen: Date | null;
  seenMac: string | null;
}): Address {
  return {
    ip: canonicalIp(a.ip),
    subnet: a.subnetId,
    cidr: formatPrefix(checkPrefix('cidr', a.cidr)),
    kind: a.kind,
    mac: a.mac,
    hostname: a.hostname,
    node: a.nodeId,
    pool: a.poolId ?? null,
    claim: a.claim ?? null,
    owner: a.owner,
    comment: a.comment,
    createdAt: a.createdAt.toISOString(),
    lastSeen: a.lastSeen?.toISOString() ?? null,
    seenMac: a.seenMac,
    dhcp: NO_DHCP,
  };
}

/** A limit that is none: every row (claims of a pool, addresses of a page of nodes). */
export const ALL = Number.MAX_SAFE_INTEGER;

interface AddressQuery {
  subnetId?: string;
  ip?: string;
  kind?: string;
  ownerId?: string;
  mac?: string;
  nodeId?: string;
  /** Any of these nodes' addresses (a page of nodes, read at once). */
  nodeIds?: string[];
  poolId?: string;
  /** Any of these pools' addresses. */
  poolIds?: string[];
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
    query.nodeIds === undefined ? undefined : inArray(addresses.nodeId, query.nodeIds),
    query.poolIds === undefined ? undefined : inArray(addresses.poolId, query.poolIds),
    query.claim === undefined ? undefined : eq(addresses.claim, query.claim),
    query.after === undefined
      ? undefined
      : sql`(${addresses.ip}, ${addresses.subnetId}) > (${query.after.ip}::inet, ${query.after.subnetId}::uuid)`,
  ];
  // The address's latest sighting, if any: one index lookup per address.
  const seen = tx
    .select({ mac: bindings.mac, lastSeen: bindings.lastSeen })
    .from(bindings)
    .where(eq(bindings.ip, addresses.ip))
    .orderBy(desc(bindings.lastSeen))
    .limit(1)
    .as('seen');
  const rows = await tx
    .select({ address: addresses, cidr: subnets.cidr, owner: users.name, lastSeen: seen.lastSeen, seenMac: seen.mac })
    .from(addresses)
    .innerJoin(subnets, eq(subnets.id, addresses.subnetId))
    .innerJoin(users, eq(users.id, addresses.ownerId))
    .leftJoinLateral(seen, sql`true`)
    .where(and(...where))
    .orderBy(asc(addresses.ip), asc(addresses.subnetId))
    .limit(query.limit ?? 1000);
  return rows.map(({ address, cidr, owner, lastSeen, seenMac }) =>
    addressOf({ ...address, cidr, owner, lastSeen, seenMac }),
  );
}

export interface AddressFilter {
  subnet?: string;
  /** One address (on every VLAN it is allocated on): an empty list, not a 404, when it is free. */
  ip?: string;
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
    ...(filter.ip !== undefined && { ip: formatIp(checkAddress('ip', filter.ip)) }),
    kind: filter.kind,
    ownerId,
    mac: filter.mac === undefined ? undefined : checkMac('mac', filter.mac),
    nodeId: filter.node,
    limit: filter.limit,
    after: filter.cursor,
  });
}

/** Who holds how many addresses, of which kinds: the admin's overview that finds leaks (API.md). */
export interface OwnerHolding {
  owner: string;
  role: string;
  total: number;
  byKind: Record<string, number>;
}

export async function addressOwners(db: Database): Promise<OwnerHolding[]> {
  const rows = await db
    .select({ owner: users.name, role: users.role, kind: addresses.kind, n: sql<number>`count(*)::int` })
    .from(addresses)
    .innerJoin(users, eq(users.id, addresses.ownerId))
    .groupBy(users.name, users.role, addresses.kind)
    .orderBy(asc(users.name));
  const owners = new Map<string, OwnerHolding>();
  for (const { owner, role, kind, n } of rows) {
    const holding = owners.get(owner) ?? { owner, role, total: 0, byKind: {} };
    holding.total += n;
    holding.byKind[kind] = n;
    owners.set(owner, holding);
  }
  // The largest holders first: a leak is a user holding far more than the rest.
  return [...owners.values()].sort((a, b) => b.total - a.total || a.owner.localeCompare(b.owner));
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
export async function releaseAddress(
  db: Database,
  principal: Principal,
  text: string,
  subnet?: string,
): Promise<Address> {
  const address = await findAddress(db, text, subnet);
  if (principal.role !== 'admin' && address.owner !== principal.name) {
    throw new ApiError(ErrorCode.FORBIDDEN, `${address.ip} belongs to ${address.owner}`);
  }
  await db.transaction((tx) => freeAddresses(tx, [address]));
  return address;
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
  // The MAC it had is kept a while: its host's last frames are not a conflict (conflict-rules.ts).
  const macChanged = mac !== undefined && mac !== address.mac;
  if (macChanged && mac !== null && address.kind !== 'reserved') {
    await checkMacUnmapped(db, address.subnet, mac, address.ip);
  }
  const values = {
    mac,
    hostname,
    comment: change.comment,
    ...(macChanged && { previousMac: address.mac, macChangedAt: new Date() }),
  };
  if (Object.values(values).some((v) => v !== undefined)) {
    await db.transaction(async (tx) => {
      // A new MAC is a change of what the subnet's allocations say: the reconciler's snapshot of
      // them (conflicts/allocation-cache.ts) holds while the stamp does.
      if (macChanged) await touchSubnets(tx, [address.subnet]);
      await tx
        .update(addresses)
        .set(values)
        .where(and(eq(addresses.subnetId, address.subnet), sql`${addresses.ip} = ${address.ip}::inet`));
    });
  }
  return findAddress(db, address.ip, address.subnet);
}

/**
 * Frees the given addresses in one transaction: each subnet locked and touched (touchSubnets),
 * the rows deleted and the runs split.
 */
export async function freeAddresses(
  tx: Tx,
  /** With `createdAt`, only that allocation: one made since in its place (freed and handed out again while the caller checked ownership) is not someone else's to free. */
  freed: readonly { subnet: string; ip: string; createdAt?: string }[],
): Promise<void> {
  await touchSubnets(
    tx,
    freed.map((a) => a.subnet),
  );
  for (const address of freed) {
    const ipValue = checkAddress('ip', address.ip);
    const deleted = await tx
      .delete(addresses)
      .where(
        and(
          eq(addresses.subnetId, address.subnet),
          sql`${addresses.ip} = ${address.ip}::inet`,
          address.createdAt === undefined
            ? undefined
            : // The API's times have milliseconds, the column microseconds.
              sql`${addresses.createdAt} between ${address.createdAt}::timestamptz - interval '1 millisecond'
                  and ${address.createdAt}::timestamptz + interval '1 millisecond'`,
        ),
      )
      .returning({ id: addresses.id });
    if (deleted.length > 0) await markFree(tx, address.subnet, ipValue.family, ipValue.value);
  }
}
