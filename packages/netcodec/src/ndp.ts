/**
 * IPv6 Neighbor Discovery (RFC 4861): Router Solicitation/Advertisement, Neighbor
 * Solicitation/Advertisement and Redirect, with their link-layer address options.
 */
import { formatIpv6, formatMac } from './format.js';
import { Malformed, truncated } from './malformed.js';

export const NdpType = {
  ROUTER_SOLICITATION: 133,
  ROUTER_ADVERTISEMENT: 134,
  NEIGHBOR_SOLICITATION: 135,
  NEIGHBOR_ADVERTISEMENT: 136,
  REDIRECT: 137,
} as const;

const OPTION_SOURCE_LINK_LAYER = 1;
const OPTION_TARGET_LINK_LAYER = 2;
const OPTION_PREFIX_INFORMATION = 3;

export interface NdpMessage {
  type: number;
  code: number;
  /** NS, NA and Redirect: the target address. */
  target?: string;
  /** Source link-layer address option (RFC 4861 4.6.1). */
  sourceLinkLayer?: string;
  /** Target link-layer address option (RFC 4861 4.6.1). */
  targetLinkLayer?: string;
  /** NA flags (RFC 4861 4.4). */
  router?: boolean;
  solicited?: boolean;
  override?: boolean;
  /** RA: router lifetime in seconds (0: not a default router). */
  routerLifetime?: number;
  /** RA: on-link prefixes from Prefix Information options, as `prefix/length`. */
  prefixes?: string[];
}

/** Where the options start, by message type (RFC 4861 sections 4.1 to 4.5). */
const OPTIONS_OFFSET: Record<number, number> = { 133: 8, 134: 16, 135: 24, 136: 24, 137: 40 };

/** Decodes an ICMPv6 message if it is an NDP message; `undefined` for other ICMPv6 types. */
export function decodeNdp(bytes: Uint8Array, offset: number, end: number): NdpMessage | Malformed | undefined {
  if (end - offset < 4) return truncated('icmpv6', Math.max(0, end - offset), 4);
  const type = bytes[offset]!;
  const optionsOffset = OPTIONS_OFFSET[type];
  if (optionsOffset === undefined) return undefined;
  if (end - offset < optionsOffset) return truncated('ndp', end - offset, optionsOffset);
  const message: NdpMessage = { type, code: bytes[offset + 1]! };

  if (type === NdpType.NEIGHBOR_SOLICITATION || type === NdpType.NEIGHBOR_ADVERTISEMENT || type === NdpType.REDIRECT) {
    message.target = formatIpv6(bytes, offset + 8);
  }
  if (type === NdpType.NEIGHBOR_ADVERTISEMENT) {
    const flags = bytes[offset + 4]!;
    message.router = (flags & 0x80) !== 0;
    message.solicited = (flags & 0x40) !== 0;
    message.override = (flags & 0x20) !== 0;
  }
  if (type === NdpType.ROUTER_ADVERTISEMENT) {
    message.routerLifetime = (bytes[offset + 6]! << 8) | bytes[offset + 7]!;
  }

  for (let at = offset + optionsOffset; at < end; ) {
    if (end - at < 2) return truncated('ndp-option', end - at, 2);
    const optionType = bytes[at]!;
    const length = bytes[at + 1]! * 8;
    // RFC 4861 4.6: "Nodes MUST silently discard an ND packet that contains an option with length zero."
    if (length === 0) return new Malformed('ndp-option', `option ${optionType} has length zero`);
    if (end - at < length) return truncated('ndp-option', end - at, length);
    if (optionType === OPTION_SOURCE_LINK_LAYER && length >= 8) {
      message.sourceLinkLayer = formatMac(bytes, at + 2);
    } else if (optionType === OPTION_TARGET_LINK_LAYER && length >= 8) {
      message.targetLinkLayer = formatMac(bytes, at + 2);
    } else if (optionType === OPTION_PREFIX_INFORMATION && length === 32) {
      message.prefixes ??= [];
      message.prefixes.push(`${formatIpv6(bytes, at + 16)}/${bytes[at + 2]}`);
    }
    at += length;
  }
  return message;
}
