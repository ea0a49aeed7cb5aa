/**
 * The allocation policy: what a subnet never hands out, what is free, and which free address to
 * give. Everything works on intervals, so that the cost follows the number of runs of free or
 * taken addresses, never the size of the subnet (a /64 is never enumerated).
 */

import { IntervalSet } from './interval-set.js';
import { type Family, formatIp, parseIp } from './ip.js';
import { firstOf, lastOf, type Parsed, type Prefix, parsePrefix, usableSpan } from './prefix.js';

/** "lowest" keeps IPv4 subnets compact; "random" makes IPv6 addresses hard to guess (RFC 7707). */
export type AllocationPolicy = 'lowest' | 'random';

/** A uniform random bigint in [0, bound): the caller's source (crypto in the collector, seeded in tests). */
export type RandomBelow = (bound: bigint) => bigint;

/**
 * A RandomBelow drawing from a source of random bytes (crypto.getRandomValues in the collector).
 * Rejection sampling: it draws just enough bits for bound - 1 and draws again above it, so every
 * value is equally likely, where a remainder would favour the low ones. Under two draws expected.
 */
export function randomBelowFrom(randomBytes: (length: number) => Uint8Array): RandomBelow {
  return (bound) => {
    if (bound < 1n) throw new RangeError(`no value lies in [0, ${bound})`);
    const bits = (bound - 1n).toString(2).length;
    const length = Math.ceil(bits / 8);
    const topMask = 0xff >> (length * 8 - bits);
    for (;;) {
      const bytes = randomBytes(length);
      let value = BigInt(bytes[0]! & topMask);
      for (let i = 1; i < length; i++) value = (value << 8n) | BigInt(bytes[i]!);
      if (value < bound) return value;
    }
  };
}

/**
 * The address to hand out from `free`: the lowest, or one drawn uniformly from all of it (an index
 * into the whole set, not a random interval first, which would favour addresses in short runs).
 * Undefined when `free` is empty. Cost: O(number of intervals), never O(addresses).
 */
export function pickFree(free: IntervalSet, policy: AllocationPolicy, random: RandomBelow): bigint | undefined {
  if (free.isEmpty) return undefined;
  return policy === 'lowest' ? free.first() : free.nth(random(free.size));
}

/**
 * `items` in a random order where each comes next with odds by its size: the order a random
 * pool tries its ranges in, so that each free address of the pool is about equally likely,
 * whichever range it lies in (ranges drawn one after another in their listed order would fill
 * the first before any address of the second is drawn). Items of size 0 come last.
 */
export function drawOrder<T>(items: readonly T[], sizeOf: (item: T) => bigint, random: RandomBelow): T[] {
  const left = items.map((item) => ({ item, size: sizeOf(item) }));
  const order: T[] = [];
  while (left.length > 0) {
    const total = left.reduce((sum, entry) => sum + entry.size, 0n);
    let at = total > 0n ? random(total) : 0n;
    let index = 0;
    if (total > 0n) {
      while (at >= left[index]!.size) at -= left[index++]!.size;
    }
    order.push(left.splice(index, 1)[0]!.item);
  }
  return order;
}

/**
 * What a subnet never hands out, as one set: everything outside usableSpan, the gateway and DNS
 * servers (when inside), and the given ranges (dynamic, reserved, other pools' ranges), clipped
 * to the prefix. Addresses and spans are values of the prefix's family.
 */
export function unavailableIn(
  prefix: Prefix,
  exclude: { addresses?: Iterable<bigint>; spans?: Iterable<readonly [bigint, bigint]> },
): IntervalSet {
  const first = firstOf(prefix);
  const last = lastOf(prefix);
  const usable = usableSpan(prefix);
  const blocked: (readonly [bigint, bigint])[] =
    usable === undefined ? [[first, last]] : new IntervalSet([usable]).complementWithin(first, last).intervals();
  for (const address of exclude.addresses ?? []) {
    if (address >= first && address <= last) blocked.push([address, address]);
  }
  for (const [lo, hi] of exclude.spans ?? []) {
    // biome-ignore lint/complexity/useMathMinMax: Math.max and Math.min take no bigints
    if (hi >= first && lo <= last) blocked.push([lo > first ? lo : first, hi < last ? hi : last]);
  }
  return new IntervalSet(blocked);
}

/** Free = usable span minus unavailable minus taken. */
export function freeIn(prefix: Prefix, unavailable: IntervalSet, taken: IntervalSet): IntervalSet {
  const usable = usableSpan(prefix);
  if (usable === undefined) return new IntervalSet();
  return new IntervalSet([usable]).minus(unavailable).minus(taken);
}

/**
 * Metal3-style exclusions: "10.0.0.5", "10.0.0.10-10.0.0.20", "10.0.0.128/25" (and IPv6) → spans;
 * a reason on bad input. With `family`, an address of the other family is refused.
 */
export function parseExclusion(text: string, family?: Family): Parsed<[bigint, bigint]> {
  const wrongFamily = (got: Family): Parsed<[bigint, bigint]> => ({
    ok: false,
    reason: `expected an IPv${family} exclusion, not IPv${got}`,
  });

  if (text.includes('/')) {
    const parsed = parsePrefix(text);
    if (!parsed.ok) return parsed;
    const prefix = parsed.value;
    if (family !== undefined && prefix.family !== family) return wrongFamily(prefix.family);
    return { ok: true, value: [firstOf(prefix), lastOf(prefix)] };
  }

  const dash = text.indexOf('-');
  if (dash < 0) {
    const ip = parseIp(text);
    if (ip === undefined) return { ok: false, reason: 'not an IP address, a range "start-end" or a CIDR prefix' };
    if (family !== undefined && ip.family !== family) return wrongFamily(ip.family);
    return { ok: true, value: [ip.value, ip.value] };
  }

  const start = parseIp(text.slice(0, dash));
  const end = parseIp(text.slice(dash + 1));
  if (start === undefined) return { ok: false, reason: 'the range start is not an IPv4 or IPv6 address' };
  if (end === undefined) return { ok: false, reason: 'the range end is not an IPv4 or IPv6 address' };
  if (start.family !== end.family) return { ok: false, reason: 'the range mixes IPv4 and IPv6' };
  if (family !== undefined && start.family !== family) return wrongFamily(start.family);
  if (start.value > end.value) {
    return { ok: false, reason: `the range start ${formatIp(start)} is after its end ${formatIp(end)}` };
  }
  return { ok: true, value: [start.value, end.value] };
}
