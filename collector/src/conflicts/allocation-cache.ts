/**
 * What the reconciler knows of the allocations table: per subnet, its allocations read whole
 * into an AllocationSnapshot (packages/ipam) and kept for as long as the subnet's `alloc_stamp`
 * is the one read with it — every change to a subnet's addresses, by any collector, sets a new
 * one (subnet-store.ts touchSubnets; the allocator sets its own). A round then costs one small
 * statement (the stamps) instead of an index lookup per sighting, which was a third of
 * PostgreSQL's work at 50,000 sightings/s. A subnet whose stamp keeps changing (allocations
 * under way) is not read again and again: its addresses are looked up one by one until it has
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
import { type Database, rowsOf } from '../db/database.js';
import { addresses, subnets } from '../db/schema/index.js';

/** Addresses held across all snapshots at most (about 12 bytes each): the least recently used go first. */
const MAX_CACHED = 4_000_000;
/** A subnet changed less than this after it was read is looked up address by address meanwhile. */
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

export class AllocationCache {
  private readonly cached = new Map<string, Cached>();
  private held = 0;

  /** Facts for the addresses of `wanted` (subnet id → family and addresses), as of now. */
  async lookup(db: Database, wanted: ReadonlyMap<string, { family: 4 | 6; ips: Set<string> }>): Promise<AllocationsOf> {
    if (wanted.size === 0) return () => undefined;
    const now = Date.now();
    const stamps = await rowsOf<{ id: string; stamp: string }>(
      db,
      sql`select id, alloc_stamp::text as stamp from ${subnets} where id = any(${`{${[...wanted.keys()].join(',')}}`}::uuid[])`,
    );
    const toLoad: string[] = [];
    const oneByOne = new Set<string>();
    const current = new Map<string, Cached>();
    for (const { id, stamp } of stamps) {
      const cached = this.cached.get(id);
      if (cached?.stamp === stamp) {
        // Most recently used last: the first in the map go first when memory runs short.
        this.cached.delete(id);
        this.cached.set(id, cached);
        current.set(id, cached);
      } else if (cached !== undefined && now - cached.loadedAt < STILL_MS) {
        oneByOne.add(id);
      } else {
        toLoad.push(id);
      }
    }
    const [loaded, single] = await Promise.all([
      this.load(db, toLoad, new Map(stamps.map((s) => [s.id, s.stamp])), wanted, now),
      this.lookupEach(db, oneByOne, wanted),
    ]);
    for (const [id, cached] of loaded) current.set(id, cached);
    return (subnetId, ip, ipText) => {
      const cached = current.get(subnetId);
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

  /** Reads the subnets whole, each with the stamp read before it (a change meanwhile sets another, read next round). */
  private async load(
    db: Database,
    ids: readonly string[],
    stamps: ReadonlyMap<string, string>,
    wanted: ReadonlyMap<string, { family: 4 | 6 }>,
    now: number,
  ): Promise<Map<string, Cached>> {
    const loaded = new Map<string, Cached>();
    if (ids.length === 0) return loaded;
    const rows = await rowsOf<{
      subnet_id: string;
      ip: string;
      mac: string | null;
      previous_mac: string | null;
      changed: number | null;
    }>(
      db,
      sql`select subnet_id, host(ip) as ip, mac::text as mac,
                 case when mac_changed_at > now() - make_interval(secs => ${MAC_CHANGE_GRACE_MS / 1000})
                      then previous_mac::text end as previous_mac,
                 case when mac_changed_at > now() - make_interval(secs => ${MAC_CHANGE_GRACE_MS / 1000})
                      then (extract(epoch from mac_changed_at) * 1000)::float8 end as changed
          from ${addresses} where subnet_id = any(${`{${ids.join(',')}}`}::uuid[])`,
    );
    const bySubnet = new Map<string, { ip: Ip; mac: string | null }[]>();
    const changed = new Map<string, Map<string, { previousMac: string; at: number }>>();
    for (const row of rows) {
      const ip = parseIp(row.ip);
      if (ip === undefined) continue;
      let list = bySubnet.get(row.subnet_id);
      if (list === undefined) {
        list = [];
        bySubnet.set(row.subnet_id, list);
      }
      list.push({ ip, mac: row.mac });
      if (row.previous_mac !== null && row.changed !== null) {
        let recent = changed.get(row.subnet_id);
        if (recent === undefined) {
          recent = new Map();
          changed.set(row.subnet_id, recent);
        }
        recent.set(formatIp(ip), { previousMac: row.previous_mac, at: row.changed });
      }
    }
    for (const id of ids) {
      const snapshot = new AllocationSnapshot(wanted.get(id)!.family, bySubnet.get(id) ?? []);
      const cached: Cached = { stamp: stamps.get(id)!, snapshot, loadedAt: now, changed: changed.get(id) ?? new Map() };
      const before = this.cached.get(id);
      if (before !== undefined) this.held -= before.snapshot.size;
      this.cached.delete(id);
      this.cached.set(id, cached);
      this.held += snapshot.size;
      loaded.set(id, cached);
    }
    while (this.held > MAX_CACHED && this.cached.size > 1) {
      const [oldest, cached] = this.cached.entries().next().value!;
      this.cached.delete(oldest);
      this.held -= cached.snapshot.size;
    }
    return loaded;
  }

  /** Addresses of subnets under change, looked up one by one, by `subnet/ip`. */
  private async lookupEach(
    db: Database,
    ids: ReadonlySet<string>,
    wanted: ReadonlyMap<string, { ips: Set<string> }>,
  ): Promise<Map<string, AllocationFacts>> {
    const found = new Map<string, AllocationFacts>();
    if (ids.size === 0) return found;
    const ips = new Set<string>();
    for (const id of ids) for (const ip of wanted.get(id)!.ips) ips.add(ip);
    const rows = await rowsOf<{
      subnet_id: string;
      ip: string;
      mac: string | null;
      previous_mac: string | null;
      changed: number | null;
    }>(
      db,
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
}
