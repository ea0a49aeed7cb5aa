/**
 * Text forms used everywhere in ipwarden: MAC addresses lowercase and colon-separated,
 * IPv4 dotted quads, IPv6 in RFC 5952 canonical form.
 *
 * The decoders format the same few thousand addresses millions of times a second, so MAC and
 * IPv4 strings are interned in small bounded caches: a hit costs a few array reads and returns
 * the identical string, which later Map lookups by that string find already hashed.
 */

import { mix32 } from './hash.js';

const HEX2: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
/** The character codes of each byte's two hex digits, high then low. */
const HEX_HIGH = Uint8Array.from(HEX2, (h) => h.charCodeAt(0));
const HEX_LOW = Uint8Array.from(HEX2, (h) => h.charCodeAt(1));

/**
 * A bounded cache of address strings keyed by up to 48 bits (a high and a low word), two-way
 * set-associative. Typed-array keys avoid the heap-number allocation a Map<number> needs for
 * keys past 2^30; a full set drops its older entry, so memory never grows past the table.
 */
const SETS = 1 << 17; // 131 072 sets × 2 ways: 2 MiB of keys, ample for a /16 of hosts

class InternTable {
  /** (high, low) of each way, interleaved so that one cache line holds a whole set's keys. */
  private readonly keys = new Uint32Array(SETS * 4);
  private readonly text: Array<string | undefined> = new Array(SETS * 2).fill(undefined);

  get(high: number, low: number): string | undefined {
    const way = this.set(high, low) * 2;
    const keys = this.keys;
    if (keys[way * 2] === high && keys[way * 2 + 1] === low) return this.text[way];
    if (keys[way * 2 + 2] === high && keys[way * 2 + 3] === low) return this.text[way + 1];
    return undefined;
  }

  put(high: number, low: number, text: string): void {
    const way = this.set(high, low) * 2;
    const keys = this.keys;
    // The newest entry goes to way 0; the one it displaces moves to way 1.
    keys[way * 2 + 2] = keys[way * 2]!;
    keys[way * 2 + 3] = keys[way * 2 + 1]!;
    this.text[way + 1] = this.text[way];
    keys[way * 2] = high;
    keys[way * 2 + 1] = low;
    this.text[way] = text;
  }

  private set(high: number, low: number): number {
    return mix32(low ^ Math.imul(high, 0x9e3779b1)) & (SETS - 1);
  }
}

const macs = new InternTable();
const ipv4s = new InternTable();

/** The 6 bytes at `offset` as `aa:bb:cc:dd:ee:ff`. The caller guarantees the bytes exist. */
export function formatMac(bytes: Uint8Array, offset: number): string {
  // Bit 16 marks the slot as used, so that an all-zero MAC is not taken for an empty slot.
  const high = 0x10000 | (bytes[offset]! << 8) | bytes[offset + 1]!;
  const low =
    ((bytes[offset + 2]! << 24) | (bytes[offset + 3]! << 16) | (bytes[offset + 4]! << 8) | bytes[offset + 5]!) >>> 0;
  let text = macs.get(high, low);
  if (text === undefined) {
    // One flat string: a template would make a tree of concatenations, which every later
    // reader (a Map's hash, the NDJSON writer) would first have to flatten or walk.
    const b0 = bytes[offset]!;
    const b1 = bytes[offset + 1]!;
    const b2 = bytes[offset + 2]!;
    const b3 = bytes[offset + 3]!;
    const b4 = bytes[offset + 4]!;
    const b5 = bytes[offset + 5]!;
    text = String.fromCharCode(
      HEX_HIGH[b0]!,
      HEX_LOW[b0]!,
      58,
      HEX_HIGH[b1]!,
      HEX_LOW[b1]!,
      58,
      HEX_HIGH[b2]!,
      HEX_LOW[b2]!,
      58,
      HEX_HIGH[b3]!,
      HEX_LOW[b3]!,
      58,
      HEX_HIGH[b4]!,
      HEX_LOW[b4]!,
      58,
      HEX_HIGH[b5]!,
      HEX_LOW[b5]!,
    );
    macs.put(high, low, text);
  }
  return text;
}

/** The 4 bytes at `offset` as a dotted quad. The caller guarantees the bytes exist. */
export function formatIpv4(bytes: Uint8Array, offset: number): string {
  const low =
    ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>> 0;
  let text = ipv4s.get(1, low);
  if (text === undefined) {
    text = `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
    ipv4s.put(1, low, text);
  }
  return text;
}

/**
 * The 32 bits of an IPv4 address in the text {@link formatIpv4} writes (no leading zeros), or
 * -1 for any other text: its exact inverse, so that a number and a text name one address alike.
 */
export function ipv4Number(ip: string): number {
  let n = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || dots === 3) return -1;
      n = n * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && part === 0) return -1; // a leading zero
      part = part * 10 + c - 48;
      if (++digits > 3 || part > 255) return -1;
    } else {
      return -1;
    }
  }
  return dots === 3 && digits > 0 ? n * 256 + part : -1;
}

/**
 * The 16 bytes at `offset` in RFC 5952 form: lowercase hex, no leading zeros, the longest run
 * of two or more zero groups (the first, on a tie) shortened to `::` (section 4.2), and
 * IPv4-mapped addresses written `::ffff:192.0.2.1` (section 5).
 */
export function formatIpv6(bytes: Uint8Array, offset: number): string {
  const groups = new Array<number>(8);
  for (let i = 0; i < 8; i++) groups[i] = (bytes[offset + 2 * i]! << 8) | bytes[offset + 2 * i + 1]!;

  if (
    groups[0] === 0 &&
    groups[1] === 0 &&
    groups[2] === 0 &&
    groups[3] === 0 &&
    groups[4] === 0 &&
    groups[5] === 0xffff
  ) {
    return `::ffff:${formatIpv4(bytes, offset + 12)}`;
  }

  let bestStart = -1;
  let bestLength = 1; // RFC 5952 4.2.2: a single zero group is not shortened.
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }

  if (bestStart < 0) return groups.map((g) => g.toString(16)).join(':');
  const head = groups.slice(0, bestStart).map((g) => g.toString(16));
  const tail = groups.slice(bestStart + bestLength).map((g) => g.toString(16));
  return `${head.join(':')}::${tail.join(':')}`;
}

/** True when the 6 bytes at `offset` are all zero (an unknown hardware address). */
export function isZeroMac(bytes: Uint8Array, offset: number): boolean {
  return (
    (bytes[offset]! |
      bytes[offset + 1]! |
      bytes[offset + 2]! |
      bytes[offset + 3]! |
      bytes[offset + 4]! |
      bytes[offset + 5]!) ===
    0
  );
}

/** True when the `length` bytes at `offset` are all zero. */
export function isZero(bytes: Uint8Array, offset: number, length: number): boolean {
  for (let i = 0; i < length; i++) if (bytes[offset + i] !== 0) return false;
  return true;
}
