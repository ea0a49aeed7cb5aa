/**
 * Test helpers for the decoder tests: bytes from hex text, and builders that fill in the length
 * and checksum fields of the layers under the one a test is about. Not exported by the package.
 */

/** `hex('ffff ffff ffff 0011')`: whitespace is ignored, anything else must be pairs of hex digits. */
export function hex(text: string): Uint8Array {
  const digits = text.replace(/\s+/g, '');
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(digits)) throw new Error(`not hex bytes: ${text}`);
  const out = new Uint8Array(digits.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** The bytes of `text` as ASCII (each character's code unit, which must be below 256). */
export function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

export function u16(value: number): Uint8Array {
  return Uint8Array.of(value >>> 8, value & 0xff);
}

export function u32(value: number): Uint8Array {
  return Uint8Array.of(value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff);
}

export function u32le(value: number): Uint8Array {
  return Uint8Array.of(value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, value >>> 24);
}

/** `mac('00:11:22:33:44:55')` or `ip4('192.0.2.1')` as bytes. */
export function mac(text: string): Uint8Array {
  return hex(text.replaceAll(':', ''));
}

export function ip4(text: string): Uint8Array {
  return Uint8Array.from(text.split('.'), Number);
}

/** `ip6('fe80::1')`: the full or `::`-shortened form, without a dotted IPv4 tail. */
export function ip6(text: string): Uint8Array {
  const [head = '', tail] = text.split('::');
  const groups = (part: string) => (part === '' ? [] : part.split(':').map((g) => Number.parseInt(g, 16)));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  return concat(...all.map(u16));
}

/** RFC 1071 Internet checksum of `bytes`. */
export function internetChecksum(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 2) sum += (bytes[i]! << 8) | (bytes[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export interface VlanTag {
  /** Tag protocol identifier: 0x8100 (802.1Q), 0x88a8 (802.1ad) or 0x9100. */
  tpid: number;
  vid: number;
}

/** An Ethernet II frame, tags outermost first, padded to the 60-byte minimum like a NIC does. */
export function ethernet(
  dst: string,
  src: string,
  etherType: number,
  payload: Uint8Array,
  tags: VlanTag[] = [],
): Uint8Array {
  const frame = concat(mac(dst), mac(src), ...tags.flatMap((t) => [u16(t.tpid), u16(t.vid)]), u16(etherType), payload);
  return frame.length >= 60 ? frame : concat(frame, new Uint8Array(60 - frame.length));
}

/** A 20-byte IPv4 header (checksum filled in) followed by `payload`. */
export function ipv4(
  src: string,
  dst: string,
  protocol: number,
  payload: Uint8Array,
  { ttl = 64, flagsFragment = 0 }: { ttl?: number; flagsFragment?: number } = {},
): Uint8Array {
  const header = concat(
    hex('4500'),
    u16(20 + payload.length),
    hex('1c46'),
    u16(flagsFragment),
    Uint8Array.of(ttl, protocol),
    hex('0000'),
    ip4(src),
    ip4(dst),
  );
  header.set(u16(internetChecksum(header)), 10);
  return concat(header, payload);
}

/** A 40-byte IPv6 header followed by `payload` (which includes any extension headers). */
export function ipv6(src: string, dst: string, nextHeader: number, payload: Uint8Array, hopLimit = 255): Uint8Array {
  return concat(
    hex('6000 0000'),
    u16(payload.length),
    Uint8Array.of(nextHeader, hopLimit),
    ip6(src),
    ip6(dst),
    payload,
  );
}

/** A UDP header (checksum 0: none) followed by `payload`. */
export function udp(srcPort: number, dstPort: number, payload: Uint8Array): Uint8Array {
  return concat(u16(srcPort), u16(dstPort), u16(8 + payload.length), hex('0000'), payload);
}

/** A DNS name in wire form, uncompressed: `name('printer.local')`. */
export function dnsName(text: string): Uint8Array {
  const labels = text === '' ? [] : text.split('.');
  return concat(...labels.map((l) => concat(Uint8Array.of(l.length), ascii(l))), Uint8Array.of(0));
}

/**
 * A BOOTP/DHCP message (RFC 2131 figure 1): the first 44 bytes (op to chaddr) as hex, then the
 * sname and file fields (zero unless given), the magic cookie unless `cookie` is false, and the
 * options as hex.
 */
export function bootp(
  head: string,
  options: string,
  { sname = '', file = '', cookie = true }: { sname?: string; file?: string; cookie?: boolean } = {},
): Uint8Array {
  const fixed = hex(head);
  if (fixed.length !== 44) throw new Error(`BOOTP head of ${fixed.length} bytes (want 44)`);
  const snameField = new Uint8Array(64);
  snameField.set(hex(sname));
  const fileField = new Uint8Array(128);
  fileField.set(hex(file));
  return concat(fixed, snameField, fileField, cookie ? hex('6382 5363') : new Uint8Array(0), hex(options));
}
