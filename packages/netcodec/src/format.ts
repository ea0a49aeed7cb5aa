/**
 * Text forms used everywhere in ipwarden: MAC addresses lowercase and colon-separated,
 * IPv4 dotted quads, IPv6 in RFC 5952 canonical form.
 *
 * The decoders format the same few thousand addresses millions of times a second, so MAC and
 * IPv4 strings are interned in small bounded caches: a hit costs one Map lookup and returns the
 * identical string, which later Map lookups by that string find already hashed.
 */

const HEX2: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Interned strings stay bounded: the cache is dropped and rebuilt when it grows past this. */
const INTERN_LIMIT = 1 << 16;

const macCache = new Map<number, string>();
const ipv4Cache = new Map<number, string>();

/** The 6 bytes at `offset` as `aa:bb:cc:dd:ee:ff`. The caller guarantees the bytes exist. */
export function formatMac(bytes: Uint8Array, offset: number): string {
  const hi = (bytes[offset]! << 8) | bytes[offset + 1]!;
  const lo =
    ((bytes[offset + 2]! << 24) | (bytes[offset + 3]! << 16) | (bytes[offset + 4]! << 8) | bytes[offset + 5]!) >>> 0;
  const key = hi * 0x1_0000_0000 + lo;
  let text = macCache.get(key);
  if (text === undefined) {
    text = `${HEX2[bytes[offset]!]}:${HEX2[bytes[offset + 1]!]}:${HEX2[bytes[offset + 2]!]}:${HEX2[bytes[offset + 3]!]}:${HEX2[bytes[offset + 4]!]}:${HEX2[bytes[offset + 5]!]}`;
    if (macCache.size >= INTERN_LIMIT) macCache.clear();
    macCache.set(key, text);
  }
  return text;
}

/** The 4 bytes at `offset` as a dotted quad. The caller guarantees the bytes exist. */
export function formatIpv4(bytes: Uint8Array, offset: number): string {
  const key =
    ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>> 0;
  let text = ipv4Cache.get(key);
  if (text === undefined) {
    text = `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
    if (ipv4Cache.size >= INTERN_LIMIT) ipv4Cache.clear();
    ipv4Cache.set(key, text);
  }
  return text;
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
