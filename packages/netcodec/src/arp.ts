/**
 * ARP for IPv4 over Ethernet (RFC 826), with the RFC 5227 address-conflict-detection forms
 * recognised: a probe has sender IP 0.0.0.0; an announcement is a request whose sender and
 * target IP are both the sender's own address.
 */
import { formatIpv4, formatMac, isZeroMac } from './format.js';
import { EtherType, type TagWalk, walkTags } from './link-layer.js';
import { type Malformed, truncated } from './malformed.js';

export const ArpOperation = { REQUEST: 1, REPLY: 2 } as const;

/** What an ARP packet states about who holds which address. */
export const ArpStatement = {
  /** Nothing ipwarden records (another operation, or a sender that cannot be a host). */
  NOTHING: 0,
  /** RFC 5227 2.1.1: sender IP 0.0.0.0, the sender checks whether the target IP is free. */
  PROBE: 1,
  /** The sender holds the sender IP (requests, gratuitous ARP, RFC 5227 2.3 announcements). */
  SENDER: 2,
  /** A reply: the sender holds the sender IP, and the target (who asked) the target IP. */
  SENDER_AND_TARGET: 3,
} as const;

/**
 * The one home of the ARP rules of DESIGN.md: the sender's binding unless its IP is 0.0.0.0
 * (then a probe for the target IP); for replies also the target's, unless it is unknown
 * (0.0.0.0, a zero or group MAC) or the reply is gratuitous (sender IP = target IP).
 */
export function arpStatement(
  operation: number,
  senderIpZero: boolean,
  targetIpZero: boolean,
  gratuitous: boolean,
  senderMacInvalid: boolean,
  targetMacInvalid: boolean,
): number {
  if ((operation !== ArpOperation.REQUEST && operation !== ArpOperation.REPLY) || senderMacInvalid) {
    return ArpStatement.NOTHING;
  }
  if (senderIpZero) return targetIpZero ? ArpStatement.NOTHING : ArpStatement.PROBE;
  if (operation === ArpOperation.REQUEST || gratuitous || targetIpZero || targetMacInvalid) return ArpStatement.SENDER;
  return ArpStatement.SENDER_AND_TARGET;
}

/** A group (multicast/broadcast) or all-zero MAC at `offset`: never a host's own address. */
function invalidMac(bytes: Uint8Array, offset: number): boolean {
  return (bytes[offset]! & 1) === 1 || isZeroMac(bytes, offset);
}

/** The details of ARP host observations, by operation (0 request, 1 reply): shared and frozen. */
const SENDER_DETAIL = [Object.freeze({ op: 'request' }), Object.freeze({ op: 'reply' })];
const GRATUITOUS_DETAIL = [
  Object.freeze({ op: 'request', gratuitous: true, announcement: true }),
  Object.freeze({ op: 'reply', gratuitous: true, announcement: false }),
];
const TARGET_DETAIL = [Object.freeze({ op: 'request', target: true }), Object.freeze({ op: 'reply', target: true })];

/**
 * The detail of the observation of an ARP host binding, by the rules of {@link arpStatement}:
 * the sender's (`target` false) flags a gratuitous frame and an RFC 5227 announcement (a
 * gratuitous request); the target's of a reply says so. One frozen object per kind, shared by
 * every observation of that kind: millions are made, and a writer may keep what it made of one.
 */
export function arpHostDetail(
  operation: number,
  gratuitous: boolean,
  target: boolean,
): Readonly<Record<string, unknown>> {
  const reply = operation === ArpOperation.REQUEST ? 0 : 1;
  if (target) return TARGET_DETAIL[reply]!;
  return gratuitous ? GRATUITOUS_DETAIL[reply]! : SENDER_DETAIL[reply]!;
}

/** The numbers of an Ethernet ARP frame's bindings; see {@link summarizeArpFrame}. */
export interface ArpSummary {
  /** outerVlan × 4096 + vlan, as the binding table keys VLANs. */
  vlanKey: number;
  /** The innermost VLAN ID (0 untagged) and the outermost of two or more tags (-1: none), as the observations carry them. */
  vlan: number;
  outerVlan: number;
  /** The ARP operation: {@link ArpOperation} REQUEST or REPLY. */
  operation: number;
  /** How many host bindings the frame states: 1 (sender) or 2 (sender, then target). */
  count: number;
  senderIp: number;
  senderMacHigh: number;
  senderMacLow: number;
  targetIp: number;
  targetMacHigh: number;
  targetMacLow: number;
}

/** A summary to fill: one per reader, reused for every frame. */
export function emptyArpSummary(): ArpSummary {
  return {
    vlanKey: 0,
    vlan: 0,
    outerVlan: -1,
    operation: 0,
    count: 0,
    senderIp: 0,
    senderMacHigh: 0,
    senderMacLow: 0,
    targetIp: 0,
    targetMacHigh: 0,
    targetMacLow: 0,
  };
}

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
    senderMacInvalid: invalidMac(bytes, sha),
    targetMacInvalid: invalidMac(bytes, tha),
  };
}

const walk: TagWalk = { etherType: 0, vlan: 0, outerVlan: -1, payloadOffset: 0 };

function u32(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;
}

/**
 * For an Ethernet frame carrying an Ethernet/IPv4 ARP packet that states host bindings only
 * ({@link ArpStatement} SENDER or SENDER_AND_TARGET), fills `out` with them as numbers and
 * returns true; returns false for every other frame, which then needs the full decoders.
 * Builds no strings and allocates nothing: for checking floods against what is known.
 */
export function summarizeArpFrame(bytes: Uint8Array, offset: number, end: number, out: ArpSummary): boolean {
  if (end - offset < 14) return false;
  const etherType = (bytes[offset + 12]! << 8) | bytes[offset + 13]!;
  let at = offset + 14;
  let vlanKey = 0;
  if (etherType !== EtherType.ARP) {
    if (walkTags(bytes, at, end, etherType, walk) !== undefined || walk.etherType !== EtherType.ARP) return false;
    at = walk.payloadOffset;
    vlanKey = Math.max(walk.outerVlan, 0) * 4096 + walk.vlan;
  }
  // htype 1 (Ethernet), ptype 0x0800 (IPv4), hlen 6, plen 4, and the whole packet.
  if (end - at < ARP_LENGTH || u32(bytes, at) !== 0x00010800 || bytes[at + 4] !== 6 || bytes[at + 5] !== 4)
    return false;
  const operation = (bytes[at + 6]! << 8) | bytes[at + 7]!;
  const senderIp = u32(bytes, at + 14);
  const targetIp = u32(bytes, at + 24);
  const statement = arpStatement(
    operation,
    senderIp === 0,
    targetIp === 0,
    senderIp === targetIp,
    invalidMac(bytes, at + 8),
    invalidMac(bytes, at + 18),
  );
  if (statement !== ArpStatement.SENDER && statement !== ArpStatement.SENDER_AND_TARGET) return false;
  out.vlanKey = vlanKey;
  out.vlan = etherType === EtherType.ARP ? 0 : walk.vlan;
  out.outerVlan = etherType === EtherType.ARP ? -1 : walk.outerVlan;
  out.operation = operation;
  out.count = statement === ArpStatement.SENDER ? 1 : 2;
  out.senderIp = senderIp;
  out.senderMacHigh = (bytes[at + 8]! << 8) | bytes[at + 9]!;
  out.senderMacLow = u32(bytes, at + 10);
  out.targetIp = targetIp;
  out.targetMacHigh = (bytes[at + 18]! << 8) | bytes[at + 19]!;
  out.targetMacLow = u32(bytes, at + 20);
  return true;
}
