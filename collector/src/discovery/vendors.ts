/**
 * MAC address → vendor, from the IEEE registries (MA-L, MA-M and MA-S assignments, through the
 * `oui-data` package, which tracks them). The longest assignment wins: a 36-bit MA-S block
 * lies inside a 24-bit prefix the IEEE registered to itself.
 */
import { createRequire } from 'node:module';

type Registry = Record<string, string>;

let registry: Map<string, string> | undefined;

function load(): Map<string, string> {
  // A 4 MB JSON document: read on first use, not at start-up.
  const raw = createRequire(import.meta.url)('oui-data') as Registry;
  // The first line of an entry is the organisation; the rest is its postal address.
  return new Map(Object.entries(raw).map(([prefix, entry]) => [prefix, entry.split('\n', 1)[0]!.trim()]));
}

/** The organisation the IEEE assigned `mac`'s prefix to; undefined for unassigned and local MACs. */
export function vendorOf(mac: string): string | undefined {
  const hex = mac.replaceAll(':', '').toUpperCase();
  // Locally administered addresses (bit 1 of the first octet, IEEE 802 §8.2) have no vendor.
  if ((Number.parseInt(hex.slice(0, 2), 16) & 0x02) !== 0) return undefined;
  registry ??= load();
  return registry.get(hex.slice(0, 9)) ?? registry.get(hex.slice(0, 7)) ?? registry.get(hex.slice(0, 6));
}
