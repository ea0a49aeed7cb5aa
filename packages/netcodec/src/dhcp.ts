/**
 * DHCPv4 (RFC 2131) messages and the options ipwarden reads (RFC 2132): message type (53),
 * host name (12), requested address (50), server identifier (54), vendor class (60) and the
 * parameter request list (55). Option overload (52) is honoured, and options split over
 * several instances are concatenated (RFC 3396).
 */
import { formatIpv4, formatMac, isZero } from './format.js';
import { Malformed, truncated } from './malformed.js';

export const DhcpMessageType = {
  DISCOVER: 1,
  OFFER: 2,
  REQUEST: 3,
  DECLINE: 4,
  ACK: 5,
  NAK: 6,
  RELEASE: 7,
  INFORM: 8,
} as const;

export const DHCP_MESSAGE_TYPE_NAMES: Record<number, string> = {
  1: 'discover',
  2: 'offer',
  3: 'request',
  4: 'decline',
  5: 'ack',
  6: 'nak',
  7: 'release',
  8: 'inform',
};

export interface DhcpMessage {
  /** BOOTREQUEST (1) or BOOTREPLY (2). */
  op: number;
  xid: number;
  /** Client hardware address when it is Ethernet (htype 1, hlen 6). */
  chaddr: string | undefined;
  /** ciaddr, yiaddr, siaddr, giaddr; undefined when 0.0.0.0. */
  clientIp: string | undefined;
  yourIp: string | undefined;
  nextServerIp: string | undefined;
  relayIp: string | undefined;
  /** Option 53; undefined for plain BOOTP. */
  messageType: number | undefined;
  hostname: string | undefined;
  requestedIp: string | undefined;
  serverId: string | undefined;
  vendorClass: string | undefined;
  parameterRequestList: number[] | undefined;
}

const FIXED_LENGTH = 236; // RFC 2131 figure 1, up to and without the options
const MAGIC_COOKIE = [99, 130, 83, 99]; // RFC 2131 3: 0x63825363
const SNAME_OFFSET = 44;
const SNAME_LENGTH = 64;
const FILE_OFFSET = 108;
const FILE_LENGTH = 128;

const OPTION_PAD = 0;
const OPTION_END = 255;
const OPTION_HOSTNAME = 12;
const OPTION_REQUESTED_IP = 50;
const OPTION_OVERLOAD = 52;
const OPTION_MESSAGE_TYPE = 53;
const OPTION_SERVER_ID = 54;
const OPTION_PARAMETER_REQUEST_LIST = 55;
const OPTION_VENDOR_CLASS = 60;
const WANTED = new Set([
  OPTION_HOSTNAME,
  OPTION_REQUESTED_IP,
  OPTION_OVERLOAD,
  OPTION_MESSAGE_TYPE,
  OPTION_SERVER_ID,
  OPTION_PARAMETER_REQUEST_LIST,
  OPTION_VENDOR_CLASS,
]);

const latin1 = new TextDecoder('latin1');
const utf8 = new TextDecoder('utf-8');

/** Appends the wanted options found in [at, end) to `found`; returns a Malformed on bad framing. */
function readOptions(
  bytes: Uint8Array,
  at: number,
  end: number,
  found: Map<number, Uint8Array[]>,
): Malformed | undefined {
  while (at < end) {
    const code = bytes[at]!;
    if (code === OPTION_PAD) {
      at++;
      continue;
    }
    if (code === OPTION_END) return undefined;
    if (at + 1 >= end) return new Malformed('dhcp', `option ${code} has no length`);
    const length = bytes[at + 1]!;
    if (at + 2 + length > end) return new Malformed('dhcp', `option ${code} of ${length} bytes runs past the end`);
    if (WANTED.has(code)) {
      const parts = found.get(code);
      const value = bytes.subarray(at + 2, at + 2 + length);
      if (parts) parts.push(value);
      else found.set(code, [value]);
    }
    at += 2 + length;
  }
  // Options that stop without an END option are common in captures cut by snaplen; keep what was read.
  return undefined;
}

function joined(parts: Uint8Array[] | undefined): Uint8Array | undefined {
  if (parts === undefined) return undefined;
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function ipv4At(bytes: Uint8Array, at: number): string | undefined {
  return isZero(bytes, at, 4) ? undefined : formatIpv4(bytes, at);
}

function ipv4Option(value: Uint8Array | undefined, code: number): string | undefined | Malformed {
  if (value === undefined) return undefined;
  if (value.length !== 4) return new Malformed('dhcp', `option ${code} of ${value.length} bytes (want 4)`);
  return formatIpv4(value, 0);
}

/** Text options may end in NUL padding, which some clients send; it is not part of the text. */
function text(value: Uint8Array | undefined, decoder: TextDecoder): string | undefined {
  if (value === undefined) return undefined;
  let length = value.length;
  while (length > 0 && value[length - 1] === 0) length--;
  return decoder.decode(value.subarray(0, length));
}

export function decodeDhcp(bytes: Uint8Array, offset: number, end: number): DhcpMessage | Malformed {
  if (end - offset < FIXED_LENGTH) return truncated('dhcp', Math.max(0, end - offset), FIXED_LENGTH);
  const op = bytes[offset]!;
  if (op !== 1 && op !== 2) return new Malformed('dhcp', `op ${op} is neither BOOTREQUEST nor BOOTREPLY`);
  const htype = bytes[offset + 1]!;
  const hlen = bytes[offset + 2]!;

  const found = new Map<number, Uint8Array[]>();
  const hasCookie =
    end - offset >= FIXED_LENGTH + 4 && MAGIC_COOKIE.every((b, i) => bytes[offset + FIXED_LENGTH + i] === b);
  if (hasCookie) {
    const problem = readOptions(bytes, offset + FIXED_LENGTH + 4, end, found);
    if (problem) return problem;
    const overload = joined(found.get(OPTION_OVERLOAD))?.[0] ?? 0;
    // RFC 2131 4.1: the 'file' field is read before 'sname'.
    if (overload & 1) {
      const problem = readOptions(bytes, offset + FILE_OFFSET, offset + FILE_OFFSET + FILE_LENGTH, found);
      if (problem) return problem;
    }
    if (overload & 2) {
      const problem = readOptions(bytes, offset + SNAME_OFFSET, offset + SNAME_OFFSET + SNAME_LENGTH, found);
      if (problem) return problem;
    }
  }

  const messageType = joined(found.get(OPTION_MESSAGE_TYPE));
  if (messageType !== undefined && messageType.length !== 1) {
    return new Malformed('dhcp', `message type option of ${messageType.length} bytes (want 1)`);
  }
  const requestedIp = ipv4Option(joined(found.get(OPTION_REQUESTED_IP)), OPTION_REQUESTED_IP);
  if (requestedIp instanceof Malformed) return requestedIp;
  const serverId = ipv4Option(joined(found.get(OPTION_SERVER_ID)), OPTION_SERVER_ID);
  if (serverId instanceof Malformed) return serverId;
  const prl = joined(found.get(OPTION_PARAMETER_REQUEST_LIST));

  return {
    op,
    xid:
      ((bytes[offset + 4]! << 24) | (bytes[offset + 5]! << 16) | (bytes[offset + 6]! << 8) | bytes[offset + 7]!) >>> 0,
    chaddr: htype === 1 && hlen === 6 ? formatMac(bytes, offset + 28) : undefined,
    clientIp: ipv4At(bytes, offset + 12),
    yourIp: ipv4At(bytes, offset + 16),
    nextServerIp: ipv4At(bytes, offset + 20),
    relayIp: ipv4At(bytes, offset + 24),
    messageType: messageType?.[0],
    hostname: text(joined(found.get(OPTION_HOSTNAME)), utf8),
    requestedIp,
    serverId,
    vendorClass: text(joined(found.get(OPTION_VENDOR_CLASS)), latin1),
    parameterRequestList: prl ? Array.from(prl) : undefined,
  };
}
