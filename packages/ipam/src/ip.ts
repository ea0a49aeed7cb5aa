/**
 * IP addresses as numbers: an address is its family and a bigint, so that IPv4 and IPv6 share
 * one arithmetic and a /64 is as easy to reason about as a /24.
 */

import { formatIpv6 } from '@ipwarden/netcodec';

export type Family = 4 | 6;

export interface Ip {
  family: Family;
  value: bigint;
}

export function bitsOf(family: Family): 32 | 128 {
  return family === 4 ? 32 : 128;
}

// No leading zeros: "010" reads as octal to inet_aton but as decimal to most parsers, so an
// operator cannot know which address they wrote (RFC 6943 3.1.1).
const DEC_OCTET = /^(?:0|[1-9][0-9]{0,2})$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

/** The longest valid text form: six full groups and a dotted quad (RFC 4291 2.2, form 3). */
const MAX_TEXT_LENGTH = 'ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255'.length;

/**
 * Strict: IPv4 dotted quad without leading zeros; IPv6 in any valid textual form (RFC 4291 2.2,
 * incl. embedded IPv4 like ::ffff:1.2.3.4), case-insensitive; no zone (%eth0), no brackets, no
 * spaces. An IPv4-mapped IPv6 address stays IPv6: it names an IPv6 socket's view of the peer.
 */
export function parseIp(text: string): Ip | undefined {
  if (text.length > MAX_TEXT_LENGTH) return undefined;
  if (text.includes(':')) {
    const value = parseIpv6(text);
    return value === undefined ? undefined : { family: 6, value };
  }
  const value = parseIpv4(text);
  return value === undefined ? undefined : { family: 4, value };
}

function parseIpv4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!DEC_OCTET.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return BigInt(value);
}

/** RFC 4291 2.2: eight groups, at most one "::" standing for one or more zero groups. */
function parseIpv6(text: string): bigint | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;

  if (halves.length === 1) {
    const groups = parseGroups(text);
    return groups?.length === 8 ? joinGroups(groups) : undefined;
  }
  // Only the last group may be a dotted quad, so it can only end the tail.
  const head = halves[0]!.includes('.') ? undefined : parseGroups(halves[0]!);
  const tail = parseGroups(halves[1]!);
  if (head === undefined || tail === undefined || head.length + tail.length > 7) return undefined;
  const zeros = new Array<number>(8 - head.length - tail.length).fill(0);
  return joinGroups([...head, ...zeros, ...tail]);
}

/** Colon-separated hex groups, the last of which may be a dotted quad worth two groups. */
function parseGroups(text: string): number[] | undefined {
  if (text === '') return [];
  const pieces = text.split(':');
  const groups: number[] = [];
  for (const [i, piece] of pieces.entries()) {
    if (i === pieces.length - 1 && piece.includes('.')) {
      const v4 = parseIpv4(piece);
      if (v4 === undefined) return undefined;
      groups.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
    } else if (HEX_GROUP.test(piece)) {
      groups.push(Number.parseInt(piece, 16));
    } else {
      return undefined;
    }
  }
  return groups;
}

function joinGroups(groups: number[]): bigint {
  let value = 0n;
  for (const group of groups) value = (value << 16n) | BigInt(group);
  return value;
}

/** IPv4 dotted quad; IPv6 in RFC 5952 form. RangeError for a value outside the family. */
export function formatIp(ip: Ip): string {
  const bytes = toBytes(ip);
  return ip.family === 4 ? bytes.join('.') : formatIpv6(bytes, 0);
}

/** The address in network byte order: 4 or 16 bytes. */
function toBytes({ family, value }: Ip): Uint8Array {
  const length = bitsOf(family) / 8;
  if (value < 0n || value >> BigInt(length * 8) !== 0n) {
    throw new RangeError(`${value} is not an IPv${family} address`);
  }
  const bytes = new Uint8Array(length);
  let rest = value;
  for (let i = length - 1; i >= 0; i--) {
    bytes[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  return bytes;
}

/**
 * An address as the protocol already checked it (a dotted quad, or IPv6 in RFC 5952 form):
 * read by position, without the checks of `parseIp` (the API's strict parser, which it falls back
 * on for anything else) at a fraction of its cost — judging reads every sighting's address.
 */
export function parseWireIp(text: string): Ip | undefined {
  let value = 0;
  let octet = 0;
  let dots = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) {
      value = value * 256 + octet;
      octet = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      octet = octet * 10 + (c - 48);
    } else {
      return text.includes(':') ? parseWireIpv6(text) : parseIp(text);
    }
  }
  if (dots !== 3 || octet > 255) return parseIp(text);
  return { family: 4, value: BigInt(value * 256 + octet) };
}

/** RFC 5952 text, as the protocol checked it: hex groups around at most one "::". */
function parseWireIpv6(text: string): Ip | undefined {
  if (text.includes('.')) return parseIp(text); // an embedded IPv4 address (RFC 4291 2.2, form 3)
  const gap = text.indexOf('::');
  const head = gap < 0 ? text.split(':') : gap === 0 ? [] : text.slice(0, gap).split(':');
  const tail = gap < 0 || gap + 2 === text.length ? [] : text.slice(gap + 2).split(':');
  const zeros = 8 - head.length - tail.length;
  if (zeros < 0 || (gap < 0 && zeros !== 0)) return parseIp(text);
  // Four 32-bit numbers, then four BigInts: a BigInt per group costs twice that.
  const words = [0, 0, 0, 0];
  let group = 0;
  const put = (hex: string) => {
    const value = Number.parseInt(hex, 16);
    const word = group >> 1;
    words[word] = group & 1 ? words[word]! * 65536 + value : value;
    group++;
  };
  for (const hex of head) put(hex);
  for (let i = 0; i < zeros; i++) put('0');
  for (const hex of tail) put(hex);
  const [a, b, c, d] = words as [number, number, number, number];
  return {
    family: 6,
    value: (BigInt(a) << 96n) | (BigInt(b) << 64n) | (BigInt(c) << 32n) | BigInt(d),
  };
}
