/**
 * Stores one batch of sightings from an agent: in one transaction, with set-based statements
 * (no row-at-a-time loops), and keyed so that a replayed batch — the same agent and seq again,
 * as after a reconnect — changes nothing.
 */
import { isBindingSighting, type SightingItem } from '@ipwarden/protocol';
import { and, eq, isNull, lt, type SQL, sql } from 'drizzle-orm';
import { plainArray, textArray } from '../db/array-literal.js';
import type { Database } from '../db/database.js';
import { agents, bindings, sightingEvents } from '../db/schema/index.js';

/** Names remembered per binding. */
const MAX_HOSTNAMES = 16;

export interface StoredBatch {
  /** False for a replay (the batch was stored before) and for a revoked agent. */
  stored: boolean;
}

/** A binding row as sent to PostgreSQL: times in ms since the epoch. */
interface BindingRow {
  vlan: number;
  outerVlan: number;
  ip: string;
  mac: string;
  interface: string;
  sources: string[];
  hostnames: string[];
  firstSeen: number;
  lastSeen: number;
}

/** One row per (VLAN, IP, MAC): a statement may not upsert the same key twice. */
function bindingRows(items: readonly SightingItem[]): BindingRow[] {
  const rows = new Map<string, BindingRow>();
  for (const item of items) {
    if (!isBindingSighting(item)) continue;
    const outerVlan = item.outerVlan ?? 0;
    const key = `${item.vlan}/${outerVlan}/${item.ip}/${item.mac}`;
    const row = rows.get(key);
    if (row === undefined) {
      rows.set(key, {
        vlan: item.vlan,
        outerVlan,
        ip: item.ip,
        mac: item.mac,
        interface: item.interface,
        sources: [item.source],
        hostnames: item.hostname === undefined ? [] : [item.hostname],
        firstSeen: item.at,
        lastSeen: item.at,
      });
      continue;
    }
    if (!row.sources.includes(item.source)) row.sources.push(item.source);
    if (item.hostname !== undefined && !row.hostnames.includes(item.hostname)) {
      row.hostnames.unshift(item.hostname); // newest first, as stored
      if (row.hostnames.length > MAX_HOSTNAMES) row.hostnames.pop();
    }
    if (item.at < row.firstSeen) row.firstSeen = item.at;
    if (item.at > row.lastSeen) {
      row.lastSeen = item.at;
      row.interface = item.interface;
    }
  }
  // In key order, so that concurrent batches from two agents take row locks in the same order.
  return [...rows.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, row]) => row);
}

/** Milliseconds since the epoch (JSON numbers) as timestamptz. */
const fromMillis = (column: SQL) => sql`to_timestamp(${column} / 1000.0)`;

/**
 * Each table gets the whole batch in one statement with one parameter per column, an array
 * literal (db/array-literal.ts) unnested by PostgreSQL. One fixed SQL text (prepared once per
 * connection), no parameter limit, and little built per row on our side — building a
 * 13 000-parameter statement cost far more CPU than PostgreSQL spent storing it, and a JSON array
 * of objects (json_to_recordset) cost PostgreSQL a fifth of its time in parsing.
 */
export async function storeBatch(
  db: Database,
  agentId: string,
  seq: number,
  items: readonly SightingItem[],
): Promise<StoredBatch> {
  return db.transaction(async (tx) => {
    // The seq guard: only a batch past the last stored one moves it, and only that batch is
    // stored; nothing of a revoked agent is (it may still be connected to another collector).
    const advanced = await tx
      .update(agents)
      .set({ lastSeq: seq, lastSeenAt: new Date() })
      .where(and(eq(agents.id, agentId), lt(agents.lastSeq, seq), isNull(agents.revokedAt)))
      .returning({ id: agents.id });
    if (advanced.length === 0) return { stored: false };

    const events = items.filter((item) => item.event !== 'refresh' || !isBindingSighting(item));
    if (events.length > 0) {
      const column = <T>(of: (item: SightingItem) => T) => events.map(of);
      await tx.execute(sql`
        insert into ${sightingEvents} (agent_id, seq, at, interface, vlan, outer_vlan, source, kind, event, ip, mac, previous_mac, hostname)
        select ${agentId}::uuid, ${seq}::bigint, ${fromMillis(sql`r.at`)}, r.interface, r.vlan, r.outer_vlan,
               r.source, r.kind, r.event, r.ip, r.mac, r.previous_mac, r.hostname
        from unnest(${plainArray(column((i) => i.at))}::float8[], ${textArray(column((i) => i.interface))}::text[],
                    ${plainArray(column((i) => i.vlan))}::int[], ${plainArray(column((i) => i.outerVlan ?? 0))}::int[],
                    ${textArray(column((i) => i.source))}::text[], ${textArray(column((i) => i.kind))}::text[],
                    ${textArray(column((i) => i.event))}::text[], ${plainArray(column((i) => i.ip))}::inet[],
                    ${plainArray(column((i) => i.mac))}::macaddr[], ${plainArray(column((i) => i.previousMac))}::macaddr[],
                    ${textArray(column((i) => i.hostname))}::text[])
          as r(at, interface, vlan, outer_vlan, source, kind, event, ip, mac, previous_mac, hostname)`);
    }

    const rows = bindingRows(items);
    if (rows.length === 0) return { stored: true };
    const column = <T>(of: (row: BindingRow) => T) => rows.map(of);
    await tx.execute(sql`
      insert into ${bindings} as b (vlan, outer_vlan, ip, mac, agent_id, interface, sources, hostnames, first_seen, last_seen)
      select r.vlan, r.outer_vlan, r.ip, r.mac, ${agentId}::uuid, r.interface, r.sources::text[], r.hostnames::text[],
             ${fromMillis(sql`r.first_seen`)}, ${fromMillis(sql`r.last_seen`)}
      -- sources and hostnames: each row's array as the text of an array literal, cast per row
      -- (unnest flattens a two-dimensional array, and rows have as many as they have).
      from unnest(${plainArray(column((r) => r.vlan))}::int[], ${plainArray(column((r) => r.outerVlan))}::int[],
                  ${plainArray(column((r) => r.ip))}::inet[], ${plainArray(column((r) => r.mac))}::macaddr[],
                  ${textArray(column((r) => r.interface))}::text[], ${textArray(column((r) => plainArray(r.sources)))}::text[],
                  ${textArray(column((r) => textArray(r.hostnames)))}::text[],
                  ${plainArray(column((r) => r.firstSeen))}::float8[], ${plainArray(column((r) => r.lastSeen))}::float8[])
        as r(vlan, outer_vlan, ip, mac, interface, sources, hostnames, first_seen, last_seen)
      on conflict (vlan, outer_vlan, ip, mac) do update set
        -- Who saw it last, and where, move together.
        agent_id = case when excluded.last_seen >= b.last_seen then excluded.agent_id else b.agent_id end,
        interface = case when excluded.last_seen >= b.last_seen then excluded.interface else b.interface end,
        sources = array(select distinct unnest(b.sources || excluded.sources) order by 1),
        -- The newest names first, at most MAX_HOSTNAMES: a host cannot grow its row without bound.
        hostnames = array(select h from unnest(excluded.hostnames || b.hostnames) with ordinality as t(h, n)
                          group by h order by min(n) limit ${sql.raw(String(MAX_HOSTNAMES))}),
        first_seen = least(b.first_seen, excluded.first_seen),
        last_seen = greatest(b.last_seen, excluded.last_seen)`);
    return { stored: true };
  });
}
