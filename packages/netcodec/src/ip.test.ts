import { describe, expect, it } from 'vitest';
import {
  decodeIpv4,
  decodeIpv6,
  decodeUdp,
  IpProtocol,
  type Ipv4Packet,
  type Ipv6Packet,
  ipv4Source,
  type UdpDatagram,
} from './ip.js';
import { Malformed } from './malformed.js';
import { concat, hex } from './test-bytes.js';

// An mDNS datagram 192.0.2.1 → 224.0.0.251, TTL 255, total length 36 (20 + 8 UDP + 8 data).
const IPV4_MDNS = '4500 0024 1c46 4000 ff11 bc85 c000 0201 e000 00fb  14e9 14e9 0010 0000  0102 0304 0506 0708';

function v4(text: string): Ipv4Packet | Malformed {
  const bytes = hex(text);
  return decodeIpv4(bytes, 0, bytes.length);
}

describe('decodeIpv4', () => {
  it('decodes a UDP datagram header', () => {
    const bytes = hex(IPV4_MDNS);
    const packet = decodeIpv4(bytes, 0, bytes.length);
    expect(packet).toEqual({
      srcOffset: 12,
      protocol: IpProtocol.UDP,
      ttl: 255,
      fragment: false,
      payloadOffset: 20,
      payloadEnd: 36,
      cut: false,
    });
    expect(ipv4Source(bytes, packet as Ipv4Packet)).toBe('192.0.2.1');
  });

  it.each<[string, string, Partial<Ipv4Packet>]>([
    [
      'a header with options (IHL 6): the payload starts after them',
      '4600 0020 0000 0000 0102 0000 c000 0201 e000 0001 9404 0000  1164 0000 0000 0000',
      { protocol: 2, ttl: 1, payloadOffset: 24, payloadEnd: 32 },
    ],
    [
      'Ethernet padding after the total length: the payload ends at the total length',
      `${IPV4_MDNS} 0000 0000 0000 0000 0000`,
      { payloadEnd: 36, cut: false },
    ],
    [
      'a capture cut short of the total length: the payload ends at the capture, marked cut',
      '4500 0064 1c46 0000 4011 0000 c000 0201 c000 02ff  0044 0043 0050 0000',
      { payloadOffset: 20, payloadEnd: 28, cut: true },
    ],
    [
      'a first fragment (MF set) as a fragment',
      '4500 0024 1c46 2000 4011 0000 c000 0201 c000 02ff  0044 0043 0010 0000 0000 0000 0000 0000',
      { fragment: true },
    ],
    [
      'a later fragment (offset 185) as a fragment',
      '4500 0024 1c46 00b9 4011 0000 c000 0201 c000 02ff  0000 0000 0000 0000 0000 0000 0000 0000',
      { fragment: true },
    ],
    [
      'DF set alone as a whole datagram',
      '4500 0024 1c46 4000 4011 0000 c000 0201 c000 02ff  0044 0043 0010 0000 0000 0000 0000 0000',
      { fragment: false },
    ],
    [
      'a total length equal to the header length: an empty payload',
      '4500 0014 1c46 0000 4011 0000 c000 0201 c000 02ff',
      { payloadOffset: 20, payloadEnd: 20, cut: false },
    ],
  ])('decodes %s', (_name, text, want) => {
    expect(v4(text)).toMatchObject(want);
  });

  it.each([
    ['empty input', '', new Malformed('ipv4', 'truncated: 0 of 20 bytes')],
    [
      'a header cut at 19 bytes',
      IPV4_MDNS.replace(/\s/g, '').slice(0, 38),
      new Malformed('ipv4', 'truncated: 19 of 20 bytes'),
    ],
    ['an IPv6 version nibble', `6500 ${IPV4_MDNS.slice(5)}`, new Malformed('ipv4', 'version 6')],
    ['a header length under 20 (IHL 4)', `4400 ${IPV4_MDNS.slice(5)}`, new Malformed('ipv4', 'header length 16 < 20')],
    [
      'options running past the capture (IHL 15)',
      '4f00 0040 1c46 0000 4011 0000 c000 0201 c000 02ff 0000 0000',
      new Malformed('ipv4', 'truncated: 24 of 60 bytes'),
    ],
    [
      'a total length under the header length',
      '4500 0010 1c46 0000 4011 0000 c000 0201 c000 02ff',
      new Malformed('ipv4', 'total length 16 < header length 20'),
    ],
  ])('reports %s as malformed', (_name, text, want) => {
    expect(v4(text)).toEqual(want);
  });

  it('reads only between offset and end of a larger buffer', () => {
    const bytes = concat(hex('4500 0000'), hex(IPV4_MDNS), hex('ffff ffff'));
    expect(decodeIpv4(bytes, 4, bytes.length - 4)).toMatchObject({ srcOffset: 16, payloadOffset: 24, payloadEnd: 40 });
    expect(decodeIpv4(bytes, 4, 4 + 30)).toMatchObject({ payloadEnd: 34, cut: true });
  });
});

const LINK_LOCAL = 'fe80 0000 0000 0000 0211 22ff fe33 4455';
const ALL_NODES = 'ff02 0000 0000 0000 0000 0000 0000 0001';
const UNSPECIFIED = '0000 0000 0000 0000 0000 0000 0000 0000';
const SOLICITED_NODE = 'ff02 0000 0000 0000 0000 0001 ff33 4455';

function v6(text: string): Ipv6Packet | Malformed {
  const bytes = hex(text);
  return decodeIpv6(bytes, 0, bytes.length);
}

describe('decodeIpv6', () => {
  it('decodes an ICMPv6 packet with no extension headers', () => {
    // Payload: a 24-byte Neighbor Advertisement body.
    expect(v6(`6000 0000 0018 3aff ${LINK_LOCAL} ${ALL_NODES} 8800 0000 2000 0000 ${LINK_LOCAL}`)).toEqual({
      src: 'fe80::211:22ff:fe33:4455',
      srcUnspecified: false,
      hopLimit: 255,
      nextHeader: IpProtocol.ICMPV6,
      fragment: false,
      payloadOffset: 40,
      payloadEnd: 64,
      cut: false,
    });
  });

  it.each<[string, string, Partial<Ipv6Packet>]>([
    [
      'a packet from the unspecified address',
      `6000 0000 0018 3aff ${UNSPECIFIED} ${SOLICITED_NODE} 8700 0000 0000 0000 ${LINK_LOCAL}`,
      { src: '::', srcUnspecified: true },
    ],
    [
      'a hop-by-hop header (router alert, as MLD sends) before ICMPv6 (RFC 8200 4.3)',
      `6000 0000 0018 0001 ${LINK_LOCAL} ${ALL_NODES} 3a00 0502 0000 0100  8f00 0000 0000 0001 0400 0000 ff02 0000`,
      { nextHeader: IpProtocol.ICMPV6, payloadOffset: 48, payloadEnd: 64, hopLimit: 1 },
    ],
    [
      'hop-by-hop, then destination options (16 bytes), then UDP',
      `6000 0000 0020 00ff ${LINK_LOCAL} ${ALL_NODES} 3c00 0100 0000 0000  1101 0106 0000 0000 0000 0000 0000 0000  14e9 14e9 0008 0000`,
      { nextHeader: IpProtocol.UDP, payloadOffset: 64, payloadEnd: 72 },
    ],
    [
      'a fragment header: a fragment, stopping at it',
      `6000 0000 0010 2cff ${LINK_LOCAL} ${ALL_NODES} 1100 0001 1234 5678  14e9 14e9 0008 0000`,
      { nextHeader: 44, fragment: true, payloadOffset: 40 },
    ],
    [
      'a routing header before the upper layer',
      `6000 0000 0010 2bff ${LINK_LOCAL} ${ALL_NODES} 3a00 0000 0000 0000  8000 0000 0000 0000`,
      { nextHeader: IpProtocol.ICMPV6, payloadOffset: 48 },
    ],
    [
      'a capture cut short of the payload length',
      `6000 0000 0100 3aff ${LINK_LOCAL} ${ALL_NODES} 8800 0000`,
      { payloadOffset: 40, payloadEnd: 44, cut: true },
    ],
    [
      'bytes after the payload length: the payload ends at the payload length',
      `6000 0000 0004 3aff ${LINK_LOCAL} ${ALL_NODES} 8800 0000 ffff ffff`,
      { payloadEnd: 44, cut: false },
    ],
    [
      'a payload length of zero with no extension header',
      `6000 0000 0000 3bff ${LINK_LOCAL} ${ALL_NODES}`,
      { nextHeader: 59, payloadOffset: 40, payloadEnd: 40 },
    ],
  ])('decodes %s', (_name, text, want) => {
    expect(v6(text)).toMatchObject(want);
  });

  it.each([
    ['empty input', '', new Malformed('ipv6', 'truncated: 0 of 40 bytes')],
    [
      'a header cut at 39 bytes',
      `6000 0000 0000 3aff ${LINK_LOCAL} ${ALL_NODES}`.replace(/\s/g, '').slice(0, 78),
      new Malformed('ipv6', 'truncated: 39 of 40 bytes'),
    ],
    ['an IPv4 version nibble', `4000 0000 0000 3aff ${LINK_LOCAL} ${ALL_NODES}`, new Malformed('ipv6', 'version 4')],
    [
      'an extension header cut before its length',
      `6000 0000 0004 00ff ${LINK_LOCAL} ${ALL_NODES} 3a00 0502`,
      new Malformed('ipv6', 'truncated: 4 of 8 bytes'),
    ],
    [
      'an extension header longer than the payload',
      `6000 0000 0008 00ff ${LINK_LOCAL} ${ALL_NODES} 3a01 0502 0000 0100`,
      new Malformed('ipv6', 'truncated: 8 of 16 bytes'),
    ],
    [
      'an extension header past the payload length, even when the capture holds it',
      `6000 0000 0000 00ff ${LINK_LOCAL} ${ALL_NODES} 3a00 0502 0000 0100`,
      new Malformed('ipv6', 'truncated: 0 of 8 bytes'),
    ],
    [
      'a chain of more than 8 extension headers',
      `6000 0000 0048 3cff ${LINK_LOCAL} ${ALL_NODES} ${'3c00 0100 0000 0000 '.repeat(9)}`,
      new Malformed('ipv6', 'more than 8 extension headers'),
    ],
  ])('reports %s as malformed', (_name, text, want) => {
    expect(v6(text)).toEqual(want);
  });

  it('reads only between offset and end of a larger buffer', () => {
    const packet = hex(`6000 0000 0008 3aff ${LINK_LOCAL} ${ALL_NODES} 8500 0000 0000 0000`);
    const bytes = concat(hex('6000'), packet, hex('ffff'));
    expect(decodeIpv6(bytes, 2, 2 + packet.length)).toMatchObject({ payloadOffset: 42, payloadEnd: 50, cut: false });
    expect(decodeIpv6(bytes, 2, 2 + 44)).toMatchObject({ payloadEnd: 46, cut: true });
  });
});

function datagram(text: string): UdpDatagram | Malformed {
  const bytes = hex(text);
  return decodeUdp(bytes, 0, bytes.length);
}

describe('decodeUdp', () => {
  it.each<[string, string, UdpDatagram | Malformed]>([
    [
      'a datagram whose length matches the bytes',
      '14e9 14e9 0010 0000 0102 0304 0506 0708',
      { srcPort: 5353, dstPort: 5353, payloadOffset: 8, payloadEnd: 16 },
    ],
    [
      'a datagram followed by padding: the payload ends at the UDP length',
      '0044 0043 000a 0000 0102 0000 0000',
      { srcPort: 68, dstPort: 67, payloadOffset: 8, payloadEnd: 10 },
    ],
    [
      'a length past the capture: the payload ends at the capture',
      '0043 0044 0148 0000 0102',
      { srcPort: 67, dstPort: 68, payloadOffset: 8, payloadEnd: 10 },
    ],
    [
      'length 0, an IPv6 jumbogram (RFC 2675 4): the payload runs to the end',
      '14e9 14e9 0000 0000 0102 0304',
      { srcPort: 5353, dstPort: 5353, payloadOffset: 8, payloadEnd: 12 },
    ],
    ['a header alone', '14e9 14e9 0008 0000', { srcPort: 5353, dstPort: 5353, payloadOffset: 8, payloadEnd: 8 }],
    ['a length under 8 (RFC 768)', '14e9 14e9 0007 0000 00', new Malformed('udp', 'length 7 < 8')],
    ['empty input', '', new Malformed('udp', 'truncated: 0 of 8 bytes')],
    ['a header cut at 7 bytes', '14e9 14e9 0010 00', new Malformed('udp', 'truncated: 7 of 8 bytes')],
  ])('decodes %s', (_name, text, want) => {
    expect(datagram(text)).toEqual(want);
  });

  it('reads only between offset and end of a larger buffer', () => {
    const bytes = hex('ffff 14e9 14e9 0000 0000 0102 0304 ffff');
    expect(decodeUdp(bytes, 2, 14)).toEqual({ srcPort: 5353, dstPort: 5353, payloadOffset: 10, payloadEnd: 14 });
  });
});
