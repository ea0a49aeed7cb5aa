import { describe, expect, it } from 'vitest';
import { LinkType } from './link-layer.js';
import { Malformed } from './malformed.js';
import { mdnsHostname, type Observation, observeFrame } from './observe.js';
import { bootp, concat, ethernet, hex, ipv4, ipv6, udp, type VlanTag } from './test-bytes.js';

const HOST = '00:11:22:33:44:55';
const ROUTER = '66:77:88:99:aa:bb';
const SERVER = '02:00:00:00:00:67';
const BROADCAST = 'ff:ff:ff:ff:ff:ff';
const HOST_LL = 'fe80::211:22ff:fe33:4455';
const ROUTER_LL = 'fe80::6477:88ff:fe99:aabb';

const QINQ: VlanTag[] = [
  { tpid: 0x88a8, vid: 200 },
  { tpid: 0x8100, vid: 100 },
];

function observe(frame: Uint8Array, linkType: number = LinkType.ETHERNET): readonly Observation[] | Malformed {
  return observeFrame(linkType, frame, 0, frame.length);
}

// --- ARP (RFC 826, RFC 5227) ---

function arpFrame(body: string, tags: VlanTag[] = []): Uint8Array {
  return ethernet(BROADCAST, HOST, 0x0806, hex(body), tags);
}

const ARP_REQUEST = '0001 0800 0604 0001 0011 2233 4455 c000 0201 0000 0000 0000 c000 02fe';
const ARP_REPLY = '0001 0800 0604 0002 6677 8899 aabb c000 02fe 0011 2233 4455 c000 0201';

describe('observeFrame on ARP', () => {
  it.each<[string, string, Observation[]]>([
    [
      'a request gives its sender',
      ARP_REQUEST,
      [{ source: 'arp', kind: 'host', ip: '192.0.2.1', mac: HOST, vlan: 0, detail: { op: 'request' } }],
    ],
    [
      'a reply gives its sender and its target',
      ARP_REPLY,
      [
        { source: 'arp', kind: 'host', ip: '192.0.2.254', mac: ROUTER, vlan: 0, detail: { op: 'reply' } },
        { source: 'arp', kind: 'host', ip: '192.0.2.1', mac: HOST, vlan: 0, detail: { op: 'reply', target: true } },
      ],
    ],
    [
      'a reply to a broadcast target MAC gives only its sender',
      '0001 0800 0604 0002 6677 8899 aabb c000 02fe ffff ffff ffff c000 0201',
      [{ source: 'arp', kind: 'host', ip: '192.0.2.254', mac: ROUTER, vlan: 0, detail: { op: 'reply' } }],
    ],
    [
      'a reply to target IP 0.0.0.0 gives only its sender',
      '0001 0800 0604 0002 6677 8899 aabb c000 02fe 0011 2233 4455 0000 0000',
      [{ source: 'arp', kind: 'host', ip: '192.0.2.254', mac: ROUTER, vlan: 0, detail: { op: 'reply' } }],
    ],
    [
      'a probe (RFC 5227 2.1.1: sender IP 0.0.0.0) is a probe for the target IP',
      '0001 0800 0604 0001 0011 2233 4455 0000 0000 0000 0000 0000 c000 0264',
      [{ source: 'arp', kind: 'probe', ip: '192.0.2.100', mac: HOST, vlan: 0, detail: { op: 'request' } }],
    ],
    [
      'an announcement (RFC 5227 2.3: request, sender IP = target IP) is flagged',
      '0001 0800 0604 0001 0011 2233 4455 c000 0264 0000 0000 0000 c000 0264',
      [
        {
          source: 'arp',
          kind: 'host',
          ip: '192.0.2.100',
          mac: HOST,
          vlan: 0,
          detail: { op: 'request', gratuitous: true, announcement: true },
        },
      ],
    ],
    [
      'a gratuitous reply is flagged gratuitous but not an announcement, and gives no target',
      '0001 0800 0604 0002 0011 2233 4455 c000 0264 ffff ffff ffff c000 0264',
      [
        {
          source: 'arp',
          kind: 'host',
          ip: '192.0.2.100',
          mac: HOST,
          vlan: 0,
          detail: { op: 'reply', gratuitous: true, announcement: false },
        },
      ],
    ],
    ['a probe for 0.0.0.0 gives nothing', '0001 0800 0604 0001 0011 2233 4455 0000 0000 0000 0000 0000 0000 0000', []],
    [
      'a multicast sender MAC gives nothing',
      '0001 0800 0604 0001 0100 5e00 0001 c000 0201 0000 0000 0000 c000 02fe',
      [],
    ],
    [
      'an all-zero sender MAC gives nothing',
      '0001 0800 0604 0002 0000 0000 0000 c000 0201 0011 2233 4455 c000 02fe',
      [],
    ],
    [
      'an operation other than request or reply gives nothing',
      '0001 0800 0604 0003 0011 2233 4455 0000 0000 0011 2233 4455 0000 0000',
      [],
    ],
    ['ARP that is not Ethernet/IPv4 gives nothing, not malformed', '0001 0800 0804 0001 0011 2233 4455 6677', []],
  ])('%s', (_name, body, want) => {
    expect(observe(arpFrame(body))).toEqual(want);
  });

  it('carries the VLAN of a single tag, without an outer VLAN', () => {
    expect(observe(arpFrame(ARP_REQUEST, [{ tpid: 0x8100, vid: 100 }]))).toEqual([
      { source: 'arp', kind: 'host', ip: '192.0.2.1', mac: HOST, vlan: 100, detail: { op: 'request' } },
    ]);
  });

  it('carries the inner VLAN and the outer VLAN of a QinQ frame', () => {
    expect(observe(arpFrame(ARP_REPLY, QINQ))).toEqual([
      {
        source: 'arp',
        kind: 'host',
        ip: '192.0.2.254',
        mac: ROUTER,
        vlan: 100,
        outerVlan: 200,
        detail: { op: 'reply' },
      },
      {
        source: 'arp',
        kind: 'host',
        ip: '192.0.2.1',
        mac: HOST,
        vlan: 100,
        outerVlan: 200,
        detail: { op: 'reply', target: true },
      },
    ]);
  });

  it('reads ARP from Linux cooked captures too', () => {
    const sll = concat(hex('0000 0001 0006 0011 2233 4455 0000 0806'), hex(ARP_REQUEST));
    const sll2 = concat(hex('0806 0000 0000 0002 0001 00 06 0011 2233 4455 0000'), hex(ARP_REQUEST));
    const want = [{ source: 'arp', kind: 'host', ip: '192.0.2.1', mac: HOST, vlan: 0, detail: { op: 'request' } }];
    expect(observe(sll, LinkType.LINUX_SLL)).toEqual(want);
    expect(observe(sll2, LinkType.LINUX_SLL2)).toEqual(want);
  });
});

// --- NDP (RFC 4861, RFC 4862) ---

const ALL_NODES = 'ff02::1';
const ALL_ROUTERS = 'ff02::2';
const SOLICITED_NODE = 'ff02::1:ff88:99aa';
const TARGET = 'fe80 0000 0000 0000 0266 77ff fe88 99aa';
const TARGET_TEXT = 'fe80::266:77ff:fe88:99aa';
const SLLA_HOST = '0101 0011 2233 4455';
const TLLA_OTHER = '0201 0266 77ff fe88';
const PREFIX = '0304 40c0 0027 8d00 0009 3a80 0000 0000 2001 0db8 0001 0000 0000 0000 0000 0000';

function ndpFrame(src: string, dst: string, icmp: string, linkSrc = HOST, tags: VlanTag[] = []): Uint8Array {
  return ethernet('33:33:00:00:00:01', linkSrc, 0x86dd, ipv6(src, dst, 58, hex(icmp)), tags);
}

describe('observeFrame on NDP', () => {
  it('ignores ND messages a router forwarded: hop limit below 255 (RFC 4861 7.1.1)', () => {
    const icmp = hex(`8700 0000 0000 0000 ${TARGET} 0101 0211 2233 4455`);
    const frame = ethernet('33:33:00:00:00:01', HOST, 0x86dd, ipv6(HOST_LL, SOLICITED_NODE, 58, icmp, 64));
    expect(observeFrame(LinkType.ETHERNET, frame, 0, frame.length)).toEqual([]);
  });

  it('ignores a forwarded ND message without reading its options: not malformed, just not valid', () => {
    const icmp = hex(`8700 0000 0000 0000 ${TARGET} 0100 0211 2233 4455`); // an option of length 0
    const frame = ethernet('33:33:00:00:00:01', HOST, 0x86dd, ipv6(HOST_LL, SOLICITED_NODE, 58, icmp, 64));
    expect(observeFrame(LinkType.ETHERNET, frame, 0, frame.length)).toEqual([]);
  });

  it('ignores a solicitation for a multicast target (RFC 4861 7.1.1)', () => {
    const frame = ndpFrame(HOST_LL, SOLICITED_NODE, '8700 0000 0000 0000 ff02 0000 0000 0000 0000 0000 0000 0001');
    expect(observeFrame(LinkType.ETHERNET, frame, 0, frame.length)).toEqual([]);
  });

  it('ignores a router advertisement from an address that is not link-local (RFC 4861 6.1.2)', () => {
    const frame = ndpFrame('2001:db8::1', ALL_NODES, '8600 0000 4000 0708 0000 0000 0000 0000');
    expect(observeFrame(LinkType.ETHERNET, frame, 0, frame.length)).toEqual([]);
  });

  it('ignores ND messages with a code other than 0 (RFC 4861 7.1.1)', () => {
    const frame = ndpFrame(HOST_LL, SOLICITED_NODE, `8701 0000 0000 0000 ${TARGET}`);
    expect(observeFrame(LinkType.ETHERNET, frame, 0, frame.length)).toEqual([]);
  });

  it.each<[string, Uint8Array, Observation[]]>([
    [
      'a solicitation gives its source, with the MAC of its source link-layer option',
      ndpFrame(HOST_LL, SOLICITED_NODE, `8700 0000 0000 0000 ${TARGET} 0101 0211 2233 4455`),
      [
        {
          source: 'ndp',
          kind: 'host',
          ip: HOST_LL,
          mac: '02:11:22:33:44:55',
          vlan: 0,
          detail: { type: 'ns', target: TARGET_TEXT },
        },
      ],
    ],
    [
      'a solicitation without the option gives the Ethernet source',
      ndpFrame(HOST_LL, SOLICITED_NODE, `8700 0000 0000 0000 ${TARGET}`),
      [{ source: 'ndp', kind: 'host', ip: HOST_LL, mac: HOST, vlan: 0, detail: { type: 'ns', target: TARGET_TEXT } }],
    ],
    [
      'a solicitation from :: is a DAD probe for its target (RFC 4862 5.4.3)',
      ndpFrame('::', SOLICITED_NODE, `8700 0000 0000 0000 ${TARGET}`),
      [{ source: 'ndp', kind: 'probe', ip: TARGET_TEXT, mac: HOST, vlan: 0, detail: { type: 'ns', dad: true } }],
    ],
    [
      'an advertisement gives its target, with the MAC of its target link-layer option',
      ndpFrame(HOST_LL, ALL_NODES, `8800 0000 2000 0000 ${TARGET} ${TLLA_OTHER}`),
      [
        {
          source: 'ndp',
          kind: 'host',
          ip: TARGET_TEXT,
          mac: '02:66:77:ff:fe:88',
          vlan: 0,
          detail: { type: 'na', router: false, solicited: false, override: true },
        },
      ],
    ],
    [
      'an advertisement without the option gives the Ethernet source',
      ndpFrame(ROUTER_LL, HOST_LL, `8800 0000 e000 0000 ${TARGET}`, ROUTER),
      [
        {
          source: 'ndp',
          kind: 'host',
          ip: TARGET_TEXT,
          mac: ROUTER,
          vlan: 0,
          detail: { type: 'na', router: true, solicited: true, override: true },
        },
      ],
    ],
    [
      'a router solicitation gives its source',
      ndpFrame(HOST_LL, ALL_ROUTERS, `8500 0000 0000 0000 ${SLLA_HOST}`),
      [{ source: 'ndp', kind: 'host', ip: HOST_LL, mac: HOST, vlan: 0, detail: { type: 'rs' } }],
    ],
    ['a router solicitation from :: gives nothing', ndpFrame('::', ALL_ROUTERS, '8500 0000 0000 0000'), []],
    [
      'a router advertisement gives a router, with its lifetime and prefixes',
      ndpFrame(ROUTER_LL, ALL_NODES, `8600 0000 4000 0708 0000 0000 0000 0000 0101 6677 8899 aabb ${PREFIX}`, ROUTER),
      [
        {
          source: 'ndp',
          kind: 'router',
          ip: ROUTER_LL,
          mac: ROUTER,
          vlan: 0,
          detail: { type: 'ra', routerLifetime: 1800, prefixes: ['2001:db8:1::/64'] },
        },
      ],
    ],
    [
      'a router advertisement without prefixes has none in its detail',
      ndpFrame(ROUTER_LL, ALL_NODES, '8600 0000 4000 0000 0000 0000 0000 0000', ROUTER),
      [
        {
          source: 'ndp',
          kind: 'router',
          ip: ROUTER_LL,
          mac: ROUTER,
          vlan: 0,
          detail: { type: 'ra', routerLifetime: 0 },
        },
      ],
    ],
    ['a redirect gives nothing', ndpFrame(ROUTER_LL, HOST_LL, `8900 0000 0000 0000 ${TARGET} ${TARGET}`, ROUTER), []],
    ['an echo request gives nothing', ndpFrame(HOST_LL, ALL_NODES, '8000 0000 1234 0001'), []],
    [
      'NDP behind a hop-by-hop header is still read',
      ethernet(
        '33:33:00:00:00:02',
        HOST,
        0x86dd,
        ipv6(HOST_LL, ALL_ROUTERS, 0, hex(`3a00 0100 0000 0000 8500 0000 0000 0000 ${SLLA_HOST}`)),
      ),
      [{ source: 'ndp', kind: 'host', ip: HOST_LL, mac: HOST, vlan: 0, detail: { type: 'rs' } }],
    ],
    [
      'ICMPv6 in a fragment gives nothing',
      ethernet(
        '33:33:00:00:00:02',
        HOST,
        0x86dd,
        ipv6(HOST_LL, ALL_ROUTERS, 44, hex('3a00 0001 1234 5678 8500 0000 0000 0000')),
      ),
      [],
    ],
  ])('%s', (_name, frame, want) => {
    expect(observe(frame)).toEqual(want);
  });

  it('carries the VLANs of a QinQ frame', () => {
    const frame = ndpFrame('::', SOLICITED_NODE, `8700 0000 0000 0000 ${TARGET}`, HOST, QINQ);
    expect(observe(frame)).toEqual([
      {
        source: 'ndp',
        kind: 'probe',
        ip: TARGET_TEXT,
        mac: HOST,
        vlan: 100,
        outerVlan: 200,
        detail: { type: 'ns', dad: true },
      },
    ]);
  });

  it('gives a DAD probe nothing to say without a link-layer source (SLL with no hardware address)', () => {
    const ip = ipv6('::', SOLICITED_NODE, 58, hex(`8700 0000 0000 0000 ${TARGET}`));
    const sll = concat(hex('0000 0304 0000 0000 0000 0000 0000 86dd'), ip);
    expect(observe(sll, LinkType.LINUX_SLL)).toEqual([]);
  });

  it('uses the source link-layer option when a cooked capture has no hardware address', () => {
    const ip = ipv6(HOST_LL, SOLICITED_NODE, 58, hex(`8700 0000 0000 0000 ${TARGET} ${SLLA_HOST}`));
    const sll2 = concat(hex('86dd 0000 0000 0002 0304 00 00 0000 0000 0000 0000'), ip);
    expect(observe(sll2, LinkType.LINUX_SLL2)).toEqual([
      { source: 'ndp', kind: 'host', ip: HOST_LL, mac: HOST, vlan: 0, detail: { type: 'ns', target: TARGET_TEXT } },
    ]);
  });

  it('reports an option of length zero as malformed (RFC 4861 4.6)', () => {
    const frame = ndpFrame(HOST_LL, SOLICITED_NODE, `8700 0000 0000 0000 ${TARGET} 0100 0011 2233 4455`);
    expect(observe(frame)).toEqual(new Malformed('ndp-option', 'option 1 has length zero'));
  });
});

// --- mDNS (RFC 6762) ---

const PRINTER_LOCAL = '07 7072 696e 7465 72 05 6c6f 6361 6c 00';
// Answers: A printer.local; authority: A 192.168.1.6 (ignored); additionals: AAAA printer.local.
const MDNS_RESPONSE = [
  '0000 8400 0000 0001 0001 0001',
  `${PRINTER_LOCAL} 0001 8001 0000 0078 0004 c0a8 0105`,
  'c00c 0001 0001 0000 0078 0004 c0a8 0106',
  'c00c 001c 8001 0000 0078 0010 fe80 0000 0000 0000 0211 22ff fe33 4455',
].join(' ');
const MDNS_QUERY = `0000 0000 0001 0001 0000 0000 ${PRINTER_LOCAL} 0001 0001 c00c 0001 0001 0000 0078 0004 c0a8 0105`;

function mdnsOverIpv4(dns: string, tags: VlanTag[] = [], srcPort = 5353, dstPort = 5353): Uint8Array {
  const ip = ipv4('192.168.1.5', '224.0.0.251', 17, udp(srcPort, dstPort, hex(dns)), { ttl: 255 });
  return ethernet('01:00:5e:00:00:fb', HOST, 0x0800, ip, tags);
}

const mdnsObservations: Observation[] = [
  {
    source: 'mdns',
    kind: 'host',
    ip: '192.168.1.5',
    mac: HOST,
    vlan: 0,
    hostname: 'printer',
    detail: { name: 'printer.local', ttl: 120 },
  },
  {
    source: 'mdns',
    kind: 'host',
    ip: HOST_LL,
    mac: HOST,
    vlan: 0,
    hostname: 'printer',
    detail: { name: 'printer.local', ttl: 120 },
  },
];

describe('observeFrame on mDNS', () => {
  it('gives every A and AAAA of a response in answers and additionals, not authority', () => {
    expect(observe(mdnsOverIpv4(MDNS_RESPONSE))).toEqual(mdnsObservations);
  });

  it('reads a response over IPv6 the same way', () => {
    const ip = ipv6(HOST_LL, 'ff02::fb', 17, udp(5353, 5353, hex(MDNS_RESPONSE)));
    expect(observe(ethernet('33:33:00:00:00:fb', HOST, 0x86dd, ip))).toEqual(mdnsObservations);
  });

  it('reads a unicast response from port 5353 to another port (RFC 6762 6.7)', () => {
    expect(observe(mdnsOverIpv4(MDNS_RESPONSE, [], 5353, 49152))).toEqual(mdnsObservations);
  });

  it('gives nothing for a query, even one carrying known answers', () => {
    expect(observe(mdnsOverIpv4(MDNS_QUERY))).toEqual([]);
  });

  it('carries the VLANs of a QinQ frame', () => {
    const got = observe(mdnsOverIpv4(MDNS_RESPONSE, QINQ));
    expect(got).toEqual(mdnsObservations.map((o) => ({ ...o, vlan: 100, outerVlan: 200 })));
  });

  it('gives nothing without a link-layer source to tie the address to', () => {
    const ip = ipv4('192.168.1.5', '224.0.0.251', 17, udp(5353, 5353, hex(MDNS_RESPONSE)), { ttl: 255 });
    const sll = concat(hex('0000 0304 0000 0000 0000 0000 0000 0800'), ip);
    expect(observe(sll, LinkType.LINUX_SLL)).toEqual([]);
  });

  it('ignores responses with another opcode or a non-zero rcode (RFC 6762 18.3, 18.11)', () => {
    const withFlags = (flags: string) => MDNS_RESPONSE.replace('0000 8400', `0000 ${flags}`);
    expect(observe(mdnsOverIpv4(withFlags('8c00')))).toEqual([]); // opcode 1
    expect(observe(mdnsOverIpv4(withFlags('8403')))).toEqual([]); // rcode 3
  });

  it('takes a goodbye (TTL 0) as no sign of use (RFC 6762 10.1)', () => {
    const goodbye = MDNS_RESPONSE.replace(/0000 0078 0004 c0a8 0105/, '0000 0000 0004 c0a8 0105');
    expect(observe(mdnsOverIpv4(goodbye))).toEqual(mdnsObservations.slice(1));
  });

  it('reports a pointer loop as malformed', () => {
    const loop = '0000 8400 0000 0001 0000 0000 c00c 0001 8001 0000 0078 0004 c0a8 0105';
    expect(observe(mdnsOverIpv4(loop))).toEqual(new Malformed('dns', 'name pointer loop'));
  });

  it('gives nothing for UDP on other ports', () => {
    expect(observe(mdnsOverIpv4(MDNS_RESPONSE, [], 53, 53))).toEqual([]);
  });
});

describe('mdnsHostname', () => {
  it.each([
    ['printer.local', 'printer'],
    ['Printer.LOCAL', 'Printer'],
    ['printer.example.com', 'printer.example.com'],
    ['local', 'local'],
  ])('%s → %s', (name, hostname) => {
    expect(mdnsHostname(name)).toBe(hostname);
  });
});

// --- DHCPv4 (RFC 2131, RFC 2132) ---

const CLIENT_HEAD =
  '0101 0600 3903 f326 0000 8000 0000 0000 0000 0000 0000 0000 0000 0000 0011 2233 4455 0000 0000 0000 0000 0000';
const RENEWING_HEAD =
  '0101 0600 3903 f326 0000 0000 c000 0264 0000 0000 0000 0000 0000 0000 0011 2233 4455 0000 0000 0000 0000 0000';
const SERVER_HEAD =
  '0201 0600 3903 f326 0000 8000 0000 0000 c000 0264 0000 0000 0000 0000 0011 2233 4455 0000 0000 0000 0000 0000';
const RELAYED_HEAD =
  '0201 0600 3903 f326 0000 8000 0000 0000 c000 0264 0000 0000 0a00 0001 0011 2233 4455 0000 0000 0000 0000 0000';

function fromClient(message: Uint8Array): Uint8Array {
  return ethernet(BROADCAST, HOST, 0x0800, ipv4('0.0.0.0', '255.255.255.255', 17, udp(68, 67, message)));
}

function fromServer(message: Uint8Array, src = '192.0.2.1'): Uint8Array {
  return ethernet(HOST, SERVER, 0x0800, ipv4(src, '192.0.2.100', 17, udp(67, 68, message)));
}

describe('observeFrame on DHCP', () => {
  it('takes no lease from a relayed answer on its way from the server to the relay (port 67, RFC 2131 4.1)', () => {
    const ack = bootp(RELAYED_HEAD, '3501 05 3604 c000 0201 ff');
    const toRelay = ethernet(HOST, SERVER, 0x0800, ipv4('192.0.2.1', '10.0.0.1', 17, udp(67, 67, ack)));
    expect((observe(toRelay) as Observation[]).map((o) => o.kind)).toEqual(['dhcp-server']);
  });

  it('ignores an OFFER sent as a BOOTREQUEST and a DISCOVER sent as a BOOTREPLY (RFC 2131 3.1)', () => {
    const offerAsRequest = bootp(`01${RELAYED_HEAD.slice(2)}`, '3501 02 3604 c000 0201 ff');
    expect(observe(fromServer(offerAsRequest))).toEqual([]);
    const discoverAsReply = bootp(`02${CLIENT_HEAD.slice(2)}`, '3501 01 ff');
    expect(observe(fromClient(discoverAsReply))).toEqual([]);
  });

  it.each<[string, Uint8Array, Observation[]]>([
    [
      'a DISCOVER gives the client with hostname, requested IP, vendor class and parameter list',
      fromClient(
        bootp(CLIENT_HEAD, '3501 01 3204 c000 0264 0c07 7072 696e 7465 72 3c08 4d53 4654 2035 2e30 3704 0103 060f ff'),
      ),
      [
        {
          source: 'dhcp',
          kind: 'dhcp-client',
          ip: '192.0.2.100',
          mac: HOST,
          vlan: 0,
          hostname: 'printer',
          detail: { messageType: 'discover', vendorClass: 'MSFT 5.0', parameterRequestList: [1, 3, 6, 15] },
        },
      ],
    ],
    [
      'a DISCOVER asking for no address gives a client without an IP',
      fromClient(bootp(CLIENT_HEAD, '3501 01 ff')),
      [{ source: 'dhcp', kind: 'dhcp-client', mac: HOST, vlan: 0, detail: { messageType: 'discover' } }],
    ],
    [
      'a renewing REQUEST gives the client at its ciaddr (RFC 2131 4.3.2)',
      fromClient(bootp(RENEWING_HEAD, '3501 03 ff')),
      [
        {
          source: 'dhcp',
          kind: 'dhcp-client',
          ip: '192.0.2.100',
          mac: HOST,
          vlan: 0,
          detail: { messageType: 'request' },
        },
      ],
    ],
    [
      'an OFFER gives the server (option 54, Ethernet source) and the lease (yiaddr, chaddr)',
      fromServer(bootp(SERVER_HEAD, '3501 02 3604 c000 0201 3304 0000 0e10 ff')),
      [
        {
          source: 'dhcp',
          kind: 'dhcp-server',
          ip: '192.0.2.1',
          mac: SERVER,
          vlan: 0,
          detail: { messageType: 'offer' },
        },
        {
          source: 'dhcp',
          kind: 'dhcp-lease',
          ip: '192.0.2.100',
          mac: HOST,
          vlan: 0,
          detail: { messageType: 'offer', server: '192.0.2.1' },
        },
      ],
    ],
    [
      'a relayed ACK names the relay, and the lease carries the hostname',
      fromServer(bootp(RELAYED_HEAD, '3501 05 3604 c000 0201 0c07 7072 696e 7465 72 ff'), '10.0.0.1'),
      [
        {
          source: 'dhcp',
          kind: 'dhcp-server',
          ip: '192.0.2.1',
          mac: SERVER,
          vlan: 0,
          detail: { messageType: 'ack', relay: '10.0.0.1' },
        },
        {
          source: 'dhcp',
          kind: 'dhcp-lease',
          ip: '192.0.2.100',
          mac: HOST,
          vlan: 0,
          hostname: 'printer',
          detail: { messageType: 'ack', server: '192.0.2.1' },
        },
      ],
    ],
    [
      'an ACK without a server identifier names the server by its IPv4 source',
      fromServer(bootp(SERVER_HEAD, '3501 05 ff'), '192.0.2.2'),
      [
        { source: 'dhcp', kind: 'dhcp-server', ip: '192.0.2.2', mac: SERVER, vlan: 0, detail: { messageType: 'ack' } },
        {
          source: 'dhcp',
          kind: 'dhcp-lease',
          ip: '192.0.2.100',
          mac: HOST,
          vlan: 0,
          detail: { messageType: 'ack', server: undefined },
        },
      ],
    ],
    [
      'an ACK to an INFORM (no yiaddr) gives only the server',
      fromServer(bootp(SERVER_HEAD.replace('c000 0264', '0000 0000'), '3501 05 3604 c000 0201 ff')),
      [{ source: 'dhcp', kind: 'dhcp-server', ip: '192.0.2.1', mac: SERVER, vlan: 0, detail: { messageType: 'ack' } }],
    ],
    ['a RELEASE gives nothing', fromClient(bootp(RENEWING_HEAD, '3501 07 3604 c000 0201 ff')), []],
    ['a NAK gives nothing', fromServer(bootp(SERVER_HEAD, '3501 06 3604 c000 0201 ff')), []],
    ['plain BOOTP gives nothing', fromClient(bootp(CLIENT_HEAD, '', { cookie: false })), []],
    [
      'a DISCOVER from a non-Ethernet client gives nothing',
      fromClient(bootp(CLIENT_HEAD.replace('0101 0600', '0106 0600'), '3501 01 ff')),
      [],
    ],
    [
      'DHCP in an IPv4 fragment gives nothing',
      ethernet(
        BROADCAST,
        HOST,
        0x0800,
        ipv4('0.0.0.0', '255.255.255.255', 17, udp(68, 67, bootp(CLIENT_HEAD, '3501 01 ff')), {
          flagsFragment: 0x2000,
        }),
      ),
      [],
    ],
    [
      'UDP from 68 to a port other than 67 or 68 gives nothing',
      ethernet(
        BROADCAST,
        HOST,
        0x0800,
        ipv4('0.0.0.0', '255.255.255.255', 17, udp(68, 69, bootp(CLIENT_HEAD, '3501 01 ff'))),
      ),
      [],
    ],
  ])('%s', (_name, frame, want) => {
    expect(observe(frame)).toEqual(want);
  });

  it('reports an option running past the end as malformed', () => {
    expect(observe(fromClient(bootp(CLIENT_HEAD, '3501 01 0c10 7072')))).toEqual(
      new Malformed('dhcp', 'option 12 of 16 bytes runs past the end'),
    );
  });
});

describe('observeFrame on everything else', () => {
  it.each<[string, Uint8Array]>([
    ['an unknown EtherType', ethernet(BROADCAST, HOST, 0x88cc, hex('0207 0400 1122 3344 55'))],
    ['an 802.3 length frame', ethernet(BROADCAST, HOST, 0x0026, hex('4242 0300 0000'))],
    ['TCP over IPv4', ethernet(ROUTER, HOST, 0x0800, ipv4('192.0.2.1', '192.0.2.254', 6, hex('c350 0050 0000 0000')))],
    [
      'UDP over IPv6 to another port',
      ethernet(ROUTER, HOST, 0x86dd, ipv6(HOST_LL, ROUTER_LL, 17, udp(546, 547, hex('01')))),
    ],
  ])('gives nothing for %s', (_name, frame) => {
    expect(observe(frame)).toEqual([]);
  });

  it('reports a link type it does not know as malformed', () => {
    expect(observe(arpFrame(ARP_REQUEST), 228)).toEqual(new Malformed('link', 'unsupported link type 228'));
  });
});

describe('observeFrame on truncated frames', () => {
  const arp = concat(hex('ffff ffff ffff 0011 2233 4455 0806'), hex(ARP_REQUEST));
  const tagged = concat(hex('ffff ffff ffff 0011 2233 4455 8100 0064 0806'), hex(ARP_REQUEST));
  const mdns = mdnsOverIpv4(MDNS_RESPONSE);
  const dhcp = fromClient(bootp(CLIENT_HEAD, '3501 01 ff'));
  const ns = ndpFrame(HOST_LL, SOLICITED_NODE, `8700 0000 0000 0000 ${TARGET} ${SLLA_HOST}`);
  const sll = concat(hex('0000 0001 0006 0011 2233 4455 0000 0806'), hex(ARP_REQUEST));
  const sll2 = concat(hex('0806 0000 0000 0002 0001 00 06 0011 2233 4455 0000'), hex(ARP_REQUEST));

  it.each<[string, Uint8Array, number, number, Malformed]>([
    ['empty', arp, LinkType.ETHERNET, 0, new Malformed('ethernet', 'truncated: 0 of 14 bytes')],
    ['in the Ethernet header', arp, LinkType.ETHERNET, 13, new Malformed('ethernet', 'truncated: 13 of 14 bytes')],
    ['in the VLAN tag', tagged, LinkType.ETHERNET, 16, new Malformed('vlan', 'truncated: 2 of 4 bytes')],
    ['in the ARP header', arp, LinkType.ETHERNET, 14 + 6, new Malformed('arp', 'truncated: 6 of 8 bytes')],
    ['in the ARP addresses', arp, LinkType.ETHERNET, 14 + 20, new Malformed('arp', 'truncated: 20 of 28 bytes')],
    ['in the SLL header', sll, LinkType.LINUX_SLL, 10, new Malformed('sll', 'truncated: 10 of 16 bytes')],
    ['in the SLL2 header', sll2, LinkType.LINUX_SLL2, 10, new Malformed('sll2', 'truncated: 10 of 20 bytes')],
    ['in the IPv4 header', mdns, LinkType.ETHERNET, 14 + 10, new Malformed('ipv4', 'truncated: 10 of 20 bytes')],
    ['in the UDP header', mdns, LinkType.ETHERNET, 14 + 20 + 4, new Malformed('udp', 'truncated: 4 of 8 bytes')],
    ['in the DNS header', mdns, LinkType.ETHERNET, 14 + 20 + 8 + 6, new Malformed('dns', 'truncated: 6 of 12 bytes')],
    [
      'in a DNS record',
      mdns,
      LinkType.ETHERNET,
      14 + 20 + 8 + 12 + 15 + 4,
      new Malformed('dns', 'truncated: 4 of 10 bytes'),
    ],
    [
      'in the DHCP fixed part',
      dhcp,
      LinkType.ETHERNET,
      14 + 20 + 8 + 100,
      new Malformed('dhcp', 'truncated: 100 of 236 bytes'),
    ],
    ['in the IPv6 header', ns, LinkType.ETHERNET, 14 + 30, new Malformed('ipv6', 'truncated: 30 of 40 bytes')],
    ['in the ICMPv6 header', ns, LinkType.ETHERNET, 14 + 40 + 2, new Malformed('icmpv6', 'truncated: 2 of 4 bytes')],
    ['in the NDP message', ns, LinkType.ETHERNET, 14 + 40 + 10, new Malformed('ndp', 'truncated: 10 of 24 bytes')],
    [
      'in an NDP option',
      ns,
      LinkType.ETHERNET,
      14 + 40 + 24 + 5,
      new Malformed('ndp-option', 'truncated: 5 of 8 bytes'),
    ],
  ])('reports a frame cut %s as malformed at that layer', (_name, frame, linkType, length, want) => {
    expect(observeFrame(linkType, frame, 0, length)).toEqual(want);
  });
});
