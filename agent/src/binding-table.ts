/**
 * The agent's memory of who uses which address: turns the stream of observations into
 * sightings worth sending. Keyed by (VLAN, IP) for addresses in use, it reports a binding
 * when it is `new`, when another MAC takes the address (`moved`, with the previous MAC), and
 * again once per refresh interval while it lasts (`refresh`; MAAS uses 600 s). A flood of
 * identical frames therefore yields one sighting.
 *
 * Pure: time is an argument, memory is bounded (the least recently reported entries age out).
 */
import type { Observation } from '@ipwarden/netcodec';
import type { Sighting } from '@ipwarden/protocol';
import { isBindingSighting } from '@ipwarden/protocol/binding';

/** A sighting: the wire protocol's schema (packages/protocol) is its one home. */
export type { Sighting };
export type SightingEvent = Sighting['event'];

export interface BindingTableOptions {
  /** How long a binding is kept quiet before it is reported again, in ms (default 600 000 = 10 min). */
  refreshMs?: number;
  /** How many entries are remembered at most; the least recently reported go first (default 100 000). */
  maxEntries?: number;
}

interface Entry {
  mac: string;
  hostname: string | undefined;
  reportedAt: number;
  /** When a hostname change was last reported early (-Infinity: never). */
  renamedAt: number;
  /** Other MACs recently seen on this address, with when each was last reported (at most MAX_OTHERS). */
  others: Map<string, number> | undefined;
  /** Start of the interval in which `moves` moves were reported. */
  movesSince: number;
  moves: number;
}

/** Other MACs remembered per address: enough for hosts fighting over it, bounded under a MAC flood. */
const MAX_OTHERS = 8;
/** Moves reported per address per refresh interval: enough to raise the conflict, not a storm. */
const MAX_MOVES = 8;

export const DEFAULT_REFRESH_MS = 600_000; // 10 min, as MAAS
export const DEFAULT_MAX_ENTRIES = 100_000;

export class BindingTable {
  private refresh: number;
  readonly maxEntries: number;
  /** Address bindings, keyed by `ip` (untagged) or `vlanKey/ip`; Map order = least recently reported first. */
  private readonly bindings = new Map<string, Entry>();
  /** Probes, DHCP servers and clients: reported once per refresh interval each. */
  private readonly events = new Map<string, number>();
  /** Hostnames announced by DHCP clients, by MAC, so the lease and later sightings carry them (oldest first out). */
  private readonly hostnames = new Map<string, string>();
  /** Entries dropped to stay within maxEntries. */
  evicted = 0;
  /** Moves not reported because an address already had MAX_MOVES in the interval. */
  suppressedMoves = 0;
  /**
   * Grows whenever an observation that changed nothing could start to change something: a
   * binding moved to another MAC or took a new name, a DHCP client's name changed, or an
   * entry was forgotten. Caches of "this changes nothing"
   * (see RepeatFilter) are valid only within one epoch.
   */
  epoch = 0;
  /**
   * After each {@link observe}: until when (ms) the same observation again would change
   * nothing, as far as the state of this epoch goes.
   */
  quietUntil = 0;

  constructor(options: BindingTableOptions = {}) {
    this.refresh = options.refreshMs ?? DEFAULT_REFRESH_MS;
    this.maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
  }

  get refreshMs(): number {
    return this.refresh;
  }

  /**
   * A new refresh interval, for what the table holds too: nothing is forgotten (a host is not
   * reported as new again), and the epoch moves on, since a repeat judged quiet under the old
   * interval may be due under the new one.
   */
  setRefreshMs(refreshMs: number): void {
    if (refreshMs === this.refresh) return;
    this.refresh = refreshMs;
    this.epoch++;
  }

  get size(): number {
    return this.bindings.size;
  }

  /** Feeds one observation made at `at` (ms); returns the sighting it causes, if any. */
  observe(observation: Observation, at: number): Sighting | undefined {
    if (observation.hostname !== undefined && observation.source === 'dhcp') {
      this.learnHostname(observation.mac, observation.hostname);
    }
    const ip = observation.ip;
    if (ip === undefined) {
      // Only the client's name could be news, and it has just been learned.
      this.quietUntil = Number.POSITIVE_INFINITY;
      return undefined;
    }
    if (isBindingSighting(observation)) return this.observeBinding(observation, ip, at);
    return this.observeEvent(observation, ip, at);
  }

  private observeBinding(observation: Observation, ip: string, at: number): Sighting | undefined {
    const vlanKey = (observation.outerVlan ?? 0) * 4096 + observation.vlan;
    const key = vlanKey === 0 ? ip : `${vlanKey}/${ip}`;
    const mac = observation.mac;
    const entry = this.bindings.get(key);
    if (entry === undefined) {
      const hostname = observation.hostname ?? this.hostnames.get(mac);
      this.remember(this.bindings, key, {
        mac,
        hostname,
        reportedAt: at,
        renamedAt: Number.NEGATIVE_INFINITY,
        others: undefined,
        movesSince: at,
        moves: 0,
      });
      this.quietUntil = at + this.refreshMs;
      return sighting(observation, ip, at, 'new', hostname);
    }
    return this.update(entry, key, ip, observation, at);
  }

  /** A frame for a known binding: a refresh, a rename, a move, or nothing new. */
  private update(entry: Entry, key: string, ip: string, observation: Observation, at: number): Sighting | undefined {
    const mac = observation.mac;
    if (entry.mac === mac) {
      const hostname = observation.hostname;
      // A new name is news at once, but a host announcing two names (DHCP and mDNS) must not
      // turn every frame into a report: early reports are limited to one per interval, and
      // between reports the binding keeps the name it was last reported with.
      const renamed = hostname !== undefined && hostname !== entry.hostname;
      const due = at - entry.reportedAt >= this.refreshMs;
      const early = renamed && at - entry.renamedAt >= this.refreshMs;
      if (!due && !early) {
        this.quietUntil = (renamed ? Math.min(entry.reportedAt, entry.renamedAt) : entry.reportedAt) + this.refreshMs;
        return undefined;
      }
      if (renamed) {
        entry.hostname = hostname;
        this.epoch++;
      }
      if (early) entry.renamedAt = at;
      entry.reportedAt = at;
      this.touch(this.bindings, key, entry);
      this.quietUntil = at + this.refreshMs;
      return sighting(observation, ip, at, 'refresh', entry.hostname);
    }

    // Another MAC on the address. Two hosts fighting over one IP would flap on every frame:
    // each MAC's move is reported once per refresh interval, enough to raise the conflict, and
    // a flood of MACs on one address is held to MAX_MOVES reports an interval.
    const previousMac = entry.mac;
    const hostname = observation.hostname ?? this.hostnames.get(mac);
    entry.others ??= new Map();
    const others = entry.others;
    const reported = others.get(mac);
    others.delete(mac);
    others.set(previousMac, entry.reportedAt);
    if (others.size > MAX_OTHERS) others.delete(others.keys().next().value!);
    entry.mac = mac;
    entry.hostname = hostname;
    this.epoch++;
    if (at - entry.movesSince >= this.refreshMs) {
      entry.movesSince = at;
      entry.moves = 0;
    }
    if (reported !== undefined && at - reported < this.refreshMs) {
      entry.reportedAt = reported;
      this.quietUntil = reported + this.refreshMs;
      return undefined;
    }
    if (entry.moves >= MAX_MOVES) {
      // Reported as a refresh once this interval is over.
      this.suppressedMoves++;
      entry.reportedAt = entry.movesSince;
      this.quietUntil = entry.movesSince + this.refreshMs;
      return undefined;
    }
    entry.moves++;
    entry.reportedAt = at;
    this.touch(this.bindings, key, entry);
    this.quietUntil = at + this.refreshMs;
    const moved = sighting(observation, ip, at, 'moved', hostname);
    moved.previousMac = previousMac;
    return moved;
  }

  private observeEvent(observation: Observation, ip: string, at: number): Sighting | undefined {
    const key = `${observation.kind}|${observation.outerVlan ?? 0}|${observation.vlan}|${ip}|${observation.mac}`;
    const reportedAt = this.events.get(key);
    if (reportedAt !== undefined && at - reportedAt < this.refreshMs) {
      this.quietUntil = reportedAt + this.refreshMs;
      return undefined;
    }
    this.quietUntil = at + this.refreshMs;
    this.events.delete(key);
    this.remember(this.events, key, at);
    return sighting(
      observation,
      ip,
      at,
      reportedAt === undefined ? 'new' : 'refresh',
      observation.hostname ?? this.hostnames.get(observation.mac),
    );
  }

  /** Remembers the name a DHCP client gave for its MAC; a changed name is a change of state. */
  private learnHostname(mac: string, hostname: string): void {
    const known = this.hostnames.get(mac);
    if (known === hostname) return;
    if (known !== undefined) this.epoch++;
    this.remember(this.hostnames, mac, hostname);
  }

  /** Inserts at the most-recent end, evicting the least recently reported entry when full. */
  private remember<V>(map: Map<string, V>, key: string, value: V): void {
    if (map.size >= this.maxEntries && !map.has(key)) {
      const oldest = map.keys().next().value;
      if (oldest !== undefined) {
        map.delete(oldest);
        this.evicted++;
        this.epoch++;
      }
    }
    map.set(key, value);
  }

  private touch<V>(map: Map<string, V>, key: string, value: V): void {
    map.delete(key);
    map.set(key, value);
  }
}

function sighting(
  observation: Observation,
  ip: string,
  at: number,
  event: SightingEvent,
  hostname: string | undefined,
): Sighting {
  const out: Sighting = {
    at: Math.floor(at),
    source: observation.source,
    kind: observation.kind,
    ip,
    mac: observation.mac,
    vlan: observation.vlan,
    event,
  };
  if (observation.outerVlan !== undefined) out.outerVlan = observation.outerVlan;
  if (hostname !== undefined) out.hostname = hostname;
  if (observation.detail !== undefined) out.detail = observation.detail;
  return out;
}
