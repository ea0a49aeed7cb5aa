import { formatIpv6 } from '@ipwarden/netcodec';
import { describe, expect, it } from 'vitest';
import { isWireIp } from './formats.js';

/** The definition isWireIp's one-pass IPv6 check must agree with: parse, format again, compare. */
function isWireIpByFormatting(text: string): boolean {
  if (/^(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])){3}$/.test(text)) {
    return true;
  }
  const bytes = new Uint8Array(16);
  let groups: string[];
  const dotted = text.startsWith('::ffff:') ? text.slice(7).split('.') : [];
  if (dotted.length === 4) {
    if (!dotted.every((o) => /^(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])$/.test(o))) return false;
    groups = ['0', '0', '0', '0', '0', 'ffff', '0', '0'];
    dotted.forEach((o, i) => {
      bytes[12 + i] = Number(o);
    });
  } else {
    const halves = text.split('::');
    if (halves.length > 2) return false;
    const parse = (half: string) => (half === '' ? [] : half.split(':'));
    const head = parse(halves[0]!);
    const tail = halves.length === 2 ? parse(halves[1]!) : [];
    const fill = halves.length === 2 ? 8 - head.length - tail.length : 0;
    if (fill < 0) return false;
    groups = [...head, ...Array<string>(fill).fill('0'), ...tail];
    if (groups.length !== 8 || !groups.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return false;
  }
  groups.forEach((g, i) => {
    if (dotted.length === 4 && i >= 6) return;
    bytes[2 * i] = Number.parseInt(g, 16) >> 8;
    bytes[2 * i + 1] = Number.parseInt(g, 16) & 0xff;
  });
  return formatIpv6(bytes, 0) === text;
}

/** A small deterministic generator (mulberry32), so that a failure can be replayed. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Every way of writing these groups that a sender might: canonical or not. */
function spellings(groups: number[], next: () => number): string[] {
  const hex = groups.map((g) => g.toString(16));
  const out = [hex.join(':'), groups.map((g) => g.toString(16).padStart(4, '0')).join(':')];
  // `::` in place of every run of zero groups, whole or in part.
  for (let from = 0; from < 8; from++) {
    for (let to = from + 1; to <= 8 && groups[to - 1] === 0; to++) {
      out.push(`${hex.slice(0, from).join(':')}::${hex.slice(to).join(':')}`);
    }
  }
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  const canonical = formatIpv6(bytes, 0);
  out.push(canonical, canonical.toUpperCase(), `${canonical}:`, `:${canonical}`, `${canonical}::`);
  // One character changed, dropped or doubled.
  const at = Math.floor(next() * canonical.length);
  out.push(
    canonical.slice(0, at) + canonical.slice(at + 1),
    canonical.slice(0, at) + canonical[at] + canonical.slice(at),
    canonical.slice(0, at) + ':0123456789abcdefg.'[Math.floor(next() * 19)] + canonical.slice(at + 1),
  );
  return out;
}

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

  it('agrees with parsing and formatting again on every spelling of 20,000 random addresses', () => {
    const next = random(5952);
    let checked = 0;
    let taken = 0;
    for (let n = 0; n < 20_000; n++) {
      // Mostly zero groups, some ffff, so that runs, ties and mapped prefixes come up often.
      const groups = Array.from({ length: 8 }, () => {
        const r = next();
        return r < 0.45 ? 0 : r < 0.55 ? 0xffff : r < 0.7 ? Math.floor(next() * 16) : Math.floor(next() * 0x10000);
      });
      for (const text of spellings(groups, next)) {
        const expected = isWireIpByFormatting(text);
        if (isWireIp(text) !== expected) expect({ text, isWireIp: !expected }).toEqual({ text, isWireIp: expected });
        checked++;
        if (expected) taken++;
      }
    }
    expect(checked).toBeGreaterThan(200_000);
    expect(taken).toBeGreaterThan(20_000); // canonical spellings among them, not only refusals
  });
});
