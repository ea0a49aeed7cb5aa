import type { Observation } from '@ipwarden/netcodec';
import { describe, expect, it } from 'vitest';
import { BindingTable, PROBE_ANSWER_MS } from './binding-table.js';

const MAC_A = '02:00:00:00:00:0a';
const MAC_B = '02:00:00:00:00:0b';
const MAC_C = '02:00:00:00:00:0c';

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

  it('reports every return of two hosts fighting over one IP, up to 8 moves an interval', () => {
    const table = new BindingTable({ refreshMs: 1000 });
    const events = [];
    for (let t = 0; t < 100; t++) {
      const sighting = table.observe(host('10.99.0.1', t % 2 ? MAC_B : MAC_A), t);
      if (sighting) events.push(`${sighting.event} ${sighting.mac} ${sighting.previousMac ?? '-'}`);
    }
    const ab = `moved ${MAC_B} ${MAC_A}`;
    const ba = `moved ${MAC_A} ${MAC_B}`;
    expect(events).toEqual([`new ${MAC_A} -`, ab, ba, ab, ba, ab, ba, ab, ba]);
    expect(table.suppressedMoves).toBe(99 - 8);
    // The next interval has its own budget.
    expect(table.observe(host('10.99.0.1', MAC_A), 1200)).toMatchObject({ event: 'moved', previousMac: MAC_B });
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

  it('reports a probe each time when another MAC holds its address, within a budget', () => {
    const table = new BindingTable({ refreshMs: 60_000 });
    table.observe(host('10.99.0.9', MAC_B), 0);
    const probe: Observation = { source: 'arp', kind: 'probe', ip: '10.99.0.9', mac: MAC_A, vlan: 0 };
    const reported = [];
    for (let t = 1000; t <= 20_000; t += 1000) reported.push(table.observe(probe, t)?.event ?? '-');
    // The first as an event of its own, then eight more out of turn, then counted.
    expect(reported).toEqual([
      ...['new', 'refresh', 'refresh', 'refresh', 'refresh'],
      ...Array(4).fill('refresh'),
      ...Array(11).fill('-'),
    ]);
    expect(table.suppressedProbes).toBe(11);
    // The prober's own address: once an interval, as before.
    const own: Observation = { ...probe, ip: '10.99.0.10', mac: MAC_B };
    table.observe(host('10.99.0.10', MAC_B), 0);
    expect([table.observe(own, 1000)?.event, table.observe(own, 2000)?.event]).toEqual(['new', undefined]);
  });

  describe('reports the answer to a probe (RFC 5227 §2.1.1, RFC 4862 §5.4.3) even from a steady binding', () => {
    const arpProbe = (mac: string): Observation => ({ source: 'arp', kind: 'probe', ip: '10.99.0.9', mac, vlan: 0 });
    const dad = (mac: string): Observation => ({ source: 'ndp', kind: 'probe', ip: 'fd99::9', mac, vlan: 0 });
    const cases: Array<{ name: string; steps: Array<[Observation, number]>; reported: string[] }> = [
      {
        name: 'a steady binding answering within the window is reported as a refresh',
        steps: [
          [host('10.99.0.9', MAC_B), 0],
          [host('10.99.0.9', MAC_B), 10],
          [arpProbe(MAC_A), 100],
          [host('10.99.0.9', MAC_B), 100 + PROBE_ANSWER_MS],
          [host('10.99.0.9', MAC_B), 100 + PROBE_ANSWER_MS + 1],
        ],
        reported: ['0 new b', '100 new probe a', '2100 refresh b answersProbe'],
      },
      {
        name: 'a host seen after the window is no answer',
        steps: [
          [host('10.99.0.9', MAC_B), 0],
          [arpProbe(MAC_A), 100],
          [host('10.99.0.9', MAC_B), 101 + PROBE_ANSWER_MS],
        ],
        reported: ['0 new b', '100 new probe a'],
      },
      {
        name: "the prober's own announcement is no answer; the defender after it is",
        steps: [
          [arpProbe(MAC_A), 0],
          [host('10.99.0.9', MAC_A), 500],
          [host('10.99.0.9', MAC_B), 600],
        ],
        reported: ['0 new probe a', '500 new a', '600 moved b answersProbe'],
      },
      {
        name: 'an answer on an address nobody held yet is new',
        steps: [
          [arpProbe(MAC_A), 0],
          [host('10.99.0.9', MAC_B), 5],
        ],
        reported: ['0 new probe a', '5 new b answersProbe'],
      },
      {
        name: 'only the next host by another MAC answers, once per probe',
        steps: [
          [host('10.99.0.9', MAC_B), 0],
          [arpProbe(MAC_A), 100],
          [host('10.99.0.9', MAC_B), 200],
          [host('10.99.0.9', MAC_C), 300],
          [host('10.99.0.9', MAC_B), 400],
        ],
        reported: ['0 new b', '100 new probe a', '200 refresh b answersProbe', '300 moved c', '400 moved b'],
      },
      {
        name: 'a DAD probe answered by a neighbour advertisement',
        steps: [
          [{ source: 'ndp', kind: 'host', ip: 'fd99::9', mac: MAC_B, vlan: 0 }, 0],
          [dad(MAC_A), 1000],
          [{ source: 'ndp', kind: 'host', ip: 'fd99::9', mac: MAC_B, vlan: 0 }, 1001],
        ],
        reported: ['0 new b', '1000 new probe a', '1001 refresh b answersProbe'],
      },
      {
        name: 'a probe on another VLAN is answered on that VLAN only',
        steps: [
          [host('10.99.0.9', MAC_B), 0],
          [host('10.99.0.9', MAC_B, { vlan: 7 }), 0],
          [arpProbe(MAC_A), 100],
          [host('10.99.0.9', MAC_B, { vlan: 7 }), 200],
          [host('10.99.0.9', MAC_B), 300],
        ],
        reported: ['0 new b', '0 new b', '100 new probe a', '300 refresh b answersProbe'],
      },
    ];
    for (const { name, steps, reported } of cases) {
      it(name, () => {
        const table = new BindingTable();
        expect(run(table, steps)).toEqual(reported);
      });
    }
  });

  describe('reports a watched address at the watch interval', () => {
    const watch = [{ vlan: 0, ip: '10.99.0.1' }];
    const cases: Array<{ name: string; steps: Array<[Observation, number]>; reported: string[] }> = [
      {
        name: 'a steady binding, every watch interval',
        steps: [0, 500, 1000, 1500, 2999, 3000].map((t) => [host('10.99.0.1', MAC_A), t]),
        reported: ['0 new a', '1000 refresh a', '2999 refresh a'],
      },
      {
        name: 'an unwatched address beside it, at the refresh interval',
        steps: [0, 1000, 2000, 600_000].map((t) => [host('10.99.0.2', MAC_A), t]),
        reported: ['0 new a', '600000 refresh a'],
      },
      {
        name: 'each MAC of an address two hosts share, with a move budget per watch interval',
        steps: Array.from({ length: 40 }, (_, i) => [host('10.99.0.1', i % 2 ? MAC_B : MAC_A), i * 100]),
        reported: [
          '0 new a',
          ...['100 moved b', '200 moved a', '300 moved b', '400 moved a', '500 moved b', '600 moved a'],
          ...['700 moved b', '800 moved a'],
          ...['1000 moved a', '1100 moved b', '1200 moved a', '1300 moved b', '1400 moved a', '1500 moved b'],
          ...['1600 moved a', '1700 moved b'],
          ...['2000 moved a', '2100 moved b', '2200 moved a', '2300 moved b', '2400 moved a', '2500 moved b'],
          ...['2600 moved a', '2700 moved b'],
          ...['3000 moved a', '3100 moved b', '3200 moved a', '3300 moved b', '3400 moved a', '3500 moved b'],
          ...['3600 moved a', '3700 moved b'],
        ],
      },
      {
        name: 'its events too',
        steps: [0, 999, 1000, 1999, 2000].map((t) => [
          { source: 'dhcp', kind: 'dhcp-server', ip: '10.99.0.1', mac: MAC_C, vlan: 0 },
          t,
        ]),
        reported: ['0 new dhcp-server c', '1000 refresh dhcp-server c', '2000 refresh dhcp-server c'],
      },
    ];
    for (const { name, steps, reported } of cases) {
      it(name, () => {
        const table = new BindingTable({ refreshMs: 600_000 });
        table.setWatch(1000, watch);
        expect(run(table, steps)).toEqual(reported);
      });
    }

    it('on its segment only: the same IP on another VLAN or service VLAN is not watched', () => {
      const table = new BindingTable({ refreshMs: 600_000 });
      table.setWatch(1000, [{ vlan: 7, outerVlan: 100, ip: '10.99.0.1' }]);
      const steps: Array<[Observation, number]> = [
        [host('10.99.0.1', MAC_A), 0],
        [host('10.99.0.1', MAC_A, { vlan: 7 }), 0],
        [host('10.99.0.1', MAC_A, { vlan: 7, outerVlan: 100 }), 0],
        [host('10.99.0.1', MAC_A), 1000],
        [host('10.99.0.1', MAC_A, { vlan: 7 }), 1000],
        [host('10.99.0.1', MAC_A, { vlan: 7, outerVlan: 100 }), 1000],
      ];
      expect(run(table, steps)).toEqual(['0 new a', '0 new a', '0 new a', '1000 refresh a']);
    });

    it('until a new list replaces it, which tells the caches of the bindings it changes alone', () => {
      const changed: string[] = [];
      const table = new BindingTable({ refreshMs: 600_000, onBindingChange: (v, ip) => changed.push(`${v}/${ip}`) });
      for (const ip of ['10.99.0.1', '10.99.0.2', '10.99.0.3']) table.observe(host(ip, MAC_A), 0);
      table.setWatch(1000, [
        { vlan: 0, ip: '10.99.0.1' },
        { vlan: 0, ip: '10.99.0.2' },
      ]);
      expect(changed).toEqual(['0/10.99.0.1', '0/10.99.0.2']);
      changed.length = 0;
      table.setWatch(1000, [
        { vlan: 0, ip: '10.99.0.2' },
        { vlan: 0, ip: '10.99.0.3' },
      ]);
      expect(changed.sort()).toEqual(['0/10.99.0.1', '0/10.99.0.3']);
      expect(
        run(
          table,
          [
            ['10.99.0.1', 1000],
            ['10.99.0.2', 1000],
            ['10.99.0.3', 1000],
          ].map(([ip, t]) => [host(ip as string, MAC_A), t as number]),
        ),
      ).toEqual(['1000 refresh a', '1000 refresh a']);
      table.setWatch(1000, []);
      expect(table.observe(host('10.99.0.2', MAC_A), 2000)).toBeUndefined();
    });
  });

  it('tells which binding changed: a move, a probe for it, an eviction — nothing for a steady one', () => {
    const changed: string[] = [];
    const table = new BindingTable({ maxEntries: 2, onBindingChange: (v, ip) => changed.push(`${v}/${ip}`) });
    table.observe(host('10.99.0.1', MAC_A, { vlan: 5 }), 0);
    table.observe(host('10.99.0.1', MAC_A, { vlan: 5 }), 1);
    expect(changed).toEqual([]);
    table.observe(host('10.99.0.1', MAC_B, { vlan: 5 }), 2);
    table.observe({ source: 'arp', kind: 'probe', ip: '10.99.0.1', mac: MAC_C, vlan: 5 }, 3);
    table.observe(host('10.99.0.2', MAC_A), 4);
    table.observe(host('10.99.0.3', MAC_A), 5);
    expect(changed).toEqual(['5/10.99.0.1', '5/10.99.0.1', '5/10.99.0.1']);
    // Bindings stated only by frames the ARP index handles leave the repeat filter's epoch alone.
    table.observe(host('10.99.0.4', MAC_A), 6, false);
    const epoch = table.epoch;
    table.observe(host('10.99.0.4', MAC_B), 7, false);
    table.observe(host('10.99.0.4', MAC_A), 8, false);
    expect(table.epoch).toBe(epoch);
  });
});

/** Feeds the steps; returns the sightings as "at event [kind] mac-letter [answersProbe]". */
function run(table: BindingTable, steps: Array<[Observation, number]>): string[] {
  const out: string[] = [];
  for (const [observation, at] of steps) {
    const s = table.observe(observation, at);
    if (s === undefined) continue;
    const kind = s.kind === 'host' ? '' : `${s.kind} `;
    out.push(`${s.at} ${s.event} ${kind}${s.mac.slice(-1)}${s.detail?.answersProbe ? ' answersProbe' : ''}`);
  }
  return out;
}
