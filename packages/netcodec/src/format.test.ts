import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatIpv4, formatIpv6, formatMac, ipv4Number, isZero, isZeroMac } from './format.js';
import { concat, hex } from './test-bytes.js';

describe('formatIpv6', () => {
  // RFC 5952 section 4 (canonical text form) and section 5 (IPv4-mapped addresses).
  it.each([
    ['the unspecified address is ::', '0000 0000 0000 0000 0000 0000 0000 0000', '::'],
    ['the loopback address is ::1', '0000 0000 0000 0000 0000 0000 0000 0001', '::1'],
    ['trailing zero groups shorten to a final ::', 'fe80 0000 0000 0000 0000 0000 0000 0000', 'fe80::'],
    ['leading zeros in a group are dropped (4.1)', '2001 0db8 0000 0000 0000 0000 0002 0001', '2001:db8::2:1'],
    ['hex digits are lowercase (4.3)', '2001 0DB8 0000 0000 0000 0000 0000 ABCD', '2001:db8::abcd'],
    ['the longest zero run is the one shortened (4.2.3)', '2001 0000 0000 0001 0000 0000 0000 0001', '2001:0:0:1::1'],
    ['the first run is shortened on a tie (4.2.3)', '2001 0db8 0000 0000 0001 0000 0000 0001', '2001:db8::1:0:0:1'],
    ['a single zero group is not shortened (4.2.2)', '2001 0db8 0000 0001 0001 0001 0001 0001', '2001:db8:0:1:1:1:1:1'],
    ['an address without zero groups is written whole', '0001 0002 0003 0004 0005 0006 0007 0008', '1:2:3:4:5:6:7:8'],
    ['a link-local EUI-64 address', 'fe80 0000 0000 0000 0211 22ff fe33 4455', 'fe80::211:22ff:fe33:4455'],
    ['an IPv4-mapped address ends in a dotted quad (5)', '0000 0000 0000 0000 0000 ffff c000 0201', '::ffff:192.0.2.1'],
    ['::ffff:0.0.0.0 is still IPv4-mapped', '0000 0000 0000 0000 0000 ffff 0000 0000', '::ffff:0.0.0.0'],
    ['the deprecated IPv4-compatible form stays hex', '0000 0000 0000 0000 0000 0000 c000 0201', '::c000:201'],
    [
      'ffff elsewhere is not taken for a mapped address',
      '0000 0000 0000 0000 ffff 0000 c000 0201',
      '::ffff:0:c000:201',
    ],
    ['the all-ones address', 'ffff ffff ffff ffff ffff ffff ffff ffff', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
  ])('%s', (_name, bytes, text) => {
    expect(formatIpv6(hex(bytes), 0)).toBe(text);
  });

  it('reads the 16 bytes at the offset it is given', () => {
    const bytes = concat(hex('ffff ffff'), hex('2001 0db8 0000 0000 0000 0000 0000 0001'), hex('ffff'));
    expect(formatIpv6(bytes, 4)).toBe('2001:db8::1');
  });
});

/** Far more distinct values than any intern cache holds, then the first ones again. */
const DISTINCT = [...Array.from({ length: 140_000 }, (_, n) => n), ...Array.from({ length: 5_000 }, (_, n) => n)];

describe('formatMac', () => {
  it.each([
    ['a unicast address', '0011 2233 4455', '00:11:22:33:44:55'],
    ['the broadcast address', 'ffff ffff ffff', 'ff:ff:ff:ff:ff:ff'],
    ['the all-zero address', '0000 0000 0000', '00:00:00:00:00:00'],
    ['uppercase input bytes as lowercase text', 'AABB CCDD EEFF', 'aa:bb:cc:dd:ee:ff'],
  ])('formats %s', (_name, bytes, text) => {
    expect(formatMac(hex(bytes), 0)).toBe(text);
  });

  it('reads the 6 bytes at the offset it is given', () => {
    expect(formatMac(hex('ffff 0011 2233 4455 ffff'), 2)).toBe('00:11:22:33:44:55');
  });

  it('returns the same text again for the same address', () => {
    const bytes = hex('0211 2233 4455');
    expect(formatMac(bytes, 0)).toBe(formatMac(Uint8Array.from(bytes), 0));
  });

  it('stays right for every address when far more distinct addresses pass than any cache holds', () => {
    const bytes = new Uint8Array(6);
    for (const n of DISTINCT) {
      const value = n * 7919; // spread over the low three bytes and beyond
      bytes[2] = (value >>> 24) & 0xff;
      bytes[3] = (value >>> 16) & 0xff;
      bytes[4] = (value >>> 8) & 0xff;
      bytes[5] = value & 0xff;
      const want = `00:00:${[2, 3, 4, 5].map((i) => bytes[i]!.toString(16).padStart(2, '0')).join(':')}`;
      const got = formatMac(bytes, 0);
      if (got !== want) expect(got).toBe(want); // expect only on failure: an expect per call is slow
    }
    expect(formatMac(hex('0000 0000 0000'), 0)).toBe('00:00:00:00:00:00');
  });
});

describe('formatIpv4', () => {
  it.each([
    ['a unicast address', 'c000 0201', '192.0.2.1'],
    ['the unspecified address', '0000 0000', '0.0.0.0'],
    ['the limited broadcast address', 'ffff ffff', '255.255.255.255'],
    ['the mDNS group', 'e000 00fb', '224.0.0.251'],
  ])('formats %s', (_name, bytes, text) => {
    expect(formatIpv4(hex(bytes), 0)).toBe(text);
  });

  it('reads the 4 bytes at the offset it is given', () => {
    expect(formatIpv4(hex('ff0a 0000 01ff'), 1)).toBe('10.0.0.1');
  });

  it('stays right for every address when far more distinct addresses pass than any cache holds', () => {
    const bytes = new Uint8Array(4);
    for (const n of DISTINCT) {
      const value = (n * 2_654_435_761) >>> 0;
      bytes[0] = value >>> 24;
      bytes[1] = (value >>> 16) & 0xff;
      bytes[2] = (value >>> 8) & 0xff;
      bytes[3] = value & 0xff;
      const want = `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
      const got = formatIpv4(bytes, 0);
      if (got !== want) expect(got).toBe(want);
    }
    expect(formatIpv4(hex('0000 0000'), 0)).toBe('0.0.0.0');
  });
});

describe('isZeroMac and isZero', () => {
  it('tell an all-zero address from one with any bit set', () => {
    expect(isZeroMac(hex('0000 0000 0000'), 0)).toBe(true);
    expect(isZeroMac(hex('0000 0000 0001'), 0)).toBe(false);
    expect(isZeroMac(hex('8000 0000 0000'), 0)).toBe(false);
    expect(isZeroMac(hex('ff 0000 0000 0000 ff'), 1)).toBe(true);
    expect(isZero(hex('ff 0000 0000 ff'), 1, 4)).toBe(true);
    expect(isZero(hex('ff 0000 0100 ff'), 1, 4)).toBe(false);
    expect(isZero(hex('ff'), 0, 0)).toBe(true);
  });
});

describe('ipv4Number', () => {
  it('reads back exactly what formatIpv4 writes, and nothing else', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => {
        const bytes = Uint8Array.from([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
        expect(ipv4Number(formatIpv4(bytes, 0))).toBe(n);
      }),
    );
    for (const text of [
      '',
      '1.2.3',
      '1.2.3.4.5',
      '01.2.3.4',
      '1.2.3.256',
      '1..3.4',
      '1.2.3.4.',
      '::1',
      '1.2.3.-4',
      '1000.2.3.4',
    ])
      expect(ipv4Number(text)).toBe(-1);
    expect(ipv4Number('0.0.0.0')).toBe(0);
    expect(ipv4Number('255.255.255.255')).toBe(0xffffffff);
  });
});
