/**
 * Which subnets an agent's DHCP server serves (DESIGN.md, "DHCP map pushes"): those it sits in —
 * one of its interfaces has an address inside the subnet, on the subnet's VLAN (an interface
 * that reports no VLANs is on the untagged VLAN 0) — unless an admin named them (`serves`).
 * Pure: the collector gives it the agent's last hello and the subnets.
 */
import { parseIp } from './ip.js';
import { contains, parsePrefix } from './prefix.js';

export interface ServingAgent {
  interfaces: readonly { vlans: readonly number[]; addresses: readonly string[] }[];
  /** Subnet ids an admin set; null or undefined: by the interfaces. */
  serves?: readonly string[] | null;
}

export interface ServableSubnet {
  id: string;
  cidr: string;
  vlan: number;
  managed: boolean;
}

/** The ids of the subnets `agent` serves, in the order of `subnets`. Unmanaged subnets are never served. */
export function servedSubnets(agent: ServingAgent, subnets: readonly ServableSubnet[]): string[] {
  if (agent.serves !== undefined && agent.serves !== null) {
    const named = new Set(agent.serves);
    return subnets.filter((s) => s.managed && named.has(s.id)).map((s) => s.id);
  }
  const seats = agent.interfaces.flatMap((face) => {
    const vlans = face.vlans.length === 0 ? [0] : face.vlans;
    // An interface address as `ip/len` or a bare `ip`; what does not parse sits nowhere.
    return face.addresses.flatMap((address) => {
      const ip = parseIp(address.split('/')[0]!);
      return ip === undefined ? [] : vlans.map((vlan) => ({ vlan, ip }));
    });
  });
  return subnets
    .filter((subnet) => {
      if (!subnet.managed) return false;
      const prefix = parsePrefix(subnet.cidr);
      return prefix.ok && seats.some((seat) => seat.vlan === subnet.vlan && contains(prefix.value, seat.ip));
    })
    .map((s) => s.id);
}
