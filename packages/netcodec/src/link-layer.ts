/**
 * Link-layer headers: Ethernet II with 802.1Q / 802.1ad tags, and Linux "cooked" captures
 * (SLL, SLL2: what libpcap produces on the `any` device). Each decoder yields the same
 * {@link LinkFrame}, so everything above it is independent of the link type.
 */
import { formatMac } from './format.js';
import { Malformed, truncated } from './malformed.js';

/** libpcap link-layer header types (https://www.tcpdump.org/linktypes.html). */
export const LinkType = {
  ETHERNET: 1,
  LINUX_SLL: 113,
  LINUX_SLL2: 276,
} as const;

export const EtherType = {
  IPV4: 0x0800,
  ARP: 0x0806,
  VLAN: 0x8100, // IEEE 802.1Q customer tag
  QINQ: 0x88a8, // IEEE 802.1ad service tag
  QINQ_OLD: 0x9100, // pre-standard QinQ, still emitted by some switches
  IPV6: 0x86dd,
} as const;

export interface LinkFrame {
  /** Source hardware address, or undefined when the link header carries none. */
  src: string | undefined;
  /** Destination hardware address, or undefined when the link header carries none (SLL). */
  dst: string | undefined;
  /** EtherType of the payload after all VLAN tags; below 0x0600 for 802.3 length frames. */
  etherType: number;
  /** VLAN ID of the innermost tag (the customer VID of a QinQ frame); 0 when untagged. */
  vlan: number;
  /** VLAN ID of the outermost tag when the frame carries two or more. */
  outerVlan: number | undefined;
  /** Offset of the payload in the captured bytes. */
  payloadOffset: number;
}

/** The most tags ipwarden unwraps; deeper stacks are not something a rack network carries. */
const MAX_TAGS = 4;

function isTag(etherType: number): boolean {
  return etherType === EtherType.VLAN || etherType === EtherType.QINQ || etherType === EtherType.QINQ_OLD;
}

/** Where a walk over VLAN tags ended; see {@link walkTags}. */
export interface TagWalk {
  /** The EtherType after the last tag. */
  etherType: number;
  /** VLAN ID of the innermost tag; 0 when untagged. */
  vlan: number;
  /** VLAN ID of the outermost tag when there are two or more; -1 otherwise. */
  outerVlan: number;
  /** Offset of the payload after the tags. */
  payloadOffset: number;
}

/**
 * Walks the VLAN tags starting with `etherType`, the first tag's TCI at `offset`, into `out`
 * without allocating. Returns a reason when the tags cannot be read, else undefined.
 */
export function walkTags(
  bytes: Uint8Array,
  offset: number,
  end: number,
  etherType: number,
  out: TagWalk,
  /** The layer named when there are too many tags: the link header that carries them. */
  layer = 'vlan',
): Malformed | undefined {
  let outerVlan = -1;
  let vlan = 0;
  let tags = 0;
  let type = etherType;
  let at = offset;
  while (isTag(type)) {
    if (++tags > MAX_TAGS) return new Malformed(layer, `more than ${MAX_TAGS} VLAN tags`);
    if (end - at < 4) return truncated('vlan', end - at, 4);
    const vid = ((bytes[at]! << 8) | bytes[at + 1]!) & 0x0fff;
    if (tags === 1) outerVlan = vid;
    vlan = vid;
    type = (bytes[at + 2]! << 8) | bytes[at + 3]!;
    at += 4;
  }
  out.etherType = type;
  out.vlan = vlan;
  out.outerVlan = tags >= 2 ? outerVlan : -1;
  out.payloadOffset = at;
  return undefined;
}

function unwrapTags(
  layer: string,
  bytes: Uint8Array,
  offset: number,
  end: number,
  etherType: number,
  src: string | undefined,
  dst: string | undefined,
): LinkFrame | Malformed {
  const walk: TagWalk = { etherType: 0, vlan: 0, outerVlan: -1, payloadOffset: 0 };
  const problem = walkTags(bytes, offset, end, etherType, walk, layer);
  if (problem !== undefined) return problem;
  return {
    src,
    dst,
    etherType: walk.etherType,
    vlan: walk.vlan,
    outerVlan: walk.outerVlan >= 0 ? walk.outerVlan : undefined,
    payloadOffset: walk.payloadOffset,
  };
}

/** Ethernet II (IEEE 802.3 with an EtherType), with any 802.1Q / 802.1ad tags unwrapped. */
export function decodeEthernet(bytes: Uint8Array, offset: number, end: number): LinkFrame | Malformed {
  if (end - offset < 14) return truncated('ethernet', Math.max(0, end - offset), 14);
  const etherType = (bytes[offset + 12]! << 8) | bytes[offset + 13]!;
  return unwrapTags(
    'ethernet',
    bytes,
    offset + 14,
    end,
    etherType,
    formatMac(bytes, offset + 6),
    formatMac(bytes, offset),
  );
}

/** ARPHRD_ETHER: the only hardware type whose address we read from a cooked header. */
const ARPHRD_ETHER = 1;

function cookedSource(bytes: Uint8Array, hatype: number, halen: number, addrOffset: number): string | undefined {
  return hatype === ARPHRD_ETHER && halen === 6 ? formatMac(bytes, addrOffset) : undefined;
}

/** Linux cooked capture v1 (LINKTYPE_LINUX_SLL): a 16-byte header, source address only. */
export function decodeLinuxSll(bytes: Uint8Array, offset: number, end: number): LinkFrame | Malformed {
  if (end - offset < 16) return truncated('sll', Math.max(0, end - offset), 16);
  const hatype = (bytes[offset + 2]! << 8) | bytes[offset + 3]!;
  const halen = (bytes[offset + 4]! << 8) | bytes[offset + 5]!;
  const protocol = (bytes[offset + 14]! << 8) | bytes[offset + 15]!;
  const src = cookedSource(bytes, hatype, halen, offset + 6);
  return unwrapTags('sll', bytes, offset + 16, end, protocol, src, undefined);
}

/** Linux cooked capture v2 (LINKTYPE_LINUX_SLL2): a 20-byte header with the interface index. */
export function decodeLinuxSll2(bytes: Uint8Array, offset: number, end: number): LinkFrame | Malformed {
  if (end - offset < 20) return truncated('sll2', Math.max(0, end - offset), 20);
  const protocol = (bytes[offset]! << 8) | bytes[offset + 1]!;
  const hatype = (bytes[offset + 8]! << 8) | bytes[offset + 9]!;
  const halen = bytes[offset + 11]!;
  const src = cookedSource(bytes, hatype, halen, offset + 12);
  return unwrapTags('sll2', bytes, offset + 20, end, protocol, src, undefined);
}

/** True for the link types {@link decodeLink} understands. */
export function isSupportedLinkType(linkType: number): boolean {
  return linkType === LinkType.ETHERNET || linkType === LinkType.LINUX_SLL || linkType === LinkType.LINUX_SLL2;
}

/** Decodes the link header of a frame of the given link type, which must be supported. */
export function decodeLink(linkType: number, bytes: Uint8Array, offset: number, end: number): LinkFrame | Malformed {
  switch (linkType) {
    case LinkType.ETHERNET:
      return decodeEthernet(bytes, offset, end);
    case LinkType.LINUX_SLL:
      return decodeLinuxSll(bytes, offset, end);
    case LinkType.LINUX_SLL2:
      return decodeLinuxSll2(bytes, offset, end);
    default:
      return new Malformed('link', `unsupported link type ${linkType}`);
  }
}
