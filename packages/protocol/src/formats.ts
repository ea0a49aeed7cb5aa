/**
 * Text formats on the wire (DESIGN.md): MAC addresses lowercase and colon-separated, IPv4 dotted
 * quads, IPv6 in RFC 5952 form. Address arithmetic is packages/ipam's.
 */
export const MAC_PATTERN = '^[0-9a-f]{2}(:[0-9a-f]{2}){5}$';

/**
 * Text PostgreSQL can store: well-formed UTF-16 (no lone surrogate, which has no UTF-8 form)
 * and no NUL. Anything else would pass JSON and fail in the database, where it would look like
 * an outage and be sent again for ever.
 */
export function isWellFormedText(text: string): boolean {
  return !text.includes('\u0000') && !LONE_SURROGATE.test(text);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const IPV4 = /^(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])){3}$/;

/** The explicit groups of the IPv6 text being checked (one check at a time: JavaScript is single-threaded). */
const groups = new Int32Array(8);

/**
 * True when `text` (no dots) is an IPv6 address as RFC 5952 writes it, read in one pass over its
 * characters with nothing allocated: the collector checks every address of every batch, and
 * splitting the text, building its bytes and formatting them again to compare cost more than the
 * rest of a sighting's check.
 */
function isCanonicalIpv6(text: string): boolean {
  const n = text.length;
  let count = 0; // explicit groups
  let gap = -1; // where `::` stands: the number of explicit groups before it
  let i = 0;
  if (text.charCodeAt(0) === COLON) {
    if (text.charCodeAt(1) !== COLON) return false;
    gap = 0;
    i = 2;
  }
  while (i < n) {
    let value = 0;
    let digits = 0;
    for (; i < n; i++) {
      const c = text.charCodeAt(i);
      const digit = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1; // lowercase only (4.3)
      if (digit < 0) break;
      if (digits === 1 && value === 0) return false; // a leading zero (4.1)
      if (++digits > 4) return false;
      value = value * 16 + digit;
    }
    if (digits === 0 || count === 8) return false;
    groups[count++] = value;
    if (i === n) break;
    if (text.charCodeAt(i++) !== COLON || i === n) return false; // a stray character, or a trailing `:`
    if (text.charCodeAt(i) === COLON) {
      if (gap >= 0) return false; // two `::`
      gap = count;
      i++;
    }
  }
  if (gap < 0 ? count !== 8 : count > 6) return false; // `::` stands for two groups or more (4.2.2)
  const zeros = gap < 0 ? 0 : 8 - count;
  // `::` takes the whole run it stands in (4.2.1)...
  if (gap > 0 && groups[gap - 1] === 0) return false;
  if (gap >= 0 && gap < count && groups[gap] === 0) return false;
  // ...and it is the longest, the first of equals (4.2.3); written out, no run of two may remain.
  for (let k = 0; k < count; ) {
    if (groups[k] !== 0) {
      k++;
      continue;
    }
    const from = k;
    while (k < count && groups[k] === 0) k++;
    const run = k - from;
    if (gap < 0 ? run >= 2 : from < gap ? run >= zeros : run > zeros) return false;
  }
  // An IPv4-mapped address is written with its IPv4 part dotted (5).
  const at = (g: number) => (gap < 0 || g < gap ? groups[g]! : g < gap + zeros ? 0 : groups[g - zeros]!);
  return !(at(0) === 0 && at(1) === 0 && at(2) === 0 && at(3) === 0 && at(4) === 0 && at(5) === 0xffff);
}

const COLON = 58;

/**
 * An IPv4 address, or an IPv6 address exactly as RFC 5952 writes it (the one text the decoders
 * produce: lowercase, no leading zeros, `::` for the longest run of two or more zero groups,
 * `::ffff:a.b.c.d` for IPv4-mapped addresses), so that one address has one spelling.
 */
export function isWireIp(text: string): boolean {
  if (IPV4.test(text)) return true;
  if (text.length > 45 || text.length < 2) return false;
  if (!text.includes('.')) return isCanonicalIpv6(text);
  // Dotted: only the IPv4-mapped form, ::ffff:a.b.c.d (RFC 5952 5).
  return text.startsWith('::ffff:') && IPV4.test(text.slice('::ffff:'.length));
}
