import type { SightingItem } from '@ipwarden/protocol';
import { describe, expect, it } from 'vitest';
import { CaptureSet } from './capture-set.js';
import type { FrameHandler, LiveCapture } from './live-capture.js';

/** An ARP request from 10.99.0.<host> (02:00:00:00:00:<host>) for 10.99.0.1 (RFC 826). */
function arpRequest(host: number): Uint8Array {
  const mac = [2, 0, 0, 0, 0, host];
  return Uint8Array.from([
    ...[255, 255, 255, 255, 255, 255, ...mac, 0x08, 0x06],
    ...[0, 1, 8, 0, 6, 4, 0, 1, ...mac, 10, 99, 0, host, 0, 0, 0, 0, 0, 0, 10, 99, 0, 1],
  ]);
}

/** Captures that deliver frames when the test says, in place of libpcap. */
function fakeCaptures() {
  const handlers = new Map<string, FrameHandler>();
  const open = (name: string, onFrame: FrameHandler): LiveCapture => {
    if (name === 'broken0') throw new Error('broken0: no such device exists');
    handlers.set(name, onFrame);
    return {
      interfaceName: name,
      counters: () => ({ received: 0, kernelDrops: 2, interfaceDrops: 0, handlerErrors: 0 }),
      close: () => handlers.delete(name),
    };
  };
  const frame = (name: string, host: number, at: number) => {
    const bytes = arpRequest(host);
    handlers.get(name)?.(1, bytes, 0, bytes.length, at);
  };
  return { open, frame, handlers };
}

function captureSet(interfaces: string[], refreshSeconds = 600) {
  const fake = fakeCaptures();
  const items: SightingItem[] = [];
  const log: string[] = [];
  const set = new CaptureSet({
    interfaces,
    submit: (item) => items.push(item),
    log: (line) => log.push(line),
    refreshSeconds,
    maxBindings: 1000,
    open: fake.open,
  });
  return { set, fake, items, log };
}

describe('CaptureSet', () => {
  it('keeps one binding table per interface and names the interface in each sighting', () => {
    const { set, fake, items } = captureSet(['eth0', 'eth1']);
    set.start();
    fake.frame('eth0', 7, 1000);
    fake.frame('eth1', 7, 1001); // the same host on another segment is news there too
    fake.frame('eth0', 7, 1002);
    expect(items.map((i) => [i.interface, i.ip, i.event])).toEqual([
      ['eth0', '10.99.0.7', 'new'],
      ['eth1', '10.99.0.7', 'new'],
    ]);
  });

  it('closes every capture when discovery goes off and reopens them when it comes on, counting across', () => {
    const { set, fake, log } = captureSet(['eth0', 'eth1']);
    set.start();
    fake.frame('eth0', 7, 1000);
    fake.frame('eth1', 8, 1000);
    set.configure({ discovery: false, refreshSeconds: 600 });
    expect(set.names).toEqual([]);
    expect([...fake.handlers.keys()]).toEqual([]);
    expect(set.totals()).toEqual({ captured: 2, kernelDrops: 4, decodeErrors: 0 });
    set.configure({ discovery: false });
    set.configure({ discovery: true });
    fake.frame('eth1', 8, 2000);
    expect(set.names).toEqual(['eth0', 'eth1']);
    expect(set.totals()).toEqual({ captured: 3, kernelDrops: 8, decodeErrors: 0 });
    expect(log).toEqual([
      'capture opened on eth0',
      'capture opened on eth1',
      'discovery off, from the collector',
      'capture closed on eth0',
      'capture closed on eth1',
      'discovery on, from the collector',
      'capture opened on eth0',
      'capture opened on eth1',
    ]);
  });

  it('remembers what it knew across discovery off and on: a known host is not new again', () => {
    const { set, fake, items } = captureSet(['eth0']);
    set.start();
    fake.frame('eth0', 7, 1000);
    set.configure({ discovery: false });
    set.configure({ discovery: true });
    fake.frame('eth0', 7, 2000);
    expect(items.map((i) => i.event)).toEqual(['new']);
  });

  it('captures on the interfaces the collector names, in place of its own', () => {
    const { set, log } = captureSet(['eth0']);
    set.start();
    set.configure({ interfaces: ['eth1', 'eth2', 'eth1'] });
    expect(set.names).toEqual(['eth1', 'eth2']);
    expect(set.wanted).toEqual(['eth1', 'eth2']);
    set.configure({ interfaces: [] }); // an empty list names nothing to change
    expect(set.names).toEqual(['eth1', 'eth2']);
    expect(log).toContain('interfaces eth1, eth2, from the collector');
  });

  it('fails to start, leaving nothing open, when an interface cannot be opened; later it only logs', () => {
    const broken = captureSet(['eth0', 'broken0']);
    expect(() => broken.set.start()).toThrow(/no such device/);
    expect([...broken.fake.handlers.keys()]).toEqual([]);
    const { set, log } = captureSet(['eth0']);
    set.start();
    set.configure({ interfaces: ['eth0', 'broken0'] });
    expect(set.names).toEqual(['eth0']);
    expect(log).toContain('cannot capture on broken0: broken0: no such device exists');
  });

  it('applies a new refresh interval to what the tables know, keeping the captures open', () => {
    const { set, fake, items, log } = captureSet(['eth0'], 600);
    set.start();
    fake.frame('eth0', 7, 0);
    set.configure({ refreshSeconds: 30 });
    fake.frame('eth0', 7, 1000); // known: nothing to report
    fake.frame('eth0', 7, 30_000); // 30 s after it was reported: due under the new interval
    expect(items.map((i) => i.event)).toEqual(['new', 'refresh']);
    expect(set.totals().captured).toBe(3);
    expect(log).toEqual(['capture opened on eth0', 'refresh interval 30 s, from the collector']);
  });

  it('reports the addresses the collector watches at its interval, on every interface, until a welcome without', () => {
    const { set, fake, items, log } = captureSet(['eth0', 'eth1'], 600);
    set.start();
    fake.frame('eth0', 7, 0);
    fake.frame('eth0', 8, 0);
    set.configure({ watch: { refreshSeconds: 10, addresses: [{ vlan: 0, ip: '10.99.0.7' }] } });
    set.configure({ discovery: true }); // no watch: unchanged
    fake.frame('eth1', 7, 1000);
    for (const at of [5000, 10_000, 20_000]) {
      fake.frame('eth0', 7, at);
      fake.frame('eth0', 8, at);
      fake.frame('eth1', 7, at + 10_000);
    }
    set.configure({ discovery: true, refreshSeconds: 600 }, true); // a welcome: no watch list any more
    fake.frame('eth0', 7, 40_000);
    expect(items.map((i) => `${i.interface} ${i.at} ${i.ip} ${i.event}`)).toEqual([
      'eth0 0 10.99.0.7 new',
      'eth0 0 10.99.0.8 new',
      'eth1 1000 10.99.0.7 new',
      'eth1 15000 10.99.0.7 refresh',
      'eth0 10000 10.99.0.7 refresh',
      'eth0 20000 10.99.0.7 refresh',
      'eth1 30000 10.99.0.7 refresh',
    ]);
    expect(log).toContain('watching 1 address every 10 s, from the collector');
    expect(log).toContain('watching 0 addresses every - s, from the collector');
  });
});
