/**
 * The Kea backend's reservations: rows of the `hosts` table of Kea's PostgreSQL hosts database
 * (schema 13.0 for Kea 2.2), which Kea looks up on every query, so a row written is served from
 * the next packet on — no reload (BACKENDS.md). A change is one transaction: upserts on Kea's own
 * unique index `key_dhcp4_identifier_subnet_id` and deletes, with ipwarden's deferred
 * (subnet, address) uniqueness checked at commit, so that a swap goes through and two hosts on
 * one address never do (Kea would NAK both). The agent owns the rows of the subnets it serves.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { DhcpHost, DhcpMapChange, DhcpMapContent } from '@ipwarden/protocol';
import postgres from 'postgres';
import type { KeaSubnetIds } from './kea-config.js';

/** Where Debian's `kea-admin` keeps the schema script `kea-admin db-init pgsql` runs. */
export const KEA_SCHEMA_SCRIPT = '/usr/share/kea/scripts/pgsql/dhcpdb_create.pgsql';
const HW_ADDRESS = 0; // host_identifier_type: hw-address
const UNIQUE_ADDRESS = 'ipwarden_dhcp4_address_unique';

/** The hosts database as Kea's `hosts-database` block names it, from a libpq URL. */
export interface KeaDatabase {
  name: string;
  host: string;
  port: number;
  user: string;
  password?: string;
}

/**
 * `postgres://user:password@host:port/name`, or with `?host=/socket/dir` (libpq's form) for a
 * server reached by its Unix socket, which works across network namespaces.
 */
export function parseHostsDatabase(url: string): KeaDatabase {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`the Kea hosts database "${url}" is not a URL (postgres://user@host:port/name)`);
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new Error(`the Kea hosts database must be a postgres:// URL, not ${parsed.protocol}`);
  }
  const name = decodeURIComponent(parsed.pathname.slice(1));
  const user = decodeURIComponent(parsed.username);
  if (name === '' || user === '') throw new Error('the Kea hosts database URL needs a user and a database name');
  const password = decodeURIComponent(parsed.password);
  return {
    name,
    host: parsed.searchParams.get('host') ?? (parsed.hostname || 'localhost'),
    port: Number(parsed.searchParams.get('port') ?? (parsed.port || 5432)),
    user,
    ...(password !== '' && { password }),
  };
}

const macBytes = (mac: string) => Buffer.from(mac.replaceAll(':', ''), 'hex');
const macText = (bytes: Buffer) => [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');
const ipNumber = (ip: string) => ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
const ipText = (n: number) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');

export class KeaHostsDatabase {
  private readonly sql: postgres.Sql;
  private ready: Promise<void> | undefined;

  constructor(
    readonly database: KeaDatabase,
    private readonly schemaScript = KEA_SCHEMA_SCRIPT,
  ) {
    this.sql = postgres({
      host: database.host,
      port: database.port,
      user: database.user,
      ...(database.password !== undefined && { password: database.password }),
      database: database.name,
      max: 2,
      connect_timeout: 5,
      onnotice: () => {},
    });
  }

  /**
   * Kea's schema (made with Kea's own script when the database is empty, as `kea-admin db-init`
   * would) and ipwarden's one constraint beside it.
   */
  private prepare(): Promise<void> {
    this.ready ??= (async () => {
      const [found] = await this.sql<{ hosts: string | null }[]>`SELECT to_regclass('hosts')::text AS hosts`;
      if (found?.hosts === null) {
        if (!existsSync(this.schemaScript)) {
          throw new Error(
            `the Kea hosts database has no schema and ${this.schemaScript} is missing: install kea-admin, or run kea-admin db-init pgsql`,
          );
        }
        await this.sql.unsafe(readFileSync(this.schemaScript, 'utf8'));
      }
      const [has] = await this.sql`SELECT 1 FROM pg_constraint WHERE conname = ${UNIQUE_ADDRESS}`;
      if (has === undefined) {
        await this.sql.unsafe(
          `ALTER TABLE hosts ADD CONSTRAINT ${UNIQUE_ADDRESS} UNIQUE (dhcp4_subnet_id, ipv4_address) DEFERRABLE INITIALLY DEFERRED`,
        );
      }
    })().catch((error: unknown) => {
      this.ready = undefined;
      throw error;
    });
    return this.ready;
  }

  /**
   * Makes the rows of `owned` subnets be `map`'s hosts: just `change` when given, else the whole
   * map (rows of owned subnets the map lacks are deleted). One transaction: all or nothing.
   */
  async write(map: DhcpMapContent, change: DhcpMapChange | undefined, ids: KeaSubnetIds, owned: number[]) {
    try {
      await this.prepare();
      await this.sql.begin(async (tx) => {
        if (change === undefined) {
          await this.deleteAbsent(tx, map.hosts, ids, owned);
        } else if (change.removed.length > 0) {
          await tx`
            DELETE FROM hosts h USING unnest(${tx.array(change.removed.map((r) => macBytes(r.mac)))}::bytea[],
                                             ${tx.array(change.removed.map((r) => ids.get(r.subnet) ?? 0))}::bigint[]) AS r(mac, subnet)
            WHERE h.dhcp_identifier = r.mac AND h.dhcp_identifier_type = ${HW_ADDRESS} AND h.dhcp4_subnet_id = r.subnet`;
        }
        await this.upsert(tx, change?.hosts ?? map.hosts, ids);
      });
    } catch (error) {
      throw new Error(`Kea's hosts database (${this.where()}): ${(error as Error).message}`);
    }
  }

  private async deleteAbsent(
    tx: postgres.TransactionSql,
    hosts: readonly DhcpHost[],
    ids: KeaSubnetIds,
    owned: number[],
  ) {
    await tx`
      DELETE FROM hosts h
      WHERE h.dhcp4_subnet_id = ANY(${tx.array(owned)}::bigint[])
        AND NOT EXISTS (
          SELECT 1 FROM unnest(${tx.array(hosts.map((h) => macBytes(h.mac)))}::bytea[],
                               ${tx.array(hosts.map((h) => ids.get(h.subnet) ?? 0))}::bigint[]) AS m(mac, subnet)
          WHERE m.mac = h.dhcp_identifier AND m.subnet = h.dhcp4_subnet_id AND h.dhcp_identifier_type = ${HW_ADDRESS})`;
  }

  private async upsert(tx: postgres.TransactionSql, hosts: readonly DhcpHost[], ids: KeaSubnetIds) {
    if (hosts.length === 0) return;
    await tx`
      INSERT INTO hosts (dhcp_identifier, dhcp_identifier_type, dhcp4_subnet_id, ipv4_address, hostname)
      SELECT mac, ${HW_ADDRESS}, subnet, ip, name
      FROM unnest(${tx.array(hosts.map((h) => macBytes(h.mac)))}::bytea[],
                  ${tx.array(hosts.map((h) => ids.get(h.subnet) ?? 0))}::bigint[],
                  ${tx.array(hosts.map((h) => ipNumber(h.ip)))}::bigint[],
                  ${tx.array(hosts.map((h) => h.hostname ?? null))}::text[]) AS m(mac, subnet, ip, name)
      ON CONFLICT (dhcp_identifier, dhcp_identifier_type, dhcp4_subnet_id) WHERE dhcp4_subnet_id IS NOT NULL
      DO UPDATE SET ipv4_address = excluded.ipv4_address, hostname = excluded.hostname`;
  }

  /** The reservations Kea serves now in `owned` subnets, read back. */
  async read(ids: KeaSubnetIds, owned: number[]): Promise<DhcpHost[]> {
    await this.prepare();
    const cidrs = new Map([...ids].map(([cidr, id]) => [id, cidr]));
    const rows = await this.sql<{ mac: Buffer; subnet: number; ip: string; hostname: string | null }[]>`
      SELECT dhcp_identifier AS mac, dhcp4_subnet_id::float8 AS subnet, ipv4_address::text AS ip, hostname
      FROM hosts WHERE dhcp_identifier_type = ${HW_ADDRESS} AND dhcp4_subnet_id = ANY(${this.sql.array(owned)}::bigint[])`;
    return rows.map((r) => ({
      mac: macText(r.mac),
      ip: ipText(Number(r.ip)),
      subnet: cidrs.get(r.subnet) ?? String(r.subnet),
      ...(r.hostname !== null && { hostname: r.hostname }),
    }));
  }

  private where(): string {
    const d = this.database;
    return `${d.user}@${d.host}:${d.port}/${d.name}`;
  }

  async close(): Promise<void> {
    await this.sql.end({ timeout: 5 });
  }
}
