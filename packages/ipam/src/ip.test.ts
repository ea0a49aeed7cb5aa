import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bitsOf, formatIp, type Ip, parseIp, parseWireIp } from './ip.js';

describe('parseIp and formatIp', () => {
  it.each([
    ['the all-zero IPv4 address', '0.0.0.0', '0.0.0.0'],
    ['the IPv4 broadcast address', '255.255.255.255', '255.255.255.255'],
    ['a documentation address (RFC 5737)', '192.0.2.1', '192.0.2.1'],
    ['the unspecified IPv6 address is :: alone (RFC 4291 2.5.2)', '::', '::'],
    ['the loopback address (RFC 4291 2.5.3)', '::1', '::1'],
    ['uppercase hex is read and written lowercase (RFC 4291 2.2, RFC 5952 4.3)', '2001:DB8::1', '2001:db8::1'],
    ['leading zeros in a group are dropped (RFC 5952 4.1)', 'fd00::0001', 'fd00::1'],
    ['the full form is shortened (RFC 5952 4.2)', '2001:0db8:0000:0000:0000:0000:0002:0001', '2001:db8::2:1'],
    ['the first of two equal zero runs is shortened (RFC 5952 4.2.3)', '2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['"::" standing for one group is read but not written (RFC 5952 4.2.2)', '1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
    ['a leading "::" for one group', '::2:3:4:5:6:7:8', '0:2:3:4:5:6:7:8'],
    ['an IPv4-mapped address stays IPv6 (RFC 4291 2.5.5.2)', '::ffff:1.2.3.4', '::ffff:1.2.3.4'],
    [
      'a mapped address in hex is written with its dotted quad (RFC 5952 5)',
      '0:0:0:0:0:FFFF:c000:0201',
      '::ffff:192.0.2.1',
    ],
    ['the longest valid text', '0000:0000:0000:0000:0000:ffff:255.255.255.255', '::ffff:255.255.255.255'],
    ['an embedded IPv4 address after six groups (RFC 4291 2.2, form 3)', '1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:102:304'],
    ['a NAT64 address is written in hex (RFC 6052)', '64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
    ['a deprecated IPv4-compatible address (RFC 4291 2.5.5.1)', '::192.0.2.1', '::c000:201'],
    ['a link-local address', 'fe80::211:22ff:fe33:4455', 'fe80::211:22ff:fe33:4455'],
    ['the all-ones IPv6 address', 'FFFF:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
  ])('reads and writes %s', (_name, text, formatted) => {
    const ip = parseIp(text);
    expect(ip).toBeDefined();
    expect(formatIp(ip!)).toBe(formatted);
    expect(parseIp(formatted)).toEqual(ip);
  });

  it.each([
    ['an IPv4 address', '10.0.0.1', { family: 4, value: 0x0a000001n }],
    ['an IPv4-mapped address, as IPv6', '::ffff:10.0.0.1', { family: 6, value: 0xffff0a000001n }],
    ['the highest IPv6 address', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', { family: 6, value: 2n ** 128n - 1n }],
  ])('gives the family and value of %s', (_name, text, ip) => {
    expect(parseIp(text)).toEqual(ip);
  });

  it.each([
    ['empty text', ''],
    ['a leading zero, octal to inet_aton (RFC 6943 3.1.1)', '010.0.0.1'],
    ['three parts', '1.2.3'],
    ['the two-part shorthand', '127.1'],
    ['five parts', '1.2.3.4.5'],
    ['an octet past 255', '256.0.0.1'],
    ['a negative octet', '1.2.3.-1'],
    ['a plus sign', '+1.2.3.4'],
    ['a hex octet', '0x7f.0.0.1'],
    ['an exponent', '1.2.3.1e2'],
    ['non-ASCII digits', '\u0661.2.3.4'],
    ['an empty octet', '1..3.4'],
    ['a trailing space', '1.2.3.4 '],
    ['a leading space', ' ::1'],
    ['a trailing newline', '::1\n'],
    ['too many groups', '1:2:3:4:5:6:7:8:9'],
    ['too few groups', '1:2:3:4:5:6:7'],
    ['"::" beside eight groups', '1:2:3:4::5:6:7:8'],
    ['two "::"', '1::2::3'],
    ['":::"', ':::'],
    ['a lone leading colon', ':1:2:3:4:5:6:7:8'],
    ['a lone trailing colon', '1::2:'],
    ['a lone colon before "::"', ':1::'],
    ['a five-digit group', '12345::'],
    ['a non-hex digit', 'g::1'],
    ['a zone (RFC 4007 11)', 'fe80::1%eth0'],
    ['brackets (RFC 3986 3.2.2)', '[::1]'],
    ['a short embedded IPv4 address', '::ffff:1.2.3'],
    ['an embedded IPv4 address with a leading zero', '::ffff:01.2.3.4'],
    ['an embedded IPv4 address before "::"', '1.2.3.4::'],
    ['an embedded IPv4 address before a group', '::1.2.3.4:1'],
    ['an embedded IPv4 address after seven groups', '1:2:3:4:5:6:7:1.2.3.4'],
    ['text longer than any address', `${'0'.repeat(60)}::1`],
  ])('refuses %s', (_name, text) => {
    expect(parseIp(text)).toBeUndefined();
  });

  it.each([
    ['a negative value', { family: 4, value: -1n }],
    ['a value past 32 bits for IPv4', { family: 4, value: 2n ** 32n }],
    ['a value past 128 bits for IPv6', { family: 6, value: 2n ** 128n }],
  ] satisfies [string, Ip][])('refuses to format %s', (_name, ip) => {
    expect(() => formatIp(ip)).toThrow(RangeError);
  });

  it('reads back every address it writes', () => {
    const anyIp = fc.oneof(
      fc.bigInt({ min: 0n, max: 2n ** 32n - 1n }).map((value): Ip => ({ family: 4, value })),
      fc.bigInt({ min: 0n, max: 2n ** 128n - 1n }).map((value): Ip => ({ family: 6, value })),
      // Sparse IPv6 addresses exercise the zero-run rules.
      fc
        .array(fc.constantFrom(0n, 1n, 0xffffn), { minLength: 8, maxLength: 8 })
        .map(
          (groups): Ip => ({ family: 6, value: groups.reduce<bigint>((value, group) => (value << 16n) | group, 0n) }),
        ),
    );
    fc.assert(
      fc.property(anyIp, (ip) => {
        expect(parseIp(formatIp(ip))).toEqual(ip);
      }),
    );
  });
});

describe('bitsOf', () => {
  it('gives 32 bits for IPv4 and 128 for IPv6', () => {
    expect(bitsOf(4)).toBe(32);
    expect(bitsOf(6)).toBe(128);
  });
});

describe('parseWireIp', () => {
  it('reads every address as parseIp does, in the forms the wire carries', () => {
    const v4 = fc.bigInt({ min: 0n, max: 2n ** 32n - 1n }).map((value) => ({ family: 4 as const, value }));
    // Runs of zero groups, so that "::" stands in every place.
    const group = fc.oneof(fc.constant(0n), fc.constant(0n), fc.bigInt({ min: 0n, max: 0xffffn }));
    const v6 = fc
      .array(group, { minLength: 8, maxLength: 8 })
      .map((groups) => ({ family: 6 as const, value: groups.reduce((acc, g) => (acc << 16n) | g, 0n) }));
    fc.assert(
      fc.property(fc.oneof(v4, v6), (ip) => {
        const text = formatIp(ip);
        expect(parseWireIp(text)).toEqual(parseIp(text));
        expect(parseWireIp(text)).toEqual(ip);
      }),
      { numRuns: 5000 },
    );
  });

  it('falls back to the strict parser for what the wire does not carry', () => {
    for (const text of ['::ffff:10.0.0.1', 'FD99::1', '10.0.0', '1.2.3.4.5', 'nonsense', '']) {
      expect(parseWireIp(text), text).toEqual(parseIp(text));
    }
  });
});
