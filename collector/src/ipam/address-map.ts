/**
 * The address map (API.md, `GET /subnets/{subnet}/map`): what the dashboard draws, compactly
 * enough for a /16. For an IPv4 subnet of /16 or smaller, one byte per address, base64:
 *
 *   bits 0–3  the address's state, an index into `states` (free, network, … or the kind it is
 *             allocated as)
 *   bits 4–5  when it was last seen: 0 never, 1 within the observation window, 2 before it
 *   bit  6    in an open or acknowledged conflict
 *
 * 65,536 addresses are 64 KiB (87 KiB as base64), where the utilization list's JSON objects
 * would be some 3 MB. A larger IPv4 subnet, or an IPv6 one, is summarised in 256 equal blocks
 * instead, each with its counts: a /64 has too many addresses for a cell each, and a cell per
 * address there would show one lit pixel in 2^64.
 */
import { firstOf, formatIp, lastOf, type Prefix } from '@ipwarden/ipam';
import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Database } from '../db/database.js';
import { type AddressKind, addresses, bindings, conflicts } from '../db/schema/index.js';
import { readSettings } from '../settings.js';
import { readSubnetLayout, type SubnetLayout } from './subnet-layout.js';
import { checkPrefix, findSubnet, ipValue, type Subnet } from './subnet-store.js';

/** Subnets this small or smaller get a cell per address: 65,536 at most. */
const CELL_PREFIX_LENGTH = 16;
/** Larger subnets are summarised in this many blocks. */
const BLOCKS = 256;

export const MAP_STATES = [
  'free',
  'network',
  'broadcast',
  'gateway',
  'dns',
  'dynamic',
  'reserved-range',
  'reserved',
  'device',
  'sticky',
  'auto',
  'extra',
  'claim',
] as const satisfies readonly string[];
export type MapState = (typeof MAP_STATES)[number];

const SEEN_RECENTLY = 1 << 4;
const SEEN_BEFORE = 2 << 4;
const IN_CONFLICT = 1 << 6;

export interface MapBlock {
  first: string;
  allocated: number;
  /** Seen within the observation window and not allocated. */
  seenUnallocated: number;
  /** Seen, but not within the observation window. */
  seenBefore: number;
  conflicts: number;
  /** Shares of the block in dynamic and reserved ranges, 0 to 1. */
  dynamic: number;
  reserved: number;
}

export interface AddressMap {
  subnet: string;
  cidr: string;
  family: 4 | 6;
  first: string;
  observationWindowSeconds: number;
  states: readonly MapState[];
  /** One byte per address, base64 (the layout above); only for IPv4 subnets of /16 or smaller. */
  cells?: string;
  /** Otherwise 256 equal blocks; `blockSize` is a decimal string (a /64's blocks hold 2^56). */
  blockSize?: string;
  blocks?: MapBlock[];
}

interface Facts {
  allocated: Map<bigint, AddressKind>;
  seen: Map<bigint, boolean>; // ip → seen within the observation window
  conflicted: Set<bigint>;
}

async function readFacts(db: Database, subnet: Subnet, windowSeconds: number): Promise<Facts> {
  const [allocatedRows, seenRows, conflictRows] = await Promise.all([
    db.select({ ip: addresses.ip, kind: addresses.kind }).from(addresses).where(eq(addresses.subnetId, subnet.id)),
    db
      .select({
        ip: bindings.ip,
        recent: sql<boolean>`max(${bindings.lastSeen}) > now() - make_interval(secs => ${windowSeconds})`,
      })
      .from(bindings)
      .where(sql`${bindings.ip} <<= ${subnet.cidr}::inet and ${bindings.vlan} = ${subnet.vlan}`)
      .groupBy(bindings.ip),
    db
      .selectDistinct({ ip: conflicts.ip })
      .from(conflicts)
      .where(
        and(
          inArray(conflicts.status, ['open', 'acknowledged']),
          sql`${conflicts.ip} <<= ${subnet.cidr}::inet and ${conflicts.vlan} = ${subnet.vlan}`,
        ),
      ),
  ]);
  return {
    allocated: new Map(allocatedRows.map((r) => [ipValue(r.ip), r.kind])),
    seen: new Map(seenRows.map((r) => [ipValue(r.ip), r.recent])),
    conflicted: new Set(conflictRows.map((r) => ipValue(r.ip))),
  };
}

const STATE_INDEX = new Map<string, number>(MAP_STATES.map((state, i) => [state, i]));

function cellsOf(prefix: Prefix, layout: SubnetLayout, facts: Facts): string {
  const first = firstOf(prefix);
  const size = Number(lastOf(prefix) - first + 1n);
  const cells = new Uint8Array(size);
  const index = (state: MapState) => STATE_INDEX.get(state) ?? 0;
  // The configured states first, span by span, then what is allocated, seen and in conflict on top.
  const paint = (set: SubnetLayout['dynamic'], state: MapState) => {
    for (const [lo, hi] of set.intervals()) cells.fill(index(state), Number(lo - first), Number(hi - first) + 1);
  };
  paint(layout.dynamic, 'dynamic');
  paint(layout.reserved, 'reserved-range');
  if (layout.usable !== undefined) {
    cells.fill(index('network'), 0, Number(layout.usable[0] - first));
    cells.fill(index('broadcast'), Number(layout.usable[1] - first) + 1, size);
  }
  for (const [ip, role] of layout.infrastructure)
    if (ip >= first && ip - first < size) cells[Number(ip - first)] = index(role);
  for (const [ip, kind] of facts.allocated) cells[Number(ip - first)] = index(kind);
  for (const [ip, recent] of facts.seen) cells[Number(ip - first)]! |= recent ? SEEN_RECENTLY : SEEN_BEFORE;
  for (const ip of facts.conflicted) cells[Number(ip - first)]! |= IN_CONFLICT;
  return Buffer.from(cells.buffer, cells.byteOffset, cells.byteLength).toString('base64');
}

function blocksOf(prefix: Prefix, layout: SubnetLayout, facts: Facts): { blockSize: bigint; blocks: MapBlock[] } {
  const first = firstOf(prefix);
  const size = lastOf(prefix) - first + 1n;
  // Sizes are powers of two: 256 blocks divide any subnet of 256 addresses or more exactly.
  const count = size < BigInt(BLOCKS) ? size : BigInt(BLOCKS);
  const blockSize = size / count;
  const blocks: MapBlock[] = Array.from({ length: Number(count) }, (_, i) => ({
    first: formatIp({ family: prefix.family, value: first + BigInt(i) * blockSize }),
    allocated: 0,
    seenUnallocated: 0,
    seenBefore: 0,
    conflicts: 0,
    dynamic: 0,
    reserved: 0,
  }));
  const blockOf = (ip: bigint) => blocks[Number((ip - first) / blockSize)]!;
  for (const ip of facts.allocated.keys()) blockOf(ip).allocated++;
  for (const [ip, recent] of facts.seen) {
    if (!recent) blockOf(ip).seenBefore++;
    else if (!facts.allocated.has(ip)) blockOf(ip).seenUnallocated++;
  }
  for (const ip of facts.conflicted) blockOf(ip).conflicts++;
  // A range may cover many blocks: each gets the share of it that the range overlaps.
  const share = (set: SubnetLayout['dynamic'], field: 'dynamic' | 'reserved') => {
    for (const [lo, hi] of set.intervals()) {
      for (let b = (lo - first) / blockSize; b <= (hi - first) / blockSize; b++) {
        const start = first + b * blockSize;
        const end = start + blockSize - 1n;
        // biome-ignore lint/complexity/useMathMinMax: Math.max and Math.min take no bigints
        const overlap = (hi < end ? hi : end) - (lo > start ? lo : start) + 1n;
        blocks[Number(b)]![field] += Number(overlap) / Number(blockSize);
      }
    }
  };
  share(layout.dynamic, 'dynamic');
  share(layout.reserved, 'reserved');
  return { blockSize, blocks };
}

export async function subnetAddressMap(db: Database, ref: string): Promise<AddressMap> {
  const subnet = await findSubnet(db, ref);
  const prefix = checkPrefix('cidr', subnet.cidr);
  const { observationWindowSeconds } = await readSettings(db);
  const [layout, facts] = await Promise.all([
    readSubnetLayout(db, subnet, prefix),
    readFacts(db, subnet, observationWindowSeconds),
  ]);
  const map: AddressMap = {
    subnet: subnet.id,
    cidr: subnet.cidr,
    family: prefix.family,
    first: formatIp({ family: prefix.family, value: firstOf(prefix) }),
    observationWindowSeconds,
    states: MAP_STATES,
  };
  if (prefix.family === 4 && prefix.length >= CELL_PREFIX_LENGTH) {
    map.cells = cellsOf(prefix, layout, facts);
  } else {
    const { blockSize, blocks } = blocksOf(prefix, layout, facts);
    map.blockSize = blockSize.toString();
    map.blocks = blocks;
  }
  return map;
}
