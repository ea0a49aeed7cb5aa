import { describe, expect, it } from 'vitest';
import { cell, dhcpLine, escapeText, record, table, views } from './output.js';

describe('escapeText', () => {
  it.each([
    ['web1.lab', 'web1.lab'],
    ['a\x1b[31mred', 'a\\x1b[31mred'], // a terminal would turn the rest red
    ['two\nlines\r\tand tab', 'two\\nlines\\r\\tand tab'],
    ['nul\x00 del\x7f c1\x9b', 'nul\\x00 del\\x7f c1\\x9b'],
    ['abc\u202edcba', 'abc\\u202edcba'], // right-to-left override: shows "abcabcd"
    ['zero\u200bwidth', 'zero\\u200bwidth'],
    ['back\\slash', 'back\\\\slash'], // so that an escape cannot be forged
    ['ünïcödé 名前', 'ünïcödé 名前'],
  ])('%j → %j', (text, escaped) => {
    expect(escapeText(text)).toBe(escaped);
  });
});

describe('cell', () => {
  it.each([
    [null, '-'],
    [undefined, '-'],
    ['', '-'],
    [[], '-'],
    [0, '0'],
    [true, 'yes'],
    [false, 'no'],
    [['10.0.0.2', '10.0.0.3'], '10.0.0.2,10.0.0.3'],
    [{ reserved: 1, auto: 2 }, 'reserved=1,auto=2'],
    ['evil\x07', 'evil\\x07'],
  ])('%j → %j', (value, text) => {
    expect(cell(value)).toBe(text);
  });
});

describe('table', () => {
  it('aligns columns on the widest cell, without trailing spaces', () => {
    const text = table({ IP: 'ip', KIND: 'kind', HOSTNAME: (row) => row.hostname }, [
      { ip: '10.0.0.2', kind: 'reserved', hostname: 'vip' },
      { ip: '10.0.0.100', kind: 'auto', hostname: null },
    ]);
    expect(text).toBe(
      ['IP          KIND      HOSTNAME', '10.0.0.2    reserved  vip', '10.0.0.100  auto      -'].join('\n'),
    );
  });

  it('escapes every cell, so a hostile name stays on its own row', () => {
    const text = table({ HOSTNAME: 'hostname', IP: 'ip' }, [{ hostname: 'a\nb\x1b[2J', ip: '10.0.0.2' }]);
    expect(text.split('\n')).toEqual(['HOSTNAME     IP', 'a\\nb\\x1b[2J  10.0.0.2']);
  });

  it('prints the headers of an empty list', () => {
    expect(table({ IP: 'ip', KIND: 'kind' }, [])).toBe('IP  KIND');
  });
});

describe('record', () => {
  it('lists fields and values aligned, leaving out lists of objects and the fields asked', () => {
    const text = record(
      { id: 'n1', hostname: 'web1', interfaces: [{ mac: 'aa' }], dnsServers: ['10.0.0.53'], secret: 'x' },
      ['secret'],
    );
    expect(text).toBe(['id:          n1', 'hostname:    web1', 'dnsServers:  10.0.0.53'].join('\n'));
  });
});

describe('views', () => {
  const address = {
    ip: '10.99.0.2',
    subnet: 's1',
    cidr: '10.99.0.0/24',
    kind: 'reserved',
    mac: null,
    hostname: 'vip',
    owner: 'ursula',
  };

  it('shows addresses with IP, KIND, MAC, HOSTNAME, OWNER and SUBNET', () => {
    expect(views.addresses({ items: [address], nextCursor: null })).toBe(
      [
        'IP         KIND      MAC  HOSTNAME  OWNER   SUBNET',
        '10.99.0.2  reserved  -    vip       ursula  10.99.0.0/24',
      ].join('\n'),
    );
  });

  it("shows a pool's fields, ranges and claims", () => {
    const text = views.pool({
      id: 'p1',
      name: 'workers',
      namePrefix: 'w',
      ranges: [{ start: '10.0.0.10', end: '10.0.0.12', subnet: 's1', cidr: '10.0.0.0/24' }],
      preAllocations: {},
      exclusions: [],
      allocation: 'sequential',
      status: { claims: { w1: '10.0.0.10' } },
    });
    expect(text).toContain('name:            workers');
    expect(text).toContain('10.0.0.0/24  10.0.0.10  10.0.0.12');
    expect(text).toMatch(/CLAIM {2}ADDRESS\nw1 {5}10\.0\.0\.10$/);
  });

  it("shows a subnet's counts and the addresses that are not free", () => {
    const text = views.utilization({
      subnet: 's1',
      cidr: '10.0.0.0/30',
      total: 4,
      allocated: { total: 1, byKind: { reserved: 1 } },
      dynamic: 0,
      reserved: 0,
      observedUnallocated: 0,
      free: 0,
      addresses: [
        { ip: '10.0.0.0', state: 'network' },
        { ip: '10.0.0.1', state: 'allocated', kind: 'reserved' },
        { ip: '10.0.0.2', state: 'free' },
      ],
    });
    expect(text).toContain('byKind:               reserved=1');
    expect(text).toContain('10.0.0.1  allocated  reserved');
    expect(text).not.toContain('10.0.0.2');
  });

  const evidence = { agent: 'rack-1', interface: 'eth1', vlan: 7, outerVlan: 100, source: 'arp', kind: 'host' };
  const conflict = {
    id: '6f1c2a9e-0000-4000-8000-000000000001',
    kind: 'duplicate-ip',
    ip: '10.0.0.7',
    macs: ['02:00:00:00:00:01', '02:00:00:00:00:02'],
    vlan: 7,
    outerVlan: 100,
    subnet: 's1',
    status: 'open',
    firstSeen: '2025-03-01T10:00:00.123Z',
    lastSeen: '2025-03-01T10:05:00.456Z',
    evidence: [
      { ...evidence, mac: '02:00:00:00:00:02', at: '2025-03-01T10:05:00.456Z' },
      { ...evidence, mac: '02:00:00:00:00:01', at: '2025-03-01T10:00:00.123Z' },
    ],
  };

  it('shows conflicts with their whole id, the segment as outer.inner, times to the second and the evidence count', () => {
    expect(views.conflicts({ items: [conflict, { ...conflict, outerVlan: 0, evidence: [] }], nextCursor: null })).toBe(
      [
        'ID                                    KIND          IP        MACS                                 VLAN   STATUS  FIRST-SEEN            LAST-SEEN             EVIDENCE',
        '6f1c2a9e-0000-4000-8000-000000000001  duplicate-ip  10.0.0.7  02:00:00:00:00:01,02:00:00:00:00:02  100.7  open    2025-03-01T10:00:00Z  2025-03-01T10:05:00Z  2',
        '6f1c2a9e-0000-4000-8000-000000000001  duplicate-ip  10.0.0.7  02:00:00:00:00:01,02:00:00:00:00:02  7      open    2025-03-01T10:00:00Z  2025-03-01T10:05:00Z  0',
      ].join('\n'),
    );
  });

  it("shows a conflict's MACs whether the API lists them or maps them to when each was last seen", () => {
    const mapped = { ...conflict, macs: { '02:00:00:00:00:01': 1, '02:00:00:00:00:02': 2 } };
    expect(views.conflicts({ items: [mapped] })).toContain(' 02:00:00:00:00:01,02:00:00:00:00:02 ');
    expect(views.conflict(mapped)).toMatch(/^macs: +02:00:00:00:00:01,02:00:00:00:00:02$/m);
  });

  it('shows one conflict whole, then its evidence', () => {
    const [fields, evidence] = views.conflict({ ...conflict, resolvedBy: null }).split('\n\n');
    expect(fields).toMatch(/^firstSeen: +2025-03-01T10:00:00\.123Z$/m);
    expect(fields).toMatch(/^resolvedBy: +-$/m);
    expect(fields).not.toContain('evidence');
    expect(evidence).toBe(
      [
        'AGENT   INTERFACE  VLAN   SOURCE  KIND  MAC                AT',
        'rack-1  eth1       100.7  arp     host  02:00:00:00:00:02  2025-03-01T10:05:00Z',
        'rack-1  eth1       100.7  arp     host  02:00:00:00:00:01  2025-03-01T10:00:00Z',
      ].join('\n'),
    );
  });

  it('shows webhooks with their events, last delivery and failures, and never a secret', () => {
    const webhook = {
      id: 'w1',
      url: 'https://hooks.example/iw',
      events: ['conflict.opened', 'conflict.resolved'],
      format: 'json',
      enabled: true,
      lastDeliveryAt: '2025-03-01T10:05:00.456Z',
      lastStatus: 502,
      lastError: 'bad gateway',
      failures: 3,
      dropped: 0,
      createdAt: '2025-03-01T09:00:00.000Z',
    };
    expect(views.webhooks({ items: [webhook, { ...webhook, id: 'w2', lastDeliveryAt: null, lastStatus: null }] })).toBe(
      [
        'ID  URL                       EVENTS                             FORMAT  ENABLED  LAST-DELIVERY         LAST-STATUS  FAILURES',
        'w1  https://hooks.example/iw  conflict.opened,conflict.resolved  json    yes      2025-03-01T10:05:00Z  502          3',
        'w2  https://hooks.example/iw  conflict.opened,conflict.resolved  json    yes      -                     bad gateway  3',
      ].join('\n'),
    );
  });

  it('shows an event on one line: id, time to the second, type, then what its resource is, escaped', () => {
    const at = '2026-12-04T10:00:00.123Z';
    expect(views.event({ id: 7, at, type: 'conflict.opened', data: { ...conflict, evidence: [] } })).toBe(
      `7  2026-12-04T10:00:00Z  conflict.opened  kind=duplicate-ip  ip=10.0.0.7  macs=02:00:00:00:00:01,02:00:00:00:00:02  status=open`,
    );
    expect(
      views.event({ id: 8, at, type: 'dhcp.applied', data: { agent: { id: 'a1', name: 'rack\n1' }, version: 3 } }),
    ).toBe(`8  2026-12-04T10:00:00Z  dhcp.applied  agent=rack\\n1  version=3`);
  });

  it('shows exemptions, none listed meaning any MAC and every kind', () => {
    expect(
      views.exemptions({
        items: [
          { id: 'x1', cidr: '10.0.0.1/32', macs: [], kinds: [], comment: 'anycast gateway' },
          { id: 'x2', cidr: '10.0.0.0/30', macs: ['02:00:00:00:00:01'], kinds: ['duplicate-ip'], comment: 'pair' },
        ],
      }),
    ).toBe(
      [
        'ID  CIDR         MACS               KINDS         COMMENT',
        'x1  10.0.0.1/32  any                every         anycast gateway',
        'x2  10.0.0.0/30  02:00:00:00:00:01  duplicate-ip  pair',
      ].join('\n'),
    );
  });

  it('shows known DHCP servers by segment', () => {
    expect(
      views.dhcpServers({
        items: [
          { id: 'd1', vlan: 7, outerVlan: 100, ip: '10.0.0.2', mac: null, comment: 'kea' },
          { id: 'd2', vlan: 8, outerVlan: 0, ip: null, mac: '02:00:00:00:00:53', comment: null },
        ],
      }),
    ).toBe(
      [
        'ID  VLAN   IP        MAC                COMMENT',
        'd1  100.7  10.0.0.2  -                  kea',
        'd2  8      -         02:00:00:00:00:53  -',
      ].join('\n'),
    );
  });
});

describe('the DHCP state of a change', () => {
  it('says how each serving agent stands, with the reason of a failed apply', () => {
    const address = {
      ip: '10.0.0.7',
      dhcp: {
        state: 'pending',
        version: 4,
        agents: [
          { id: 'a', name: 'rack-1', state: 'applied' },
          { id: 'b', name: 'rack-2', state: 'failed', error: 'dnsmasq is not running' },
        ],
      },
    };
    expect(dhcpLine(address)).toBe('DHCP: pending — rack-1: applied, rack-2: failed (dnsmasq is not running)');
    expect(views.released(address)).toBe(`released 10.0.0.7\n${dhcpLine(address)}`);
  });

  it('says nothing of an address no map holds', () => {
    expect(dhcpLine({ dhcp: { state: 'none', version: null, agents: [] } })).toBeUndefined();
    expect(views.released({ ip: '10.0.0.8', dhcp: { state: 'none' } })).toBe('released 10.0.0.8');
  });
});
