/**
 * The DHCP wait (API.md, "DHCP wait"): a call that changed addresses carrying a MAC answers once
 * every agent serving their subnets has applied a map that holds the change — its subnet's DHCP
 * version now, or a later one — or after `wait` ms, saying which agents have and which have not.
 * What agents applied is in agent_dhcp, written by whichever collector they are connected to,
 * which then NOTIFYs every collector: a waiter here reads again when it hears of one.
 */
import { servedSubnets } from '@ipwarden/ipam';
import { sql } from 'drizzle-orm';
import type { FastifyBaseLogger } from 'fastify';
import { type Database, type DatabaseHandle, rowsOf } from '../db/database.js';
import type { AgentInterface } from '../db/schema/index.js';
import { agentDhcp, agents, subnets } from '../db/schema/index.js';
import { DHCP_APPLIED_CHANNEL, type DhcpPusher } from './map-pusher.js';

/** How long a call waits for agents by default, in ms (API.md). */
export const DEFAULT_DHCP_WAIT_MS = 5_000;
/** …and at most, whatever it asks. */
export const MAX_DHCP_WAIT_MS = 60_000;

export type AgentDhcpState = 'applied' | 'pending' | 'failed';

/** What the response carries (API.md): `none` when no agent serves the subnet. */
export interface DhcpOutcome {
  state: 'applied' | 'pending' | 'none';
  /** The subnet's DHCP version the change made (the highest, for a change in several subnets). */
  version: number | null;
  agents: { id: string; name: string; state: AgentDhcpState; error?: string }[];
}

/** Addresses in DHCP maps: with a MAC, and not a reservation (API.md, "Addresses"). */
export const inMaps = (address: { mac: string | null; kind: string }) =>
  address.mac !== null && address.kind !== 'reserved';

/** Nothing to wait for: the change touched no address in a DHCP map. */
export const NO_DHCP: DhcpOutcome = { state: 'none', version: null, agents: [] };

interface ServingRow {
  id: string;
  name: string;
  interfaces: AgentInterface[];
  serves: string[] | null;
  applied: Record<string, number> | null;
  applied_version: number | null;
  failed_version: number | null;
  failure: string | null;
}

export class DhcpWaits {
  private readonly db: Database;
  private readonly waiting = new Set<() => void>();
  private unlisten: (() => Promise<void>) | undefined;

  constructor(
    private readonly database: DatabaseHandle,
    private readonly pusher: DhcpPusher,
    private readonly log: FastifyBaseLogger,
  ) {
    this.db = database.db;
  }

  async start(): Promise<void> {
    this.unlisten = await this.database.listen(DHCP_APPLIED_CHANNEL, () => {
      for (const wake of this.waiting) wake();
    });
  }

  /**
   * Waits up to `waitMs` for every agent serving `subnetIds` to hold their versions of now.
   * Never throws: the change is committed, and a failure to learn its DHCP state is `pending`.
   */
  async outcome(subnetIds: readonly string[], waitMs: number): Promise<DhcpOutcome> {
    const ids = [...new Set(subnetIds)];
    if (ids.length === 0) return NO_DHCP;
    try {
      const versions = await this.versionsOf(ids);
      const version = Math.max(...versions.values());
      const deadline = performance.now() + Math.min(Math.max(0, waitMs), MAX_DHCP_WAIT_MS);
      for (;;) {
        // Registered before reading, so an apply recorded between the reading and the wait still wakes it.
        let wake!: () => void;
        const woken = new Promise<void>((resolve) => (wake = resolve));
        this.waiting.add(wake);
        try {
          const agentsNow = this.judge(await this.servingAgents(), ids, versions);
          if (agentsNow.length === 0) return { state: 'none', version, agents: [] };
          const left = deadline - performance.now();
          if (agentsNow.every((a) => a.state === 'applied') || left <= 0) {
            const state = agentsNow.every((a) => a.state === 'applied') ? 'applied' : 'pending';
            return { state, version, agents: agentsNow };
          }
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([woken, new Promise<void>((resolve) => (timer = setTimeout(resolve, left)))]);
          clearTimeout(timer);
        } finally {
          this.waiting.delete(wake);
        }
      }
    } catch (error) {
      this.log.warn({ err: error }, 'reading the DHCP state of a change failed');
      return { state: 'pending', version: null, agents: [] };
    }
  }

  private async versionsOf(ids: readonly string[]): Promise<Map<string, number>> {
    const rows = await rowsOf<{ id: string; version: number }>(
      this.db,
      sql`select id, dhcp_version::float8 as version from ${subnets} where id = any(${`{${ids.join(',')}}`}::uuid[])`,
    );
    return new Map(rows.map((r) => [r.id, Number(r.version)]));
  }

  /** Agents that can serve DHCP (a backend), with what they applied. */
  private servingAgents(): Promise<ServingRow[]> {
    return rowsOf<ServingRow>(
      this.db,
      sql`select a.id, a.name, a.interfaces, a.serves, d.applied, d.applied_version::float8 as applied_version,
                 d.failed_version::float8 as failed_version, d.failure
          from ${agents} a left join ${agentDhcp} d on d.agent_id = a.id
          where a.revoked_at is null and a.dhcp_backend <> 'none'`,
    );
  }

  private judge(rows: readonly ServingRow[], ids: readonly string[], versions: ReadonlyMap<string, number>) {
    const subnetsNow = this.pusher.servable();
    const out: DhcpOutcome['agents'] = [];
    for (const row of rows) {
      const served = servedSubnets({ interfaces: row.interfaces, serves: row.serves }, subnetsNow).filter((id) =>
        ids.includes(id),
      );
      if (served.length === 0) continue;
      const holds = served.every((id) => (row.applied?.[id] ?? -1) >= (versions.get(id) ?? 0));
      const failing =
        row.failed_version !== null && (row.applied_version === null || row.failed_version > row.applied_version);
      const state: AgentDhcpState = holds ? 'applied' : failing ? 'failed' : 'pending';
      out.push({ id: row.id, name: row.name, state, ...(state === 'failed' && { error: row.failure ?? undefined }) });
    }
    return out;
  }

  /** `address` with where the DHCP maps stand, waited for when the change touched them (API.md, "DHCP wait"). */
  async withDhcp<A extends { subnet: string; dhcp: DhcpOutcome }>(
    address: A,
    touched: boolean,
    waitMs?: number,
  ): Promise<A> {
    return touched
      ? { ...address, dhcp: await this.outcome([address.subnet], waitMs ?? DEFAULT_DHCP_WAIT_MS) }
      : address;
  }

  async close(): Promise<void> {
    for (const wake of this.waiting) wake();
    await this.unlisten?.();
  }
}
