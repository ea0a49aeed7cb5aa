import {
  bigint,
  bigserial,
  index,
  inet,
  integer,
  macaddr,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uuid,
} from 'drizzle-orm/pg-core';
import { agents } from './agents.js';

const when = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/**
 * Observed bindings: who uses which address, per (VLAN, IP, MAC), with first and last sight.
 * `outer_vlan` is the QinQ service VID, 0 for frames with one tag or none.
 */
export const bindings = pgTable(
  'bindings',
  {
    vlan: integer('vlan').notNull(),
    outerVlan: integer('outer_vlan').notNull().default(0),
    ip: inet('ip').notNull(),
    mac: macaddr('mac').notNull(),
    agentId: uuid('agent_id')
      .notNull()
      .references(() => agents.id, { onDelete: 'cascade' }),
    interface: text('interface').notNull(),
    sources: text('sources').array().notNull(),
    hostnames: text('hostnames').array().notNull(),
    firstSeen: when('first_seen').notNull(),
    lastSeen: when('last_seen').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.vlan, t.outerVlan, t.ip, t.mac] }),
    index('bindings_mac_idx').on(t.mac),
    index('bindings_agent_idx').on(t.agentId),
    index('bindings_last_seen_idx').on(t.lastSeen),
  ],
);

/** Every sighting that changed something (new, moved), and every probe and DHCP event: the history. */
export const sightingEvents = pgTable(
  'sighting_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    agentId: uuid('agent_id')
      .notNull()
      .references(() => agents.id, { onDelete: 'cascade' }),
    seq: bigint('seq', { mode: 'number' }).notNull(),
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
    index('sighting_events_agent_idx').on(t.agentId),
  ],
);
