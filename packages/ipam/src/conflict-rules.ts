/**
 * The conflict rules (DESIGN.md, "Conflicts") as pure functions: a sighting, what the plan and
 * the allocations table say of its address, and what the address's recent history shows, in;
 * the conflicts it is evidence of, and the rules that kept quiet, out. The collector gathers the
 * facts (conflicts/reconciler.ts) and keeps the conflicts' lifecycle; nothing here does I/O.
 */
import type { Ip } from './ip.js';
import { type ConflictKind, isLinkLocal, type Located, type NetworkPlan } from './network-plan.js';
import { isVirtualRouterMac } from './virtual-router.js';

/**
 * How long after an address's MAC was changed through the API its previous MAC may still be
 * heard without a conflict: the old host's last frames, its neighbours' stale caches answered,
 * a gratuitous ARP of the new NIC racing one of the old (a NIC swap takes minutes, not hours).
 */
export const MAC_CHANGE_GRACE_MS = 10 * 60_000; // 10 min

/** A binding as an agent reported it. */
export interface SeenBinding {
  vlan: number;
  outerVlan: number;
  ip: Ip;
  /** As on the wire: RFC 5952 for IPv6. */
  ipText: string;
  mac: string;
  at: number;
  event: 'new' | 'refresh' | 'moved';
  previousMac?: string | undefined;
  /** The agent saw this host answer another MAC's RFC 5227 probe or RFC 4862 DAD for the address. */
  answersProbe?: boolean | undefined;
}

/** The allocation of the address in its subnet, as the allocations table holds it. */
export interface AllocationFacts {
  /** The address's id, when the caller has it (the collector fills it in where it does not). */
  id?: string | undefined;
  mac?: string | undefined;
  previousMac?: string | undefined;
  macChangedAt?: number | undefined;
}

/** What the address's recent history (the observation window) says, for duplicates. */
export interface HistoryFacts {
  /** The MAC that just took the address over had used it before, within the window: A, B, A. */
  returning: boolean;
  /** MACs that probed for the address just before this sighting (RFC 5227 2.1.1, RFC 4862 5.4). */
  probers: readonly string[];
}

export interface Finding {
  kind: ConflictKind;
  /** The IP, or for `rogue-dhcp-server` the server's MAC. */
  subject: string;
  macs: readonly string[];
  /** Why this is evidence, in a few words for the evidence list. */
  note: string;
  subnetId?: string | undefined;
  addressId?: string | undefined;
}

/** A rule that kept a conflict from being raised (counted in the metrics, by rule and kind). */
export interface Quieted {
  rule:
    | 'virtual-router'
    | 'proxy-arp'
    | 'mac-change'
    | 'dynamic-range'
    | 'gateway'
    | 'dns-server'
    | 'dhcp-server'
    | 'agent-address'
    | 'link-local'
    | 'looped-back'
    | 'exemption'
    | 'known-dhcp-server';
  kind: ConflictKind;
}

export interface Judgement {
  findings: Finding[];
  quieted: Quieted[];
}

/**
 * Whether judging the binding needs its allocation: only an address a managed subnet could
 * have allocated (not its gateway, DNS servers or ranges) has one.
 */
export function needsAllocation(located: Located | undefined): boolean {
  return located?.subnet.managed === true && located.place === 'host';
}

/** Whether judging the binding needs the address's history (a move, or an answer to a probe). */
export function needsHistory(seen: Pick<SeenBinding, 'event' | 'answersProbe'>): boolean {
  return seen.event === 'moved' || seen.answersProbe === true;
}

/** Every conflict a binding sighting is evidence of. */
export function judgeBinding(
  plan: NetworkPlan,
  seen: SeenBinding,
  located: Located | undefined,
  allocation: AllocationFacts | undefined,
  history: HistoryFacts | undefined,
): Judgement {
  const judgement: Judgement = { findings: [], quieted: [] };
  const raise = (kind: ConflictKind, macs: readonly string[], note: string) => {
    const quiet = quietFor(plan, seen, kind, macs, allocation);
    if (quiet !== undefined) {
      judgement.quieted.push({ rule: quiet, kind });
      return;
    }
    judgement.findings.push({
      kind,
      subject: seen.ipText,
      macs,
      note,
      subnetId: located?.subnet.id,
      addressId: allocation?.id,
    });
  };

  if (history !== undefined) {
    if (seen.event === 'moved' && seen.previousMac !== undefined && history.returning) {
      raise('duplicate-ip', [seen.mac, seen.previousMac], 'moved back');
    } else if (seen.answersProbe === true) {
      const others = history.probers.filter((mac) => mac !== seen.mac);
      // A probe "answered" by its own sender is the probe looped back to it (RFC 7527 4.1).
      if (others.length > 0) raise('duplicate-ip', [seen.mac, ...others], 'answers a probe');
      else if (history.probers.length > 0) judgement.quieted.push({ rule: 'looped-back', kind: 'duplicate-ip' });
    }
  }

  if (located === undefined) {
    if (plan.judges(seen.vlan, seen.ip.family)) raise('foreign-subnet', [seen.mac], 'outside every subnet');
    return judgement;
  }
  switch (located.place) {
    case 'gateway':
    case 'dns-server':
    case 'dhcp-server':
      if (located.subnet.managed) judgement.quieted.push({ rule: located.place, kind: 'unallocated-in-use' });
      return judgement;
    case 'dynamic':
      if (located.subnet.managed) judgement.quieted.push({ rule: 'dynamic-range', kind: 'unallocated-in-use' });
      return judgement;
    case 'reserved':
      raise('reserved-range-in-use', [seen.mac], 'inside a reserved range');
      return judgement;
    case 'host':
      if (!located.subnet.managed) return judgement;
      if (allocation === undefined) raise('unallocated-in-use', [seen.mac], 'not allocated');
      else if (allocation.mac !== undefined && allocation.mac !== seen.mac) {
        raise('mac-mismatch', [seen.mac], `allocated to ${allocation.mac}`);
      }
      return judgement;
  }
}

/** A DHCP server's OFFER or ACK: rogue unless it is known for the segment. */
export function judgeDhcpServer(
  plan: NetworkPlan,
  seen: Pick<SeenBinding, 'vlan' | 'outerVlan' | 'ip' | 'ipText' | 'mac'>,
): Judgement {
  if (plan.knownDhcpServer(seen.vlan, seen.outerVlan, seen.ip, seen.ipText, seen.mac)) {
    return { findings: [], quieted: [{ rule: 'known-dhcp-server', kind: 'rogue-dhcp-server' }] };
  }
  if (plan.exemption(seen.ip, 'rogue-dhcp-server', [seen.mac]) !== undefined) {
    return { findings: [], quieted: [{ rule: 'exemption', kind: 'rogue-dhcp-server' }] };
  }
  return {
    findings: [
      { kind: 'rogue-dhcp-server', subject: seen.mac, macs: [seen.mac], note: `DHCP server ${seen.ipText} unknown` },
    ],
    quieted: [],
  };
}

/** The rule that keeps this conflict quiet, if one does: what networks do on purpose. */
function quietFor(
  plan: NetworkPlan,
  seen: SeenBinding,
  kind: ConflictKind,
  macs: readonly string[],
  allocation: AllocationFacts | undefined,
): Quieted['rule'] | undefined {
  // VRRP, HSRP and GLBP answer for their gateway from virtual MACs, several at once for GLBP.
  if (kind === 'duplicate-ip' ? macs.every(isVirtualRouterMac) : isVirtualRouterMac(seen.mac)) {
    return 'virtual-router';
  }
  // A router answering for addresses behind it (proxy ARP) uses them without holding them.
  if (macs.some((mac) => plan.isRouter(seen.vlan, mac))) return 'proxy-arp';
  if (
    allocation?.previousMac !== undefined &&
    allocation.macChangedAt !== undefined &&
    seen.at - allocation.macChangedAt < MAC_CHANGE_GRACE_MS &&
    macs.includes(allocation.previousMac) &&
    macs.every((mac) => mac === allocation.previousMac || mac === allocation.mac)
  ) {
    return 'mac-change';
  }
  if (kind !== 'duplicate-ip') {
    const agent = plan.agentWithAddress(seen.ipText);
    if (agent !== undefined) return 'agent-address';
    if (isLinkLocal(seen.ip)) return 'link-local';
  }
  if (plan.exemption(seen.ip, kind, macs) !== undefined) return 'exemption';
  return undefined;
}
