/**
 * Agents as the collector keeps them: registered by an admin (`POST /agents`) or enrolled with
 * the shared secret, each with its own token (only its hash stored), revocable.
 */
import { parseIp, type ServableSubnet, servedSubnets } from '@ipwarden/ipam';
import type { Hello, Stats } from '@ipwarden/protocol';
import { and, asc, eq, isNull, sql } from 'drizzle-orm';
import { hashToken, newToken } from '../auth/tokens.js';
import type { Database, Tx } from '../db/database.js';
import { type AgentInterface, type AgentStats, agentDhcp, agents, bindings, subnets } from '../db/schema/index.js';
import { ApiError, ErrorCode } from '../errors.js';
import { appendEvents } from '../events/event-log.js';

export interface AgentRecord {
  id: string;
  name: string;
  lastSeq: number;
}

const RECORD = { id: agents.id, name: agents.name, lastSeq: agents.lastSeq };

/** The live (not revoked) agent a token belongs to. */
export async function agentForToken(db: Database, token: string): Promise<AgentRecord | undefined> {
  const [row] = await db
    .select(RECORD)
    .from(agents)
    .where(and(eq(agents.tokenHash, hashToken(token)), isNull(agents.revokedAt)));
  return row;
}

/** Registers an agent by name and gives it a token (API: `POST /agents`). */
export async function registerAgent(db: Database, name: string): Promise<{ id: string; name: string; token: string }> {
  const token = newToken('agent');
  const rows = await db
    .insert(agents)
    .values({ name, tokenHash: hashToken(token) })
    .onConflictDoNothing({ target: agents.name })
    .returning({ id: agents.id });
  if (rows.length === 0) throw new ApiError(ErrorCode.NAME_TAKEN, `an agent named "${name}" exists`);
  return { id: rows[0]!.id, name, token };
}

export type Enrolment =
  | { ok: true; agent: AgentRecord; token: string }
  | { ok: false; reason: 'revoked' | 'name-taken'; detail: string };

/**
 * First contact with the enrollment secret: a new name is registered to the installation that
 * asks; the same installation asking again (it lost its token) gets a new token — the old stops
 * working — and keeps its seq history. Another installation is refused the name: two machines
 * sharing a hostname must not share an agent (and its seqs). A revoked agent stays revoked.
 */
export async function enrollAgent(db: Database, name: string, instance: string): Promise<Enrolment> {
  const token = newToken('agent');
  const tokenHash = hashToken(token);
  return db.transaction(async (tx) => {
    const [existing] = await tx
      .select({ ...RECORD, revokedAt: agents.revokedAt, instance: agents.instance })
      .from(agents)
      .where(eq(agents.name, name))
      .for('update');
    if (existing?.revokedAt) return { ok: false, reason: 'revoked', detail: `agent "${name}" was revoked` };
    if (existing !== undefined && existing.instance !== instance) {
      return {
        ok: false,
        reason: 'name-taken',
        detail: `agent name "${name}" belongs to another installation: give this one its own --name, or the token an admin made for it`,
      };
    }
    if (existing !== undefined) {
      await tx.update(agents).set({ tokenHash }).where(eq(agents.id, existing.id));
      return { ok: true, agent: { id: existing.id, name, lastSeq: existing.lastSeq }, token };
    }
    const [created] = await tx.insert(agents).values({ name, tokenHash, instance }).returning(RECORD);
    return { ok: true, agent: created!, token };
  });
}

/**
 * What the agent said of itself in its hello; undefined when the agent was revoked after its
 * connection was accepted, so that it is not welcomed.
 */
/** Records the agent's hello, and `agent.connected` in the same transaction. */
export async function recordHello(db: Database, id: string, hello: Hello): Promise<AgentRecord | undefined> {
  return db.transaction(async (tx) => {
    const row = await updateFromHello(tx, id, hello);
    if (row !== undefined) {
      await recordOwnAddresses(tx, id, hello.hostname, hello.interfaces as AgentInterface[]);
      await appendEvents(tx, [
        {
          type: 'agent.connected',
          data: { id, name: row.name, hostname: hello.hostname, version: hello.version, interfaces: hello.interfaces },
        },
      ]);
    }
    return row;
  });
}

/** `agent.disconnected`, once its connection to this collector has closed. */
export async function recordDisconnect(db: Database, agent: { id: string; name: string }): Promise<void> {
  await appendEvents(db, [{ type: 'agent.disconnected', data: { id: agent.id, name: agent.name } }]);
}

async function updateFromHello(db: Database | Tx, id: string, hello: Hello): Promise<AgentRecord | undefined> {
  const [row] = await db
    .update(agents)
    .set({
      hostname: hello.hostname,
      instance: hello.instance,
      version: hello.version,
      interfaces: hello.interfaces as AgentInterface[],
      dhcpBackend: hello.dhcp.backend,
      dhcpAppliedVersion: hello.dhcp.appliedVersion,
      lastSeenAt: new Date(),
    })
    .where(and(eq(agents.id, id), isNull(agents.revokedAt)))
    .returning(RECORD);
  return row;
}

export async function recordStats(db: Database, id: string, stats: Stats): Promise<void> {
  const { type: _, ...counts } = stats;
  const value: AgentStats = { at: new Date().toISOString(), ...counts };
  const [row] = await db
    .update(agents)
    .set({ stats: value, lastSeenAt: new Date() })
    .where(eq(agents.id, id))
    .returning({ hostname: agents.hostname, interfaces: agents.interfaces });
  if (row !== undefined) await recordOwnAddresses(db, id, row.hostname ?? '', row.interfaces);
}

/**
 * The agent's own interface addresses are in use, by it: kept as bindings (source `agent`),
 * seen now — at hello and with each stats report — so that the allocator never hands one out
 * (it avoids what was observed in use) and discoveries show the rack controllers. An agent's
 * own frames need not reach its capture for that (a quiet DHCP server sends none).
 */
async function recordOwnAddresses(
  db: Database | Tx,
  agentId: string,
  hostname: string,
  interfaces: readonly AgentInterface[],
): Promise<void> {
  const now = new Date();
  const rows = interfaces.flatMap((face) =>
    face.mac === undefined
      ? []
      : face.addresses.flatMap((address) => {
          const ip = address.split('/')[0]!;
          if (parseIp(ip) === undefined || ip.toLowerCase().startsWith('fe80:')) return [];
          return [
            {
              vlan: face.vlans[0] ?? 0,
              ip,
              mac: face.mac!,
              agentId,
              interface: face.name,
              sources: ['agent'],
              hostnames: hostname === '' ? [] : [hostname],
              firstSeen: now,
              lastSeen: now,
            },
          ];
        }),
  );
  if (rows.length === 0) return;
  // One row a key: an address on two interfaces of one MAC would be upserted twice in one statement.
  const unique = [...new Map(rows.map((r) => [`${r.ip} ${r.vlan} ${r.mac}`, r])).values()];
  await db
    .insert(bindings)
    .values(unique)
    .onConflictDoUpdate({
      target: [bindings.ip, bindings.vlan, bindings.outerVlan, bindings.mac],
      set: { lastSeen: now, agentId, interface: sql`excluded.interface` },
    });
}

/** Whether the agent was revoked (false for an agent that does not exist). */
export async function isRevoked(db: Database, id: string): Promise<boolean> {
  const [row] = await db.select({ revokedAt: agents.revokedAt }).from(agents).where(eq(agents.id, id));
  return row !== undefined && row.revokedAt !== null;
}

export async function recordDhcpApplied(db: Database, id: string, version: number): Promise<void> {
  await db.update(agents).set({ dhcpAppliedVersion: version, lastSeenAt: new Date() }).where(eq(agents.id, id));
}

/** Revokes the agent's token; its bindings and history stay. */
export async function revokeAgent(db: Database, id: string): Promise<void> {
  const rows = await db
    .update(agents)
    .set({ revokedAt: new Date() })
    .where(eq(agents.id, id))
    .returning({ id: agents.id });
  if (rows.length === 0) throw new ApiError(ErrorCode.NOT_FOUND, `no agent ${id}`);
}

/** An agent's DHCP as `GET /agents` shows it (API.md, "Agents"). */
export interface AgentDhcpView {
  backend: string;
  /** The map version the agent last acknowledged as applied. */
  appliedVersion: number | null;
  /** The version it should be at: the applied one when in step, else the one on its way or next. */
  wantedVersion: number | null;
  /** Holding the newest DHCP version of every subnet it serves. */
  inStep: boolean;
  /** The subnets it serves, by id, and whether an admin set them (PATCH /agents/{id}). */
  serves: string[];
  servesSetBy: 'interfaces' | 'admin';
  /** The last apply that failed since the last that succeeded: the server's own words. */
  failure: { version: number; error: string; at: string } | null;
  /** The last time the agent read back from its server something other than its map (then applied again). */
  lastDrift: { version: number; missing: number; unexpected: number; detail: string; at: string } | null;
}

export interface AgentView {
  id: string;
  name: string;
  hostname: string | null;
  version: string | null;
  connected: boolean;
  revoked: boolean;
  lastSeen: string | null;
  lastSeq: number;
  interfaces: AgentInterface[];
  dhcp: AgentDhcpView;
  stats: AgentStats | null;
}

export async function listAgents(
  db: Database,
  connected: (id: string) => boolean,
  subnetsNow: readonly ServableSubnet[],
  id?: string,
): Promise<AgentView[]> {
  const [rows, versionRows] = await Promise.all([
    db
      .select({ agent: agents, dhcp: agentDhcp })
      .from(agents)
      .leftJoin(agentDhcp, eq(agentDhcp.agentId, agents.id))
      .where(id === undefined ? undefined : eq(agents.id, id))
      .orderBy(asc(agents.name)),
    db.select({ id: subnets.id, version: subnets.dhcpVersion }).from(subnets),
  ]);
  const versions = new Map(versionRows.map((r) => [r.id, r.version]));
  return rows.map(({ agent: row, dhcp }) => {
    const served = row.dhcpBackend === 'none' ? [] : servedSubnets(row, subnetsNow);
    const applied = dhcp?.appliedVersion ?? row.dhcpAppliedVersion;
    const inStep = served.every((s) => (dhcp?.applied[s] ?? -1) >= (versions.get(s) ?? 0));
    const sent = dhcp?.sentVersion ?? 0;
    const failing = dhcp?.failedVersion != null && (applied === null || dhcp.failedVersion > applied);
    return {
      id: row.id,
      name: row.name,
      hostname: row.hostname,
      version: row.version,
      connected: connected(row.id),
      revoked: row.revokedAt !== null,
      lastSeen: row.lastSeenAt?.toISOString() ?? null,
      lastSeq: row.lastSeq,
      interfaces: row.interfaces,
      dhcp: {
        backend: row.dhcpBackend,
        appliedVersion: applied,
        wantedVersion: row.dhcpBackend === 'none' ? null : inStep ? applied : sent > (applied ?? 0) ? sent : sent + 1,
        inStep,
        serves: served,
        servesSetBy: row.serves === null ? 'interfaces' : 'admin',
        failure:
          failing && dhcp?.failure != null
            ? { version: dhcp.failedVersion!, error: dhcp.failure, at: dhcp.failedAt!.toISOString() }
            : null,
        lastDrift: dhcp?.drift == null ? null : { ...dhcp.drift, at: dhcp.driftAt!.toISOString() },
      },
      stats: row.stats ?? null,
    };
  });
}

/** Sets the subnets an agent serves (null: those its interfaces sit in); false when there is no such agent. */
export async function setServes(db: Database, id: string, serves: string[] | null): Promise<boolean> {
  const rows = await db.update(agents).set({ serves }).where(eq(agents.id, id)).returning({ id: agents.id });
  return rows.length > 0;
}
