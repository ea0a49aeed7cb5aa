/**
 * Stores one batch of sightings from an agent: in one transaction, with set-based statements
 * (no row-at-a-time loops), and keyed so that a replayed batch — the same agent and seq again,
 * as after a reconnect — changes nothing.
 */
import { isBindingSighting, type SightingItem } from '@ipwarden/protocol';
import { and, eq, lt, sql } from 'drizzle-orm';
import type { Database } from '../db/database.js';
import { agents, bindings, sightingEvents } from '../db/schema/index.js';

/** Names remembered per binding. */
const MAX_HOSTNAMES = 16;

/** Rows per INSERT: 13 columns × 1 000 rows stays far below PostgreSQL's 65 535 parameters. */
const ROWS_PER_STATEMENT = 1000;

export interface StoredBatch {
  /** False for a replay: the batch was stored before. */
  stored: boolean;
}

type BindingRow = typeof bindings.$inferInsert;

/** One row per (VLAN, IP, MAC): a statement may not upsert the same key twice. */
function bindingRows(agentId: string, items: readonly SightingItem[]): BindingRow[] {
  const rows = new Map<string, BindingRow & { sources: string[]; hostnames: string[] }>();
  for (const item of items) {
    if (!isBindingSighting(item)) continue;
    const outerVlan = item.outerVlan ?? 0;
    const key = `${item.vlan}/${outerVlan}/${item.ip}/${item.mac}`;
    const at = new Date(item.at);
    const row = rows.get(key);
    if (row === undefined) {
      rows.set(key, {
        vlan: item.vlan,
        outerVlan,
        ip: item.ip,
        mac: item.mac,
        agentId,
        interface: item.interface,
        sources: [item.source],
        hostnames: item.hostname === undefined ? [] : [item.hostname],
        firstSeen: at,
        lastSeen: at,
      });
      continue;
    }
    if (!row.sources.includes(item.source)) row.sources.push(item.source);
    if (item.hostname !== undefined && !row.hostnames.includes(item.hostname)) {
      row.hostnames.unshift(item.hostname); // newest first, as stored
      if (row.hostnames.length > MAX_HOSTNAMES) row.hostnames.pop();
    }
    if (at < row.firstSeen!) row.firstSeen = at;
    if (at > row.lastSeen!) {
      row.lastSeen = at;
      row.interface = item.interface;
    }
  }
  // In key order, so that concurrent batches from two agents take row locks in the same order.
  return [...rows.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, row]) => row);
}

export async function storeBatch(
  db: Database,
  agentId: string,
  seq: number,
  items: readonly SightingItem[],
): Promise<StoredBatch> {
  return db.transaction(async (tx) => {
    // The seq guard: only a batch past the last stored one moves it, and only that batch is stored.
    const advanced = await tx
      .update(agents)
      .set({ lastSeq: seq, lastSeenAt: new Date() })
      .where(and(eq(agents.id, agentId), lt(agents.lastSeq, seq)))
      .returning({ id: agents.id });
    if (advanced.length === 0) return { stored: false };

    const events = items
      .filter((item) => item.event !== 'refresh' || !isBindingSighting(item))
      .map((item) => ({
        agentId,
        seq,
        at: new Date(item.at),
        interface: item.interface,
        vlan: item.vlan,
        outerVlan: item.outerVlan ?? 0,
        source: item.source,
        kind: item.kind,
        event: item.event,
        ip: item.ip,
        mac: item.mac,
        previousMac: item.previousMac ?? null,
        hostname: item.hostname ?? null,
      }));
    // A statement takes at most 65 535 parameters: rows go in chunks well below that.
    for (let at = 0; at < events.length; at += ROWS_PER_STATEMENT) {
      await tx.insert(sightingEvents).values(events.slice(at, at + ROWS_PER_STATEMENT));
    }

    const rows = bindingRows(agentId, items);
    for (let at = 0; at < rows.length; at += ROWS_PER_STATEMENT) {
      await tx
        .insert(bindings)
        .values(rows.slice(at, at + ROWS_PER_STATEMENT))
        .onConflictDoUpdate({
          target: [bindings.vlan, bindings.outerVlan, bindings.ip, bindings.mac],
          set: {
            // Who saw it last, and where, move together.
            agentId: sql`case when excluded.last_seen >= ${bindings.lastSeen} then excluded.agent_id else ${bindings.agentId} end`,
            interface: sql`case when excluded.last_seen >= ${bindings.lastSeen} then excluded.interface else ${bindings.interface} end`,
            sources: sql`array(select distinct unnest(${bindings.sources} || excluded.sources) order by 1)`,
            // The newest names first, at most MAX_HOSTNAMES: a host cannot grow its row without bound.
            hostnames: sql`array(select h from unnest(excluded.hostnames || ${bindings.hostnames}) with ordinality as t(h, n) group by h order by min(n) limit ${sql.raw(String(MAX_HOSTNAMES))})`,
            firstSeen: sql`least(${bindings.firstSeen}, excluded.first_seen)`,
            lastSeen: sql`greatest(${bindings.lastSeen}, excluded.last_seen)`,
          },
        });
    }
    return { stored: true };
  });
}
