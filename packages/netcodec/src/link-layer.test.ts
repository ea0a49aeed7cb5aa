import { describe, expect, it } from 'vitest';
import {
  decodeEthernet,
  decodeLink,
  decodeLinuxSll,
  decodeLinuxSll2,
  EtherType,
  isSupportedLinkType,
  type LinkFrame,
  LinkType,
} from './link-layer.js';
import { Malformed } from './malformed.js';
import { concat, hex } from './test-bytes.js';

const BROADCAST = 'ff:ff:ff:ff:ff:ff';
const HOST = '00:11:22:33:44:55';
const ARP_PAYLOAD = '0001 0800 0604 0001 0011 2233 4455 c000 0201 0000 0000 0000 c000 02fe';

function decode(text: string): LinkFrame | Malformed {
  const bytes = hex(text);
  return decodeEthernet(bytes, 0, bytes.length);
}

describe('decodeEthernet', () => {
  it.each<[string, string, Partial<LinkFrame>]>([
    [
      'an untagged ARP frame',
      `ffff ffff ffff 0011 2233 4455 0806 ${ARP_PAYLOAD}`,
      { src: HOST, dst: BROADCAST, etherType: EtherType.ARP, vlan: 0, outerVlan: undefined, payloadOffset: 14 },
    ],
    [
      'a header with nothing after it',
      'ffff ffff ffff 0011 2233 4455 0800',
      { etherType: EtherType.IPV4, vlan: 0, outerVlan: undefined, payloadOffset: 14 },
    ],
    [
      'a single 802.1Q tag (VID 100, PCP 1): vlan is the VID and there is no outer VLAN',
      `ffff ffff ffff 0011 2233 4455 8100 2064 0806 ${ARP_PAYLOAD}`,
      { etherType: EtherType.ARP, vlan: 100, outerVlan: undefined, payloadOffset: 18 },
    ],
    [
      'a priority tag (VID 0, IEEE 802.1Q): VLAN 0',
      `ffff ffff ffff 0011 2233 4455 8100 a000 0806 ${ARP_PAYLOAD}`,
      { etherType: EtherType.ARP, vlan: 0, outerVlan: undefined, payloadOffset: 18 },
    ],
    [
      'a tag with PCP and DEI bits set: only the low 12 bits are the VID',
      `ffff ffff ffff 0011 2233 4455 8100 f00a 0806 ${ARP_PAYLOAD}`,
      { etherType: EtherType.ARP, vlan: 10, payloadOffset: 18 },
    ],
    [
      'QinQ (802.1ad S-tag 200, then C-tag 100): vlan is the inner VID, outerVlan the outer one',
      `ffff ffff ffff 0011 2233 4455 88a8 00c8 8100 0064 0806 ${ARP_PAYLOAD}`,
      { etherType: EtherType.ARP, vlan: 100, outerVlan: 200, payloadOffset: 22 },
    ],
    [
      'pre-standard QinQ (0x9100 then 0x8100)',
      `ffff ffff ffff 0011 2233 4455 9100 0fff 8100 0001 86dd`,
      { etherType: EtherType.IPV6, vlan: 1, outerVlan: 4095, payloadOffset: 22 },
    ],
    [
      'four tags, the most unwrapped: vlan is the innermost, outerVlan the outermost',
      'ffff ffff ffff 0011 2233 4455 88a8 0001 8100 0002 8100 0003 8100 0004 0800',
      { etherType: EtherType.IPV4, vlan: 4, outerVlan: 1, payloadOffset: 30 },
    ],
    [
      'an IEEE 802.3 length field instead of an EtherType (below 0x0600)',
      'ffff ffff ffff 0011 2233 4455 0026 4242 0300 0000 0000',
      { etherType: 0x26, vlan: 0, payloadOffset: 14 },
    ],
  ])('decodes %s', (_name, bytes, want) => {
    expect(decode(bytes)).toMatchObject(want);
  });

  it('gives the addresses of the header it reads: source at 6, destination at 0', () => {
    expect(decode('6677 8899 aabb 0011 2233 4455 0800')).toMatchObject({ src: HOST, dst: '66:77:88:99:aa:bb' });
  });

  it.each([
    ['empty input', '', new Malformed('ethernet', 'truncated: 0 of 14 bytes')],
    [
      'a header cut at 13 bytes',
      'ffff ffff ffff 0011 2233 4455 08',
      new Malformed('ethernet', 'truncated: 13 of 14 bytes'),
    ],
    ['a tag with no TCI', 'ffff ffff ffff 0011 2233 4455 8100', new Malformed('vlan', 'truncated: 0 of 4 bytes')],
    ['a tag cut in half', 'ffff ffff ffff 0011 2233 4455 8100 0064', new Malformed('vlan', 'truncated: 2 of 4 bytes')],
    [
      'an inner tag cut short',
      'ffff ffff ffff 0011 2233 4455 88a8 00c8 8100 00',
      new Malformed('vlan', 'truncated: 1 of 4 bytes'),
    ],
    [
      'more than four tags',
      'ffff ffff ffff 0011 2233 4455 8100 0001 8100 0002 8100 0003 8100 0004 8100 0005 0800',
      new Malformed('ethernet', 'more than 4 VLAN tags'),
    ],
  ])('reports %s as malformed', (_name, bytes, want) => {
    expect(decode(bytes)).toEqual(want);
  });

  it('reads only between offset and end of a larger buffer', () => {
    const frame = hex(`ffff ffff ffff 0011 2233 4455 8100 0064 0806 ${ARP_PAYLOAD}`);
    const bytes = concat(hex('8100 8100 8100'), frame, hex('8100 0001'));
    expect(decodeEthernet(bytes, 6, 6 + frame.length)).toMatchObject({ vlan: 100, payloadOffset: 6 + 18 });
    // A tag whose TCI lies past `end` is truncated even when the buffer goes on.
    expect(decodeEthernet(bytes, 6, 6 + 16)).toEqual(new Malformed('vlan', 'truncated: 2 of 4 bytes'));
  });

  it('treats an end before the offset as no bytes at all', () => {
    const bytes = hex(`ffff ffff ffff 0011 2233 4455 0806 ${ARP_PAYLOAD}`);
    expect(decodeEthernet(bytes, 10, 4)).toEqual(new Malformed('ethernet', 'truncated: 0 of 14 bytes'));
  });
});

describe('decodeLinuxSll', () => {
  // LINKTYPE_LINUX_SLL: packet type, ARPHRD type, address length, 8-byte address, protocol.
  it.each<[string, string, Partial<LinkFrame> | Malformed]>([
    [
      'an Ethernet source address (ARPHRD_ETHER, 6 bytes)',
      `0000 0001 0006 0011 2233 4455 0000 0806 ${ARP_PAYLOAD}`,
      { src: HOST, dst: undefined, etherType: EtherType.ARP, vlan: 0, outerVlan: undefined, payloadOffset: 16 },
    ],
    [
      'a frame we sent (packet type 4, PACKET_OUTGOING)',
      '0004 0001 0006 0011 2233 4455 0000 86dd',
      { src: HOST, etherType: EtherType.IPV6, payloadOffset: 16 },
    ],
    [
      'no source for a non-Ethernet hardware type (ARPHRD_LOOPBACK)',
      '0000 0304 0006 0000 0000 0000 0000 0800',
      { src: undefined, dst: undefined, etherType: EtherType.IPV4 },
    ],
    [
      'no source when the address length is not 6',
      '0000 0001 0000 0000 0000 0000 0000 0800',
      { src: undefined, etherType: EtherType.IPV4 },
    ],
    [
      'a VLAN tag left in the payload',
      `0000 0001 0006 0011 2233 4455 0000 8100 0064 0806 ${ARP_PAYLOAD}`,
      { src: HOST, etherType: EtherType.ARP, vlan: 100, outerVlan: undefined, payloadOffset: 20 },
    ],
    [
      'a header cut at 15 bytes',
      '0000 0001 0006 0011 2233 4455 0000 08',
      new Malformed('sll', 'truncated: 15 of 16 bytes'),
    ],
    ['empty input', '', new Malformed('sll', 'truncated: 0 of 16 bytes')],
  ])('decodes %s', (_name, text, want) => {
    const bytes = hex(text);
    const got = decodeLinuxSll(bytes, 0, bytes.length);
    if (want instanceof Malformed) expect(got).toEqual(want);
    else expect(got).toMatchObject(want);
  });
});

describe('decodeLinuxSll2', () => {
  // LINKTYPE_LINUX_SLL2: protocol, reserved, interface index, ARPHRD type, packet type,
  // address length, 8-byte address.
  it.each<[string, string, Partial<LinkFrame> | Malformed]>([
    [
      'an Ethernet source address and the protocol first',
      '86dd 0000 0000 0002 0001 00 06 0011 2233 4455 0000',
      { src: HOST, dst: undefined, etherType: EtherType.IPV6, vlan: 0, outerVlan: undefined, payloadOffset: 20 },
    ],
    [
      'no source for a non-Ethernet hardware type',
      '0800 0000 0000 0001 0304 00 06 0000 0000 0000 0000',
      { src: undefined, etherType: EtherType.IPV4, payloadOffset: 20 },
    ],
    [
      'QinQ tags left in the payload',
      '88a8 0000 0000 0002 0001 00 06 0011 2233 4455 0000 00c8 8100 0064 0806',
      { src: HOST, etherType: EtherType.ARP, vlan: 100, outerVlan: 200, payloadOffset: 28 },
    ],
    [
      'a header cut at 19 bytes',
      '86dd 0000 0000 0002 0001 00 06 0011 2233 4455 00',
      new Malformed('sll2', 'truncated: 19 of 20 bytes'),
    ],
    ['empty input', '', new Malformed('sll2', 'truncated: 0 of 20 bytes')],
  ])('decodes %s', (_name, text, want) => {
    const bytes = hex(text);
    const got = decodeLinuxSll2(bytes, 0, bytes.length);
    if (want instanceof Malformed) expect(got).toEqual(want);
    else expect(got).toMatchObject(want);
  });
});

describe('decodeLink', () => {
  it('dispatches on the link type', () => {
    const ethernet = hex('ffff ffff ffff 0011 2233 4455 0806');
    const sll = hex('0000 0001 0006 0011 2233 4455 0000 0806');
    const sll2 = hex('0806 0000 0000 0002 0001 00 06 0011 2233 4455 0000');
    expect(decodeLink(LinkType.ETHERNET, ethernet, 0, ethernet.length)).toMatchObject({ dst: BROADCAST });
    expect(decodeLink(LinkType.LINUX_SLL, sll, 0, sll.length)).toMatchObject({ src: HOST, payloadOffset: 16 });
    expect(decodeLink(LinkType.LINUX_SLL2, sll2, 0, sll2.length)).toMatchObject({ src: HOST, payloadOffset: 20 });
  });

  it('reports a link type it does not know as malformed', () => {
    const bytes = hex('ffff ffff ffff 0011 2233 4455 0806');
    expect(decodeLink(228, bytes, 0, bytes.length)).toEqual(new Malformed('link', 'unsupported link type 228'));
  });

  it('knows which link types are supported', () => {
    expect([1, 113, 276, 0, 101, 228].map(isSupportedLinkType)).toEqual([true, true, true, false, false, false]);
  });
});
