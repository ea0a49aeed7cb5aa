/**
 * Which interfaces the agent watches when none are configured (DESIGN.md): every interface that
 * is up, is not loopback, and has an IPv4 or IPv6 address. Read from Node's view of the
 * addresses and, for the operational state, from /sys/class/net (Linux).
 */
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';

export interface WatchedInterface {
  name: string;
  mac: string | undefined;
  addresses: string[];
}

/** `up`, or `unknown` (virtual interfaces such as some veths and tunnels report no state). */
function isUp(name: string): boolean {
  try {
    const state = readFileSync(`/sys/class/net/${name}/operstate`, 'utf8').trim();
    return state === 'up' || state === 'unknown';
  } catch {
    return false;
  }
}

/** The interfaces to watch: the configured ones (which must exist; an address is not needed to sniff a trunk), or the default set. */
export function watchedInterfaces(configured: readonly string[] = []): WatchedInterface[] {
  const all = networkInterfaces();
  const describe = (name: string): WatchedInterface => {
    const addresses = all[name] ?? [];
    const mac = addresses.find((a) => a.mac !== '00:00:00:00:00:00')?.mac;
    return { name, mac, addresses: addresses.map((a) => a.cidr ?? a.address) };
  };
  if (configured.length > 0) {
    const unknown = configured.filter((name) => all[name] === undefined && !isUp(name));
    if (unknown.length > 0) throw new Error(`no such interface: ${unknown.join(', ')}`);
    return configured.map(describe);
  }
  return Object.entries(all)
    .filter(
      ([name, addresses]) => (addresses ?? []).length > 0 && !(addresses ?? []).every((a) => a.internal) && isUp(name),
    )
    .map(([name]) => describe(name));
}
