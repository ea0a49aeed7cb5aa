import { describe, expect, it } from 'vitest';
import { AllocationSnapshot } from './allocation-snapshot.js';
import { parseIp } from './ip.js';

const ip = (text: string) => parseIp(text)!;

describe('AllocationSnapshot', () => {
  it('answers an IPv4 address with its MAC, null for one without, and undefined for one not allocated', () => {
    const snapshot = AllocationSnapshot.of(4, [
      { ip: ip('10.99.0.9'), mac: '02:00:00:00:00:09' },
      { ip: ip('10.99.0.1'), mac: null },
      { ip: ip('255.255.255.255'), mac: 'ff:ff:ff:ff:ff:ff' },
      { ip: ip('0.0.0.0'), mac: '00:00:00:00:00:00' },
    ]);
    expect(snapshot.size).toBe(4);
    expect(snapshot.macOf(ip('10.99.0.9'))).toBe('02:00:00:00:00:09');
    expect(snapshot.macOf(ip('10.99.0.1'))).toBeNull();
    expect(snapshot.macOf(ip('10.99.0.2'))).toBeUndefined();
    expect(snapshot.macOf(ip('255.255.255.255'))).toBe('ff:ff:ff:ff:ff:ff');
    expect(snapshot.macOf(ip('0.0.0.0'))).toBe('00:00:00:00:00:00');
  });

  it('admits the allocated MAC, and any MAC where the allocation has none; not another; undefined where nothing is allocated', () => {
    const snapshot = AllocationSnapshot.of(6, [
      { ip: ip('fd99::9'), mac: '02:00:00:00:00:09' },
      { ip: ip('fd99::1'), mac: null },
    ]);
    expect(snapshot.admits(ip('fd99::9'), '02:00:00:00:00:09')).toBe(true);
    expect(snapshot.admits(ip('fd99::9'), '02:00:00:00:00:0a')).toBe(false);
    expect(snapshot.admits(ip('fd99::1'), '02:00:00:00:00:0a')).toBe(true);
    expect(snapshot.admits(ip('fd99::2'), '02:00:00:00:00:09')).toBeUndefined();
  });

  it('is the same made from columns in address order', () => {
    const snapshot = AllocationSnapshot.fromSortedIpv4(new Float64Array([167_968_769, 167_968_777]), [
      null,
      '02:00:00:00:AB:09',
    ]);
    expect(snapshot.macOf(ip('10.3.0.1'))).toBeNull();
    expect(snapshot.macOf(ip('10.3.0.9'))).toBe('02:00:00:00:ab:09');
    expect(snapshot.macOf(ip('10.3.0.5'))).toBeUndefined();
  });

  it('answers IPv6 addresses that differ in either half', () => {
    const rows = ['fd99::1', 'fd99::2', 'fd99:0:0:1::1', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'].map((text, i) => ({
      ip: ip(text),
      mac: `02:00:00:00:00:0${i}`,
    }));
    const snapshot = AllocationSnapshot.of(6, rows);
    for (const [i, row] of rows.entries()) expect(snapshot.macOf(row.ip)).toBe(`02:00:00:00:00:0${i}`);
    expect(snapshot.macOf(ip('fd99::3'))).toBeUndefined();
    expect(snapshot.macOf(ip('fd99:0:0:1::2'))).toBeUndefined();
  });

  it('finds every one of many addresses, and none between them', () => {
    const rows = Array.from({ length: 5000 }, (_, i) => ({
      ip: ip(`10.${((i * 2) >> 8) & 255}.${(i * 2) & 255}.1`),
      mac: null,
    }));
    const snapshot = AllocationSnapshot.of(4, rows.reverse());
    for (const row of rows) expect(snapshot.macOf(row.ip)).toBeNull();
    expect(snapshot.macOf(ip('10.0.1.1'))).toBeUndefined();
  });
});
