import { bigint, bigserial, index, jsonb, macaddr, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { agents } from './agents.js';
import { subnets } from './ipam.js';

const when = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/**
 * Every change to what the DHCP maps hold: the subnet, the subnet's `dhcp_version` it made, and
 * the MAC whose host changed (null: the subnet's options or dynamic ranges). Written by the
 * database's own triggers on addresses, subnets and ranges (migration 0012), so that no path
 * that changes an address can forget it; read by dhcp/ to send agents what changed since the
 * version they hold, and pruned once older than any agent could still be behind by.
 */
export const dhcpChanges = pgTable(
  'dhcp_changes',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    subnetId: uuid('subnet_id')
      .notNull()
      .references(() => subnets.id, { onDelete: 'cascade' }),
    version: bigint('version', { mode: 'number' }).notNull(),
    mac: macaddr('mac'),
    at: when('at').notNull().defaultNow(),
  },
  (t) => [index('dhcp_changes_subnet_idx').on(t.subnetId, t.version)],
);

/**
 * Each agent's DHCP map as the collectors sent it and as the agent applied it. A version is
 * the agent's own count of maps and changes sent to it; `applied` says, per subnet id, the
 * subnet `dhcp_version` the applied version holds — what a call waiting for its change compares
 * with, on whichever collector it waits. A row of its own, not columns of agents: ingestion
 * updates that row with every batch, and a push must not wait for it.
 */
export const agentDhcp = pgTable('agent_dhcp', {
  agentId: uuid('agent_id')
    .primaryKey()
    .references(() => agents.id, { onDelete: 'cascade' }),
  sentVersion: bigint('sent_version', { mode: 'number' }).notNull().default(0),
  appliedVersion: bigint('applied_version', { mode: 'number' }),
  applied: jsonb('applied').$type<Record<string, number>>().notNull().default({}),
  appliedAt: when('applied_at'),
  /** The last failed apply: its version and the server's own words; cleared by the next success. */
  failedVersion: bigint('failed_version', { mode: 'number' }),
  failure: text('failure'),
  failedAt: when('failed_at'),
  /** The last drift the agent read back from its server (it then applied the map whole again). */
  drift: jsonb('drift').$type<{ version: number; missing: number; unexpected: number; detail: string }>(),
  driftAt: when('drift_at'),
});
