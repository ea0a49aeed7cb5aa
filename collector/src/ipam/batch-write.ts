/**
 * The write of an allocator batch (allocator.ts), however it was decided: its rows and runs in
 * one statement, which holds back each subnet whose view no longer holds.
 */
import { formatIp } from '@ipwarden/ipam';
import { sql } from 'drizzle-orm';
import { pipelined, rowsOf, type Tx } from '../db/database.js';
import { DEFAULT_OBSERVATION_WINDOW_SECONDS } from '../db/schema/index.js';
import type { AddressRow, Allocated } from './allocator.js';
import type { RunChanges } from './batch-outcome.js';
import type { Commit } from './lanes.js';
import { checkAddress } from './subnet-store.js';

export const json = (value: unknown) => JSON.stringify(value);
/** The observation window in force (settings.ts), in SQL. */
export const WINDOW_SECONDS = sql`coalesce((select observation_window_seconds from settings where id = 1), ${DEFAULT_OBSERVATION_WINDOW_SECONDS})`;
export const date = (value: string | Date) => (value instanceof Date ? value : new Date(value));

/** An address row to insert, and whether it may be one observed in use. */
export type WrittenRow = { subnetId: string; ip: string; acceptObserved: boolean } & AddressRow;

/**
 * The batch's rows and its runs joined up, in one statement pipelined with the COMMIT: each
 * table's rows as one JSON parameter (a fixed SQL text, prepared once per connection). What each
 * address was last seen as comes back with it, keyed by "<subnet id> <ip>".
 *
 * Each subnet's part is written only if the subnet is as the batch decided it (`guards`: its
 * `alloc_stamp`; the observation window), no address chosen for it was seen in use since it was
 * read, unless the request accepts that, and no run meets a stretch it took to hold none
 * (`assumed`); it then gets the guard's next stamp. A subnet held
 * back writes nothing, and its addresses are missing from the answer. The check is the UPDATE
 * of the subnet's row: it waits for the row's lock if another transaction holds it, and then
 * checks the stamp that transaction left (READ COMMITTED re-reads an updated row), so that a
 * batch decided ahead needs no lock statement of its own. Its snapshot, taken before any such
 * wait, is as good for the runs: a change to them since came with a new stamp, and holds the
 * subnet back.
 */
export async function write(
  tx: Tx,
  rows: WrittenRow[],
  runs: RunChanges,
  guards: { subnetId: string; stamp: string; next: string }[],
  windowSeconds: number,
  /**
   * Stretches taken to hold no run, around addresses not read (asked for, or drawn at random):
   * no run may meet [lo, hi]. (That the addresses were not seen in use is checked with the rows:
   * each was chosen.)
   */
  assumed: { subnetId: string; lo: string; hi: string }[],
  commit?: Commit,
): Promise<Map<string, Pick<Allocated, 'createdAt' | 'lastSeen' | 'seenMac'>>> {
  // One statement: its data-modifying parts all run, whatever the select reads of them. None
  // of them meets another's row: a run that keeps its first address is extended in place (it
  // is the left neighbour of a chosen address), the runs deleted are right neighbours, and a
  // run added starts at a chosen, free, address. Every part reads `ok`, and so writes only for
  // the subnets whose checks passed (see above for the snapshot).
  const kept = new Set(runs.added.map((r) => `${r.subnetId} ${r.lo}`));
  const removed = runs.removed.filter((r) => !kept.has(`${r.subnetId} ${r.lo}`));
  const wasThere = new Set(runs.removed.map((r) => `${r.subnetId} ${r.lo}`));
  const extended = runs.added.filter((r) => wasThere.has(`${r.subnetId} ${r.lo}`));
  const added = runs.added.filter((r) => !wasThere.has(`${r.subnetId} ${r.lo}`));
  const rowsJson = json(rows);
  const inserted = rowsOf<{
    subnetId: string;
    ip: string;
    createdAt: string | Date;
    seenMac: string | null;
    lastSeen: string | Date | null;
  }>(
    tx,
    sql`with ${
      // Several subnets are locked in id order, as everywhere (touchSubnets, the lock statement):
      // an UPDATE of several rows takes their locks in whatever order its plan visits them.
      guards.length > 1
        ? sql`locked as (
          select id from subnets where id in (select "subnetId" from json_to_recordset(${json(guards)}::json)
            as g("subnetId" uuid)) order by id for no key update),`
        : sql``
    } ok as (
          update subnets s set alloc_stamp = g.next
          from json_to_recordset(${json(guards)}::json) as g("subnetId" uuid, stamp uuid, next uuid)
          where s.id = g."subnetId" and s.alloc_stamp = g.stamp
            ${guards.length > 1 ? sql`and s.id in (select id from locked)` : sql``}
            and ${WINDOW_SECONDS} = ${windowSeconds}
            and not exists (
              select 1 from json_to_recordset(${rowsJson}::json) as r("subnetId" uuid, ip inet, "acceptObserved" boolean)
              join bindings b on b.ip = r.ip
              where r."subnetId" = g."subnetId" and not r."acceptObserved"
                and b.last_seen > now() - make_interval(secs => ${windowSeconds}))
            and not exists (
              select 1 from json_to_recordset(${json(assumed)}::json) as a("subnetId" uuid, lo inet, hi inet)
              cross join lateral (
                select t.lo from taken_runs t where t.subnet_id = a."subnetId" and t.hi >= a.lo
                order by t.hi limit 1) as r
              where a."subnetId" = g."subnetId" and r.lo <= a.hi)
          returning s.id),
        inserted as (
          insert into addresses (subnet_id, ip, kind, mac, hostname, node_id, pool_id, claim, owner_id, comment)
          select r."subnetId", r.ip, r."kind", r.mac, r.hostname, r."nodeId", r."poolId", r.claim, r."ownerId", r.comment
          from json_to_recordset(${rowsJson}::json) as r(
            "subnetId" uuid, ip inet, "kind" text, mac macaddr, hostname text, "nodeId" uuid, "poolId" uuid, claim text,
            "ownerId" uuid, comment text)
          where r."subnetId" in (select id from ok)
          returning subnet_id, ip, created_at),
        removed as (
          delete from taken_runs t using json_to_recordset(${json(removed)}::json) as r("subnetId" uuid, lo inet)
          where t.subnet_id = r."subnetId" and t.lo = r.lo and r."subnetId" in (select id from ok)),
        extended as (
          update taken_runs t set hi = r.hi from json_to_recordset(${json(extended)}::json) as r("subnetId" uuid, lo inet, hi inet)
          where t.subnet_id = r."subnetId" and t.lo = r.lo and r."subnetId" in (select id from ok)),
        added as (
          insert into taken_runs (subnet_id, lo, hi)
          select r."subnetId", r.lo, r.hi from json_to_recordset(${json(added)}::json) as r("subnetId" uuid, lo inet, hi inet)
          where r."subnetId" in (select id from ok))
        select i.subnet_id::text as "subnetId", host(i.ip) as "ip", i.created_at as "createdAt",
               seen.mac::text as "seenMac", seen.last_seen as "lastSeen"
        from inserted i left join lateral (
          select mac, last_seen from bindings b where b.ip = i.ip order by last_seen desc limit 1) as seen on true`,
  );
  const ended = commit?.();
  const [insertedRows] = await pipelined([inserted, ended]);
  return new Map(
    insertedRows.map((r) => [
      `${r.subnetId} ${formatIp(checkAddress('ip', r.ip))}`,
      { createdAt: date(r.createdAt), seenMac: r.seenMac, lastSeen: r.lastSeen === null ? null : date(r.lastSeen) },
    ]),
  );
}
