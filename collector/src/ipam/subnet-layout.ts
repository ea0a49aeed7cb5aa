/**
 * What a subnet's configuration says of its addresses, before anything is allocated or seen:
 * its usable span (RFC 3021: a /31 or /32 has no network or broadcast address), the gateway
 * and DNS servers, and its dynamic and reserved ranges. The utilization counts and the address
 * map both read a subnet through this, so the two never disagree on what an address is.
 */
import { IntervalSet, type Prefix, usableSpan } from '@ipwarden/ipam';
import { eq } from 'drizzle-orm';
import type { Database } from '../db/database.js';
import { ranges } from '../db/schema/index.js';
import { ipValue, type Subnet } from './subnet-store.js';

export type InfrastructureRole = 'gateway' | 'dns';

export interface SubnetLayout {
  usable: [bigint, bigint] | undefined;
  dynamic: IntervalSet;
  reserved: IntervalSet;
  /** The gateway and DNS servers: never handed out, never a conflict for being in use. */
  infrastructure: Map<bigint, InfrastructureRole>;
}

export async function readSubnetLayout(db: Database, subnet: Subnet, prefix: Prefix): Promise<SubnetLayout> {
  const spanRows = await db.select().from(ranges).where(eq(ranges.subnetId, subnet.id));
  const spans = (purpose: string) =>
    new IntervalSet(
      spanRows.filter((r) => r.purpose === purpose).map((r) => [ipValue(r.start), ipValue(r.end)] as const),
    );
  const infrastructure = new Map<bigint, InfrastructureRole>();
  if (subnet.gateway !== null) infrastructure.set(ipValue(subnet.gateway), 'gateway');
  for (const dns of subnet.dnsServers) if (!infrastructure.has(ipValue(dns))) infrastructure.set(ipValue(dns), 'dns');
  return { usable: usableSpan(prefix), dynamic: spans('dynamic'), reserved: spans('reserved'), infrastructure };
}
