/**
 * What a DHCP map is, beyond its schema (messages.ts): one host per (subnet, MAC) and per
 * (subnet, IP), a change applied to a map, and the change between two maps. The collector makes
 * changes with `mapChange`; the agent applies them with `applyMapChange` — both sides with the
 * same code, so the map an agent holds is the map the collector means.
 */
import type { DhcpHost, DhcpMap, DhcpMapChange, DhcpSubnet } from './messages.js';

/** A map's content: the message without its type. */
export interface DhcpMapContent {
  version: number;
  hosts: DhcpHost[];
  subnets: DhcpSubnet[];
}

const hostKey = (subnet: string, mac: string) => `${subnet} ${mac}`;

/**
 * The map after `change`; undefined when `change.base` is not the map's version (the agent then
 * keeps its map and waits for the whole one). A host that takes an address another host of the
 * subnet held displaces it: the collector never sends two, and a change applied in any order of
 * its entries must not make them.
 */
export function applyMapChange(map: DhcpMapContent, change: DhcpMapChange): DhcpMapContent | undefined {
  if (change.base !== map.version) return undefined;
  const hosts = new Map(map.hosts.map((h) => [hostKey(h.subnet, h.mac), h]));
  for (const { subnet, mac } of change.removed) hosts.delete(hostKey(subnet, mac));
  const setIps = new Set(change.hosts.map((h) => `${h.subnet} ${h.ip}`));
  for (const [key, host] of hosts) if (setIps.has(`${host.subnet} ${host.ip}`)) hosts.delete(key);
  for (const host of change.hosts) hosts.set(hostKey(host.subnet, host.mac), host);
  return { version: change.version, hosts: [...hosts.values()], subnets: change.subnets ?? map.subnets };
}

/** The change that makes `before` into `after` (hosts compared by subnet and MAC, subnets as a whole). */
export function mapChange(before: DhcpMapContent, after: DhcpMapContent): DhcpMapChange {
  const old = new Map(before.hosts.map((h) => [hostKey(h.subnet, h.mac), h]));
  const hosts: DhcpHost[] = [];
  for (const host of after.hosts) {
    const was = old.get(hostKey(host.subnet, host.mac));
    old.delete(hostKey(host.subnet, host.mac));
    if (was === undefined || was.ip !== host.ip || was.hostname !== host.hostname) hosts.push(host);
  }
  const removed = [...old.values()].map(({ subnet, mac }) => ({ subnet, mac }));
  const subnetsChanged = JSON.stringify(before.subnets) !== JSON.stringify(after.subnets);
  return {
    type: 'dhcpMapChange',
    version: after.version,
    base: before.version,
    hosts,
    removed,
    ...(subnetsChanged && { subnets: after.subnets }),
  };
}

/**
 * What makes a map unfit for a DHCP server, in words an operator can act on: a name DHCP cannot
 * carry, two hosts for one MAC or one IP in a subnet, a host of a subnet the map does not have.
 * Empty when it is fit.
 */
export function mapProblems(map: Pick<DhcpMap, 'hosts' | 'subnets'>): string[] {
  const problems: string[] = [];
  for (const host of map.hosts) {
    if (host.hostname !== undefined && !isDhcpHostname(host.hostname)) {
      problems.push(`host ${host.mac} (${host.ip}): "${host.hostname}" is not a name DHCP can carry (RFC 1123 labels)`);
    }
  }
  const subnets = new Set(map.subnets.map((s) => s.cidr));
  const macs = new Map<string, string>();
  const ips = new Map<string, string>();
  for (const host of map.hosts) {
    if (!subnets.has(host.subnet)) problems.push(`host ${host.mac} is in subnet ${host.subnet}, which the map lacks`);
    const byMac = macs.get(hostKey(host.subnet, host.mac));
    if (byMac !== undefined) problems.push(`${host.mac} has two addresses in ${host.subnet}: ${byMac} and ${host.ip}`);
    macs.set(hostKey(host.subnet, host.mac), host.ip);
    const byIp = ips.get(`${host.subnet} ${host.ip}`);
    if (byIp !== undefined)
      problems.push(`${host.ip} is reserved twice in ${host.subnet}: for ${byIp} and ${host.mac}`);
    ips.set(`${host.subnet} ${host.ip}`, host.mac);
  }
  return problems;
}

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

/** A host name option 12 carries and DHCP servers take: RFC 1123 labels, dot-separated, at most 253 characters. */
export function isDhcpHostname(name: string): boolean {
  return name.length <= 253 && name.split('.').every((label) => LABEL.test(label));
}
