/**
 * Text formats on the wire (DESIGN.md): MAC addresses lowercase and colon-separated, IPv4 dotted
 * quads, IPv6 in RFC 5952 form. Address arithmetic is packages/ipam's.
 */
import { formatIpv6 } from '@ipwarden/netcodec';

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

/** The 16 bytes of an IPv6 address in text, or undefined when it is not one. */
function ipv6Bytes(text: string): Uint8Array | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const parse = (half: string) => (half === '' ? [] : half.split(':'));
  const head = parse(halves[0]!);
  const tail = halves.length === 2 ? parse(halves[1]!) : [];
  const bytes = new Uint8Array(16);
  const groups = [...head, ...(halves.length === 2 ? Array(8 - head.length - tail.length).fill('0') : []), ...tail];
  if (groups.length !== 8) return undefined;
  for (let i = 0; i < 8; i++) {
    if (!/^[0-9a-f]{1,4}$/.test(groups[i]!)) return undefined;
    const value = Number.parseInt(groups[i]!, 16);
    bytes[2 * i] = value >> 8;
    bytes[2 * i + 1] = value & 0xff;
  }
  return bytes;
}

/**
 * An IPv4 address, or an IPv6 address exactly as RFC 5952 writes it (the one text the decoders
 * produce: lowercase, no leading zeros, `::` for the longest run of two or more zero groups,
 * `::ffff:a.b.c.d` for IPv4-mapped addresses), so that one address has one spelling.
 */
export function isWireIp(text: string): boolean {
  if (IPV4.test(text)) return true;
  if (text.length > 45) return false;
  let bytes: Uint8Array | undefined;
  if (text.startsWith('::ffff:') && text.includes('.')) {
    const v4 = text.slice('::ffff:'.length);
    if (!IPV4.test(v4)) return false;
    bytes = new Uint8Array(16);
    bytes[10] = 0xff;
    bytes[11] = 0xff;
    v4.split('.').forEach((octet, i) => {
      bytes![12 + i] = Number(octet);
    });
  } else {
    bytes = ipv6Bytes(text);
  }
  return bytes !== undefined && formatIpv6(bytes, 0) === text;
}
