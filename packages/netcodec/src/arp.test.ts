import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ArpOperation, type ArpPacket, arpHostDetail, decodeArp, emptyArpSummary, summarizeArpFrame } from './arp.js';
import { LinkType } from './link-layer.js';
import { Malformed } from './malformed.js';
import { type Observation, observeFrame } from './observe.js';
import { concat, hex } from './test-bytes.js';

// RFC 826: htype 1 (Ethernet), ptype 0x0800, hlen 6, plen 4, operation, sender MAC/IP, target MAC/IP.
const REQUEST = '0001 0800 0604 0001 0011 2233 4455 c000 0201 0000 0000 0000 c000 02fe';
const REPLY = '0001 0800 0604 0002 6677 8899 aabb c000 02fe 0011 2233 4455 c000 0201';
// RFC 5227 2.1.1: a probe has sender IP 0.0.0.0 and the address being checked as target IP.
const PROBE = '0001 0800 0604 0001 0011 2233 4455 0000 0000 0000 0000 0000 c000 0264';
// RFC 5227 2.3: an announcement is a probe with the sender IP filled in, equal to the target IP.
const ANNOUNCEMENT = '0001 0800 0604 0001 0011 2233 4455 c000 0264 0000 0000 0000 c000 0264';
// Gratuitous reply: the sender's own address as target, broadcast as target MAC (RFC 5944 4.6 form).
const GRATUITOUS_REPLY = '0001 0800 0604 0002 0011 2233 4455 c000 0264 ffff ffff ffff c000 0264';

function decode(text: string): ArpPacket | Malformed | undefined {
  const bytes = hex(text);
  return decodeArp(bytes, 0, bytes.length);
}

describe('decodeArp', () => {
  it('decodes a request: who has 192.0.2.254, tell 192.0.2.1', () => {
    expect(decode(REQUEST)).toEqual({
      operation: ArpOperation.REQUEST,
      senderMac: '00:11:22:33:44:55',
      senderIp: '192.0.2.1',
      targetMac: '00:00:00:00:00:00',
      targetIp: '192.0.2.254',
      senderIpZero: false,
      targetIpZero: false,
      targetMacZero: true,
      senderMacInvalid: false,
      targetMacInvalid: true,
    });
  });

  it('decodes a reply with both sender and target filled in', () => {
    expect(decode(REPLY)).toEqual({
      operation: ArpOperation.REPLY,
      senderMac: '66:77:88:99:aa:bb',
      senderIp: '192.0.2.254',
      targetMac: '00:11:22:33:44:55',
      targetIp: '192.0.2.1',
      senderIpZero: false,
      targetIpZero: false,
      targetMacZero: false,
      senderMacInvalid: false,
      targetMacInvalid: false,
    });
  });

  it.each<[string, string, Partial<ArpPacket>]>([
    [
      'an RFC 5227 probe: sender IP 0.0.0.0',
      PROBE,
      { senderIp: '0.0.0.0', senderIpZero: true, targetIp: '192.0.2.100', targetMacZero: true },
    ],
    [
      'an RFC 5227 announcement: sender IP = target IP',
      ANNOUNCEMENT,
      { operation: 1, senderIp: '192.0.2.100', targetIp: '192.0.2.100', senderIpZero: false },
    ],
    [
      'a gratuitous reply to broadcast: the target MAC is not a host',
      GRATUITOUS_REPLY,
      { operation: 2, senderIp: '192.0.2.100', targetMac: 'ff:ff:ff:ff:ff:ff', targetMacInvalid: true },
    ],
    [
      'a multicast sender MAC as invalid',
      '0001 0800 0604 0001 0100 5e00 0001 c000 0201 0000 0000 0000 c000 02fe',
      { senderMac: '01:00:5e:00:00:01', senderMacInvalid: true },
    ],
    [
      'an all-zero sender MAC as invalid',
      '0001 0800 0604 0002 0000 0000 0000 c000 0201 0011 2233 4455 c000 02fe',
      { senderMacInvalid: true, targetMacInvalid: false },
    ],
    [
      'a target IP of 0.0.0.0',
      '0001 0800 0604 0002 0011 2233 4455 c000 0201 0000 0000 0000 0000 0000',
      { targetIpZero: true, targetIp: '0.0.0.0' },
    ],
    [
      'an operation other than request or reply (RFC 903 RARP request, on the ARP EtherType)',
      '0001 0800 0604 0003 0011 2233 4455 0000 0000 0011 2233 4455 0000 0000',
      { operation: 3 },
    ],
  ])('decodes %s', (_name, text, want) => {
    expect(decode(text)).toMatchObject(want);
  });

  it('ignores the Ethernet padding after the 28 bytes', () => {
    expect(decode(`${REQUEST} 0000 0000 0000 0000 0000 0000 0000 0000 0000`)).toEqual(decode(REQUEST));
  });

  it('reads only between offset and end of a larger buffer', () => {
    const bytes = concat(hex('ffff ffff'), hex(REPLY), hex('ffff'));
    expect(decodeArp(bytes, 4, 4 + 28)).toEqual(decode(REPLY));
    expect(decodeArp(bytes, 4, 4 + 27)).toEqual(new Malformed('arp', 'truncated: 27 of 28 bytes'));
  });

  // RFC 826 lets each packet state its address lengths: other pairings are not malformed,
  // just not Ethernet/IPv4, which is all ipwarden tracks.
  it.each([
    ['an IEEE 802 hardware type (6)', '0006 0800 0604 0001 0011 2233 4455 c000 0201 0000 0000 0000 c000 02fe'],
    ['an IPv6 protocol type', '0001 86dd 0610 0001 0011 2233 4455'],
    ['8-byte hardware addresses', '0001 0800 0804 0001 0011 2233 4455 6677 c000 0201 0000 0000 0000 0000 c000 02fe'],
    ['16-byte protocol addresses', '0001 0800 0610 0001'],
    ['zero-length addresses', '0001 0800 0000 0001'],
  ])('returns undefined, not malformed, for %s', (_name, text) => {
    expect(decode(text)).toBeUndefined();
  });

  it.each([
    ['empty input', '', 'truncated: 0 of 8 bytes'],
    ['a fixed part cut at 7 bytes', '0001 0800 0604 00', 'truncated: 7 of 8 bytes'],
    ['only the fixed part', '0001 0800 0604 0001', 'truncated: 8 of 28 bytes'],
    ['addresses cut at 27 bytes', REQUEST.slice(0, -2), 'truncated: 27 of 28 bytes'],
  ])('reports %s as malformed', (_name, text, reason) => {
    expect(decode(text)).toEqual(new Malformed('arp', reason));
  });

  it('reports every truncation of a request as malformed', () => {
    const bytes = hex(REQUEST);
    for (let n = 0; n < bytes.length; n++) {
      expect(decodeArp(bytes, 0, n), `${n} bytes`).toBeInstanceOf(Malformed);
    }
  });
});

describe('summarizeArpFrame', () => {
  const ipText = (n: number) => `${n >>> 24}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
  const macText = (high: number, low: number) =>
    [high >> 8, high & 0xff, low >>> 24, (low >>> 16) & 0xff, (low >>> 8) & 0xff, low & 0xff]
      .map((b) => b.toString(16).padStart(2, '0'))
      .join(':');

  it('states the bindings, VLANs and details the decoders observe, as numbers', () => {
    const mac = fc.constantFrom(
      [0x02, 0, 0, 0, 0, 1],
      [0x02, 0, 0, 0, 0, 2],
      [0, 0, 0, 0, 0, 0],
      [0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
      [0x01, 0, 0x5e, 0, 0, 1],
    );
    const ip = fc.constantFrom([10, 0, 0, 1], [10, 0, 0, 2], [0, 0, 0, 0], [192, 168, 255, 254]);
    // No tag, an 802.1Q tag, QinQ with a service VID of 0 (outerVlan 0) or of 5.
    const tags = fc.constantFrom(
      [],
      [0x81, 0, 0, 7],
      [0x88, 0xa8, 0, 0, 0x81, 0, 0, 7],
      [0x88, 0xa8, 0, 5, 0x81, 0, 0, 7],
    );
    fc.assert(
      fc.property(fc.constantFrom(1, 2, 3), mac, ip, mac, ip, tags, (op, sha, spa, tha, tpa, tag) => {
        const frame = Uint8Array.from([
          ...[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 9],
          ...tag,
          ...[0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, op],
          ...sha,
          ...spa,
          ...tha,
          ...tpa,
        ]);
        const observed = observeFrame(LinkType.ETHERNET, frame, 0, frame.length);
        const summary = emptyArpSummary();
        const hosts = Array.isArray(observed) ? observed.filter((o) => o.kind === 'host') : [];
        const summarised = summarizeArpFrame(frame, 0, frame.length, summary);
        // Frames with anything but host bindings (probes, nothing) are left to the decoders.
        expect(summarised).toBe(hosts.length > 0 && hosts.length === (observed as Observation[]).length);
        if (!summarised) return;
        expect(summary.count).toBe(hosts.length);
        const stated = [
          { ip: summary.senderIp, high: summary.senderMacHigh, low: summary.senderMacLow },
          { ip: summary.targetIp, high: summary.targetMacHigh, low: summary.targetMacLow },
        ];
        hosts.forEach((host, i) => {
          const binding = stated[i]!;
          expect(ipText(binding.ip)).toBe(host.ip);
          expect(macText(binding.high, binding.low)).toBe(host.mac);
          expect(summary.vlan).toBe(host.vlan);
          expect(summary.outerVlan).toBe(host.outerVlan ?? -1);
          expect(summary.vlanKey).toBe((host.outerVlan ?? 0) * 4096 + host.vlan);
          // The very object the decoders attach: shared and frozen.
          const detail = arpHostDetail(summary.operation, summary.senderIp === summary.targetIp, i === 1);
          expect(host.detail).toBe(detail);
          expect(Object.isFrozen(detail)).toBe(true);
        });
      }),
      { numRuns: 2000 },
    );
  });
});
