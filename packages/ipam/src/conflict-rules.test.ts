import { describe, expect, it } from 'vitest';
import {
  type AllocationFacts,
  type HistoryFacts,
  judgeBinding,
  judgeDhcpServer,
  MAC_CHANGE_GRACE_MS,
  needsAllocation,
  type SeenBinding,
} from './conflict-rules.js';
import { parseIp } from './ip.js';
import { NetworkPlan } from './network-plan.js';

const A = '02:00:00:00:00:0a';
const B = '02:00:00:00:00:0b';
const ROUTER = '02:00:00:00:00:01';
const AGENT_MAC = '02:00:00:00:00:99';
const NOW = 1_800_000_000_000;

const plan = () => {
  const p = new NetworkPlan({
    subnets: [
      {
        id: 's4',
        cidr: '10.99.0.0/24',
        vlan: 0,
        managed: true,
        gateway: '10.99.0.1',
        dnsServers: ['10.99.0.2'],
        dhcpServers: ['10.99.0.3'],
        ranges: [
          { start: '10.99.0.100', end: '10.99.0.149', purpose: 'dynamic' },
          { start: '10.99.0.200', end: '10.99.0.209', purpose: 'reserved' },
        ],
      },
      { id: 'watched', cidr: '10.98.0.0/24', vlan: 0, managed: false, dnsServers: [], dhcpServers: [], ranges: [] },
      { id: 's6', cidr: 'fd99::/64', vlan: 0, managed: true, dnsServers: [], dhcpServers: [], ranges: [] },
      { id: 'v7', cidr: '10.99.0.0/25', vlan: 7, managed: true, dnsServers: [], dhcpServers: [], ranges: [] },
    ],
    exemptions: [
      { id: 'vip', cidr: '10.99.0.50/32', macs: [A, B], kinds: ['duplicate-ip'] },
      { id: 'lab', cidr: '10.99.0.60/31', macs: [], kinds: [] },
    ],
    dhcpServers: [{ vlan: 0, outerVlan: 0, mac: '02:00:00:00:00:d1' }],
    agents: [
      {
        id: 'agent-1',
        name: 'rack-1',
        interfaces: [{ mac: AGENT_MAC, addresses: ['10.99.0.5/24'] }],
        servesDhcp: true,
      },
    ],
  });
  p.learnRouter(0, ROUTER);
  return p;
};

function seen(ip: string, mac: string, more: Partial<SeenBinding> = {}): SeenBinding {
  return { vlan: 0, outerVlan: 0, ip: parseIp(ip)!, ipText: ip, mac, at: NOW, event: 'new', ...more };
}

function judge(
  s: SeenBinding,
  allocation?: AllocationFacts,
  history?: HistoryFacts,
  p: NetworkPlan = plan(),
): { kinds: string[]; quiet: string[] } {
  const located = p.locate(s.vlan, s.ip);
  const j = judgeBinding(p, s, located, needsAllocation(located) ? allocation : undefined, history);
  return { kinds: j.findings.map((f) => f.kind), quiet: j.quieted.map((q) => q.rule) };
}

describe('judgeBinding', () => {
  it.each([
    ['an allocated address used by its MAC', seen('10.99.0.10', A), { id: 'x', mac: A }, [], []],
    ['an allocated address with no MAC, used by any MAC', seen('10.99.0.10', B), { id: 'x' }, [], []],
    ['an allocated address used by another MAC', seen('10.99.0.10', B), { id: 'x', mac: A }, ['mac-mismatch'], []],
    ['an address nothing allocates', seen('10.99.0.10', A), undefined, ['unallocated-in-use'], []],
    ['an IPv6 address nothing allocates', seen('fd99::10', A), undefined, ['unallocated-in-use'], []],
    ['a DHCP client in a dynamic range', seen('10.99.0.120', A), undefined, [], ['dynamic-range']],
    ['the gateway', seen('10.99.0.1', ROUTER), undefined, [], ['gateway']],
    ['a DNS server', seen('10.99.0.2', A), undefined, [], ['dns-server']],
    ['a DHCP server of the subnet', seen('10.99.0.3', A), undefined, [], ['dhcp-server']],
    ['an address in a reserved range', seen('10.99.0.205', A), undefined, ['reserved-range-in-use'], []],
    ['an address outside every subnet of the segment', seen('10.97.0.9', A), undefined, ['foreign-subnet'], []],
    ['an address of a segment with no subnet of its family', seen('10.99.0.9', A, { vlan: 3 }), undefined, [], []],
    ['an address of an unmanaged subnet', seen('10.98.0.9', A), undefined, [], []],
    ['a link-local IPv6 address', seen('fe80::1', A), undefined, [], ['link-local']],
    ['an agent’s own address', seen('10.99.0.5', AGENT_MAC), undefined, [], ['agent-address']],
    ['a VRRP virtual router', seen('10.99.0.10', '00:00:5e:00:01:07'), undefined, [], ['virtual-router']],
    ['an HSRPv2 virtual router', seen('10.99.0.10', '00:00:0c:9f:f0:07'), { id: 'x', mac: A }, [], ['virtual-router']],
    ['a router answering for others (proxy ARP)', seen('10.99.0.10', ROUTER), { id: 'x', mac: A }, [], ['proxy-arp']],
    ['an exempted address', seen('10.99.0.61', A), undefined, [], ['exemption']],
    ['a VLAN of its own subnets', seen('10.99.0.9', A, { vlan: 7 }), undefined, ['unallocated-in-use'], []],
    [
      'a VLAN whose subnets do not hold the address',
      seen('10.99.0.200', A, { vlan: 7 }),
      undefined,
      ['foreign-subnet'],
      [],
    ],
  ] as const)('%s', (_, s, allocation, kinds, quiet) => {
    expect(judge(s, allocation)).toEqual({ kinds, quiet });
  });

  it('takes a MAC returning to an address within the window for a duplicate, not a move', () => {
    const back = seen('10.99.0.10', A, { event: 'moved', previousMac: B });
    expect(judge(back, { id: 'x', mac: A }, { returning: true, probers: [] }).kinds).toEqual(['duplicate-ip']);
    expect(judge(back, { id: 'x', mac: A }, { returning: false, probers: [] }).kinds).toEqual([]);
  });

  it('takes an answer to another MAC’s probe for a duplicate, and its own looped-back probe for nothing', () => {
    const answer = seen('10.99.0.120', B, { event: 'refresh', answersProbe: true });
    expect(judge(answer, undefined, { returning: false, probers: [A] }).kinds).toEqual(['duplicate-ip']);
    expect(judge(answer, undefined, { returning: false, probers: [B] })).toEqual({
      kinds: [],
      quiet: ['looped-back', 'dynamic-range'],
    });
  });

  it('keeps GLBP forwarders sharing their gateway quiet, but not a host contesting a virtual router', () => {
    const glbp = seen('10.99.0.1', '00:07:b4:00:01:02', { event: 'moved', previousMac: '00:07:b4:00:01:01' });
    expect(judge(glbp, undefined, { returning: true, probers: [] }).kinds).toEqual([]);
    const spoof = seen('10.99.0.1', B, { event: 'moved', previousMac: '00:07:b4:00:01:01' });
    expect(judge(spoof, undefined, { returning: true, probers: [] }).kinds).toEqual(['duplicate-ip']);
  });

  it('lets the previous MAC of an address changed through the API be heard for a while', () => {
    const changed = { id: 'x', mac: B, previousMac: A, macChangedAt: NOW - 1000 };
    expect(judge(seen('10.99.0.10', A), changed)).toEqual({ kinds: [], quiet: ['mac-change'] });
    const back = seen('10.99.0.10', A, { event: 'moved', previousMac: B });
    expect(judge(back, changed, { returning: true, probers: [] })).toEqual({
      kinds: [],
      quiet: ['mac-change', 'mac-change'],
    });
    const later = { ...changed, macChangedAt: NOW - MAC_CHANGE_GRACE_MS };
    expect(judge(seen('10.99.0.10', A), later).kinds).toEqual(['mac-mismatch']);
  });

  it('exempts a declared pair, and only that pair', () => {
    const pair = seen('10.99.0.50', A, { event: 'moved', previousMac: B });
    expect(judge(pair, { id: 'x' }, { returning: true, probers: [] }).quiet).toEqual(['exemption']);
    const other = seen('10.99.0.50', A, { event: 'moved', previousMac: '02:00:00:00:00:0c' });
    expect(judge(other, { id: 'x' }, { returning: true, probers: [] }).kinds).toEqual(['duplicate-ip']);
  });
});

describe('judgeDhcpServer', () => {
  const server = (ip: string, mac: string, vlan = 0) => ({ vlan, outerVlan: 0, ip: parseIp(ip)!, ipText: ip, mac });

  it.each([
    ['a server declared by MAC', server('10.99.0.77', '02:00:00:00:00:d1'), false],
    ['a server named on its subnet', server('10.99.0.3', '02:00:00:00:00:d2'), false],
    ['an agent’s own server', server('10.99.0.5', AGENT_MAC), false],
    ['any other server', server('10.99.0.66', '02:00:00:00:00:d3'), true],
    ['a declared server on another segment', server('10.99.0.77', '02:00:00:00:00:d1', 9), true],
  ])('%s', (_, s, rogue) => {
    const findings = judgeDhcpServer(plan(), s).findings;
    expect(findings.map((f) => [f.kind, f.subject])).toEqual(rogue ? [['rogue-dhcp-server', s.mac]] : []);
  });
});
