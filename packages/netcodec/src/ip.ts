/** IPv4 (RFC 791), IPv6 (RFC 8200) and UDP (RFC 768) headers: just enough to reach NDP, mDNS and DHCP. */
import { formatIpv4, formatIpv6 } from './format.js';
import { Malformed, truncated } from './malformed.js';

export const IpProtocol = { UDP: 17, ICMPV6: 58 } as const;

export interface Ipv4Packet {
  /** Offset of the 4-byte source address (formatted only when needed). */
  srcOffset: number;
  protocol: number;
  ttl: number;
  /** A fragment: its payload is not a whole upper-layer message. */
  fragment: boolean;
  payloadOffset: number;
  /** End of the payload: the total length, or less when the capture was cut short. */
  payloadEnd: number;
  /** The capture holds less than the header's total length. */
  cut: boolean;
}

export function decodeIpv4(bytes: Uint8Array, offset: number, end: number): Ipv4Packet | Malformed {
  if (end - offset < 20) return truncated('ipv4', Math.max(0, end - offset), 20);
  const version = bytes[offset]! >> 4;
  if (version !== 4) return new Malformed('ipv4', `version ${version}`);
  const headerLength = (bytes[offset]! & 0x0f) * 4;
  if (headerLength < 20) return new Malformed('ipv4', `header length ${headerLength} < 20`);
  if (end - offset < headerLength) return truncated('ipv4', end - offset, headerLength);
  const totalLength = (bytes[offset + 2]! << 8) | bytes[offset + 3]!;
  if (totalLength < headerLength)
    return new Malformed('ipv4', `total length ${totalLength} < header length ${headerLength}`);
  const flagsFragment = (bytes[offset + 6]! << 8) | bytes[offset + 7]!;
  const declaredEnd = offset + totalLength;
  return {
    srcOffset: offset + 12,
    protocol: bytes[offset + 9]!,
    ttl: bytes[offset + 8]!,
    fragment: (flagsFragment & 0x3fff) !== 0, // MF set or a non-zero fragment offset
    payloadOffset: offset + headerLength,
    payloadEnd: Math.min(end, declaredEnd),
    cut: declaredEnd > end,
  };
}

export function ipv4Source(bytes: Uint8Array, packet: Ipv4Packet): string {
  return formatIpv4(bytes, packet.srcOffset);
}

export interface Ipv6Packet {
  src: string;
  /** The source is the unspecified address `::`. */
  srcUnspecified: boolean;
  hopLimit: number;
  /** The upper-layer protocol after any hop-by-hop, routing and destination options headers. */
  nextHeader: number;
  fragment: boolean;
  payloadOffset: number;
  payloadEnd: number;
  cut: boolean;
}

// Extension headers that may precede an upper-layer header (RFC 8200 section 4.1).
const HOP_BY_HOP = 0;
const ROUTING = 43;
const FRAGMENT = 44;
const DESTINATION_OPTIONS = 60;
const MAX_EXTENSION_HEADERS = 8;

export function decodeIpv6(bytes: Uint8Array, offset: number, end: number): Ipv6Packet | Malformed {
  if (end - offset < 40) return truncated('ipv6', Math.max(0, end - offset), 40);
  const version = bytes[offset]! >> 4;
  if (version !== 6) return new Malformed('ipv6', `version ${version}`);
  const payloadLength = (bytes[offset + 4]! << 8) | bytes[offset + 5]!;
  const declaredEnd = offset + 40 + payloadLength;
  const payloadEnd = Math.min(end, declaredEnd);
  let nextHeader = bytes[offset + 6]!;
  let at = offset + 40;
  let fragment = false;
  for (let n = 0; ; n++) {
    if (nextHeader === FRAGMENT) {
      fragment = true;
      break;
    }
    if (nextHeader !== HOP_BY_HOP && nextHeader !== ROUTING && nextHeader !== DESTINATION_OPTIONS) break;
    if (n >= MAX_EXTENSION_HEADERS)
      return new Malformed('ipv6', `more than ${MAX_EXTENSION_HEADERS} extension headers`);
    if (payloadEnd - at < 8) return truncated('ipv6', Math.max(0, payloadEnd - at), 8);
    const length = (bytes[at + 1]! + 1) * 8;
    if (payloadEnd - at < length) return truncated('ipv6', payloadEnd - at, length);
    nextHeader = bytes[at]!;
    at += length;
  }
  let unspecified = true;
  for (let i = 8; i < 24; i++) {
    if (bytes[offset + i] !== 0) {
      unspecified = false;
      break;
    }
  }
  return {
    src: formatIpv6(bytes, offset + 8),
    srcUnspecified: unspecified,
    hopLimit: bytes[offset + 7]!,
    nextHeader,
    fragment,
    payloadOffset: at,
    payloadEnd,
    cut: declaredEnd > end,
  };
}

export interface UdpDatagram {
  srcPort: number;
  dstPort: number;
  payloadOffset: number;
  payloadEnd: number;
}

export function decodeUdp(bytes: Uint8Array, offset: number, end: number): UdpDatagram | Malformed {
  if (end - offset < 8) return truncated('udp', Math.max(0, end - offset), 8);
  const length = (bytes[offset + 4]! << 8) | bytes[offset + 5]!;
  // Length 0 is legal only for IPv6 jumbograms (RFC 2675); take the rest of the packet then.
  if (length !== 0 && length < 8) return new Malformed('udp', `length ${length} < 8`);
  return {
    srcPort: (bytes[offset]! << 8) | bytes[offset + 1]!,
    dstPort: (bytes[offset + 2]! << 8) | bytes[offset + 3]!,
    payloadOffset: offset + 8,
    payloadEnd: length === 0 ? end : Math.min(end, offset + length),
  };
}
