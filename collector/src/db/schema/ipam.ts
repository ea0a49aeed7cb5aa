import { sql } from 'drizzle-orm';
import { boolean, check, cidr, index, inet, integer, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';

const when = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/**
 * Subnets under management (API.md, "Subnets and ranges"). Two subnets of one VLAN never
 * overlap; the subnet store checks it under a per-VLAN lock, since an exclusion constraint on
 * `cidr &&` needs btree_gist, which not every PostgreSQL we run on has.
 */
export const subnets = pgTable(
  'subnets',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    cidr: cidr('cidr').notNull(),
    vlan: integer('vlan').notNull().default(0),
    name: text('name'),
    gateway: inet('gateway'),
    dnsServers: inet('dns_servers').array().notNull().default(sql`'{}'`),
    ntpServers: inet('ntp_servers').array().notNull().default(sql`'{}'`),
    domain: text('domain'),
    leaseSeconds: integer('lease_seconds'),
    nextServer: inet('next_server'),
    bootFile: text('boot_file'),
    /** False: only watched (discoveries, conflicts), never allocated from. */
    managed: boolean('managed').notNull().default(true),
    allocation: text('allocation').$type<'lowest' | 'random'>().notNull(),
    createdAt: when('created_at').notNull().defaultNow(),
  },
  (t) => [
    index('subnets_cidr_idx').on(t.cidr),
    check('subnets_allocation_check', sql`${t.allocation} in ('lowest', 'random')`),
    check('subnets_vlan_check', sql`${t.vlan} between 0 and 4095`),
  ],
);

/** Dynamic (served by DHCP) and reserved ranges of a subnet: never allocated statically. */
export const ranges = pgTable(
  'ranges',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    subnetId: uuid('subnet_id')
      .notNull()
      .references(() => subnets.id, { onDelete: 'cascade' }),
    start: inet('start').notNull(),
    end: inet('end').notNull(),
    purpose: text('purpose').$type<'dynamic' | 'reserved'>().notNull(),
    comment: text('comment'),
    createdAt: when('created_at').notNull().defaultNow(),
  },
  (t) => [
    index('ranges_subnet_idx').on(t.subnetId, t.start),
    check('ranges_purpose_check', sql`${t.purpose} in ('dynamic', 'reserved')`),
    check('ranges_order_check', sql`${t.start} <= ${t.end}`),
  ],
);
