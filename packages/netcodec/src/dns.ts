/**
 * DNS messages as multicast DNS uses them (RFC 1035 wire format, RFC 6762 conventions).
 * Every record is walked, but only address records (A, AAAA) are materialised: they are
 * what ties a hostname to an address. Names may be compressed (RFC 1035 4.1.4); pointer
 * chains are bounded so that a hostile message cannot loop.
 */
import { formatIpv4, formatIpv6 } from './format.js';
import { Malformed, truncated } from './malformed.js';

export const DnsType = { A: 1, AAAA: 28 } as const;

export interface DnsAddressRecord {
  section: 'answer' | 'authority' | 'additional';
  name: string;
  type: number;
  /** The class without the mDNS cache-flush bit (RFC 6762 10.2). */
  class: number;
  cacheFlush: boolean;
  ttl: number;
  address: string;
}

export interface DnsMessage {
  id: number;
  response: boolean;
  opcode: number;
  rcode: number;
  questionCount: number;
  answerCount: number;
  authorityCount: number;
  additionalCount: number;
  addresses: DnsAddressRecord[];
}

const HEADER_LENGTH = 12;
const MAX_NAME_LENGTH = 255; // RFC 1035 2.3.4
const MAX_POINTERS = 64;

const utf8 = new TextDecoder('utf-8');

/** Reads a possibly compressed name at `at`; returns the name or a reason it is unreadable. */
function readName(bytes: Uint8Array, message: number, end: number, at: number): string | Malformed {
  const labels: string[] = [];
  // RFC 1035 3.1: the 255-octet limit counts every length octet, the root label's zero included.
  let length = 1;
  let pointers = 0;
  for (;;) {
    if (at >= end) return new Malformed('dns', 'name runs past the end of the message');
    const size = bytes[at]!;
    if (size === 0) break;
    const kind = size & 0xc0;
    if (kind === 0xc0) {
      if (at + 1 >= end) return new Malformed('dns', 'name pointer runs past the end of the message');
      if (++pointers > MAX_POINTERS) return new Malformed('dns', 'name pointer loop');
      at = message + (((size & 0x3f) << 8) | bytes[at + 1]!);
      continue;
    }
    if (kind !== 0) return new Malformed('dns', `unknown label type 0x${kind.toString(16)}`);
    if (at + 1 + size > end) return new Malformed('dns', 'label runs past the end of the message');
    length += size + 1;
    if (length > MAX_NAME_LENGTH) return new Malformed('dns', `name longer than ${MAX_NAME_LENGTH} bytes`);
    labels.push(utf8.decode(bytes.subarray(at + 1, at + 1 + size)));
    at += 1 + size;
  }
  return labels.length === 0 ? '.' : labels.join('.');
}

/** Skips a name at `at` without following pointers; returns the offset after it. */
function skipName(bytes: Uint8Array, end: number, at: number): number | Malformed {
  for (let labels = 0; labels <= 128; labels++) {
    if (at >= end) return new Malformed('dns', 'name runs past the end of the message');
    const size = bytes[at]!;
    if (size === 0) return at + 1;
    const kind = size & 0xc0;
    if (kind === 0xc0)
      return at + 2 <= end ? at + 2 : new Malformed('dns', 'name pointer runs past the end of the message');
    if (kind !== 0) return new Malformed('dns', `unknown label type 0x${kind.toString(16)}`);
    at += 1 + size;
  }
  return new Malformed('dns', 'name has more than 128 labels');
}

export function decodeDns(bytes: Uint8Array, offset: number, end: number): DnsMessage | Malformed {
  if (end - offset < HEADER_LENGTH) return truncated('dns', Math.max(0, end - offset), HEADER_LENGTH);
  const flags = (bytes[offset + 2]! << 8) | bytes[offset + 3]!;
  const message: DnsMessage = {
    id: (bytes[offset]! << 8) | bytes[offset + 1]!,
    response: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0x0f,
    rcode: flags & 0x0f,
    questionCount: (bytes[offset + 4]! << 8) | bytes[offset + 5]!,
    answerCount: (bytes[offset + 6]! << 8) | bytes[offset + 7]!,
    authorityCount: (bytes[offset + 8]! << 8) | bytes[offset + 9]!,
    additionalCount: (bytes[offset + 10]! << 8) | bytes[offset + 11]!,
    addresses: [],
  };

  let at = offset + HEADER_LENGTH;
  for (let i = 0; i < message.questionCount; i++) {
    const next = skipName(bytes, end, at);
    if (typeof next !== 'number') return next;
    if (end - next < 4) return truncated('dns', end - next, 4);
    at = next + 4;
  }

  const records = message.answerCount + message.authorityCount + message.additionalCount;
  for (let i = 0; i < records; i++) {
    const nameAt = at;
    const next = skipName(bytes, end, at);
    if (typeof next !== 'number') return next;
    if (end - next < 10) return truncated('dns', end - next, 10);
    const type = (bytes[next]! << 8) | bytes[next + 1]!;
    const klass = (bytes[next + 2]! << 8) | bytes[next + 3]!;
    const ttl =
      ((bytes[next + 4]! << 24) | (bytes[next + 5]! << 16) | (bytes[next + 6]! << 8) | bytes[next + 7]!) >>> 0;
    const rdLength = (bytes[next + 8]! << 8) | bytes[next + 9]!;
    const rdata = next + 10;
    if (end - rdata < rdLength) return truncated('dns', end - rdata, rdLength);
    at = rdata + rdLength;

    if (type !== DnsType.A && type !== DnsType.AAAA) continue;
    const want = type === DnsType.A ? 4 : 16;
    if (rdLength !== want)
      return new Malformed('dns', `${type === DnsType.A ? 'A' : 'AAAA'} record of ${rdLength} bytes`);
    const name = readName(bytes, offset, end, nameAt);
    if (typeof name !== 'string') return name;
    message.addresses.push({
      section:
        i < message.answerCount
          ? 'answer'
          : i < message.answerCount + message.authorityCount
            ? 'authority'
            : 'additional',
      name,
      type,
      class: klass & 0x7fff,
      cacheFlush: (klass & 0x8000) !== 0,
      ttl,
      address: type === DnsType.A ? formatIpv4(bytes, rdata) : formatIpv6(bytes, rdata),
    });
  }
  return message;
}
