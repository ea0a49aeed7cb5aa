/** Sightings and hellos for tests: fixed times, lab addresses (10.99.0.0/24, fd99::/64). */
import { type Hello, PROTOCOL_VERSION, type SightingItem } from '@ipwarden/protocol';

export const T0 = Date.UTC(2026, 10, 21, 12, 0, 0);

export function sighting(overrides: Partial<SightingItem> = {}): SightingItem {
  return {
    at: T0,
    interface: 'eth0',
    source: 'arp',
    kind: 'host',
    ip: '10.99.0.7',
    mac: '02:00:00:00:00:07',
    vlan: 0,
    event: 'new',
    ...overrides,
  };
}

/** The `n`th lab address and a locally administered MAC of its own. */
export function host(n: number): { ip: string; mac: string } {
  return { ip: `10.99.0.${n}`, mac: `02:00:00:00:00:${n.toString(16).padStart(2, '0')}` };
}

export function hello(overrides: Partial<Hello> = {}): Hello {
  return {
    type: 'hello',
    protocol: PROTOCOL_VERSION,
    instance: '0f8e0c55-51d4-4c2a-9d3b-6a8e2f1c7a10',
    hostname: 'rack-7.lab',
    version: '0.1.0-test',
    interfaces: [{ name: 'eth0', mac: '02:00:00:00:ff:01', vlans: [0], addresses: ['10.99.0.2/24', 'fd99::2/64'] }],
    lastSeq: 0,
    dhcp: { backend: 'none', appliedVersion: null },
    ...overrides,
  };
}
