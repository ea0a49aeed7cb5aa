import { describe, expect, it } from 'vitest';
import { isWireIp } from './formats.js';

describe('isWireIp', () => {
  it.each([
    '10.99.0.1',
    '0.0.0.0',
    '255.255.255.255',
    'fd99::1',
    '::',
    '::1',
    'fe80::b299:28ff:fec8:d66c',
    '2001:db8:0:1:1:1:1:1',
    '::ffff:192.0.2.1',
    '2001:db8::',
  ])('takes %s', (ip) => expect(isWireIp(ip)).toBe(true));

  it.each([
    ['a fifth octet', '10.99.0.1.5'],
    ['an octet past 255', '10.99.0.256'],
    ['a leading zero in an octet', '10.99.0.01'],
    ['uppercase hex (RFC 5952 4.3)', 'FD99::1'],
    ['leading zeros in a group (RFC 5952 4.1)', 'fd99::0001'],
    ['two ::', 'fd99::1::2'],
    ['nine groups', '1:2:3:4:5:6:7:8:9'],
    ['seven groups without ::', '1:2:3:4:5:6:7'],
    [':: standing for one group (RFC 5952 4.2.2)', '1:2:3:4::5:6:7'],
    ['a prefix length', 'fd99::/64'],
    ['a zone', 'fe80::1%eth0'],
    ['nothing', ''],
    ['a name', 'printer.local'],
    ['a zero run not written as :: (RFC 5952 4.2.1)', '1:0:0:0:0:0:0:2'],
    [':: for a shorter run than another (RFC 5952 4.2.3)', '1::2:0:0:0:3'],
    ['a mapped address in hex (RFC 5952 5)', '::ffff:a00:9'],
  ])('refuses %s', (_, ip) => expect(isWireIp(ip)).toBe(false));
});
