/**
 * ARP for IPv4 over Ethernet (RFC 826), with the RFC 5227 address-conflict-detection forms
 * recognised: a probe has sender IP 0.0.0.0; an announcement is a request whose sender and
 * target IP are both the sender's own address.
 */
import { formatIpv4, formatMac, isZeroMac } from './format.js';
import { type Malformed, truncated } from './malformed.js';

export const ArpOperation = { REQUEST: 1, REPLY: 2 } as const;

export interface ArpPacket {
  operation: number;
  senderMac: string;
  senderIp: string;
  targetMac: string;
  targetIp: string;
  /** Sender protocol address 0.0.0.0: an RFC 5227 probe. */
  senderIpZero: boolean;
  /** Target protocol address 0.0.0.0. */
  targetIpZero: boolean;
  /** Target hardware address 00:00:00:00:00:00 (unknown, as in requests). */
  targetMacZero: boolean;
  /** Sender MAC is a group (multicast/broadcast) or all-zero address: never a host's own. */
  senderMacInvalid: boolean;
  /** Target MAC is a group (multicast/broadcast) or all-zero address. */
  targetMacInvalid: boolean;
}

const ARP_LENGTH = 28; // 8-byte fixed part + 2 × (6-byte MAC + 4-byte IPv4)
const HTYPE_ETHERNET = 1;
const PTYPE_IPV4 = 0x0800;

/**
 * Decodes an ARP packet. Returns `undefined` for an ARP packet that is not Ethernet/IPv4
 * (other hardware or protocol types or address lengths), which ipwarden does not track.
 */
export function decodeArp(bytes: Uint8Array, offset: number, end: number): ArpPacket | Malformed | undefined {
  if (end - offset < 8) return truncated('arp', Math.max(0, end - offset), 8);
  const htype = (bytes[offset]! << 8) | bytes[offset + 1]!;
  const ptype = (bytes[offset + 2]! << 8) | bytes[offset + 3]!;
  const hlen = bytes[offset + 4]!;
  const plen = bytes[offset + 5]!;
  const operation = (bytes[offset + 6]! << 8) | bytes[offset + 7]!;
  // RFC 826 lets each packet state its own address lengths: one that is not 6/4 is some other
  // hardware/protocol pairing, not one ipwarden tracks (tshark, too, reads it generically).
  if (htype !== HTYPE_ETHERNET || ptype !== PTYPE_IPV4 || hlen !== 6 || plen !== 4) return undefined;
  if (end - offset < ARP_LENGTH) return truncated('arp', end - offset, ARP_LENGTH);

  const sha = offset + 8;
  const spa = offset + 14;
  const tha = offset + 18;
  const tpa = offset + 24;
  return {
    operation,
    senderMac: formatMac(bytes, sha),
    senderIp: formatIpv4(bytes, spa),
    targetMac: formatMac(bytes, tha),
    targetIp: formatIpv4(bytes, tpa),
    senderIpZero: (bytes[spa]! | bytes[spa + 1]! | bytes[spa + 2]! | bytes[spa + 3]!) === 0,
    targetIpZero: (bytes[tpa]! | bytes[tpa + 1]! | bytes[tpa + 2]! | bytes[tpa + 3]!) === 0,
    targetMacZero: isZeroMac(bytes, tha),
    senderMacInvalid: (bytes[sha]! & 1) === 1 || isZeroMac(bytes, sha),
    targetMacInvalid: (bytes[tha]! & 1) === 1 || isZeroMac(bytes, tha),
  };
}
