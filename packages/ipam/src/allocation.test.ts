import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { drawOrder, freeIn, parseExclusion, pickFree, randomBelowFrom, unavailableIn } from './allocation.js';
import { IntervalSet } from './interval-set.js';
import { formatIp, parseIp } from './ip.js';
import { type Prefix, parsePrefix } from './prefix.js';
import { seededBytes } from './seeded-bytes.test-support.js';

function ip(text: string): bigint {
  const parsed = parseIp(text);
  if (parsed === undefined) throw new Error(`${text} is not an address`);
  return parsed.value;
}

function prefix(text: string): Prefix {
  const parsed = parsePrefix(text);
  if (!parsed.ok) throw new Error(`${text}: ${parsed.reason}`);
  return parsed.value;
}

/** The set's intervals as "lo-hi" text, for tables that read like an operator's notes. */
function spans(family: 4 | 6, set: IntervalSet): string[] {
  const text = (value: bigint) => formatIp({ family, value });
  return set.intervals().map(([lo, hi]) => (lo === hi ? text(lo) : `${text(lo)}-${text(hi)}`));
}

const value = fc.bigInt({ min: 0n, max: 63n });
const interval = fc.tuple(value, value).map(([a, b]): [bigint, bigint] => (a <= b ? [a, b] : [b, a]));
const someIntervals = fc.array(interval, { minLength: 1, maxLength: 8 });

describe('pickFree', () => {
  it('gives nothing from an empty set, whatever the policy', () => {
    const random = randomBelowFrom(seededBytes(1));
    expect(pickFree(new IntervalSet(), 'lowest', random)).toBeUndefined();
    expect(pickFree(new IntervalSet(), 'random', random)).toBeUndefined();
  });

  it('gives the lowest free value under "lowest"', () => {
    fc.assert(
      fc.property(someIntervals, (intervals) => {
        const lowest = intervals.map(([lo]) => lo).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))[0];
        expect(pickFree(new IntervalSet(intervals), 'lowest', () => 0n)).toBe(lowest);
      }),
    );
  });

  it('always lands inside the set under "random"', () => {
    fc.assert(
      fc.property(someIntervals, fc.integer(), (intervals, seed) => {
        const free = new IntervalSet(intervals);
        const random = randomBelowFrom(seededBytes(seed));
        for (let i = 0; i < 20; i++) expect(free.has(pickFree(free, 'random', random)!)).toBe(true);
      }),
    );
  });

  it('maps each random index to a different value, so every value is equally likely', () => {
    const free = new IntervalSet([
      [3n, 3n],
      [7n, 9n],
      [20n, 21n],
    ]);
    const picked = Array.from({ length: Number(free.size) }, (_, i) => pickFree(free, 'random', () => BigInt(i)));
    expect(picked).toEqual([3n, 7n, 8n, 9n, 20n, 21n]);
  });

  it('reaches every value of a small set with a seeded source', () => {
    const free = new IntervalSet([
      [3n, 3n],
      [7n, 9n],
      [20n, 21n],
    ]);
    const random = randomBelowFrom(seededBytes(42));
    const seen = new Set(Array.from({ length: 200 }, () => pickFree(free, 'random', random)));
    expect([...seen].sort((a, b) => Number(a! - b!))).toEqual([3n, 7n, 8n, 9n, 20n, 21n]);
  });

  it('picks from a whole free /64 without enumerating it', () => {
    const subnet = prefix('2001:db8::/64');
    const free = freeIn(subnet, unavailableIn(subnet, {}), new IntervalSet());
    const picked = pickFree(free, 'random', randomBelowFrom(seededBytes(7)))!;
    expect(picked).toBeGreaterThan(ip('2001:db8::'));
    expect(picked).toBeLessThanOrEqual(ip('2001:db8::ffff:ffff:ffff:ffff'));
  });
});

describe('drawOrder', () => {
  it('puts each item first with odds by its size, and every item in the order once', () => {
    const random = randomBelowFrom(seededBytes(7));
    const ranges = [
      { name: 'small', size: 1n },
      { name: 'large', size: 3n },
      { name: 'empty', size: 0n },
    ];
    const firsts = { small: 0, large: 0, empty: 0 };
    for (let i = 0; i < 4000; i++) {
      const order = drawOrder(ranges, (r) => r.size, random);
      expect(order.map((r) => r.name).sort()).toEqual(['empty', 'large', 'small']);
      expect(order.at(-1)!.name).toBe('empty');
      firsts[order[0]!.name as keyof typeof firsts]++;
    }
    expect(firsts.empty).toBe(0);
    expect(firsts.large / 4000).toBeCloseTo(0.75, 1);
  });

  it('keeps the order of items that are all empty', () => {
    expect(drawOrder(['a', 'b'], () => 0n, randomBelowFrom(seededBytes(1)))).toEqual(['a', 'b']);
  });
});

describe('randomBelowFrom', () => {
  it.each([1n, 2n, 3n, 255n, 256n, 257n, 2n ** 64n, 2n ** 128n - 1n, 2n ** 128n])('stays below %s', (bound) => {
    const random = randomBelowFrom(seededBytes(Number(bound % 1000n)));
    for (let i = 0; i < 200; i++) {
      const drawn = random(bound);
      expect(drawn).toBeGreaterThanOrEqual(0n);
      expect(drawn).toBeLessThan(bound);
    }
  });

  it('draws again above the bound rather than wrapping, which would favour low values', () => {
    const draws = [Uint8Array.of(0xff), Uint8Array.of(0xc8), Uint8Array.of(0x05)];
    expect(randomBelowFrom(() => draws.shift()!)(200n)).toBe(5n);
    expect(draws).toEqual([]);
  });

  it('draws only as many bits as the bound needs', () => {
    // 0xff masked to 3 bits is 7, below 8: one draw.
    expect(randomBelowFrom(() => Uint8Array.of(0xff))(8n)).toBe(7n);
  });

  it('refuses a bound below 1, below which no value lies', () => {
    expect(() => randomBelowFrom(seededBytes(1))(0n)).toThrow(RangeError);
  });
});

describe('unavailableIn', () => {
  it.each([
    [
      'network, broadcast, gateway, DNS and ranges of an IPv4 /24, clipped to it',
      '192.0.2.0/24',
      {
        addresses: [ip('192.0.2.1'), ip('192.0.2.53'), ip('8.8.8.8')],
        spans: [
          [ip('192.0.2.100'), ip('192.0.2.199')],
          [ip('192.0.1.250'), ip('192.0.2.5')],
          [ip('198.51.100.0'), ip('198.51.100.255')],
        ] as [bigint, bigint][],
      },
      ['192.0.2.0-192.0.2.5', '192.0.2.53', '192.0.2.100-192.0.2.199', '192.0.2.255'],
    ],
    ['nothing but the network and broadcast addresses of a /24', '192.0.2.0/24', {}, ['192.0.2.0', '192.0.2.255']],
    ['nothing in a /31 (RFC 3021)', '192.0.2.0/31', {}, []],
    ['nothing in a /32', '192.0.2.7/32', {}, []],
    ['a gateway /32 entirely', '192.0.2.7/32', { addresses: [ip('192.0.2.7')] }, ['192.0.2.7']],
    ['only the subnet-router anycast of a /64 (RFC 4291 2.6.1)', 'fd00::/64', {}, ['fd00::']],
    [
      'a gateway and a range reaching past the end of a /64',
      'fd00::/64',
      { addresses: [ip('fd00::1')], spans: [[ip('fd00::ffff:0:0:0'), ip('fd00:0:0:1::ff')]] as [bigint, bigint][] },
      ['fd00::-fd00::1', 'fd00::ffff:0:0:0-fd00::ffff:ffff:ffff:ffff'],
    ],
    ['nothing in a /127 (RFC 6164)', '2001:db8::/127', {}, []],
  ])('blocks %s', (_name, text, exclude, expected) => {
    const subnet = prefix(text);
    expect(spans(subnet.family, unavailableIn(subnet, exclude))).toEqual(expected);
  });
});

describe('freeIn', () => {
  it('is the usable span minus what is unavailable and what is taken', () => {
    const subnet = prefix('192.0.2.0/29');
    const unavailable = unavailableIn(subnet, { addresses: [ip('192.0.2.1')] });
    const taken = new IntervalSet([
      [ip('192.0.2.2'), ip('192.0.2.2')],
      [ip('192.0.2.4'), ip('192.0.2.4')],
    ]);
    expect(spans(4, freeIn(subnet, unavailable, taken))).toEqual(['192.0.2.3', '192.0.2.5-192.0.2.6']);
  });

  it('leaves nothing to pick when every usable address is taken', () => {
    const subnet = prefix('192.0.2.0/30');
    const taken = new IntervalSet([[ip('192.0.2.1'), ip('192.0.2.2')]]);
    const free = freeIn(subnet, unavailableIn(subnet, {}), taken);
    expect(free.isEmpty).toBe(true);
    expect(pickFree(free, 'lowest', () => 0n)).toBeUndefined();
  });

  it('agrees with address-by-address bookkeeping in a small subnet', () => {
    const subnet = prefix('0.0.0.0/26'); // 64 addresses, the arbitraries' universe
    fc.assert(
      fc.property(
        fc.array(value, { maxLength: 4 }),
        fc.array(interval, { maxLength: 4 }),
        fc.array(interval, { maxLength: 6 }),
        (addresses, ranges, takenIntervals) => {
          const free = freeIn(
            subnet,
            unavailableIn(subnet, { addresses, spans: ranges }),
            new IntervalSet(takenIntervals),
          );
          const expected: bigint[] = [];
          for (let v = 1n; v <= 62n; v++) {
            const excluded = addresses.includes(v) || ranges.some(([lo, hi]) => v >= lo && v <= hi);
            const taken = takenIntervals.some(([lo, hi]) => v >= lo && v <= hi);
            if (!excluded && !taken) expected.push(v);
          }
          expect(free.size).toBe(BigInt(expected.length));
          expect(Array.from({ length: expected.length }, (_, i) => free.nth(BigInt(i)))).toEqual(expected);
        },
      ),
    );
  });
});

describe('parseExclusion', () => {
  it.each([
    ['a single IPv4 address', '10.0.0.5', undefined, ['10.0.0.5', '10.0.0.5']],
    ['an IPv4 range', '10.0.0.10-10.0.0.20', 4, ['10.0.0.10', '10.0.0.20']],
    ['a one-address range', '10.0.0.5-10.0.0.5', undefined, ['10.0.0.5', '10.0.0.5']],
    ['an IPv4 prefix', '10.0.0.128/25', 4, ['10.0.0.128', '10.0.0.255']],
    ['a single IPv6 address', 'FD00::1', 6, ['fd00::1', 'fd00::1']],
    ['an IPv6 range', 'fd00::1-fd00::ff', undefined, ['fd00::1', 'fd00::ff']],
    ['an IPv6 prefix', 'fd00::/120', 6, ['fd00::', 'fd00::ff']],
  ] as const)('reads %s', (_name, text, family, [lo, hi]) => {
    expect(parseExclusion(text, family)).toEqual({ ok: true, value: [ip(lo), ip(hi)] });
  });

  it.each([
    ['a backwards range', '10.0.0.20-10.0.0.10', undefined, 'the range start 10.0.0.20 is after its end 10.0.0.10'],
    ['a range across families', '10.0.0.1-fd00::1', undefined, 'the range mixes IPv4 and IPv6'],
    ['an IPv4 prefix where IPv6 is expected', '10.0.0.0/24', 6, 'expected an IPv6 exclusion, not IPv4'],
    ['an IPv6 address where IPv4 is expected', 'fd00::1', 4, 'expected an IPv4 exclusion, not IPv6'],
    ['an IPv6 range where IPv4 is expected', 'fd00::1-fd00::2', 4, 'expected an IPv4 exclusion, not IPv6'],
    ['a prefix with host bits', '10.0.0.7/24', undefined, 'host bits set; the prefix is 10.0.0.0/24'],
    ['a bad address', '10.0.0.256', undefined, 'not an IP address, a range "start-end" or a CIDR prefix'],
    ['empty text', '', undefined, 'not an IP address, a range "start-end" or a CIDR prefix'],
    ['a range without an end', '10.0.0.1-', undefined, 'the range end is not an IPv4 or IPv6 address'],
    ['a range without a start', '-10.0.0.1', undefined, 'the range start is not an IPv4 or IPv6 address'],
    ['spaces around the dash', '10.0.0.1 - 10.0.0.5', undefined, 'the range start is not an IPv4 or IPv6 address'],
    ['three addresses', '10.0.0.1-10.0.0.2-10.0.0.3', undefined, 'the range end is not an IPv4 or IPv6 address'],
  ] as const)('refuses %s', (_name, text, family, reason) => {
    expect(parseExclusion(text, family)).toEqual({ ok: false, reason });
  });
});
