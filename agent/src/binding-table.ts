/**
 * The agent's memory of who uses which address: turns the stream of observations into
 * sightings worth sending. Keyed by (VLAN, IP) for addresses in use, it reports a binding
 * when it is `new`, when another MAC takes the address (`moved`, with the previous MAC), and
 * again once per refresh interval while it lasts (`refresh`; MAAS uses 600 s). A flood of
 * identical frames therefore yields one sighting.
 *
 * Pure: time is an argument, memory is bounded (the least recently reported entries age out).
 */
import { type ArpSummary, arpHostDetail, ipv4Number, type Observation } from '@ipwarden/netcodec';
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
  /**
   * Told when one binding's quiet state may have changed (a move, a rename, an eviction, a probe
   * for it, a change of watch): caches of "this changes nothing" forget that binding alone.
   */
  onBindingChange?: (vlanKey: number, ip: string, ipv4: number) => void;
}

/** An address the collector watches (protocol `Watch`): its segment and IP. */
export interface WatchedAddress {
  vlan: number;
  outerVlan?: number | undefined;
  ip: string;
}

interface Entry {
  /** outerVlan × 4096 + vlan, and the IP: what {@link BindingTableOptions.onBindingChange} is told. */
  vlanKey: number;
  ip: string;
  /** The table's key: {@link addressKey} of the two above. */
  key: string;
  /** The IP's 32 bits when it is IPv4 (the entry is then in the numeric index too), else -1. */
  ipv4: number;
  mac: string;
  /** The MAC's high 16 and low 32 bits, as {@link ArpSummary} states them (-1: not a MAC). */
  macHigh: number;
  macLow: number;
  /**
   * The MAC the address had before its last move, and its bits: two hosts fighting over an
   * address alternate, so the MAC of the next move is almost always this one.
   */
  lastMac: string | undefined;
  lastMacHigh: number;
  lastMacLow: number;
  hostname: string | undefined;
  reportedAt: number;
  /** When a hostname change was last reported early (-Infinity: never). */
  renamedAt: number;
  /** Start of the interval in which the moves and contested probes below were reported. */
  windowStart: number;
  moves: number;
  /** Probes by other MACs, and answers to probes, reported out of turn in this interval. */
  contested: number;
  /** On the collector's watch list: reported at the watch interval. */
  watched: boolean;
  /** A frame the repeat filter may hold states this binding: a change to it must move the epoch. */
  repeatable: boolean;
  /** The neighbours in the order of reports: the least recently reported entry is evicted first. */
  older: Entry | undefined;
  newer: Entry | undefined;
}

/** Moves reported per address per interval: enough to raise the conflict, not a storm. */
const MAX_MOVES = 8;
/** Probes by other MACs and probe answers reported out of turn per address per interval. */
const MAX_CONTESTED = 8;
/**
 * How long after a probe the next host seen on its address by another MAC is its answer. RFC
 * 5227 §2.1.1: a prober sends PROBE_NUM (3) probes PROBE_MIN–PROBE_MAX (1–2 s) apart and waits
 * ANNOUNCE_WAIT (2 s) after the last for a defence before it announces; RFC 4862 §5.4 waits
 * RetransTimer (1 s) per DAD probe. A defender answers within that.
 */
export const PROBE_ANSWER_MS = 2_000;
/** Probes awaiting an answer remembered at most (the oldest go first). */
const MAX_PENDING_PROBES = 4096;

export const DEFAULT_REFRESH_MS = 600_000; // 10 min, as MAAS
export const DEFAULT_MAX_ENTRIES = 100_000;

/** The table's key of an address: `ip` untagged, `vlanKey/ip` on a VLAN. */
function addressKey(vlanKey: number, ip: string): string {
  return vlanKey === 0 ? ip : `${vlanKey}/${ip}`;
}

/** The high 16 bits of a MAC in the decoders' text (`aa:bb:cc:dd:ee:ff`), or -1. */
function macHighOf(mac: string): number {
  return mac.length === 17 ? hexPairs(mac, 0, 2) : -1;
}

/** The low 32 bits of a MAC in the decoders' text, or -1. */
function macLowOf(mac: string): number {
  return mac.length === 17 ? hexPairs(mac, 6, 4) : -1;
}

/** `count` colon-separated lowercase hex pairs from `at`, as an unsigned number, or -1. */
function hexPairs(text: string, at: number, count: number): number {
  let n = 0;
  for (let i = 0; i < count; i++) {
    const p = at + i * 3;
    if (p > 0 && text.charCodeAt(p - 1) !== 58) return -1;
    const high = hexDigit(text.charCodeAt(p));
    const low = hexDigit(text.charCodeAt(p + 1));
    if (high < 0 || low < 0) return -1;
    n = n * 256 + high * 16 + low;
  }
  return n;
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

export class BindingTable {
  private refresh: number;
  /** The interval of watched addresses, in ms (never longer than the refresh interval). */
  private watchMs: number;
  /** Watched addresses, by key. */
  private watchedKeys = new Set<string>();
  readonly maxEntries: number;
  private readonly onBindingChange: ((vlanKey: number, ip: string, ipv4: number) => void) | undefined;
  /** Address bindings, keyed by `ip` (untagged) or `vlanKey/ip`. */
  private readonly bindings = new Map<string, Entry>();
  /**
   * The same entries of IPv4 addresses by number (int32, so that keys are small integers), for
   * {@link observeArp}: untagged ones, and those of each VLAN key.
   */
  private readonly untagged = new Map<number, Entry>();
  private readonly tagged = new Map<number, Map<number, Entry>>();
  /** Both ends of the list of entries in the order of reports (oldest: the next to be evicted). */
  private oldest: Entry | undefined;
  private newest: Entry | undefined;
  /** Probes, DHCP servers and clients: reported once per interval each. */
  private readonly events = new Map<string, number>();
  /** The last probe for each address, until another MAC is seen on it (oldest first out). */
  private readonly probes = new Map<string, { mac: string; at: number }>();
  /** Hostnames announced by DHCP clients, by MAC, so the lease and later sightings carry them (oldest first out). */
  private readonly hostnames = new Map<string, string>();
  /** Entries dropped to stay within maxEntries. */
  evicted = 0;
  /** Moves not reported because an address already had MAX_MOVES in the interval. */
  suppressedMoves = 0;
  /** Probes by other MACs and probe answers not reported because an address had MAX_CONTESTED. */
  suppressedProbes = 0;
  /**
   * Grows whenever an observation that changed nothing could start to change something, as
   * far as a frame the repeat filter holds goes: a binding such a frame stated changed (moved,
   * took a new name, was forgotten or probed for), a DHCP client's name changed, an event was
   * forgotten, or an interval changed. Bindings only ever stated by ARP frames the ARP index
   * handles change it not: they are told one by one to {@link BindingTableOptions.onBindingChange}.
   */
  epoch = 0;
  /** Grows when every binding's quiet state may change at once: a new refresh interval. */
  tableEpoch = 0;
  /**
   * After each {@link observe}: until when (ms) the same observation again would change
   * nothing, as far as the state of this epoch goes.
   */
  quietUntil = 0;
  /** After an {@link observeArp} that returned true: the sighting it caused, if any. */
  sighting: Sighting | undefined;

  constructor(options: BindingTableOptions = {}) {
    this.refresh = options.refreshMs ?? DEFAULT_REFRESH_MS;
    this.watchMs = this.refresh;
    this.maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
    this.onBindingChange = options.onBindingChange;
  }

  get refreshMs(): number {
    return this.refresh;
  }

  /**
   * A new refresh interval, for what the table holds too: nothing is forgotten (a host is not
   * reported as new again), and the epochs move on, since a repeat judged quiet under the old
   * interval may be due under the new one.
   */
  setRefreshMs(refreshMs: number): void {
    if (refreshMs === this.refresh) return;
    this.refresh = refreshMs;
    this.epoch++;
    this.tableEpoch++;
  }

  /**
   * The addresses the collector watches (DESIGN.md, "Conflicts"): each binding and event of
   * one is reported every `refreshMs` instead of every refresh interval, so that an offender
   * still on the wire keeps its conflict open. A new list replaces the last; only the bindings
   * whose interval changes are told to the caches.
   */
  setWatch(refreshMs: number, addresses: readonly WatchedAddress[]): void {
    const keys = new Set<string>();
    for (const a of addresses) keys.add(addressKey((a.outerVlan ?? 0) * 4096 + a.vlan, a.ip));
    const intervalChanged = refreshMs !== this.watchMs;
    const before = this.watchedKeys;
    this.watchMs = refreshMs;
    this.watchedKeys = keys;
    const affected = (key: string) => {
      const entry = this.bindings.get(key);
      if (entry === undefined) return;
      entry.watched = keys.has(key);
      this.changed(entry);
    };
    for (const key of keys) if (intervalChanged || !before.has(key)) affected(key);
    for (const key of before) if (!keys.has(key)) affected(key);
    // Events (probes, DHCP servers) of these addresses have their own keys: any repeat the
    // filter holds of one is let go.
    this.epoch++;
  }

  get size(): number {
    return this.bindings.size;
  }

  /**
   * Feeds one observation made at `at` (ms); returns the sighting it causes, if any.
   * `repeatable`: the frame may be remembered by the repeat filter (every frame but those the
   * ARP index handles), so a later change to its bindings must move the epoch.
   */
  observe(observation: Observation, at: number, repeatable = true): Sighting | undefined {
    if (observation.hostname !== undefined && observation.source === 'dhcp') {
      this.learnHostname(observation.mac, observation.hostname);
    }
    const ip = observation.ip;
    if (ip === undefined) {
      // Only the client's name could be news, and it has just been learned.
      this.quietUntil = Number.POSITIVE_INFINITY;
      return undefined;
    }
    const vlanKey = (observation.outerVlan ?? 0) * 4096 + observation.vlan;
    const key = addressKey(vlanKey, ip);
    if (isBindingSighting(observation)) return this.observeBinding(observation, vlanKey, key, ip, at, repeatable);
    return this.observeEvent(observation, key, ip, at);
  }

  /**
   * {@link observe} for the observation of host binding `which` (0 the sender, 1 the target)
   * of an ARP frame that `summarizeArpFrame` summarised, when the table holds the binding and
   * knows the MAC's text: the binding's own MAC, or the one it last moved from (two hosts
   * fighting over an address alternate). The observation is then built from the entry's
   * strings — what the decoders would have made of the frame, field for field — with no
   * decoding, no formatting and no lookup by string, and handled as observe handles it.
   * Returns true when it did (the sighting, if any, in {@link sighting}; {@link quietUntil}
   * as observe sets it), and false, having changed nothing, when the frame must be decoded
   * and its observation given to observe: a new binding, or a MAC the entry has not held.
   */
  observeArp(frame: ArpSummary, which: number, at: number): boolean {
    const target = which !== 0;
    const ip = (target ? frame.targetIp : frame.senderIp) | 0;
    const entry = frame.vlanKey === 0 ? this.untagged.get(ip) : this.tagged.get(frame.vlanKey)?.get(ip);
    if (entry === undefined) return false;
    const macHigh = target ? frame.targetMacHigh : frame.senderMacHigh;
    const macLow = target ? frame.targetMacLow : frame.senderMacLow;
    let mac: string;
    if (entry.macLow === macLow && entry.macHigh === macHigh) mac = entry.mac;
    else if (entry.lastMacLow === macLow && entry.lastMacHigh === macHigh && entry.lastMac !== undefined)
      mac = entry.lastMac;
    else return false;
    // As netcodec's observeArp builds it, in the same order of fields.
    const observation: Observation = { source: 'arp', kind: 'host', ip: entry.ip, mac, vlan: frame.vlan };
    if (frame.outerVlan >= 0) observation.outerVlan = frame.outerVlan;
    observation.detail = arpHostDetail(frame.operation, frame.senderIp === frame.targetIp, target);
    this.sighting = this.observeBinding(observation, entry.vlanKey, entry.key, entry.ip, at, false, entry);
    return true;
  }

  private interval(watched: boolean): number {
    return watched ? Math.min(this.watchMs, this.refresh) : this.refresh;
  }

  private observeBinding(
    observation: Observation,
    vlanKey: number,
    key: string,
    ip: string,
    at: number,
    repeatable: boolean,
    /** The entry of `key`, when the caller has found it already. */
    known?: Entry,
  ): Sighting | undefined {
    const mac = observation.mac;
    // A host seen on a probed address by a MAC other than the prober's answers the probe (RFC
    // 5227 §2.1.1, RFC 4862 §5.4.3): the evidence of a duplicate, so never kept quiet. The
    // next such host takes the probe, answer or not, so that whether it answers depends on
    // nothing a cache could have skipped.
    let answers = false;
    if (this.probes.size > 0 && observation.kind !== 'dhcp-lease') {
      const probe = this.probes.get(key);
      if (probe !== undefined && probe.mac !== mac) {
        this.probes.delete(key);
        answers = at >= probe.at && at - probe.at <= PROBE_ANSWER_MS;
      }
    }
    let entry = known ?? this.bindings.get(key);
    let out: Sighting | undefined;
    if (entry === undefined) {
      const hostname = observation.hostname ?? this.hostnames.get(mac);
      const watched = this.watchedKeys.size > 0 && this.watchedKeys.has(key);
      const ipv4 = ipv4Number(ip);
      entry = {
        vlanKey,
        ip,
        key,
        ipv4,
        mac,
        macHigh: macHighOf(mac),
        macLow: macLowOf(mac),
        lastMac: undefined,
        lastMacHigh: -1,
        lastMacLow: -1,
        hostname,
        reportedAt: at,
        renamedAt: Number.NEGATIVE_INFINITY,
        windowStart: at,
        moves: 0,
        contested: 0,
        watched,
        repeatable: false,
        older: undefined,
        newer: undefined,
      };
      this.rememberBinding(entry);
      this.quietUntil = at + this.interval(watched);
      out = sighting(observation, ip, at, 'new', hostname);
    } else {
      out = this.update(entry, ip, observation, at, answers);
    }
    // Only now: a change above has let go of the repeats that stated this binding before.
    if (repeatable) entry.repeatable = true;
    if (answers && out !== undefined) out.detail = { ...out.detail, answersProbe: true };
    return out;
  }

  /** A frame for a known binding: a refresh, a rename, a move, or nothing new. */
  private update(
    entry: Entry,
    ip: string,
    observation: Observation,
    at: number,
    answers: boolean,
  ): Sighting | undefined {
    const mac = observation.mac;
    const interval = this.interval(entry.watched);
    if (entry.mac === mac) {
      const hostname = observation.hostname;
      // A new name is news at once, but a host announcing two names (DHCP and mDNS) must not
      // turn every frame into a report: early reports are limited to one per interval, and
      // between reports the binding keeps the name it was last reported with.
      const renamed = hostname !== undefined && hostname !== entry.hostname;
      const due = at - entry.reportedAt >= interval;
      const early = renamed && at - entry.renamedAt >= interval;
      if (!due && !early) {
        this.quietUntil = (renamed ? Math.min(entry.reportedAt, entry.renamedAt) : entry.reportedAt) + interval;
        // A steady binding answering a probe is reported all the same, out of turn.
        return answers && this.outOfTurn(entry, at, interval)
          ? sighting(observation, ip, at, 'refresh', entry.hostname)
          : undefined;
      }
      if (renamed) {
        entry.hostname = hostname;
        this.changed(entry);
      }
      if (early) entry.renamedAt = at;
      entry.reportedAt = at;
      this.touch(entry);
      this.quietUntil = at + interval;
      return sighting(observation, ip, at, 'refresh', entry.hostname);
    }

    // Another MAC on the address. Every move is reported — two hosts on one address alternate
    // A, B, A, B, and the collector tells that duplicate from a move (A, then B for good) by
    // the MACs it sees return — but two hosts fighting at line rate must not flood the uplink:
    // an address has MAX_MOVES reports an interval, then its moves are counted.
    const previousMac = entry.mac;
    const hostname = observation.hostname ?? this.hostnames.get(mac);
    const { macHigh, macLow } = entry;
    if (mac === entry.lastMac) {
      entry.macHigh = entry.lastMacHigh;
      entry.macLow = entry.lastMacLow;
    } else {
      entry.macHigh = macHighOf(mac);
      entry.macLow = macLowOf(mac);
    }
    entry.lastMac = previousMac;
    entry.lastMacHigh = macHigh;
    entry.lastMacLow = macLow;
    entry.mac = mac;
    entry.hostname = hostname;
    this.changed(entry);
    this.rollWindow(entry, at, interval);
    if (entry.moves >= MAX_MOVES) {
      // Reported as a refresh once this interval is over.
      entry.reportedAt = entry.windowStart;
      this.quietUntil = entry.windowStart + interval;
      if (!answers || !this.outOfTurn(entry, at, interval)) {
        this.suppressedMoves++;
        return undefined;
      }
    } else {
      entry.moves++;
      entry.reportedAt = at;
      this.touch(entry);
      this.quietUntil = at + interval;
    }
    const moved = sighting(observation, ip, at, 'moved', hostname);
    moved.previousMac = previousMac;
    return moved;
  }

  private observeEvent(observation: Observation, key: string, ip: string, at: number): Sighting | undefined {
    const mac = observation.mac;
    const eventKey = `${observation.kind}|${key}|${mac}`;
    const interval = this.interval(this.watchedKeys.size > 0 && this.watchedKeys.has(key));
    const reportedAt = this.events.get(eventKey);
    let due = reportedAt === undefined || at - reportedAt >= interval;
    if (observation.kind === 'probe') {
      // Each probe opens a window for its answer, so none is quiet.
      this.armProbe(key, mac, at);
      const entry = this.bindings.get(key);
      // A probe for an address another MAC holds (a new DHCP client handed an address in use)
      // is reported each time, within the address's budget.
      if (!due && entry !== undefined && entry.mac !== mac)
        due = this.outOfTurn(entry, at, this.interval(entry.watched));
      this.quietUntil = at;
    } else {
      this.quietUntil = due ? at + interval : reportedAt! + interval;
    }
    if (!due) return undefined;
    this.events.delete(eventKey);
    this.rememberEvent(eventKey, at);
    return sighting(
      observation,
      ip,
      at,
      reportedAt === undefined ? 'new' : 'refresh',
      observation.hostname ?? this.hostnames.get(mac),
    );
  }

  /** Remembers a probe for `key` by `mac`; the address's cached quiet state no longer holds. */
  private armProbe(key: string, mac: string, at: number): void {
    this.probes.delete(key);
    if (this.probes.size >= MAX_PENDING_PROBES) this.probes.delete(this.probes.keys().next().value!);
    this.probes.set(key, { mac, at });
    const entry = this.bindings.get(key);
    if (entry !== undefined) this.changed(entry);
  }

  /** True, counted, when the address may have one more report out of turn this interval. */
  private outOfTurn(entry: Entry, at: number, interval: number): boolean {
    this.rollWindow(entry, at, interval);
    if (entry.contested >= MAX_CONTESTED) {
      this.suppressedProbes++;
      return false;
    }
    entry.contested++;
    return true;
  }

  private rollWindow(entry: Entry, at: number, interval: number): void {
    if (at - entry.windowStart < interval) return;
    entry.windowStart = at;
    entry.moves = 0;
    entry.contested = 0;
  }

  /** One binding's quiet state may have changed: the caches forget it. */
  private changed(entry: Entry): void {
    this.onBindingChange?.(entry.vlanKey, entry.ip, entry.ipv4);
    if (entry.repeatable) {
      // Every repeat the filter holds is let go, so this binding is stated by none of them.
      entry.repeatable = false;
      this.epoch++;
    }
  }

  /** Remembers the name a DHCP client gave for its MAC; a changed name is a change of state. */
  private learnHostname(mac: string, hostname: string): void {
    const known = this.hostnames.get(mac);
    if (known === hostname) return;
    if (known !== undefined) this.epoch++;
    if (this.hostnames.size >= this.maxEntries && known === undefined) {
      this.hostnames.delete(this.hostnames.keys().next().value!);
      this.evicted++;
      this.epoch++;
    }
    this.hostnames.set(mac, hostname);
  }

  /** Inserts a new binding at the most-recent end, forgetting the least recently reported when full. */
  private rememberBinding(entry: Entry): void {
    if (this.bindings.size >= this.maxEntries && this.oldest !== undefined) {
      const oldest = this.oldest;
      this.bindings.delete(oldest.key);
      if (oldest.ipv4 >= 0) this.numeric(oldest.vlanKey)?.delete(oldest.ipv4 | 0);
      this.unlink(oldest);
      this.evicted++;
      this.changed(oldest);
    }
    this.bindings.set(entry.key, entry);
    if (entry.ipv4 >= 0) {
      let numeric = this.numeric(entry.vlanKey);
      if (numeric === undefined) {
        numeric = new Map();
        this.tagged.set(entry.vlanKey, numeric);
      }
      numeric.set(entry.ipv4 | 0, entry);
    }
    this.link(entry);
  }

  /** The numeric index of one VLAN key's IPv4 entries, if it has any. */
  private numeric(vlanKey: number): Map<number, Entry> | undefined {
    return vlanKey === 0 ? this.untagged : this.tagged.get(vlanKey);
  }

  private rememberEvent(key: string, at: number): void {
    if (this.events.size >= this.maxEntries) {
      this.events.delete(this.events.keys().next().value!);
      this.evicted++;
      this.epoch++;
    }
    this.events.set(key, at);
  }

  /** The entry has just been reported: it moves to the most-recent end. */
  private touch(entry: Entry): void {
    if (entry === this.newest) return;
    this.unlink(entry);
    this.link(entry);
  }

  private link(entry: Entry): void {
    entry.older = this.newest;
    entry.newer = undefined;
    if (this.newest !== undefined) this.newest.newer = entry;
    else this.oldest = entry;
    this.newest = entry;
  }

  private unlink(entry: Entry): void {
    if (entry.older !== undefined) entry.older.newer = entry.newer;
    else this.oldest = entry.newer;
    if (entry.newer !== undefined) entry.newer.older = entry.older;
    else this.newest = entry.older;
    entry.older = undefined;
    entry.newer = undefined;
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
