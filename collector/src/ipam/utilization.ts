/**
 * How a subnet is used (API.md, `GET /subnets/{subnet}/utilization`): the counts, and for
 * IPv4 subnets up to a /20 the state of every address. Counts come from interval arithmetic on
 * the allocator's runs and the subnet's spans; only allocated and observed addresses are read
 * one by one, never the subnet's whole space. Counts beyond 2^53 (IPv6) are decimal strings.
 */
import { firstOf, formatIp, IntervalSet, lastOf } from '@ipwarden/ipam';
import { eq, sql } from 'drizzle-orm';
import type { Database } from '../db/database.js';
import { addresses, bindings, takenRuns } from '../db/schema/index.js';
import { readSettings } from '../settings.js';
import { readSubnetLayout } from './subnet-layout.js';
import { checkPrefix, findSubnet, ipValue } from './subnet-store.js';

/** Subnets this small or smaller list every address's state: 4096 entries at most. */
const LISTED_PREFIX_LENGTH = 20;

export type Count = number | string;

export type AddressState =
  | 'network'
  | 'broadcast'
  | 'gateway'
  | 'dns'
  | 'dynamic'
  | 'reserved'
  | 'allocated'
  | 'observed'
  | 'free';

export interface Utilization {
  subnet: string;
  cidr: string;
  total: Count;
  allocated: { total: number; byKind: Record<string, number> };
  dynamic: Count;
  reserved: Count;
  observedUnallocated: number;
  free: Count;
  addresses?: { ip: string; state: AddressState; kind?: string }[];
}

const count = (n: bigint): Count => (n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n.toString());

export async function subnetUtilization(db: Database, ref: string): Promise<Utilization> {
  const subnet = await findSubnet(db, ref);
  const prefix = checkPrefix('cidr', subnet.cidr);
  const { observationWindowSeconds } = await readSettings(db);
  const [layout, runRows, kindRows, allocatedRows, observedRows] = await Promise.all([
    readSubnetLayout(db, subnet, prefix),
    db.select({ lo: takenRuns.lo, hi: takenRuns.hi }).from(takenRuns).where(eq(takenRuns.subnetId, subnet.id)),
    db
      .select({ kind: addresses.kind, n: sql<number>`count(*)::int` })
      .from(addresses)
      .where(eq(addresses.subnetId, subnet.id))
      .groupBy(addresses.kind),
    prefix.family === 4 && prefix.length >= LISTED_PREFIX_LENGTH
      ? db.select({ ip: addresses.ip, kind: addresses.kind }).from(addresses).where(eq(addresses.subnetId, subnet.id))
      : Promise.resolve([]),
    db
      .selectDistinct({ ip: bindings.ip })
      .from(bindings)
      .where(
        sql`${bindings.ip} <<= ${subnet.cidr}::inet and ${bindings.vlan} = ${subnet.vlan}
            and ${bindings.lastSeen} > now() - make_interval(secs => ${observationWindowSeconds})`,
      ),
  ]);

  const { usable, dynamic, reserved, infrastructure: special } = layout;
  const taken = new IntervalSet(runRows.map((r) => [ipValue(r.lo), ipValue(r.hi)] as const));
  // What may be handed out: the usable span less gateway, DNS servers and ranges.
  const available = new IntervalSet(usable === undefined ? [] : [usable]).minus(dynamic).minus(reserved);
  for (const address of special.keys()) available.remove(address, address);
  const observed = observedRows.map((r) => ipValue(r.ip)).filter((ip) => !taken.has(ip));
  const observedFree = observed.filter((ip) => available.has(ip)).length;
  const free = available.minus(taken).size - BigInt(observedFree);

  const byKind = Object.fromEntries(kindRows.map((r) => [r.kind, r.n]));
  const result: Utilization = {
    subnet: subnet.id,
    cidr: subnet.cidr,
    total: count(lastOf(prefix) - firstOf(prefix) + 1n),
    allocated: { total: kindRows.reduce((n, r) => n + r.n, 0), byKind },
    dynamic: count(dynamic.size),
    reserved: count(reserved.size),
    observedUnallocated: observed.length,
    free: count(free),
  };
  if (prefix.family === 4 && prefix.length >= LISTED_PREFIX_LENGTH) {
    const kinds = new Map(allocatedRows.map((r) => [ipValue(r.ip), r.kind]));
    const seen = new Set(observed);
    const list: NonNullable<Utilization['addresses']> = [];
    for (let ip = firstOf(prefix); ip <= lastOf(prefix); ip++) {
      const kind = kinds.get(ip);
      const state: AddressState =
        kind !== undefined
          ? 'allocated'
          : usable !== undefined && ip < usable[0]
            ? 'network'
            : usable !== undefined && ip > usable[1]
              ? 'broadcast'
              : (special.get(ip) ??
                (dynamic.has(ip) ? 'dynamic' : reserved.has(ip) ? 'reserved' : seen.has(ip) ? 'observed' : 'free'));
      list.push({ ip: formatIp({ family: 4, value: ip }), state, ...(kind !== undefined && { kind }) });
    }
    result.addresses = list;
  }
  return result;
}
