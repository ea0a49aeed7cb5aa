import type { Observation } from '@ipwarden/netcodec';
import { describe, expect, it } from 'vitest';
import { BindingTable } from './binding-table.js';

const MAC_A = '02:00:00:00:00:0a';
const MAC_B = '02:00:00:00:00:0b';

function host(ip: string, mac: string, extra: Partial<Observation> = {}): Observation {
  return { source: 'arp', kind: 'host', ip, mac, vlan: 0, ...extra };
}

describe('BindingTable', () => {
  it('reports a new binding once, however many identical frames follow', () => {
    const table = new BindingTable();
    expect(table.observe(host('10.99.0.1', MAC_A), 0)?.event).toBe('new');
    for (let t = 1; t < 1000; t++) expect(table.observe(host('10.99.0.1', MAC_A), t)).toBeUndefined();
  });

  it('reports the binding again once the refresh interval has passed', () => {
    const table = new BindingTable({ refreshMs: 600_000 });
    table.observe(host('10.99.0.1', MAC_A), 0);
    expect(table.observe(host('10.99.0.1', MAC_A), 599_999)).toBeUndefined();
    expect(table.observe(host('10.99.0.1', MAC_A), 600_000)?.event).toBe('refresh');
    expect(table.observe(host('10.99.0.1', MAC_A), 600_001)).toBeUndefined();
  });

  it('reports a move to another MAC with the previous MAC', () => {
    const table = new BindingTable();
    table.observe(host('10.99.0.1', MAC_A), 0);
    expect(table.observe(host('10.99.0.1', MAC_B), 10)).toMatchObject({
      event: 'moved',
      mac: MAC_B,
      previousMac: MAC_A,
    });
  });

  it('reports each MAC of two hosts fighting over one IP once per interval, not every frame', () => {
    const table = new BindingTable({ refreshMs: 1000 });
    const events = [];
    for (let t = 0; t < 100; t++) {
      const sighting = table.observe(host('10.99.0.1', t % 2 ? MAC_B : MAC_A), t);
      if (sighting) events.push(`${sighting.event} ${sighting.mac}`);
    }
    expect(events).toEqual([`new ${MAC_A}`, `moved ${MAC_B}`]);
    const later = table.observe(host('10.99.0.1', MAC_A), 1200);
    expect(later).toMatchObject({ event: 'moved', mac: MAC_A, previousMac: MAC_B });
  });

  it('holds a flood of MACs on one address to a few moves an interval, in bounded memory', () => {
    const table = new BindingTable({ refreshMs: 600_000 });
    let moves = 0;
    const started = performance.now();
    for (let i = 0; i < 100_000; i++) {
      const mac = `02:00:00:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
      if (table.observe(host('10.99.0.1', mac), i)?.event === 'moved') moves++;
    }
    expect(moves).toBe(8);
    expect(table.suppressedMoves).toBe(100_000 - 1 - 8);
    expect(performance.now() - started).toBeLessThan(5_000); // linear, not quadratic
    // The last MAC is reported once the interval is over.
    expect(table.observe(host('10.99.0.1', '02:00:00:01:86:9f'), 600_001)?.event).toBe('refresh');
  });

  it('keeps bindings on different VLANs, and on different QinQ service VLANs, apart', () => {
    const table = new BindingTable();
    expect(table.observe(host('10.99.0.1', MAC_A, { vlan: 10 }), 0)?.event).toBe('new');
    expect(table.observe(host('10.99.0.1', MAC_B, { vlan: 20 }), 0)?.event).toBe('new');
    expect(table.observe(host('10.99.0.1', MAC_B, { vlan: 20, outerVlan: 100 }), 0)?.event).toBe('new');
    expect(table.observe(host('10.99.0.1', MAC_A, { vlan: 0 }), 0)?.event).toBe('new');
    expect(table.size).toBe(4);
  });

  it('reports a new hostname for a known binding at once', () => {
    const table = new BindingTable();
    table.observe(host('10.99.0.1', MAC_A), 0);
    const named = table.observe(host('10.99.0.1', MAC_A, { source: 'mdns', hostname: 'printer' }), 5);
    expect(named).toMatchObject({ event: 'refresh', source: 'mdns', hostname: 'printer' });
    expect(table.observe(host('10.99.0.1', MAC_A, { source: 'mdns', hostname: 'printer' }), 6)).toBeUndefined();
  });

  it('does not report every frame of a host that announces two different names', () => {
    const table = new BindingTable({ refreshMs: 1000 });
    const reports = [];
    for (let t = 0; t < 100; t++) {
      const sighting = table.observe(host('10.99.0.1', MAC_A, { hostname: t % 2 ? 'mdns-name' : 'dhcp-name' }), t);
      if (sighting) reports.push(sighting.event);
    }
    expect(reports).toEqual(['new', 'refresh']);
  });

  it('gives a DHCP lease the hostname its client announced (RFC 2132 option 12)', () => {
    const table = new BindingTable();
    const request: Observation = {
      source: 'dhcp',
      kind: 'dhcp-client',
      mac: MAC_A,
      vlan: 0,
      hostname: 'node-7',
      detail: { messageType: 'discover' },
    };
    expect(table.observe(request, 0)).toBeUndefined(); // no address asked for yet
    const ack: Observation = {
      source: 'dhcp',
      kind: 'dhcp-lease',
      ip: '10.99.0.107',
      mac: MAC_A,
      vlan: 0,
      detail: { messageType: 'ack' },
    };
    expect(table.observe(ack, 1)).toMatchObject({ event: 'new', ip: '10.99.0.107', hostname: 'node-7' });
    expect(table.observe(host('10.99.0.107', MAC_A), 2)).toBeUndefined();
  });

  it('does not take a DHCP OFFER as a binding: it only proposes the address (RFC 2131 3.1)', () => {
    const table = new BindingTable();
    const offer: Observation = {
      source: 'dhcp',
      kind: 'dhcp-lease',
      ip: '10.99.0.107',
      mac: MAC_A,
      vlan: 0,
      detail: { messageType: 'offer' },
    };
    expect(table.observe(offer, 0)?.event).toBe('new');
    expect(table.size).toBe(0);
    expect(table.observe(host('10.99.0.107', MAC_A), 1)?.event).toBe('new');
  });

  it('reports probes and DHCP servers once per interval each', () => {
    const table = new BindingTable({ refreshMs: 1000 });
    const probe: Observation = { source: 'arp', kind: 'probe', ip: '10.99.0.9', mac: MAC_A, vlan: 0 };
    expect(table.observe(probe, 0)?.event).toBe('new');
    expect(table.observe(probe, 500)).toBeUndefined();
    expect(table.observe(probe, 1000)?.event).toBe('refresh');
    const server: Observation = { source: 'dhcp', kind: 'dhcp-server', ip: '10.99.0.2', mac: MAC_B, vlan: 0 };
    expect(table.observe(server, 0)?.event).toBe('new');
    expect(table.observe({ ...server, mac: MAC_A }, 0)?.event).toBe('new'); // a second server: a rogue?
    expect(table.size).toBe(0);
  });

  it('stays within its bound, forgetting the least recently reported binding first', () => {
    const table = new BindingTable({ maxEntries: 100 });
    for (let i = 0; i < 1000; i++) table.observe(host(`10.99.${i >> 8}.${i & 255}`, MAC_A), i);
    expect(table.size).toBe(100);
    expect(table.evicted).toBe(900);
    expect(table.observe(host('10.99.3.231', MAC_A), 1001)).toBeUndefined(); // the newest is kept
    expect(table.observe(host('10.99.0.0', MAC_A), 1002)?.event).toBe('new'); // the oldest is gone
  });
});
