import type { ConflictKind } from '@ipwarden/ipam';
import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  cidr,
  customType,
  index,
  inet,
  integer,
  jsonb,
  macaddr,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

const when = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/** The kinds are the rules' (packages/ipam, network-plan.ts). */
export type { ConflictKind };

export type ConflictStatus = 'open' | 'acknowledged' | 'resolved';

/** One piece of evidence, as the API shows it (times in ms since the epoch here, ISO in the API). */
export interface ConflictEvidence {
  /** The agent's name, and its id: the agents that saw a conflict watch it. */
  agent: string;
  agentId?: string;
  interface: string;
  vlan: number;
  outerVlan?: number;
  source: string;
  /** The frame's kind: host, probe, router, dhcp-server, dhcp-lease. */
  kind: string;
  mac: string;
  at: number;
  /** What made it evidence: "moved back", "answers a probe", … */
  note?: string;
}

/**
 * Conflicts (DESIGN.md, "Conflicts"): what the wire says against what the table says. One open
 * (or acknowledged) row per (kind, segment, subject) — the subject is the IP, or the server's
 * MAC for `rogue-dhcp-server` — which the partial unique index enforces, so two collectors on
 * one database update one row instead of opening two.
 */
export const conflicts = pgTable(
  'conflicts',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    kind: text('kind').$type<ConflictKind>().notNull(),
    vlan: integer('vlan').notNull(),
    outerVlan: integer('outer_vlan').notNull().default(0),
    /** The IP, or for `rogue-dhcp-server` the server's MAC: what a conflict is "about". */
    subject: text('subject').notNull(),
    ip: inet('ip').notNull(),
    /** Every MAC involved, with when each was last seen in this conflict (ms since the epoch). */
    macs: jsonb('macs').$type<Record<string, number>>().notNull(),
    subnetId: uuid('subnet_id'),
    addressId: uuid('address_id'),
    status: text('status').$type<ConflictStatus>().notNull().default('open'),
    firstSeen: when('first_seen').notNull(),
    lastSeen: when('last_seen').notNull(),
    /**
     * The last time the condition held: its last evidence, or for `duplicate-ip` the last time
     * two of its MACs were both seen within the quiet period. The conflict resolves by itself
     * once this is older than `conflictQuietSeconds`.
     */
    conditionAt: when('condition_at').notNull(),
    /** The newest evidence first, a few at most (conflict-store.ts). */
    evidence: jsonb('evidence').$type<ConflictEvidence[]>().notNull(),
    acknowledgedBy: text('acknowledged_by'),
    acknowledgedAt: when('acknowledged_at'),
    /** "quiet", "allocation", "exemption", or the name of the user who resolved it. */
    resolvedBy: text('resolved_by'),
    resolvedAt: when('resolved_at'),
    comment: text('comment'),
  },
  (t) => [
    uniqueIndex('conflicts_live_unique')
      .on(t.kind, t.vlan, t.outerVlan, t.subject)
      .where(sql`${t.status} <> 'resolved'`),
    index('conflicts_live_condition_idx').on(t.conditionAt).where(sql`${t.status} <> 'resolved'`),
    index('conflicts_ip_idx').on(t.ip),
    index('conflicts_status_idx').on(t.status, t.id),
    check('conflicts_status_check', sql`${t.status} in ('open', 'acknowledged', 'resolved')`),
  ],
);

/** What a network does on purpose (an anycast gateway, a keepalived pair): raises nothing. */
export const conflictExemptions = pgTable('conflict_exemptions', {
  id: uuid('id').primaryKey().defaultRandom(),
  /** The addresses it covers: one IP is a /32 or /128. */
  cidr: cidr('cidr').notNull(),
  /** Empty: any MAC. */
  macs: macaddr('macs').array().notNull().default(sql`'{}'`),
  /** Empty: every kind. */
  kinds: text('kinds').array().$type<ConflictKind[]>().notNull().default(sql`'{}'`),
  comment: text('comment').notNull(),
  createdAt: when('created_at').notNull().defaultNow(),
});

/** DHCP servers an admin declared for a segment (by IP, MAC or both): not rogue. */
export const dhcpServers = pgTable(
  'dhcp_servers',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    vlan: integer('vlan').notNull(),
    outerVlan: integer('outer_vlan').notNull().default(0),
    ip: inet('ip'),
    mac: macaddr('mac'),
    comment: text('comment'),
    createdAt: when('created_at').notNull().defaultNow(),
  },
  (t) => [check('dhcp_servers_ip_or_mac', sql`${t.ip} is not null or ${t.mac} is not null`)],
);

/** PostgreSQL's 64-bit transaction id, read and written as its decimal text. */
const xid8 = customType<{ data: string }>({ dataType: () => 'xid8' });

/**
 * The event log (DESIGN.md, "Events"): written in the transaction that causes each event, with
 * an id that only grows; webhooks and `GET /events` read it from there.
 *
 * Ids are drawn before commit, so concurrent transactions commit them out of order: a reader
 * that had passed id 7 would never see a 6 committed after it. Readers therefore follow the
 * log in (tx, id) order and only up to the oldest transaction still running (event-log.ts),
 * a prefix that only grows at its end.
 */
export const events = pgTable(
  'events',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    /** The writing transaction: the log's order across transactions (event-log.ts). */
    tx: xid8('tx').notNull().default(sql`pg_current_xact_id()`),
    type: text('type').notNull(),
    at: when('at').notNull().defaultNow(),
    data: jsonb('data').notNull(),
  },
  (t) => [index('events_type_idx').on(t.type, t.id), index('events_log_order_idx').on(t.tx, t.id)],
);

/**
 * Webhooks (API.md, "Conflicts and alerts"), each with its own place in the event log: events
 * past `deliveredId` are delivered in order, by one collector at a time (the one holding
 * `leaseUntil`), so that replicas deliver each event once.
 */
export const webhooks = pgTable('webhooks', {
  id: uuid('id').primaryKey().defaultRandom(),
  url: text('url').notNull(),
  /** Event types, or ["*"]. */
  eventTypes: text('event_types').array().notNull(),
  secret: text('secret').notNull(),
  format: text('format').$type<'json' | 'slack'>().notNull().default('json'),
  enabled: boolean('enabled').notNull().default(true),
  /** The last event delivered, or skipped as not wanted. */
  deliveredId: bigint('delivered_id', { mode: 'number' }).notNull(),
  /** Failures of the event now being retried (0: none pending). */
  failures: integer('failures').notNull().default(0),
  /** When the event now being retried first failed: it is dropped once retried long enough. */
  failingSince: when('failing_since'),
  nextAttemptAt: when('next_attempt_at'),
  lastDeliveryAt: when('last_delivery_at'),
  lastStatus: integer('last_status'),
  lastError: text('last_error'),
  /** Events given up after retrying for the retry period. */
  dropped: bigint('dropped', { mode: 'number' }).notNull().default(0),
  leaseHolder: uuid('lease_holder'),
  leaseUntil: when('lease_until'),
  createdAt: when('created_at').notNull().defaultNow(),
});
