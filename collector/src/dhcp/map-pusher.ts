/**
 * DHCP map pushes (DESIGN.md, "DHCP map pushes"; API.md, "DHCP wait"): each agent with a DHCP
 * backend connected to this collector gets the whole map for the subnets it serves when it is
 * welcomed, and afterwards only what changed (protocol `dhcpMapChange`), whichever collector made
 * the change — the database's triggers record every change with the subnet's new version and
 * NOTIFY every collector at commit (migration 0012).
 *
 * What an agent holds is kept as one version per served subnet (its "vector"): the subnet
 * `dhcp_version` its map is at. A change to a subnet reaches each agent serving it as the
 * difference between the version it holds and the newest, read from the change log in one
 * statement for all the agents at the same version; changes that arrive together go out
 * together. The agent's map version counts what was sent to it (agent_dhcp.sent_version); when
 * it acknowledges one, the vector that version carried is recorded as applied, which is what a
 * call waiting for its change compares with (dhcp-wait.ts), on whichever collector it waits.
 */
import { type ServableSubnet, servedSubnets } from '@ipwarden/ipam';
import type { DhcpDrift, DhcpHost, DhcpMap, DhcpMapChange, DhcpMapContent, DhcpSubnet } from '@ipwarden/protocol';
import { eq, inArray, sql } from 'drizzle-orm';
import type { FastifyBaseLogger } from 'fastify';
import { type Database, type DatabaseHandle, rowsOf } from '../db/database.js';
import { agentDhcp, agents, dhcpChanges } from '../db/schema/index.js';
import { appendEvents } from '../events/event-log.js';
import type { DhcpPeer, DhcpSink } from '../gateway/agent-gateway.js';
import type { Metrics } from '../metrics.js';
import { type DhcpSubnetRow, readChanges, readDhcpSubnets, readHosts, type SubnetChanges } from './map-store.js';

/** Collectors hear here of every committed DHCP change: `subnet:version,…`, or `*`. */
export const DHCP_CHANNEL = 'ipwarden_dhcp';
/** …and here of every apply an agent acknowledged or failed (the agent's id). */
export const DHCP_APPLIED_CHANNEL = 'ipwarden_dhcp_applied';
/** Changes older than this are pruned from the log; an agent further behind gets the whole map. */
const CHANGE_LOG_KEEP_MS = 3_600_000; // 1 h
const PRUNE_EVERY_MS = 300_000; // 5 min

/** An agent with a DHCP backend, connected here. */
interface PushedAgent {
  id: string;
  name: string;
  backend: DhcpPeer['backend'];
  send: DhcpPeer['send'];
  /** The subnets it serves, by id. */
  served: string[];
  /** What its map holds: per served subnet, the version. Undefined until its first map is sent. */
  vector: Map<string, number> | undefined;
  /** The map versions sent and not yet acknowledged, with their vectors. */
  unacked: Map<number, Record<string, number>>;
  /** The version last sent. */
  version: number;
  /** Subnets changed past what it holds, with the newest version heard of, to send at the next flush. */
  stale: Map<string, number>;
  /** A whole map is due (served subnets changed, or the log no longer reaches back). */
  whole: boolean;
}

export interface DhcpPusherOptions {
  database: DatabaseHandle;
  metrics: Metrics;
  log: FastifyBaseLogger;
}

export class DhcpPusher implements DhcpSink {
  private readonly db: Database;
  private subnets = new Map<string, DhcpSubnetRow>();
  private serving: { id: string; name: string; served: string[] }[] = [];
  private readonly agents = new Map<string, PushedAgent>();
  private flushing: Promise<void> | undefined;
  private flushAgain = false;
  private unlisten: (() => Promise<void>) | undefined;
  private pruner: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: DhcpPusherOptions) {
    this.db = options.database.db;
  }

  async start(): Promise<void> {
    await this.reloadSubnets();
    await this.reloadServing();
    this.unlisten = await this.options.database.listen(DHCP_CHANNEL, (payload) => this.heard(payload));
    this.pruner = setInterval(() => void this.prune(), PRUNE_EVERY_MS);
    this.pruner.unref();
  }

  /** Subnets as this collector knows them. */
  servable(): ServableSubnet[] {
    return [...this.subnets.values()];
  }

  /**
   * Every agent with a DHCP backend, connected here or not, and the subnets it serves — read
   * again with every change of the plan (subnets, hellos, what an admin set): what a DHCP wait
   * asks of each call without a reading of its own (dhcp-wait.ts).
   */
  servingAgents(subnetIds: readonly string[]): { id: string; name: string; served: string[] }[] {
    const wanted = new Set(subnetIds);
    const out: { id: string; name: string; served: string[] }[] = [];
    for (const agent of this.serving) {
      const served = agent.served.filter((id) => wanted.has(id));
      if (served.length > 0) out.push({ id: agent.id, name: agent.name, served });
    }
    return out;
  }

  private async reloadServing(): Promise<void> {
    const rows = await this.db
      .select({ id: agents.id, name: agents.name, interfaces: agents.interfaces, serves: agents.serves })
      .from(agents)
      .where(sql`${agents.revokedAt} is null and ${agents.dhcpBackend} <> 'none'`);
    const subnetsNow = [...this.subnets.values()];
    this.serving = rows.map((row) => ({ id: row.id, name: row.name, served: servedSubnets(row, subnetsNow) }));
  }

  /** An agent was welcomed: its whole map now, if it has a DHCP backend. */
  async connected(agent: DhcpPeer): Promise<void> {
    if (agent.backend === 'none' || this.closed) return;
    const pushed: PushedAgent = {
      ...agent,
      served: [],
      vector: undefined,
      unacked: new Map(),
      version: 0,
      stale: new Map(),
      whole: true,
    };
    this.agents.set(agent.id, pushed);
    pushed.served = await this.servedBy(agent.id);
    const known = this.serving.find((a) => a.id === agent.id);
    if (known === undefined) this.serving.push({ id: agent.id, name: agent.name, served: pushed.served });
    else known.served = pushed.served;
    this.schedule();
  }

  disconnected(agentId: string, send: DhcpPeer['send']): void {
    if (this.agents.get(agentId)?.send === send) this.agents.delete(agentId);
  }

  /**
   * The agent applied `version`: what it holds is recorded — and every collector told — if this
   * collector sent that version on the agent's present connection.
   */
  async applied(agentId: string, version: number): Promise<void> {
    const agent = this.agents.get(agentId);
    const vector = agent?.unacked.get(version);
    if (agent === undefined || vector === undefined) return;
    for (const v of agent.unacked.keys()) if (v <= version) agent.unacked.delete(v);
    await this.db.transaction(async (tx) => {
      await tx
        .update(agentDhcp)
        .set({ appliedVersion: version, applied: vector, appliedAt: new Date(), failedVersion: null, failure: null })
        .where(eq(agentDhcp.agentId, agentId));
      await appendEvents(tx, [{ type: 'dhcp.applied', data: { agent: { id: agentId, name: agent.name }, version } }]);
      await tx.execute(sql`select pg_notify(${DHCP_APPLIED_CHANNEL}, ${agentId})`);
    });
    this.options.metrics.dhcpApplied.inc();
  }

  /** The agent could not apply `version`: its reason, for `GET /agents` and a `dhcp.failed` event. */
  async failed(agentId: string, version: number, error: string, behind = false): Promise<void> {
    const agent = this.agents.get(agentId);
    // It could not take a change at all (it does not hold its base): the whole map next.
    if (agent !== undefined && behind) {
      agent.whole = true;
      this.schedule();
      return;
    }
    await this.db.transaction(async (tx) => {
      await tx
        .insert(agentDhcp)
        .values({ agentId, failedVersion: version, failure: error, failedAt: new Date() })
        .onConflictDoUpdate({
          target: agentDhcp.agentId,
          set: { failedVersion: version, failure: error, failedAt: new Date() },
        });
      await appendEvents(tx, [
        { type: 'dhcp.failed', data: { agent: { id: agentId, name: agent?.name }, version, error } },
      ]);
      await tx.execute(sql`select pg_notify(${DHCP_APPLIED_CHANNEL}, ${agentId})`);
    });
  }

  /**
   * The agent read back from its server something other than the map it applied (and applies
   * it whole again): kept for `GET /agents`, and a `dhcp.drift` event.
   */
  async drifted(agentId: string, drift: Omit<DhcpDrift, 'type'>): Promise<void> {
    const name = this.agents.get(agentId)?.name;
    await this.db.transaction(async (tx) => {
      await tx
        .insert(agentDhcp)
        .values({ agentId, drift, driftAt: new Date() })
        .onConflictDoUpdate({ target: agentDhcp.agentId, set: { drift, driftAt: new Date() } });
      await appendEvents(tx, [{ type: 'dhcp.drift', data: { agent: { id: agentId, name }, ...drift } }]);
    });
  }

  /** Subnets, ranges or agents changed (the plan channel): who serves what is worked out again. */
  async planChanged(): Promise<void> {
    try {
      await this.reloadSubnets();
      await this.reloadServing();
      const servedNow = await this.servedByAll([...this.agents.keys()]);
      for (const agent of this.agents.values()) {
        const served = servedNow.get(agent.id) ?? [];
        if (served.join() !== agent.served.join()) {
          agent.served = served;
          agent.whole = true;
        }
      }
      this.schedule();
    } catch (error) {
      // Read again at the next change; meanwhile agents keep the maps they have.
      this.options.log.warn({ err: error }, 'working out who serves what failed');
    }
  }

  private heard(payload: string): void {
    // Heard even while an agent's whole map is being read: what that reading did not see is sent after it.
    const heard =
      payload === '*'
        ? [...this.subnets.keys()].map((id) => [id, Number.MAX_SAFE_INTEGER] as const)
        : payload.split(',').map((entry) => {
            const [subnet, version] = entry.split(':');
            return [subnet!, Number(version)] as const;
          });
    for (const agent of this.agents.values()) {
      for (const [subnet, version] of heard) {
        if (!agent.served.includes(subnet)) continue;
        agent.stale.set(subnet, Math.max(agent.stale.get(subnet) ?? 0, version));
      }
    }
    this.schedule();
  }

  /** A flush soon, taking whatever else arrives before it starts. */
  private schedule(): void {
    if (this.flushing !== undefined) {
      this.flushAgain = true;
      return;
    }
    this.flushing = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.flush())
      .catch((error: unknown) => this.options.log.error({ err: error }, 'pushing DHCP maps failed'))
      .finally(() => {
        this.flushing = undefined;
        if (this.flushAgain && !this.closed) {
          this.flushAgain = false;
          this.schedule();
        }
      });
  }

  private async flush(): Promise<void> {
    const wholes = [...this.agents.values()].filter((a) => a.whole);
    // The agents at one version of a subnet share one reading of its changes.
    const readings = new Map<string, Promise<SubnetChanges | undefined>>();
    const changesOf = (subnet: string, since: number) => {
      const key = `${subnet}@${since}`;
      let reading = readings.get(key);
      if (reading === undefined) {
        reading = readChanges(this.db, subnet, since);
        readings.set(key, reading);
      }
      return reading;
    };
    const deltas: {
      agent: PushedAgent;
      change: Omit<DhcpMapChange, 'version' | 'base'>;
      vector: Map<string, number>;
    }[] = [];
    for (const agent of this.agents.values()) {
      if (agent.whole || agent.stale.size === 0 || agent.vector === undefined) continue;
      const stale = [...agent.stale].filter(([subnet, version]) => (agent.vector!.get(subnet) ?? -1) < version);
      agent.stale.clear();
      if (stale.length === 0) continue;
      const vector = new Map(agent.vector);
      const hosts: DhcpHost[] = [];
      const removed: DhcpMapChange['removed'] = [];
      let options = false;
      for (const [subnet] of stale) {
        const held = vector.get(subnet);
        const changes = held === undefined ? undefined : await changesOf(subnet, held);
        if (changes === undefined || !changes.complete) {
          agent.whole = true;
          break;
        }
        const cidr = this.subnets.get(subnet)?.cidr;
        if (cidr === undefined) {
          agent.whole = true;
          break;
        }
        for (const [mac, host] of changes.hosts) {
          if (host === undefined) removed.push({ subnet: cidr, mac });
          else hosts.push(host);
        }
        options ||= changes.options;
        vector.set(subnet, changes.version);
      }
      if (agent.whole) continue;
      if (options) await this.reloadSubnets();
      deltas.push({
        agent,
        vector,
        change: {
          type: 'dhcpMapChange',
          hosts,
          removed,
          ...(options && { subnets: this.optionsOf(agent.served) }),
        },
      });
    }
    const all = [...wholes, ...deltas.map((d) => d.agent)];
    if (all.length === 0) return;
    const versions = await this.nextVersions(all.map((a) => a.id));
    for (const { agent, change, vector } of deltas) {
      const version = versions.get(agent.id)!;
      const base = agent.version;
      agent.version = version;
      agent.vector = vector;
      agent.unacked.set(version, Object.fromEntries(vector));
      agent.send({ ...change, version, base } as DhcpMapChange);
      this.options.metrics.dhcpPushes.inc({ form: 'change' });
    }
    for (const agent of wholes) await this.sendWhole(agent, versions.get(agent.id)!);
  }

  /**
   * The map an agent should be serving now (`GET /agents/{id}/dhcp-map`): its served subnets'
   * hosts and options, at the version last sent to it; undefined for no such agent.
   */
  async wantedMap(agentId: string): Promise<(DhcpMapContent & { subnetVersions: Record<string, number> }) | undefined> {
    const [row] = await this.db
      .select({ interfaces: agents.interfaces, serves: agents.serves, backend: agents.dhcpBackend })
      .from(agents)
      .where(eq(agents.id, agentId));
    if (row === undefined) return undefined;
    const served = row.backend === 'none' ? [] : servedSubnets(row, [...this.subnets.values()]);
    const [{ hosts, versions }, [sent]] = await Promise.all([
      readHosts(this.db, served),
      this.db.select({ version: agentDhcp.sentVersion }).from(agentDhcp).where(eq(agentDhcp.agentId, agentId)),
    ]);
    return {
      version: sent?.version ?? 0,
      hosts: served.flatMap((id) => hosts.get(id) ?? []),
      subnets: this.optionsOf(served),
      subnetVersions: Object.fromEntries(versions),
    };
  }

  private async sendWhole(agent: PushedAgent, version: number): Promise<void> {
    agent.whole = false;
    agent.stale.clear();
    const { hosts, versions } = await readHosts(this.db, agent.served);
    const map: DhcpMap = {
      type: 'dhcpMap',
      version,
      hosts: agent.served.flatMap((id) => hosts.get(id) ?? []),
      subnets: this.optionsOf(agent.served),
    };
    agent.version = version;
    agent.vector = versions;
    agent.unacked.set(version, Object.fromEntries(versions));
    agent.send(map);
    this.options.metrics.dhcpPushes.inc({ form: 'whole' });
  }

  /** The next map version of each agent, counted in the database so that every collector goes on from it. */
  private async nextVersions(ids: readonly string[]): Promise<Map<string, number>> {
    const rows = await rowsOf<{ agent_id: string; sent_version: number }>(
      this.db,
      sql`insert into ${agentDhcp} (agent_id, sent_version)
          select unnest(${`{${ids.join(',')}}`}::uuid[]), 1
          on conflict (agent_id) do update set sent_version = ${agentDhcp.sentVersion} + 1
          returning agent_id, sent_version::float8 as sent_version`,
    );
    return new Map(rows.map((r) => [r.agent_id, Number(r.sent_version)]));
  }

  private optionsOf(served: readonly string[]): DhcpSubnet[] {
    return served.flatMap((id) => {
      const subnet = this.subnets.get(id);
      return subnet === undefined ? [] : [subnet.options];
    });
  }

  /** The subnets an agent serves, from its last hello and what an admin set. */
  private async servedBy(agentId: string): Promise<string[]> {
    return (await this.servedByAll([agentId])).get(agentId) ?? [];
  }

  private async servedByAll(ids: readonly string[]): Promise<Map<string, string[]>> {
    if (ids.length === 0) return new Map();
    const rows = await this.db
      .select({ id: agents.id, interfaces: agents.interfaces, serves: agents.serves })
      .from(agents)
      .where(inArray(agents.id, [...ids]));
    const subnetsNow = [...this.subnets.values()];
    return new Map(rows.map((row) => [row.id, servedSubnets(row, subnetsNow)]));
  }

  private async reloadSubnets(): Promise<void> {
    this.subnets = new Map((await readDhcpSubnets(this.db)).map((s) => [s.id, s]));
  }

  private async prune(): Promise<void> {
    try {
      await this.db
        .delete(dhcpChanges)
        .where(sql`${dhcpChanges.at} < now() - ${`${CHANGE_LOG_KEEP_MS} milliseconds`}::interval`);
    } catch (error) {
      this.options.log.warn({ err: error }, 'pruning the DHCP change log failed');
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.pruner);
    await this.flushing;
    await this.unlisten?.();
  }
}
