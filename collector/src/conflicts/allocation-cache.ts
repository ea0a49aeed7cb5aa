/**
 * What the reconciler knows of the allocations table: per subnet, its allocations read whole
 * into an AllocationSnapshot (packages/ipam) and kept for as long as the subnet's `alloc_stamp`
 * is the one read with it — every change to a subnet's addresses, by any collector, sets a new
 * one (subnet-store.ts touchSubnets; the allocator sets its own). A round then costs one small
 * statement (the stamps) instead of an index lookup per sighting, which was a third of
 * PostgreSQL's work at 50,000 sightings/s.
 *
 * Snapshots are read in the background, one subnet at a time, so that a collector starting
 * beside millions of allocations judges its first rounds at once (looking their addresses up
 * one by one, as it does for a subnet whose snapshot is stale) instead of waiting for them all.
 * A subnet whose stamp keeps changing (allocations under way) is read again only once it has
 * been still for a while.
 */
import {
  type AllocationFacts,
  AllocationSnapshot,
  formatIp,
  type Ip,
  MAC_CHANGE_GRACE_MS,
  parseIp,
} from '@ipwarden/ipam';
import { sql } from 'drizzle-orm';
import type { FastifyBaseLogger } from 'fastify';
import { type Database, rowsOf } from '../db/database.js';
import { addresses, subnets } from '../db/schema/index.js';
import type { Metrics } from '../metrics.js';

/** Addresses held across all snapshots at most (about 12 bytes each): the least recently used go first. */
const MAX_CACHED = 4_000_000;
/** A subnet is read again no sooner than this after its last reading. */
const STILL_MS = 2_000; // 2 s

interface Cached {
  stamp: string;
  snapshot: AllocationSnapshot;
  loadedAt: number;
  /** Addresses whose MAC was changed through the API lately: their previous MAC, and when. */
  changed: Map<string, { previousMac: string; at: number }>;
}

/** The allocation of an address in a subnet, or undefined: what judging a round needs. */
export type AllocationsOf = (subnetId: string, ip: Ip, ipText: string) => AllocationFacts | undefined;

interface Row {
  subnet_id: string;
  ip: string;
  mac: string | null;
  previous_mac: string | null;
  changed: number | null;
}

export class AllocationCache {
  private readonly cached = new Map<string, Cached>();
  private held = 0;
  /** Subnets to read, with their family, and the one being read. */
  private readonly pending = new Map<string, 4 | 6>();
  private loading: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly db: Database,
    private readonly log: FastifyBaseLogger,
    private readonly metrics: Metrics,
  ) {}

  /**
   * Reads every managed subnet's allocations in the background, as a collector starts: by the
   * time agents' traffic peaks, rounds find them in memory.
   */
  async warm(): Promise<void> {
    const rows = await rowsOf<{ id: string; family: number }>(
      this.db,
      sql`select id, family(cidr) as family from ${subnets} where managed`,
    );
    for (const row of rows) this.pending.set(row.id, row.family === 6 ? 6 : 4);
    this.startLoading();
  }

  private startLoading(): void {
    this.metrics.allocationSnapshots.set({ state: 'pending' }, this.pending.size);
    if (this.pending.size > 0) this.loading ??= this.loadPending().finally(() => (this.loading = undefined));
  }

  /** Facts for the addresses of `wanted` (subnet id → family and addresses), as of now. */
  async lookup(wanted: ReadonlyMap<string, { family: 4 | 6; ips: Set<string> }>): Promise<AllocationsOf> {
    if (wanted.size === 0) return () => undefined;
    const stamps = await this.stamps([...wanted.keys()]);
    const fresh = new Map<string, Cached>();
    const oneByOne = new Set<string>();
    for (const [id, { family }] of wanted) {
      const cached = this.cached.get(id);
      if (cached !== undefined && cached.stamp === stamps.get(id)) {
        // Most recently used last: the first in the map go first when memory runs short.
        this.cached.delete(id);
        this.cached.set(id, cached);
        fresh.set(id, cached);
      } else {
        oneByOne.add(id);
        if (stamps.has(id)) this.pending.set(id, family);
      }
    }
    this.startLoading();
    const single = await this.lookupEach(oneByOne, wanted);
    return (subnetId, ip, ipText) => {
      const cached = fresh.get(subnetId);
      if (cached === undefined) return single.get(`${subnetId}/${ipText}`);
      const mac = cached.snapshot.macOf(ip);
      if (mac === undefined) return undefined;
      const changed = cached.changed.get(ipText);
      return {
        mac: mac ?? undefined,
        ...(changed !== undefined && { previousMac: changed.previousMac, macChangedAt: changed.at }),
      };
    };
  }

  /**
   * Whether the snapshot held now admits `mac` at the address (AllocationSnapshot.admits),
   * undefined when it is not allocated or no snapshot is held: for what needs no round trip (Reconciler.isClean).
   */
  admits(subnetId: string, ip: Ip, mac: string): boolean | undefined {
    return this.cached.get(subnetId)?.snapshot.admits(ip, mac);
  }

  private async stamps(ids: readonly string[]): Promise<Map<string, string>> {
    const rows = await rowsOf<{ id: string; stamp: string }>(
      this.db,
      sql`select id, alloc_stamp::text as stamp from ${subnets} where id = any(${`{${ids.join(',')}}`}::uuid[])`,
    );
    return new Map(rows.map((r) => [r.id, r.stamp]));
  }

  /** Reads the pending subnets one by one, each with the stamp read just before it. */
  private async loadPending(): Promise<void> {
    while (this.pending.size > 0 && !this.closed) {
      const [id, family] = this.pending.entries().next().value!;
      this.pending.delete(id);
      this.metrics.allocationSnapshots.set({ state: 'pending' }, this.pending.size);
      const before = this.cached.get(id);
      const wait = before === undefined ? 0 : before.loadedAt + STILL_MS - Date.now();
      if (wait > 0) {
        // Changing under way: read it once it has been still, and meanwhile look it up address by address.
        await new Promise((resolve) => setTimeout(resolve, Math.min(wait, STILL_MS)));
      }
      try {
        const stamp = (await this.stamps([id])).get(id);
        if (stamp === undefined || this.cached.get(id)?.stamp === stamp) continue;
        this.store(id, stamp, family === 4 ? await this.readIpv4(id) : await this.readIpv6(id));
      } catch (error) {
        if (!this.closed) this.log.warn({ err: error, subnet: id }, 'reading a subnet’s allocations failed');
      }
    }
  }

  /** An IPv4 subnet's allocations as numbers in address order (its unique index's), no parsing. */
  private async readIpv4(id: string): Promise<Omit<Cached, 'stamp' | 'loadedAt'>> {
    const cutoff = new Date(Date.now() - MAC_CHANGE_GRACE_MS).toISOString();
    const rows = await rowsOf<{ n: number; mac: string | null; previous_mac: string | null; changed: number | null }>(
      this.db,
      sql`select (ip - '0.0.0.0'::inet)::float8 as n, mac::text as mac,
                 case when mac_changed_at > ${cutoff}::timestamptz then previous_mac::text end as previous_mac,
                 case when mac_changed_at > ${cutoff}::timestamptz then (extract(epoch from mac_changed_at) * 1000)::float8 end as changed
          from ${addresses} where subnet_id = ${id} order by ip`,
    );
    const ips = new Float64Array(rows.length);
    const macs: (string | null)[] = new Array(rows.length);
    const changed = new Map<string, { previousMac: string; at: number }>();
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      ips[i] = row.n;
      macs[i] = row.mac;
      if (row.previous_mac !== null && row.changed !== null) {
        changed.set(formatIp({ family: 4, value: BigInt(row.n) }), { previousMac: row.previous_mac, at: row.changed });
      }
    }
    return { snapshot: AllocationSnapshot.fromSortedIpv4(ips, macs), changed };
  }

  private async readIpv6(id: string): Promise<Omit<Cached, 'stamp' | 'loadedAt'>> {
    const cutoff = new Date(Date.now() - MAC_CHANGE_GRACE_MS).toISOString();
    const rows = await rowsOf<Row>(
      this.db,
      sql`select subnet_id, host(ip) as ip, mac::text as mac,
                 case when mac_changed_at > ${cutoff}::timestamptz then previous_mac::text end as previous_mac,
                 case when mac_changed_at > ${cutoff}::timestamptz then (extract(epoch from mac_changed_at) * 1000)::float8 end as changed
          from ${addresses} where subnet_id = ${id}`,
    );
    const changed = new Map<string, { previousMac: string; at: number }>();
    const list: { ip: Ip; mac: string | null }[] = [];
    for (const row of rows) {
      const ip = parseIp(row.ip);
      if (ip === undefined) continue;
      list.push({ ip, mac: row.mac });
      if (row.previous_mac !== null && row.changed !== null) {
        changed.set(formatIp(ip), { previousMac: row.previous_mac, at: row.changed });
      }
    }
    return { snapshot: AllocationSnapshot.of(6, list), changed };
  }

  private store(id: string, stamp: string, read: Omit<Cached, 'stamp' | 'loadedAt'>): void {
    const before = this.cached.get(id);
    if (before !== undefined) this.held -= before.snapshot.size;
    this.cached.delete(id);
    this.cached.set(id, { ...read, stamp, loadedAt: Date.now() });
    this.held += read.snapshot.size;
    while (this.held > MAX_CACHED && this.cached.size > 1) {
      const [oldest, cached] = this.cached.entries().next().value!;
      this.cached.delete(oldest);
      this.held -= cached.snapshot.size;
    }
    this.metrics.allocationSnapshots.set({ state: 'held' }, this.cached.size);
    this.metrics.allocationSnapshotAddresses.set(this.held);
  }

  /** Addresses of subnets with no fresh snapshot, looked up one by one, by `subnet/ip`. */
  private async lookupEach(
    ids: ReadonlySet<string>,
    wanted: ReadonlyMap<string, { ips: Set<string> }>,
  ): Promise<Map<string, AllocationFacts>> {
    const found = new Map<string, AllocationFacts>();
    if (ids.size === 0) return found;
    const ips = new Set<string>();
    for (const id of ids) for (const ip of wanted.get(id)!.ips) ips.add(ip);
    const rows = await rowsOf<Row>(
      this.db,
      sql`select subnet_id, host(ip) as ip, mac::text as mac, previous_mac::text as previous_mac,
                 (extract(epoch from mac_changed_at) * 1000)::float8 as changed
          from ${addresses}
          where subnet_id = any(${`{${[...ids].join(',')}}`}::uuid[]) and ip = any(${`{${[...ips].join(',')}}`}::inet[])`,
    );
    for (const row of rows) {
      found.set(`${row.subnet_id}/${formatIp(parseIp(row.ip)!)}`, {
        mac: row.mac ?? undefined,
        previousMac: row.previous_mac ?? undefined,
        macChangedAt: row.changed ?? undefined,
      });
    }
    return found;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.pending.clear();
    await this.loading;
  }
}
