/**
 * Reconciliation (DESIGN.md, "Conflicts"): what agents see on the wire, judged against what the
 * allocations table says, after each batch is stored — never before its ack, so that judging
 * never slows ingestion, and batches from every agent are judged together in rounds, a few
 * statements a round whatever its size.
 *
 * A round looks each sighting's address up in the NetworkPlan (memory), reads the allocations
 * of the addresses a managed subnet could have allocated and the recent history of addresses
 * that just changed hands (one statement each), judges with the pure rules of packages/ipam,
 * and records what it found (conflict-store.ts). Between rounds it resolves conflicts whose
 * condition has been quiet for `conflictQuietSeconds`, and tells the agents which addresses are
 * under conflict (`config.watch`): they report those at a third of the quiet period instead of
 * once per refresh interval, so an offender still on the wire is seen again at least twice before
 * its conflict could resolve, and one that left is let go after the quiet period.
 */
import {
  type Finding,
  formatIp,
  type HistoryFacts,
  type Judgement,
  judgeBinding,
  judgeDhcpServer,
  type NetworkPlan,
  needsAllocation,
  needsHistory,
  parseIp,
  parseWireIp,
  type SeenBinding,
} from '@ipwarden/ipam';
import { isBindingSighting, MAX_WATCHED, type SightingItem, type Watch } from '@ipwarden/protocol';
import { sql } from 'drizzle-orm';
import type { FastifyBaseLogger } from 'fastify';
import { type Database, type DatabaseHandle, rowsOf } from '../db/database.js';
import { bindings, type ConflictEvidence, conflicts, sightingEvents } from '../db/schema/index.js';
import type { EventHub } from '../events/event-hub.js';
import type { AgentGateway } from '../gateway/agent-gateway.js';
import type { Metrics } from '../metrics.js';
import { readSettings, type Settings } from '../settings.js';
import { AllocationCache, type AllocationsOf } from './allocation-cache.js';
import {
  type Conflict,
  type ConflictInput,
  conflictKey,
  liveConflicts,
  liveCounts,
  MAX_EVIDENCE,
  recordFindings,
  resolveConflicts,
  resolveQuiet,
} from './conflict-store.js';
import { loadPlan } from './plan-loader.js';

/** Sightings judged in one round at most: a round's statements stay of a size PostgreSQL plans well. */
const MAX_ROUND = 50_000;
/**
 * Rounds begin at most this often (unless a full round is waiting). A round is a few round trips
 * and a commit whatever its size, and each wakes a PostgreSQL backend — on a virtual machine the
 * dearest part of a small statement, for the collector's core and the server's. Back to back,
 * a hundred agents at 75,000 sightings/s made 38 rounds a second of a hundred sightings each;
 * spaced, they are ten, and a conflict waits at most this long more for its round.
 */
const ROUND_EVERY_MS = 100; // 100 ms
/**
 * Connections of the reconciler's own: its reads never queue behind ingestion's writes in the
 * main pool (they did, and judging fell minutes behind a hundred agents), and two let a round's
 * allocation and history reads go at once.
 */
const CONNECTIONS = 2;
/** Hellos of agents within this long are one change of the plan. */
const AGENTS_SETTLE_MS = 1_000; // 1 s
/** Watch lists go out at most this often: each is up to MAX_WATCHED addresses to every agent. */
const WATCH_EVERY_MS = 250;
/** Sightings waiting at most; past it new ones are counted and left unjudged (they are stored). */
const MAX_QUEUED = 1_000_000;
/** How often quiet conflicts are resolved, and the live ones read again (other replicas open them too). */
const SWEEP_MS = 1_000; // 1 s
/** How often the plan is read again even if no change was announced (one was lost, say). */
const PLAN_RELOAD_MS = 30_000; // 30 s
/**
 * How long after a probe an answer from another MAC counts as one: RFC 5227 2.1.1 waits
 * PROBE_WAIT + PROBE_NUM × PROBE_MAX (1 + 3 × 2 s) before announcing, RFC 4862 RetransTimer × DupAddrDetectTransmits (1 s).
 */
const PROBE_ANSWER_MS = 7_000; // 7 s
/** Every collector listens here for changes of subnets, ranges, exemptions, DHCP servers and agents. */
export const PLAN_CHANNEL = 'ipwarden_plan';

/** The places in a subnet whose use is never a conflict, and the rule each is counted under. */
const QUIET_RULE = {
  gateway: 'gateway',
  'dns-server': 'dns-server',
  'dhcp-server': 'dhcp-server',
  dynamic: 'dynamic-range',
};
type QuietPlace = keyof typeof QUIET_RULE;
const QUIET_PLACES = Object.keys(QUIET_RULE) as QuietPlace[];

/**
 * Addresses on segments — (VLAN, outer VLAN, IP text) — looked up without building a key string:
 * isClean asks of every sighting whether its address is under a live duplicate.
 */
class SegmentSet {
  private readonly byIp = new Map<string, Set<number>>();

  add(vlan: number, outerVlan: number, ip: string): void {
    const segments = this.byIp.get(ip) ?? new Set<number>();
    segments.add(segmentNumber(vlan, outerVlan));
    this.byIp.set(ip, segments);
  }

  delete(vlan: number, outerVlan: number, ip: string): void {
    const segments = this.byIp.get(ip);
    if (segments?.delete(segmentNumber(vlan, outerVlan)) && segments.size === 0) this.byIp.delete(ip);
  }

  has(vlan: number, outerVlan: number, ip: string): boolean {
    return this.byIp.get(ip)?.has(segmentNumber(vlan, outerVlan)) === true;
  }
}

/** VLAN ids are 12 bits (IEEE 802.1Q): the pair as one number. */
const segmentNumber = (vlan: number, outerVlan: number) => vlan * 4096 + outerVlan;

export interface ReconcilerOptions {
  database: DatabaseHandle;
  gateway: AgentGateway;
  eventHub: EventHub;
  metrics: Metrics;
  log: FastifyBaseLogger;
}

interface Queued {
  agentId: string;
  items: readonly SightingItem[];
  /** performance.now() when the batch was stored. */
  stored: number;
}

interface Candidate {
  agentId: string;
  item: SightingItem;
  seen: SeenBinding;
  located: ReturnType<NetworkPlan['locate']>;
}

/** What changed, for `changed`: the plan (subnets, ranges, exemptions, DHCP servers), and which addresses. */
export interface Change {
  plan?: boolean;
  /** Addresses whose allocation changed (created, moved, released, given another MAC). */
  ips?: readonly string[];
  /** A prefix whose subnet or ranges changed. */
  cidr?: string;
  /** Allocations changed that the caller cannot name one by one (a pool deleted, a claim released). */
  all?: boolean;
}

export class Reconciler {
  private readonly db: Database;
  private readonly connections: { db: Database; close(): Promise<void> };
  private readonly allocations: AllocationCache;
  private watchTimer: NodeJS.Timeout | undefined;
  private agentsTimer: NodeJS.Timeout | undefined;
  private agentsAgain = false;
  private plan: NetworkPlan | undefined;
  private settings: Settings | undefined;
  private readonly queue: Queued[] = [];
  private queued = 0;
  private running: Promise<void> | undefined;
  /** What isClean kept quiet since the last count, by the place the address has in its subnet. */
  private readonly quieted: Record<QuietPlace, number> = { gateway: 0, 'dns-server': 0, 'dhcp-server': 0, dynamic: 0 };
  /** performance.now() when the last round began. */
  private lastRound = -Infinity;
  /** Live conflicts by key, and the segments/addresses of live duplicates (their MACs' sightings are evidence). */
  private live = new Map<string, LiveConflict>();
  private duplicates = new SegmentSet();
  /** The watch list last sent to each agent, as sent. */
  private readonly lastWatch = new Map<string, string>();
  private sweeper: NodeJS.Timeout | undefined;
  private planTimer: NodeJS.Timeout | undefined;
  private unlisten: (() => Promise<void>) | undefined;
  private closed = false;
  private ticking: Promise<void> | undefined;

  constructor(private readonly options: ReconcilerOptions) {
    this.connections = options.database.separate(CONNECTIONS);
    this.db = this.connections.db;
    this.allocations = new AllocationCache(this.db, options.log, options.metrics);
  }

  async start(): Promise<void> {
    this.plan = await loadPlan(this.db);
    this.settings = await readSettings(this.db);
    await this.readLive();
    await this.allocations.warm();
    this.unlisten = await this.options.database.listen(PLAN_CHANNEL, () => void this.reloadPlan());
    this.sweeper = setInterval(() => void this.tick(), SWEEP_MS);
    this.planTimer = setInterval(() => void this.reloadPlan(), PLAN_RELOAD_MS);
  }

  /** A batch was stored (its ack is on its way): judge it soon. */
  submit(agentId: string, all: readonly SightingItem[]): void {
    if (this.closed) return;
    // Most of what agents report is evidence of nothing, and that is known at once from memory;
    // only the rest waits for a round, so a batch is not held (and its garbage not promoted) for it.
    const items = this.plan === undefined ? all : all.filter((item) => !this.isClean(this.plan!, item));
    this.options.metrics.reconcileSightings.inc(all.length - items.length);
    // Counted once a batch: a labelled counter hashes its labels at every increment.
    for (const place of QUIET_PLACES) {
      if (this.quieted[place] === 0) continue;
      this.options.metrics.conflictsQuieted.inc(
        { rule: QUIET_RULE[place], kind: 'unallocated-in-use' },
        this.quieted[place],
      );
      this.quieted[place] = 0;
    }
    if (items.length === 0) return;
    if (this.queued + items.length > MAX_QUEUED) {
      this.options.metrics.reconcileDropped.inc(items.length);
      return;
    }
    this.queue.push({ agentId, items, stored: performance.now() });
    this.queued += items.length;
    this.kick();
  }

  /** Drains the queue unless it is being drained: again if a batch came as the last drain ended. */
  private kick(): void {
    this.running ??= this.drain().finally(() => {
      this.running = undefined;
      if (this.queue.length > 0 && !this.closed) this.kick();
    });
  }

  /**
   * True when the sighting is evidence of nothing, as far as memory tells: a binding on an
   * address its subnet never allocates (gateway, DNS or DHCP server, dynamic range), or one
   * allocated to its MAC (or to any) by the snapshot the last round found current — not a move,
   * not an answer to a probe, not an address under a live duplicate. What this cannot tell goes
   * to a round. A snapshot may be up to a round old here: an allocation removed through another
   * collector in that second is judged at the address's next report, one removed through this
   * one at once (`changed`).
   */
  private isClean(plan: NetworkPlan, item: SightingItem): boolean {
    if (item.kind === 'dhcp-server' || item.kind === 'router') return false;
    if (!isBindingSighting(item)) return true; // probes and DHCP clients: stored, read as history
    if (item.event === 'moved' || item.detail?.answersProbe === true) return false;
    const ip = parseWireIp(item.ip);
    if (ip === undefined) return true;
    const outerVlan = item.outerVlan ?? 0;
    if (this.duplicates.has(item.vlan, outerVlan, item.ip)) return false;
    const located = plan.locate(item.vlan, ip);
    if (located === undefined || !located.subnet.managed) return false;
    switch (located.place) {
      case 'gateway':
        plan.learnRouter(item.vlan, item.mac);
        this.quieted[located.place]++;
        return true;
      case 'dns-server':
      case 'dhcp-server':
      case 'dynamic':
        this.quieted[located.place]++;
        return true;
      case 'reserved':
        return false;
      case 'host':
        return this.allocations.admits(located.subnet.id, ip, item.mac) === true;
    }
  }

  /** Resolves once everything submitted so far has been judged (tests, and an orderly close). */
  async idle(): Promise<void> {
    while (this.running !== undefined) await this.running;
  }

  private async drain(): Promise<void> {
    for (;;) {
      // Let the batches that arrive meanwhile join this round: those of the next tick at least,
      // those until ROUND_EVERY_MS after the last round began while agents keep sending.
      const wait = this.queued >= MAX_ROUND ? 0 : this.lastRound + ROUND_EVERY_MS - performance.now();
      await new Promise((resolve) => (wait > 0 ? setTimeout(resolve, wait) : setImmediate(resolve)));
      if (this.queue.length === 0 || this.closed) return;
      this.lastRound = performance.now();
      const round: Queued[] = [];
      let size = 0;
      while (this.queue.length > 0 && size < MAX_ROUND) {
        const next = this.queue.shift()!;
        round.push(next);
        size += next.items.length;
      }
      this.queued -= size;
      try {
        await this.round(round);
      } catch (error) {
        // The sightings are stored; what this round missed, their next report brings again.
        this.options.log.error({ err: error }, 'reconciliation round failed');
      }
      const done = performance.now();
      for (const q of round) this.options.metrics.reconcileLagSeconds.observe((done - q.stored) / 1000);
      this.options.metrics.reconcileSightings.inc(size);
    }
  }

  private async round(round: readonly Queued[]): Promise<void> {
    const plan = this.plan!;
    const settings = this.settings!;
    const now = Date.now();
    // Evidence older than the quiet period (an outbox replayed after an outage) opens nothing:
    // its condition has already been absent long enough.
    const oldest = now - settings.conflictQuietSeconds * 1000;
    const candidates: Candidate[] = [];
    const judged: { agentId: string; item: SightingItem; at: number; judgement: Judgement }[] = [];
    const wanted = new Map<string, { family: 4 | 6; ips: Set<string> }>();
    const historyOf: SeenBinding[] = [];
    const historyAt = new Map<SeenBinding, number>();
    for (const { agentId, items } of round) {
      for (const item of items) {
        if (item.at < oldest) continue;
        const ip = parseWireIp(item.ip);
        if (ip === undefined) continue;
        const outerVlan = item.outerVlan ?? 0;
        const at = Math.min(item.at, now);
        if (item.kind === 'dhcp-server') {
          const judgement = judgeDhcpServer(plan, { vlan: item.vlan, outerVlan, ip, ipText: item.ip, mac: item.mac });
          judged.push({ agentId, item, at, judgement });
          continue;
        }
        if (!isBindingSighting(item)) continue;
        const located = plan.locate(item.vlan, ip);
        if (item.kind === 'router' || located?.place === 'gateway') plan.learnRouter(item.vlan, item.mac);
        const seen: SeenBinding = {
          vlan: item.vlan,
          outerVlan,
          ip,
          ipText: item.ip,
          mac: item.mac,
          at,
          event: item.event,
          previousMac: item.previousMac,
          answersProbe: item.detail?.answersProbe === true,
        };
        if (needsAllocation(located)) {
          const id = located!.subnet.id;
          let subnet = wanted.get(id);
          if (subnet === undefined) {
            subnet = { family: ip.family, ips: new Set() };
            wanted.set(id, subnet);
          }
          subnet.ips.add(item.ip);
        }
        if (needsHistory(seen)) {
          historyAt.set(seen, historyOf.length);
          historyOf.push(seen);
        }
        candidates.push({ agentId, item, seen, located });
      }
    }
    const [allocationOf, history] = await Promise.all([
      this.allocations.lookup(wanted),
      this.historyOf(historyOf, now - settings.observationWindowSeconds * 1000),
    ]);
    for (const { agentId, item, seen, located } of candidates) {
      const allocation = needsAllocation(located) ? allocationOf(located!.subnet.id, seen.ip, seen.ipText) : undefined;
      const at = historyAt.get(seen);
      const facts = at === undefined ? undefined : history[at];
      const judgement = judgeBinding(plan, seen, located, allocation, facts);
      if (
        this.duplicates.has(seen.vlan, seen.outerVlan, seen.ipText) &&
        !judgement.findings.some((f) => f.kind === 'duplicate-ip')
      ) {
        // A MAC of a live duplicate, seen again: the duplicate goes on while two of them are.
        judgement.findings.push({
          kind: 'duplicate-ip',
          subject: seen.ipText,
          macs: [seen.mac],
          note: 'seen again',
          updateOnly: true,
        } as Finding & { updateOnly: true });
      }
      judged.push({ agentId, item, at: seen.at, judgement });
    }
    const inputs = new Map<string, ConflictInput>();
    for (const { agentId, item, at, judgement } of judged) {
      for (const quiet of judgement.quieted) this.options.metrics.conflictsQuieted.inc(quiet);
      for (const finding of judgement.findings) {
        const evidence: ConflictEvidence = {
          agent: plan.agentName(agentId),
          agentId,
          interface: item.interface,
          vlan: item.vlan,
          ...(item.outerVlan !== undefined && { outerVlan: item.outerVlan }),
          source: item.source,
          kind: item.kind,
          mac: item.mac,
          at,
          note: finding.note,
        };
        addFinding(inputs, finding, item, at, evidence);
      }
    }
    if (inputs.size === 0) return;
    const opened = await recordFindings(this.db, [...inputs.values()]);
    for (const conflict of opened) {
      this.options.metrics.conflictsOpened.inc({ kind: conflict.kind });
      this.remember(conflict);
    }
    this.options.eventHub.wake();
    if (opened.length > 0) this.sendWatchSoon();
  }

  /** A watch list soon, folding the rounds of the next WATCH_EVERY_MS into one. */
  private sendWatchSoon(): void {
    this.watchTimer ??= setTimeout(() => {
      this.watchTimer = undefined;
      if (!this.closed) this.sendWatch();
    }, WATCH_EVERY_MS);
  }

  /**
   * What the history of each address says of the sighting that moved it or answered a probe
   * (HistoryFacts), decided in the database: whether the MAC now taking the address used it
   * before within the window (it held it, or was displaced from it), and which MACs probed for it
   * just before. Two index range scans per sighting on (ip, at), and a row each back, however
   * long the address's history.
   */
  private async historyOf(seen: readonly SeenBinding[], since: number): Promise<HistoryFacts[]> {
    if (seen.length === 0) return [];
    const input = seen.map((s, n) => ({ n, ip: s.ipText, vlan: s.vlan, outerVlan: s.outerVlan, mac: s.mac, at: s.at }));
    const rows = await rowsOf<{ n: number; returning: boolean; probers: string[] }>(
      this.db,
      sql`select q.n,
                 exists (select 1 from ${sightingEvents} e
                         where e.ip = q.ip::inet and e.at >= to_timestamp(${since} / 1000.0)
                           and e.at < to_timestamp(q.at / 1000.0) and e.vlan = q.vlan and e.outer_vlan = q."outerVlan"
                           and e.kind <> 'probe' and (e.mac = q.mac::macaddr or e.previous_mac = q.mac::macaddr)) as returning,
                 array(select distinct e.mac::text from ${sightingEvents} e
                       where e.ip = q.ip::inet and e.kind = 'probe' and e.vlan = q.vlan and e.outer_vlan = q."outerVlan"
                         and e.at between to_timestamp((q.at - ${PROBE_ANSWER_MS}) / 1000.0)
                                      and to_timestamp((q.at + 1000) / 1000.0)) as probers
          from json_to_recordset(${JSON.stringify(input)}::json) as q(n int, ip text, vlan int, "outerVlan" int, mac text, at float8)`,
    );
    const facts: HistoryFacts[] = seen.map(() => ({ returning: false, probers: [] }));
    for (const row of rows) facts[row.n] = { returning: row.returning, probers: row.probers };
    return facts;
  }

  /**
   * Something the rules read changed through the API: the plan, or the allocations of some
   * addresses. The live conflicts it touches are judged again at once — resolved when their
   * condition no longer holds — and the bindings of the changed addresses seen within the quiet
   * period are judged as if just seen (a MAC changed to the wrong one is a mismatch now).
   */
  async changed(change: Change): Promise<void> {
    try {
      await this.judgeChange(change);
    } catch (error) {
      // The change itself is committed; the conflicts it touches are judged at their next sighting.
      this.options.log.warn({ err: error }, 'judging a change again failed');
    }
  }

  private async judgeChange(change: Change): Promise<void> {
    if (change.plan === true) {
      await this.reloadPlan();
      await this.db.execute(sql`select pg_notify(${PLAN_CHANNEL}, '')`);
    }
    const plan = this.plan!;
    const settings = this.settings!;
    const ips = change.ips ?? [];
    const scope =
      change.cidr !== undefined
        ? sql`${conflicts.ip} <<= ${change.cidr}::cidr`
        : ips.length > 0
          ? sql`${conflicts.ip} = any(${inetArray(ips)}::inet[])`
          : change.plan === true || change.all === true
            ? sql`true`
            : undefined;
    if (scope === undefined) return;
    const rows = await this.db.select().from(conflicts).where(sql`${conflicts.status} <> 'resolved' and ${scope}`);
    const wanted = new Map<string, { family: 4 | 6; ips: Set<string> }>();
    for (const row of rows) {
      const ip = parseIp(canonical(row.ip))!;
      const located = plan.locate(row.vlan, ip);
      if (!needsAllocation(located)) continue;
      const subnet = wanted.get(located!.subnet.id) ?? { family: ip.family, ips: new Set<string>() };
      subnet.ips.add(canonical(row.ip));
      wanted.set(located!.subnet.id, subnet);
    }
    const allocations = await this.allocations.lookup(wanted);
    const cutoff = Date.now() - settings.conflictQuietSeconds * 1000;
    const byAllocation: string[] = [];
    const byExemption: string[] = [];
    for (const row of rows) {
      const verdict = stillHolds(plan, row, allocations, cutoff);
      if (verdict === 'holds') continue;
      (verdict === 'exemption' ? byExemption : byAllocation).push(row.id);
    }
    const resolved = [
      ...(await resolveConflicts(this.db, byAllocation, 'allocation')),
      ...(await resolveConflicts(this.db, byExemption, 'exemption')),
    ];
    this.forget(resolved);
    if (ips.length > 0) await this.judgeBindingsOf(ips, cutoff);
    this.options.eventHub.wake();
    this.sendWatch();
  }

  /** The bindings of `ips` seen since `cutoff`, judged again as refreshes. */
  private async judgeBindingsOf(ips: readonly string[], cutoff: number): Promise<void> {
    const rows = await rowsOf<{
      ip: string;
      vlan: number;
      outer_vlan: number;
      mac: string;
      agent_id: string;
      interface: string;
      sources: string[];
      last_seen: number;
    }>(
      this.db,
      sql`select host(ip) as ip, vlan, outer_vlan, mac::text as mac, agent_id, interface, sources,
                 (extract(epoch from last_seen) * 1000)::float8 as last_seen
          from ${bindings}
          where ip = any(${inetArray(ips)}::inet[]) and last_seen >= to_timestamp(${cutoff} / 1000.0)`,
    );
    if (rows.length === 0) return;
    const items: SightingItem[] = rows.map((row) => ({
      at: Math.floor(row.last_seen),
      source: (row.sources[0] ?? 'arp') as SightingItem['source'],
      kind: 'host',
      ip: canonical(row.ip),
      mac: row.mac,
      vlan: row.vlan,
      ...(row.outer_vlan !== 0 && { outerVlan: row.outer_vlan }),
      event: 'refresh',
      interface: row.interface,
    }));
    const byAgent = new Map<string, SightingItem[]>();
    rows.forEach((row, i) => {
      let list = byAgent.get(row.agent_id);
      if (list === undefined) {
        list = [];
        byAgent.set(row.agent_id, list);
      }
      list.push(items[i]!);
    });
    await this.round([...byAgent].map(([agentId, list]) => ({ agentId, items: list, stored: performance.now() })));
  }

  private async reloadPlan(): Promise<void> {
    if (this.closed) return;
    try {
      const plan = await loadPlan(this.db);
      // Routers learned from the wire since the last load stay known.
      if (this.plan !== undefined) plan.adoptRouters(this.plan.routers());
      this.plan = plan;
    } catch (error) {
      this.options.log.warn({ err: error }, 'reading the network plan failed; the last one stays');
    }
  }

  /** Once a second: the quiet conflicts resolved, and the live ones read again. */
  private tick(): Promise<void> {
    this.ticking ??= (async () => {
      try {
        this.settings = await readSettings(this.db);
        const resolved = await resolveQuiet(this.db, Date.now() - this.settings.conflictQuietSeconds * 1000);
        for (const conflict of resolved)
          this.options.metrics.conflictsResolved.inc({ kind: conflict.kind, by: 'quiet' });
        if (resolved.length > 0) this.options.eventHub.wake();
        await this.readLive();
        this.sendWatch();
      } catch (error) {
        if (!this.closed) this.options.log.warn({ err: error }, 'resolving quiet conflicts failed; trying again');
      } finally {
        this.ticking = undefined;
      }
    })();
    return this.ticking;
  }

  private async readLive(): Promise<void> {
    // The most recently seen first: those are the ones agents should watch.
    const [rows, counts] = await Promise.all([liveConflicts(this.db, MAX_WATCHED), liveCounts(this.db)]);
    const live = new Map<string, LiveConflict>();
    const duplicates = new SegmentSet();
    for (const row of rows) {
      const ip = canonical(row.ip);
      live.set(conflictKey(row), { vlan: row.vlan, outerVlan: row.outerVlan, ip, agents: row.agents });
      if (row.kind === 'duplicate-ip') duplicates.add(row.vlan, row.outerVlan, ip);
    }
    this.live = live;
    this.duplicates = duplicates;
    this.options.metrics.conflictsOpen.reset();
    for (const { kind, status, count } of counts) this.options.metrics.conflictsOpen.set({ kind, status }, count);
  }

  private remember(conflict: Conflict): void {
    this.live.set(conflictKey({ ...conflict, subject: subjectOf(conflict) }), {
      vlan: conflict.vlan,
      outerVlan: conflict.outerVlan,
      ip: conflict.ip,
      agents: [...new Set(conflict.evidence.flatMap((e) => (e.agentId === undefined ? [] : [e.agentId])))],
    });
    if (conflict.kind === 'duplicate-ip') this.duplicates.add(conflict.vlan, conflict.outerVlan, conflict.ip);
  }

  private forget(resolved: readonly Conflict[]): void {
    for (const conflict of resolved) {
      this.options.metrics.conflictsResolved.inc({ kind: conflict.kind, by: conflict.resolvedBy ?? 'user' });
      this.live.delete(conflictKey({ ...conflict, subject: subjectOf(conflict) }));
      if (conflict.kind === 'duplicate-ip') {
        this.duplicates.delete(conflict.vlan, conflict.outerVlan, conflict.ip);
      }
    }
  }

  /**
   * An agent said hello (its interfaces' addresses are its own, and raise nothing): the plan is
   * read again at once, and once more for all the hellos of the second after — a hundred agents
   * reconnecting to a collector that restarted are two readings, not a hundred.
   */
  agentsChanged(): void {
    if (this.agentsTimer !== undefined) {
      this.agentsAgain = true;
      return;
    }
    // The first at once (its evidence then carries its name), the others of the second after it.
    void this.changed({ plan: true });
    this.agentsTimer = setTimeout(() => {
      this.agentsTimer = undefined;
      if (this.agentsAgain && !this.closed) {
        this.agentsAgain = false;
        this.agentsChanged();
      }
    }, AGENTS_SETTLE_MS);
  }

  /** The settings changed through this collector (others read them again within a second). */
  async settingsChanged(): Promise<void> {
    this.settings = await readSettings(this.db);
    this.sendWatch();
  }

  /** An admin resolved a conflict through the API. */
  resolvedByUser(conflict: Conflict): void {
    this.forget([conflict]);
    this.options.eventHub.wake();
    this.sendWatch();
  }

  /**
   * To each agent, when they changed, the addresses under conflict it saw (an offender is on the
   * links of the agents that reported it): a list per agent, not every list to every agent.
   */
  private sendWatch(): void {
    const refreshSeconds = watchSeconds(this.settings!);
    const byAgent = new Map<string, Map<string, Watch['addresses'][number]>>();
    for (const { vlan, outerVlan, ip, agents } of this.live.values()) {
      for (const agent of agents) {
        let addresses = byAgent.get(agent);
        if (addresses === undefined) {
          addresses = new Map();
          byAgent.set(agent, addresses);
        }
        if (addresses.size < MAX_WATCHED)
          addresses.set(`${vlan}/${outerVlan}/${ip}`, { vlan, ...(outerVlan !== 0 && { outerVlan }), ip });
      }
    }
    for (const agent of new Set([...byAgent.keys(), ...this.lastWatch.keys()])) {
      const addresses = [...(byAgent.get(agent)?.values() ?? [])].sort((a, b) =>
        a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : a.vlan - b.vlan,
      );
      const watch: Watch = { refreshSeconds, addresses };
      const text = JSON.stringify(watch);
      if (text === this.lastWatch.get(agent)) continue;
      // An agent with nothing to watch, having been told so, hears no more of it.
      if (addresses.length === 0) this.lastWatch.delete(agent);
      else this.lastWatch.set(agent, text);
      this.options.gateway.setWatch(agent, watch);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    clearInterval(this.planTimer);
    clearTimeout(this.watchTimer);
    clearTimeout(this.agentsTimer);
    await this.running;
    await this.ticking;
    await this.unlisten?.();
    await this.allocations.close();
    await this.connections.close();
  }
}

/**
 * How often agents report a watched address: three times per quiet period, so that one report
 * lost or late does not let a conflict whose offender is still there resolve; never less often
 * than the usual refresh.
 */
export function watchSeconds(settings: Pick<Settings, 'conflictQuietSeconds' | 'refreshSeconds'>): number {
  return Math.max(1, Math.min(settings.refreshSeconds, Math.floor(settings.conflictQuietSeconds / 3)));
}

/** What the reconciler remembers of a live conflict: where it is, and which agents saw it. */
interface LiveConflict {
  vlan: number;
  outerVlan: number;
  ip: string;
  agents: readonly string[];
}

/** Whether a live conflict's condition still holds under the current plan and allocations. */
function stillHolds(
  plan: NetworkPlan,
  row: typeof conflicts.$inferSelect,
  allocationOf: AllocationsOf,
  cutoff: number,
): 'holds' | 'allocation' | 'exemption' {
  const ipText = canonical(row.ip);
  const ip = parseIp(ipText)!;
  const base = { vlan: row.vlan, outerVlan: row.outerVlan, ip, ipText };
  let quietedByExemption = false;
  const verdict = (judgement: Judgement) => {
    if (judgement.findings.some((f) => f.kind === row.kind)) return true;
    if (judgement.quieted.some((q) => q.kind === row.kind && q.rule === 'exemption')) quietedByExemption = true;
    return false;
  };
  if (row.kind === 'rogue-dhcp-server') {
    if (verdict(judgeDhcpServer(plan, { ...base, mac: row.subject }))) return 'holds';
    return quietedByExemption ? 'exemption' : 'allocation';
  }
  const located = plan.locate(row.vlan, ip);
  const allocation = needsAllocation(located) ? allocationOf(located!.subnet.id, ip, ipText) : undefined;
  const macs = Object.entries(row.macs).sort(([, a], [, b]) => b - a);
  if (row.kind === 'duplicate-ip') {
    const [[mac, at] = ['', 0], [previousMac] = ['']] = macs;
    const seen: SeenBinding = { ...base, mac, at, event: 'moved', previousMac };
    if (verdict(judgeBinding(plan, seen, located, allocation, { returning: true, probers: [] }))) return 'holds';
    return quietedByExemption ? 'exemption' : 'allocation';
  }
  for (const [mac, at] of macs) {
    if (at < cutoff) continue;
    const seen: SeenBinding = { ...base, mac, at, event: 'refresh' };
    if (verdict(judgeBinding(plan, seen, located, allocation, undefined))) return 'holds';
  }
  return quietedByExemption ? 'exemption' : 'allocation';
}

/** A finding merged into the round's input for its conflict. */
function addFinding(
  inputs: Map<string, ConflictInput>,
  finding: Finding & { updateOnly?: true },
  item: SightingItem,
  at: number,
  evidence: ConflictEvidence,
): void {
  const vlan = item.vlan;
  const outerVlan = item.outerVlan ?? 0;
  const key = conflictKey({ kind: finding.kind, vlan, outerVlan, subject: finding.subject });
  let input = inputs.get(key);
  if (input === undefined) {
    input = {
      kind: finding.kind,
      vlan,
      outerVlan,
      subject: finding.subject,
      ip: item.ip,
      macs: {},
      subnetId: finding.subnetId ?? null,
      addressId: finding.addressId ?? null,
      firstAt: at,
      lastAt: at,
      evidence: [],
      updateOnly: finding.updateOnly === true,
    };
    inputs.set(key, input);
  } else if (finding.updateOnly !== true) {
    input.updateOnly = false;
  }
  for (const mac of finding.macs) input.macs[mac] = Math.max(input.macs[mac] ?? 0, at);
  input.firstAt = Math.min(input.firstAt, at);
  input.lastAt = Math.max(input.lastAt, at);
  input.evidence.unshift(evidence);
  if (input.evidence.length > MAX_EVIDENCE) input.evidence.pop();
}

const subjectOf = (conflict: Conflict) => (conflict.kind === 'rogue-dhcp-server' ? conflict.macs[0]! : conflict.ip);

/** PostgreSQL's text of an address in the wire's form (RFC 5952 for IPv6). */
function canonical(text: string): string {
  return text.includes(':') ? formatIp(parseIp(text)!) : text;
}

/** A text array literal of addresses the protocol or the database already checked. */
function inetArray(ips: Iterable<string>): string {
  return `{${[...ips].join(',')}}`;
}
