import { describe, expect, it } from 'vitest';
import { formatIp, parseIp } from './ip.js';
import {
  contains,
  firstOf,
  formatPrefix,
  lastOf,
  overlaps,
  type Prefix,
  parsePrefix,
  sizeOf,
  usableSpan,
} from './prefix.js';

function prefix(text: string): Prefix {
  const parsed = parsePrefix(text);
  if (!parsed.ok) throw new Error(`${text}: ${parsed.reason}`);
  return parsed.value;
}

describe('parsePrefix', () => {
  it.each([
    ['the whole IPv4 space', '0.0.0.0/0', '0.0.0.0/0', 'ffffffff'],
    ['a private /8 (RFC 1918)', '10.0.0.0/8', '10.0.0.0/8', 'ffffff'],
    ['a /24', '192.0.2.0/24', '192.0.2.0/24', 'ff'],
    ['a point-to-point /31 (RFC 3021)', '192.0.2.254/31', '192.0.2.254/31', '1'],
    ['a host /32', '192.0.2.7/32', '192.0.2.7/32', '0'],
    ['the whole IPv6 space', '::/0', '::/0', 'ffffffffffffffffffffffffffffffff'],
    ['a unique local /64 (RFC 4193)', 'fd00::/64', 'fd00::/64', 'ffffffffffffffff'],
    ['an uppercase IPv6 prefix, written lowercase', 'FD00::/8', 'fd00::/8', 'ffffffffffffffffffffffffffffff'],
    ['a point-to-point /127 (RFC 6164)', '2001:db8::/127', '2001:db8::/127', '1'],
    ['a host /128', '2001:db8::1/128', '2001:db8::1/128', '0'],
    ['the IPv4-mapped block, as IPv6', '::ffff:0.0.0.0/96', '::ffff:0.0.0.0/96', 'ffffffff'],
  ])('reads %s', (_name, text, formatted, hostBits) => {
    const value = prefix(text);
    expect(formatPrefix(value)).toBe(formatted);
    expect(value.network).toBe(parseIp(text.split('/')[0]!)!.value);
    expect(lastOf(value) - firstOf(value)).toBe(BigInt(`0x${hostBits}`));
    expect(sizeOf(value)).toBe(BigInt(`0x${hostBits}`) + 1n);
  });

  it.each([
    ['host bits, naming the prefix meant', '10.0.0.7/24', 'host bits set; the prefix is 10.0.0.0/24'],
    ['host bits in IPv6', 'fd00::1/64', 'host bits set; the prefix is fd00::/64'],
    ['host bits under /0', '0.0.0.1/0', 'host bits set; the prefix is 0.0.0.0/0'],
    ['host bits in a /31', '192.0.2.1/31', 'host bits set; the prefix is 192.0.2.0/31'],
    ['host bits in a /127', '2001:db8::1/127', 'host bits set; the prefix is 2001:db8::/127'],
    ['no length', '10.0.0.0', 'no prefix length; write it as address/length, e.g. 10.0.0.0/24'],
    ['an empty length', '10.0.0.0/', 'no prefix length; write it as address/length, e.g. 10.0.0.0/24'],
    ['a length past 32', '10.0.0.0/33', 'the prefix length must be a whole number from 0 to 32'],
    ['a length past 128', 'fd00::/129', 'the prefix length must be a whole number from 0 to 128'],
    ['a negative length', '10.0.0.0/-1', 'the prefix length must be a whole number from 0 to 32'],
    ['a length with a leading zero', '10.0.0.0/024', 'the prefix length must be a whole number from 0 to 32'],
    ['a length with a space', '10.0.0.0/ 24', 'the prefix length must be a whole number from 0 to 32'],
    ['a hex length', '10.0.0.0/0x18', 'the prefix length must be a whole number from 0 to 32'],
    ['a fractional length', '10.0.0.0/2.5', 'the prefix length must be a whole number from 0 to 32'],
    ['two lengths', '10.0.0.0/24/25', 'the prefix length must be a whole number from 0 to 32'],
    [
      'a netmask instead of a length',
      '10.0.0.0/255.255.255.0',
      'the prefix length must be a whole number from 0 to 32',
    ],
    ['an address with a leading zero', '010.0.0.0/8', 'not an IPv4 or IPv6 address before the "/"'],
    ['no address', '/24', 'not an IPv4 or IPv6 address before the "/"'],
    ['a zone', 'fe80::%eth0/64', 'not an IPv4 or IPv6 address before the "/"'],
  ])('refuses %s', (_name, text, reason) => {
    expect(parsePrefix(text)).toEqual({ ok: false, reason });
  });
});

describe('contains', () => {
  it.each([
    ['10.0.0.0/8', '10.0.0.0', true],
    ['10.0.0.0/8', '10.255.255.255', true],
    ['10.0.0.0/8', '11.0.0.0', false],
    ['10.0.0.0/8', '9.255.255.255', false],
    ['0.0.0.0/0', '255.255.255.255', true],
    ['192.0.2.7/32', '192.0.2.7', true],
    ['192.0.2.7/32', '192.0.2.8', false],
    ['::/0', '::ffff:1.2.3.4', true],
    ['2001:db8::1/128', '2001:db8::1', true],
    ['10.0.0.0/8', '::ffff:10.0.0.1', false],
    ['::/0', '1.2.3.4', false],
  ])('%s holds %s: %s', (outer, address, expected) => {
    expect(contains(prefix(outer), parseIp(address)!)).toBe(expected);
  });
});

describe('overlaps', () => {
  it.each([
    ['the same prefix', '10.0.0.0/24', '10.0.0.0/24', true],
    ['a prefix and one inside it', '10.0.0.0/8', '10.1.2.0/24', true],
    ['the whole space and anything', '0.0.0.0/0', '192.0.2.7/32', true],
    ['two adjacent halves', '10.0.0.0/25', '10.0.0.128/25', false],
    ['two disjoint prefixes', '10.0.0.0/24', '10.0.2.0/24', false],
    ['two IPv6 prefixes, one inside the other', 'fd00::/8', 'fd00:1::/64', true],
    ['adjacent /127s', '2001:db8::/127', '2001:db8::2/127', false],
    ['the two whole spaces, across families', '0.0.0.0/0', '::/0', false],
    ['the mapped block and IPv4, across families', '::ffff:0.0.0.0/96', '0.0.0.0/0', false],
  ])('%s: %s and %s → %s, in either order', (_name, a, b, expected) => {
    expect(overlaps(prefix(a), prefix(b))).toBe(expected);
    expect(overlaps(prefix(b), prefix(a))).toBe(expected);
  });
});

describe('usableSpan', () => {
  it.each([
    [
      'an IPv4 /24 loses its network and broadcast addresses (RFC 1122 3.2.1.3)',
      '192.0.2.0/24',
      '192.0.2.1',
      '192.0.2.254',
    ],
    ['an IPv4 /30 keeps two addresses', '192.0.2.0/30', '192.0.2.1', '192.0.2.2'],
    ['an IPv4 /31 keeps both, having no broadcast (RFC 3021)', '192.0.2.0/31', '192.0.2.0', '192.0.2.1'],
    ['an IPv4 /32 is its one address', '192.0.2.7/32', '192.0.2.7', '192.0.2.7'],
    ['the whole IPv4 space', '0.0.0.0/0', '0.0.0.1', '255.255.255.254'],
    [
      'an IPv6 /64 loses only its subnet-router anycast (RFC 4291 2.6.1)',
      'fd00::/64',
      'fd00::1',
      'fd00::ffff:ffff:ffff:ffff',
    ],
    ['an IPv6 /126 keeps three addresses', '2001:db8::/126', '2001:db8::1', '2001:db8::3'],
    ['an IPv6 /127 keeps both (RFC 6164)', '2001:db8::/127', '2001:db8::', '2001:db8::1'],
    ['an IPv6 /128 is its one address', '2001:db8::1/128', '2001:db8::1', '2001:db8::1'],
    ['the whole IPv6 space', '::/0', '::1', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
  ])('%s', (_name, text, lo, hi) => {
    const value = prefix(text);
    const span = usableSpan(value);
    expect(span?.map((v) => formatIp({ family: value.family, value: v }))).toEqual([lo, hi]);
  });
});
