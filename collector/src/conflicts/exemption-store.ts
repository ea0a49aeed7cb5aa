/**
 * What a network does on purpose, declared by an admin (API.md, "Conflicts and alerts"):
 * exemptions — (IP or prefix, MACs, kinds) that raise nothing, an anycast gateway or a
 * keepalived pair — and DHCP servers known for a segment, whose OFFERs are not rogue.
 */
import { CONFLICT_KINDS, type ConflictKind, formatIp, formatPrefix } from '@ipwarden/ipam';
import { asc, eq, gt } from 'drizzle-orm';
import type { Database } from '../db/database.js';
import { conflictExemptions, dhcpServers } from '../db/schema/index.js';
import { ApiError, ErrorCode, fieldError } from '../errors.js';
import { checkMac } from '../ipam/address-store.js';
import { canonicalIp, checkAddress, checkPrefix } from '../ipam/subnet-store.js';

export interface Exemption {
  id: string;
  cidr: string;
  macs: string[];
  kinds: ConflictKind[];
  comment: string;
  createdAt: string;
}

export interface ExemptionInput {
  ip?: string;
  cidr?: string;
  macs?: string[];
  kinds?: string[];
  comment: string;
}

const exemptionView = (row: typeof conflictExemptions.$inferSelect): Exemption => ({
  id: row.id,
  cidr: formatPrefix(checkPrefix('cidr', row.cidr)),
  macs: row.macs,
  kinds: row.kinds,
  comment: row.comment,
  createdAt: row.createdAt.toISOString(),
});

export async function createExemption(db: Database, input: ExemptionInput): Promise<Exemption> {
  if ((input.ip === undefined) === (input.cidr === undefined)) {
    throw fieldError(
      ErrorCode.VALIDATION_FAILED,
      input.ip === undefined ? 'ip' : 'cidr',
      'give an ip or a cidr, not both',
    );
  }
  let cidr: string;
  if (input.ip !== undefined) {
    const ip = checkAddress('ip', input.ip);
    cidr = `${formatIp(ip)}/${ip.family === 4 ? 32 : 128}`;
  } else {
    cidr = formatPrefix(checkPrefix('cidr', input.cidr!));
  }
  const macs = [...new Set((input.macs ?? []).map((mac, i) => checkMac(`macs[${i}]`, mac)))];
  const kinds = [...new Set(input.kinds ?? [])];
  kinds.forEach((kind, i) => {
    if (!CONFLICT_KINDS.includes(kind as ConflictKind)) {
      throw fieldError(
        ErrorCode.VALIDATION_FAILED,
        `kinds[${i}]`,
        `"${kind}" is not one of ${CONFLICT_KINDS.join(', ')}`,
      );
    }
  });
  const [row] = await db
    .insert(conflictExemptions)
    .values({ cidr, macs, kinds: kinds as ConflictKind[], comment: input.comment })
    .returning();
  return exemptionView(row!);
}

export async function listExemptions(db: Database, limit: number, after?: string): Promise<Exemption[]> {
  const rows = await db
    .select()
    .from(conflictExemptions)
    .where(after === undefined ? undefined : gt(conflictExemptions.id, after))
    .orderBy(asc(conflictExemptions.id))
    .limit(limit);
  return rows.map(exemptionView);
}

/** Deletes an exemption, and returns its prefix (what it covered may be judged again). */
export async function deleteExemption(db: Database, id: string): Promise<string> {
  const [row] = await db.delete(conflictExemptions).where(eq(conflictExemptions.id, id)).returning();
  if (row === undefined) throw new ApiError(ErrorCode.NOT_FOUND, `no exemption ${id}`);
  return row.cidr;
}

export interface KnownDhcpServer {
  id: string;
  vlan: number;
  outerVlan: number;
  ip: string | null;
  mac: string | null;
  comment: string | null;
  createdAt: string;
}

export interface KnownDhcpServerInput {
  vlan: number;
  outerVlan?: number;
  ip?: string;
  mac?: string;
  comment?: string;
}

const serverView = (row: typeof dhcpServers.$inferSelect): KnownDhcpServer => ({
  id: row.id,
  vlan: row.vlan,
  outerVlan: row.outerVlan,
  ip: row.ip === null ? null : canonicalIp(row.ip),
  mac: row.mac,
  comment: row.comment,
  createdAt: row.createdAt.toISOString(),
});

export async function createDhcpServer(db: Database, input: KnownDhcpServerInput): Promise<KnownDhcpServer> {
  if (input.ip === undefined && input.mac === undefined) {
    throw fieldError(ErrorCode.VALIDATION_FAILED, 'ip', 'give the server’s ip, its mac, or both');
  }
  const ip = input.ip === undefined ? undefined : formatIp(checkAddress('ip', input.ip));
  const mac = input.mac === undefined ? undefined : checkMac('mac', input.mac);
  const [row] = await db
    .insert(dhcpServers)
    .values({ vlan: input.vlan, outerVlan: input.outerVlan ?? 0, ip, mac, comment: input.comment })
    .returning();
  return serverView(row!);
}

export async function listDhcpServers(db: Database, limit: number, after?: string): Promise<KnownDhcpServer[]> {
  const rows = await db
    .select()
    .from(dhcpServers)
    .where(after === undefined ? undefined : gt(dhcpServers.id, after))
    .orderBy(asc(dhcpServers.id))
    .limit(limit);
  return rows.map(serverView);
}

export async function deleteDhcpServer(db: Database, id: string): Promise<void> {
  const deleted = await db.delete(dhcpServers).where(eq(dhcpServers.id, id)).returning({ id: dhcpServers.id });
  if (deleted.length === 0) throw new ApiError(ErrorCode.NOT_FOUND, `no DHCP server ${id}`);
}
