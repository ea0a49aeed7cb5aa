/**
 * The DHCP wait (API.md, "DHCP wait"): a call that changed addresses carrying a MAC answers once
 * every agent serving their subnets has applied a map that holds the change — its subnet's DHCP
 * version now, or a later one — or after `wait` ms, saying which agents have and which have not.
 * What agents applied is in agent_dhcp, written by whichever collector they are connected to,
 * which then NOTIFYs every collector: a waiter here reads again when it hears of one.
 */
import { sql } from 'drizzle-orm';
import type { FastifyBaseLogger } from 'fastify';
import { type Database, type DatabaseHandle, rowsOf } from '../db/database.js';
import { agentDhcp, subnets } from '../db/schema/index.js';
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

interface AppliedRow {
  agent_id: string;
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
          const serving = this.pusher.servingAgents(ids);
          if (serving.length === 0) return { state: 'none', version, agents: [] };
          const agentsNow = this.judge(serving, await this.appliedBy(serving.map((a) => a.id)), versions);
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

  /** What each of `ids` applied, and its last failure. */
  private async appliedBy(ids: readonly string[]): Promise<Map<string, AppliedRow>> {
    const rows = await rowsOf<AppliedRow>(
      this.db,
      sql`select agent_id, applied, applied_version::float8 as applied_version,
                 failed_version::float8 as failed_version, failure
          from ${agentDhcp} where agent_id = any(${`{${ids.join(',')}}`}::uuid[])`,
    );
    return new Map(rows.map((r) => [r.agent_id, r]));
  }

  private judge(
    serving: readonly { id: string; name: string; served: string[] }[],
    applied: ReadonlyMap<string, AppliedRow>,
    versions: ReadonlyMap<string, number>,
  ): DhcpOutcome['agents'] {
    return serving.map(({ id, name, served }) => {
      const row = applied.get(id);
      const holds = served.every((s) => (row?.applied?.[s] ?? -1) >= (versions.get(s) ?? 0));
      const failing =
        row?.failed_version != null && (row.applied_version === null || row.failed_version > row.applied_version);
      const state: AgentDhcpState = holds ? 'applied' : failing ? 'failed' : 'pending';
      return { id, name, state, ...(state === 'failed' && row?.failure != null && { error: row.failure }) };
    });
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
