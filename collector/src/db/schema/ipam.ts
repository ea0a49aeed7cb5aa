import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  cidr,
  index,
  inet,
  integer,
  jsonb,
  macaddr,
  pgTable,
  primaryKey,
  text,
  timestamp,
  unique,
  uuid,
} from 'drizzle-orm/pg-core';
import { users } from './users.js';

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
    /** DHCP servers known to serve this subnet: an OFFER or ACK from one of them is not rogue. */
    dhcpServers: inet('dhcp_servers').array().notNull().default(sql`'{}'`),
    /** False: only watched (discoveries, conflicts), never allocated from. */
    managed: boolean('managed').notNull().default(true),
    allocation: text('allocation').$type<'lowest' | 'random'>().notNull(),
    /**
     * Changes, to a value never seen before, with every change to what the allocator decides
     * from: this row, the subnet's ranges and pools' ranges, its addresses and runs (every
     * writer goes through subnet-store.ts `touchSubnets`; the allocator sets its own). A batch
     * decided ahead from what the collector knew writes only if it is still the value that
     * knowledge was carried to (allocator.ts).
     */
    allocStamp: uuid('alloc_stamp').notNull().defaultRandom(),
    /**
     * The version of this subnet's part of the DHCP maps: raised by the database itself, with a
     * row in dhcp_changes, whenever an address carrying a MAC, a DHCP option or a dynamic range
     * of the subnet changes (the triggers of migration 0012; dhcp/ reads them).
     */
    dhcpVersion: bigint('dhcp_version', { mode: 'number' }).notNull().default(0),
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

/** Machines being provisioned (API.md, "Nodes"), MAAS-style. */
export const nodes = pgTable('nodes', {
  id: uuid('id').primaryKey().defaultRandom(),
  hostname: text('hostname').notNull().unique(),
  createdAt: when('created_at').notNull().defaultNow(),
});

/** A node's network interfaces; the first physical one boots it. Virtual ones are forgotten on release. */
export const nodeInterfaces = pgTable(
  'node_interfaces',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    nodeId: uuid('node_id')
      .notNull()
      .references(() => nodes.id, { onDelete: 'cascade' }),
    mac: macaddr('mac').notNull().unique(),
    name: text('name'),
    virtual: boolean('virtual').notNull().default(false),
    /** Order of declaration: the first physical interface is the boot interface. */
    position: integer('position').notNull(),
  },
  (t) => [index('node_interfaces_node_idx').on(t.nodeId, t.position)],
);

/** Metal3-style pools (API.md, "Pools and claims"): non-contiguous ranges, possibly in several subnets. */
export const pools = pgTable('pools', {
  id: uuid('id').primaryKey().defaultRandom(),
  name: text('name').notNull().unique(),
  namePrefix: text('name_prefix').notNull(),
  prefix: integer('prefix'),
  gateway: inet('gateway'),
  dnsServers: inet('dns_servers').array(),
  /** Claim name → the address it gets, whoever asks first. */
  preAllocations: jsonb('pre_allocations').$type<Record<string, string>>().notNull().default({}),
  /** Addresses, "a-b" spans and CIDRs never handed out (as given, checked at creation). */
  exclusions: text('exclusions').array().notNull().default(sql`'{}'`),
  allocation: text('allocation').$type<'sequential' | 'random'>().notNull().default('sequential'),
  createdAt: when('created_at').notNull().defaultNow(),
});

/** A pool's ranges, in order, each inside one subnet, with its own prefix, gateway and DNS if given. */
export const poolRanges = pgTable(
  'pool_ranges',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    poolId: uuid('pool_id')
      .notNull()
      .references(() => pools.id, { onDelete: 'cascade' }),
    subnetId: uuid('subnet_id')
      .notNull()
      .references(() => subnets.id),
    start: inet('start').notNull(),
    end: inet('end').notNull(),
    prefix: integer('prefix'),
    gateway: inet('gateway'),
    dnsServers: inet('dns_servers').array(),
    position: integer('position').notNull(),
  },
  (t) => [
    index('pool_ranges_subnet_idx').on(t.subnetId, t.start),
    index('pool_ranges_pool_idx').on(t.poolId, t.position),
  ],
);

export type AddressKind = 'reserved' | 'device' | 'sticky' | 'auto' | 'extra' | 'claim';

/**
 * The allocations table (API.md, "Addresses"). `(subnet_id, ip)` is unique: whatever the
 * allocator's bookkeeping says, the database never holds one address twice.
 */
export const addresses = pgTable(
  'addresses',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    subnetId: uuid('subnet_id')
      .notNull()
      .references(() => subnets.id, { onDelete: 'cascade' }),
    ip: inet('ip').notNull(),
    kind: text('kind').$type<AddressKind>().notNull(),
    mac: macaddr('mac'),
    hostname: text('hostname'),
    /** The node the address belongs to (auto, extra, and sticky addresses given a node). */
    nodeId: uuid('node_id').references(() => nodes.id),
    /** The pool and claim of a `claim` address. */
    poolId: uuid('pool_id').references(() => pools.id),
    claim: text('claim'),
    ownerId: uuid('owner_id')
      .notNull()
      .references(() => users.id),
    comment: text('comment'),
    /**
     * The MAC this address had before its last change through the API, and when: for a while
     * the old host may still say its last words (a gratuitous ARP, a cached reply), which is
     * not a conflict (conflict-rules.ts, MAC_CHANGE_GRACE_MS).
     */
    previousMac: macaddr('previous_mac'),
    macChangedAt: when('mac_changed_at'),
    createdAt: when('created_at').notNull().defaultNow(),
  },
  (t) => [
    unique('addresses_subnet_ip_unique').on(t.subnetId, t.ip),
    index('addresses_ip_idx').on(t.ip),
    index('addresses_mac_idx').on(t.mac),
    index('addresses_owner_idx').on(t.ownerId),
    index('addresses_node_idx').on(t.nodeId),
    unique('addresses_pool_claim_unique').on(t.poolId, t.claim),
    check('addresses_kind_check', sql`${t.kind} in ('reserved', 'device', 'sticky', 'auto', 'extra', 'claim')`),
  ],
);

/**
 * The allocator's bookkeeping: the allocated addresses of each subnet as coalesced runs
 * [lo, hi], kept in step with `addresses` in the same transaction. Finding the next free
 * address walks runs through an index, so its cost does not grow with the subnet or with the
 * number of addresses in it (a /8 with a million allocated is one run when they are packed).
 */
export const takenRuns = pgTable(
  'taken_runs',
  {
    subnetId: uuid('subnet_id')
      .notNull()
      .references(() => subnets.id, { onDelete: 'cascade' }),
    lo: inet('lo').notNull(),
    hi: inet('hi').notNull(),
  },
  (t) => [primaryKey({ columns: [t.subnetId, t.lo] }), index('taken_runs_hi_idx').on(t.subnetId, t.hi)],
);
