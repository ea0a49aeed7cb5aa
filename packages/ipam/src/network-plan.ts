/**
 * What is known of the network, for judging what agents see (DESIGN.md, "Conflicts"): the
 * subnets of each segment with their gateway, DNS and DHCP servers and ranges, the exemptions
 * an admin declared, the DHCP servers known per segment, the agents' own addresses, and the
 * MACs that act as routers. Pure: the collector loads it from the database and asks it
 * questions per sighting, so these answers cost no round trip.
 */
import { type Family, type Ip, parseIp } from './ip.js';
import { firstOf, lastOf, type Prefix, parsePrefix } from './prefix.js';

export type ConflictKind =
  | 'duplicate-ip'
  | 'mac-mismatch'
  | 'unallocated-in-use'
  | 'reserved-range-in-use'
  | 'rogue-dhcp-server'
  | 'foreign-subnet';

export const CONFLICT_KINDS: readonly ConflictKind[] = [
  'duplicate-ip',
  'mac-mismatch',
  'unallocated-in-use',
  'reserved-range-in-use',
  'rogue-dhcp-server',
  'foreign-subnet',
];

export interface PlanSubnet {
  id: string;
  cidr: string;
  vlan: number;
  managed: boolean;
  gateway?: string | undefined;
  dnsServers: readonly string[];
  dhcpServers: readonly string[];
  ranges: readonly { start: string; end: string; purpose: 'dynamic' | 'reserved' }[];
}

export interface PlanExemption {
  id: string;
  cidr: string;
  /** Empty: any MAC. */
  macs: readonly string[];
  /** Empty: every kind. */
  kinds: readonly ConflictKind[];
}

export interface PlanDhcpServer {
  vlan: number;
  outerVlan: number;
  ip?: string | undefined;
  mac?: string | undefined;
}

export interface PlanAgent {
  id: string;
  name: string;
  /** As the agent's hello gives them: each address with or without its prefix length. */
  interfaces: readonly { mac?: string | undefined; addresses: readonly string[] }[];
  /** The agent runs a DHCP server of its own (a backend other than none): its OFFERs are not rogue. */
  servesDhcp: boolean;
}

/** Where an address falls in its subnet, for the rules: the first that applies. */
export type Place = 'gateway' | 'dns-server' | 'dhcp-server' | 'dynamic' | 'reserved' | 'host';

export interface Located {
  subnet: PlanSubnet;
  place: Place;
}

interface CompiledSubnet {
  subnet: PlanSubnet;
  prefix: Prefix;
  gateway: bigint | undefined;
  dns: readonly bigint[];
  dhcp: readonly bigint[];
  /** Sorted by start, never overlapping (the subnet store refuses overlaps). */
  ranges: readonly { start: bigint; end: bigint; purpose: 'dynamic' | 'reserved' }[];
}

/** Subnets of one (VLAN, family), by prefix length, by network: a lookup per length present. */
interface SubnetIndex {
  lengths: number[];
  byLength: Map<number, Map<bigint, CompiledSubnet>>;
}

const LINK_LOCAL: readonly Prefix[] = [
  parsePrefix('169.254.0.0/16'), // RFC 3927
  parsePrefix('fe80::/10'), // RFC 4291 2.5.6
].map((p) => (p.ok ? p.value : undefined!));

export class NetworkPlan {
  private readonly subnets = new Map<string, SubnetIndex>();
  private readonly exemptions: { exemption: PlanExemption; prefix: Prefix }[] = [];
  private readonly dhcpServers = new Set<string>();
  private readonly agentAddresses = new Map<string, PlanAgent>();
  private readonly agentDhcpServers = new Set<string>();
  private readonly agentNames = new Map<string, string>();
  private readonly routerMacs = new Set<string>();

  constructor(plan: {
    subnets: readonly PlanSubnet[];
    exemptions?: readonly PlanExemption[];
    dhcpServers?: readonly PlanDhcpServer[];
    agents?: readonly PlanAgent[];
  }) {
    for (const subnet of plan.subnets) this.addSubnet(subnet);
    for (const exemption of plan.exemptions ?? []) {
      const prefix = parsePrefix(exemption.cidr);
      if (prefix.ok) this.exemptions.push({ exemption, prefix: prefix.value });
    }
    for (const server of plan.dhcpServers ?? []) {
      const segment = `${server.vlan}/${server.outerVlan}`;
      if (server.ip !== undefined) this.dhcpServers.add(`${segment}/${server.ip}`);
      if (server.mac !== undefined) this.dhcpServers.add(`${segment}/${server.mac}`);
    }
    for (const agent of plan.agents ?? []) {
      this.agentNames.set(agent.id, agent.name);
      for (const face of agent.interfaces) {
        for (const address of face.addresses) {
          const ip = address.split('/', 1)[0]!;
          this.agentAddresses.set(ip, agent);
          if (agent.servesDhcp) this.agentDhcpServers.add(ip);
        }
        if (agent.servesDhcp && face.mac !== undefined) this.agentDhcpServers.add(face.mac);
      }
    }
  }

  private addSubnet(subnet: PlanSubnet): void {
    const parsed = parsePrefix(subnet.cidr);
    if (!parsed.ok) return;
    const prefix = parsed.value;
    const value = (text: string | undefined) => (text === undefined ? undefined : parseIp(text)?.value);
    const compiled: CompiledSubnet = {
      subnet,
      prefix,
      gateway: value(subnet.gateway),
      dns: subnet.dnsServers.map(value).filter((v): v is bigint => v !== undefined),
      dhcp: subnet.dhcpServers.map(value).filter((v): v is bigint => v !== undefined),
      ranges: subnet.ranges
        .map((r) => ({ start: value(r.start), end: value(r.end), purpose: r.purpose }))
        .filter((r): r is { start: bigint; end: bigint; purpose: 'dynamic' | 'reserved' } => r.start !== undefined)
        .sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0)),
    };
    const key = `${subnet.vlan}/${prefix.family}`;
    let index = this.subnets.get(key);
    if (index === undefined) {
      index = { lengths: [], byLength: new Map() };
      this.subnets.set(key, index);
    }
    let byNetwork = index.byLength.get(prefix.length);
    if (byNetwork === undefined) {
      byNetwork = new Map();
      index.byLength.set(prefix.length, byNetwork);
      index.lengths.push(prefix.length);
      index.lengths.sort((a, b) => b - a); // the most specific subnet answers
    }
    byNetwork.set(prefix.network, compiled);
  }

  /** True when the segment has subnets of this family: only then is an address outside them foreign. */
  judges(vlan: number, family: Family): boolean {
    return this.subnets.has(`${vlan}/${family}`);
  }

  /** The subnet of the VLAN holding `ip` (the most specific), and where in it the address falls. */
  locate(vlan: number, ip: Ip): Located | undefined {
    const index = this.subnets.get(`${vlan}/${ip.family}`);
    if (index === undefined) return undefined;
    const bits = ip.family === 4 ? 32n : 128n;
    for (const length of index.lengths) {
      const shift = bits - BigInt(length);
      const network = (ip.value >> shift) << shift;
      const compiled = index.byLength.get(length)!.get(network);
      if (compiled !== undefined) return { subnet: compiled.subnet, place: placeIn(compiled, ip.value) };
    }
    return undefined;
  }

  /** The agent whose own interface has this address. */
  agentWithAddress(ip: string): PlanAgent | undefined {
    return this.agentAddresses.get(ip);
  }

  agentName(id: string): string {
    return this.agentNames.get(id) ?? id;
  }

  /** A DHCP server known for the segment: declared by an admin, on a subnet, or an agent's own. */
  knownDhcpServer(vlan: number, outerVlan: number, ip: Ip, ipText: string, mac: string): boolean {
    const segment = `${vlan}/${outerVlan}`;
    if (this.dhcpServers.has(`${segment}/${ipText}`) || this.dhcpServers.has(`${segment}/${mac}`)) return true;
    if (this.agentDhcpServers.has(ipText) || this.agentDhcpServers.has(mac)) return true;
    const index = this.subnets.get(`${vlan}/${ip.family}`);
    if (index === undefined) return false;
    for (const byNetwork of index.byLength.values()) {
      for (const compiled of byNetwork.values()) if (compiled.subnet.dhcpServers.includes(ipText)) return true;
    }
    return false;
  }

  /** The exemption covering `ip` for `kind` and every one of `macs`, if any. */
  exemption(ip: Ip, kind: ConflictKind, macs: readonly string[]): PlanExemption | undefined {
    for (const { exemption, prefix } of this.exemptions) {
      if (prefix.family !== ip.family || ip.value < firstOf(prefix) || ip.value > lastOf(prefix)) continue;
      if (exemption.kinds.length > 0 && !exemption.kinds.includes(kind)) continue;
      if (exemption.macs.length > 0 && !macs.every((mac) => exemption.macs.includes(mac))) continue;
      return exemption;
    }
    return undefined;
  }

  /**
   * A MAC seen using a subnet's gateway address, or sending router advertisements: a router,
   * which may answer for addresses behind it (proxy ARP, RFC 1027) without stealing them.
   */
  learnRouter(vlan: number, mac: string): boolean {
    const key = `${vlan}/${mac}`;
    if (this.routerMacs.has(key)) return false;
    this.routerMacs.add(key);
    return true;
  }

  isRouter(vlan: number, mac: string): boolean {
    return this.routerMacs.has(`${vlan}/${mac}`);
  }

  /** The routers learned so far, to carry over into the next plan. */
  routers(): IterableIterator<string> {
    return this.routerMacs.values();
  }

  adoptRouters(keys: Iterable<string>): void {
    for (const key of keys) this.routerMacs.add(key);
  }
}

export function isLinkLocal(ip: Ip): boolean {
  return LINK_LOCAL.some((p) => p.family === ip.family && ip.value >= firstOf(p) && ip.value <= lastOf(p));
}

function placeIn(compiled: CompiledSubnet, value: bigint): Place {
  if (compiled.gateway === value) return 'gateway';
  if (compiled.dns.includes(value)) return 'dns-server';
  if (compiled.dhcp.includes(value)) return 'dhcp-server';
  const ranges = compiled.ranges;
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const range = ranges[mid]!;
    if (value < range.start) hi = mid - 1;
    else if (value > range.end) lo = mid + 1;
    else return range.purpose;
  }
  return 'host';
}
