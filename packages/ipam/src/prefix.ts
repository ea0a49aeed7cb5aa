/** CIDR prefixes (RFC 4632, RFC 4291 2.3): a network address and how many leading bits it fixes. */

import { bitsOf, type Family, formatIp, type Ip, parseIp } from './ip.js';

export interface Prefix {
  family: Family;
  network: bigint;
  length: number;
}

/** A parse result: the value, or a reason an operator can act on. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

const DECIMAL = /^(?:0|[1-9][0-9]*)$/;

/**
 * "10.0.0.0/24", "fd00::/64". Host bits set → { ok: false, reason: 'host bits set; the prefix is
 * 10.0.0.0/24' }: "10.0.0.7/24" is more often a typo for the subnet than a host address, so it is
 * refused rather than silently truncated, and the reason names the prefix that was probably meant.
 */
export function parsePrefix(text: string): Parsed<Prefix> {
  const slash = text.indexOf('/');
  if (slash < 0 || slash === text.length - 1) {
    return { ok: false, reason: 'no prefix length; write it as address/length, e.g. 10.0.0.0/24' };
  }
  const ip = parseIp(text.slice(0, slash));
  if (ip === undefined) return { ok: false, reason: 'not an IPv4 or IPv6 address before the "/"' };
  const bits = bitsOf(ip.family);
  const lengthText = text.slice(slash + 1);
  const length = Number(lengthText);
  if (!DECIMAL.test(lengthText) || length > bits) {
    return { ok: false, reason: `the prefix length must be a whole number from 0 to ${bits}` };
  }

  const prefix: Prefix = { family: ip.family, network: ip.value & ~hostMask(ip.family, length), length };
  if (prefix.network !== ip.value) return { ok: false, reason: `host bits set; the prefix is ${formatPrefix(prefix)}` };
  return { ok: true, value: prefix };
}

export function formatPrefix(prefix: Prefix): string {
  return `${formatIp({ family: prefix.family, value: prefix.network })}/${prefix.length}`;
}

/** The bits a prefix of this length leaves free, as a mask: 2^(bits-length) - 1. */
function hostMask(family: Family, length: number): bigint {
  return (1n << BigInt(bitsOf(family) - length)) - 1n;
}

/** The network address. */
export function firstOf(prefix: Prefix): bigint {
  return prefix.network;
}

/** All host bits set. */
export function lastOf(prefix: Prefix): bigint {
  return prefix.network | hostMask(prefix.family, prefix.length);
}

/** 2^(bits-length). */
export function sizeOf(prefix: Prefix): bigint {
  return 1n << BigInt(bitsOf(prefix.family) - prefix.length);
}

/** False across families: an IPv4-mapped IPv6 address is not inside an IPv4 prefix. */
export function contains(prefix: Prefix, ip: Ip): boolean {
  return prefix.family === ip.family && ip.value >= firstOf(prefix) && ip.value <= lastOf(prefix);
}

/** False across families. Two prefixes overlap exactly when one contains the other. */
export function overlaps(a: Prefix, b: Prefix): boolean {
  return a.family === b.family && firstOf(a) <= lastOf(b) && firstOf(b) <= lastOf(a);
}

/**
 * The span a subnet can ever hand out: IPv4 without the network and broadcast addresses, except
 * /31 (RFC 3021) and /32; IPv6 without the subnet-router anycast address (RFC 4291 2.6.1, the
 * all-zero host), except /127 (RFC 6164) and /128. Undefined if nothing is left; no prefix comes
 * to that under these rules (a /30 keeps two addresses, a /126 three), but callers must not rely on it.
 */
export function usableSpan(prefix: Prefix): [bigint, bigint] | undefined {
  const pointToPoint = prefix.length >= bitsOf(prefix.family) - 1;
  const withoutNetwork = pointToPoint ? 0n : 1n;
  const withoutBroadcast = pointToPoint || prefix.family === 6 ? 0n : 1n;
  return [firstOf(prefix) + withoutNetwork, lastOf(prefix) - withoutBroadcast];
}
