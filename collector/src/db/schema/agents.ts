import { bigint, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';

/** An interface as the agent reported it in its hello. */
export interface AgentInterface {
  name: string;
  mac?: string;
  vlans: number[];
  addresses: string[];
}

/** The agent's last `stats` message, as received. */
export interface AgentStats {
  at: string;
  captured: number;
  kernelDrops: number;
  decodeErrors: number;
  outboxDepth: number;
  outboxDropped: number;
}

/** Agents known to the collector: enrolled with the shared secret, then by their own token. */
export const agents = pgTable('agents', {
  id: uuid('id').primaryKey().defaultRandom(),
  name: text('name').notNull().unique(),
  hostname: text('hostname'),
  /** The installation that enrolled under this name (its hello's `instance`): only it may enroll again. */
  instance: uuid('instance'),
  /** SHA-256 of the agent's token; the token itself is shown once, at enrolment. */
  tokenHash: text('token_hash').notNull().unique(),
  /** The highest batch seq stored for this agent: a batch at or below it is a replay. */
  lastSeq: bigint('last_seq', { mode: 'number' }).notNull().default(0),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  lastSeenAt: timestamp('last_seen_at', { withTimezone: true }),
  revokedAt: timestamp('revoked_at', { withTimezone: true }),
  /** From the agent's last hello. */
  version: text('version'),
  interfaces: jsonb('interfaces').$type<AgentInterface[]>().notNull().default([]),
  dhcpBackend: text('dhcp_backend').notNull().default('none'),
  dhcpAppliedVersion: bigint('dhcp_applied_version', { mode: 'number' }),
  /** Subnets whose DHCP this agent serves, as an admin set them; null: those its interfaces sit in. */
  serves: uuid('serves').array(),
  stats: jsonb('stats').$type<AgentStats>(),
});
