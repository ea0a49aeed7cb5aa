/**
 * Text formats on the wire (DESIGN.md): MAC addresses lowercase and colon-separated, IPv4 dotted
 * quads, IPv6 in RFC 5952 form. These check shape only; address arithmetic is packages/ipam's.
 */

export const MAC_PATTERN = '^[0-9a-f]{2}(:[0-9a-f]{2}){5}$';

const IPV4 = /^(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])){3}$/;
/** RFC 5952 4.1, 4.3: lowercase, no leading zeros. */
const GROUP = /^(0|[1-9a-f][0-9a-f]{0,3})$/;

/**
 * An IPv4 address, or an IPv6 address written as RFC 5952 asks: lowercase hex without leading
 * zeros, at most one `::` standing for two or more zero groups (4.2.2), `::ffff:a.b.c.d` for
 * IPv4-mapped addresses (5). Whether `::` marks the longest zero run is not checked.
 */
export function isWireIp(text: string): boolean {
  if (IPV4.test(text)) return true;
  if (text.startsWith('::ffff:') && IPV4.test(text.slice('::ffff:'.length))) return true;
  const halves = text.split('::');
  if (halves.length > 2) return false;
  const groups = halves.flatMap((half) => (half === '' ? [] : half.split(':')));
  if (!groups.every((group) => GROUP.test(group))) return false;
  return halves.length === 2 ? groups.length <= 6 : groups.length === 8;
}
