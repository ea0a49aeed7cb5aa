import { sql } from 'drizzle-orm';
import { bigint, index, inet, integer, macaddr, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';

const when = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/**
 * The agent that saw it. Not a foreign key, on purpose: PostgreSQL checks one with a
 * `SELECT … FOR KEY SHARE` on agents per inserted row, which cost a third of the ingest rate
 * (bench:ingest), while storeBatch has already checked and locked that very agent row in the
 * same transaction (its seq guard), and agents are never deleted — revoking one keeps its row.
 */
const agentId = () => uuid('agent_id').notNull();

/**
 * Observed bindings: who uses which address, per (VLAN, IP, MAC), with first and last sight.
 * `outer_vlan` is the QinQ service VID, 0 for frames with one tag or none. Stored with
 * fillfactor 90 (migration 0016, drizzle has no storage parameters), so that a refresh's update
 * stays on its page and touches no index (HOT).
 */
export const bindings = pgTable(
  'bindings',
  {
    vlan: integer('vlan').notNull(),
    outerVlan: integer('outer_vlan').notNull().default(0),
    ip: inet('ip').notNull(),
    mac: macaddr('mac').notNull(),
    agentId: agentId(),
    interface: text('interface').notNull(),
    sources: text('sources').array().notNull(),
    hostnames: text('hostnames').array().notNull(),
    firstSeen: when('first_seen').notNull(),
    lastSeen: when('last_seen').notNull(),
  },
  (t) => [
    // The address leads: lookups by IP and subnet, and the API's list order, walk this index.
    primaryKey({ columns: [t.ip, t.vlan, t.outerVlan, t.mac] }),
    index('bindings_mac_idx').on(t.mac),
  ],
);

/**
 * Every sighting that changed something (new, moved), and every probe and DHCP event: the history.
 * No surrogate key: (agent, seq, item) — the batch it came in and its place there — tells two
 * events of one millisecond apart for the history's order, and costs no sequence and no index
 * on each of the table's inserts, the most frequent of ingestion (`pnpm bench:store`: PostgreSQL's
 * CPU a sighting 20.7 µs with the id, 17.7 without).
 */
export const sightingEvents = pgTable(
  'sighting_events',
  {
    agentId: agentId(),
    seq: bigint('seq', { mode: 'number' }).notNull(),
    item: integer('item').notNull(),
    at: when('at').notNull(),
    interface: text('interface').notNull(),
    vlan: integer('vlan').notNull(),
    outerVlan: integer('outer_vlan').notNull().default(0),
    source: text('source').notNull(),
    kind: text('kind').notNull(),
    event: text('event').notNull(),
    ip: inet('ip').notNull(),
    mac: macaddr('mac').notNull(),
    previousMac: macaddr('previous_mac'),
    hostname: text('hostname'),
  },
  (t) => [
    index('sighting_events_ip_idx').on(t.ip, t.at),
    index('sighting_events_mac_idx').on(t.mac, t.at),
    // A MAC's history is its events and the moves away from it: without this, `mac = $1 or
    // previous_mac = $1` read the whole table. Partial: only moves have a previous MAC.
    index('sighting_events_previous_mac_idx').on(t.previousMac, t.at).where(sql`previous_mac is not null`),
  ],
);
