import { describe, expect, it } from 'vitest';
import { applyMapChange, type DhcpMapContent, mapChange, mapProblems } from './dhcp-map.js';
import type { DhcpHost, DhcpSubnet } from './messages.js';

const subnet: DhcpSubnet = { cidr: '10.99.0.0/24', gateway: '10.99.0.1' };
const host = (n: number, ip = n): DhcpHost => ({
  mac: `02:00:00:00:00:0${n}`,
  ip: `10.99.0.${ip}`,
  subnet: subnet.cidr,
});
const map = (version: number, hosts = [host(1), host(2)], subnets = [subnet]): DhcpMapContent => ({
  version,
  hosts,
  subnets,
});

describe('DHCP maps', () => {
  it('makes a change of what was added, moved, renamed and removed, and applying it gives the new map', () => {
    const before = map(3, [host(1), host(2), host(3)]);
    const after = map(4, [host(1, 11), { ...host(2), hostname: 'two' }, host(4)]);
    const change = mapChange(before, after);
    expect(change).toEqual({
      type: 'dhcpMapChange',
      version: 4,
      base: 3,
      hosts: [host(1, 11), { ...host(2), hostname: 'two' }, host(4)],
      removed: [{ subnet: subnet.cidr, mac: host(3).mac }],
    });
    const applied = applyMapChange(before, change)!;
    expect(applied.version).toBe(4);
    expect(new Set(applied.hosts)).toEqual(new Set(after.hosts));
  });

  it('sends the subnets only when they changed', () => {
    const change = mapChange(map(1), map(2, undefined, [{ ...subnet, leaseSeconds: 600 }]));
    expect(change.subnets).toEqual([{ ...subnet, leaseSeconds: 600 }]);
    expect(applyMapChange(map(1), change)!.subnets).toEqual([{ ...subnet, leaseSeconds: 600 }]);
  });

  it('refuses a change made for another version', () => {
    expect(applyMapChange(map(5), mapChange(map(4), map(6)))).toBeUndefined();
  });

  it('lets a host take an address from another: two MACs swapping addresses apply in one change', () => {
    const before = map(1, [host(1, 1), host(2, 2)]);
    const after = map(2, [host(1, 2), host(2, 1)]);
    const applied = applyMapChange(before, mapChange(before, after))!;
    expect(mapProblems(applied)).toEqual([]);
    expect(applied.hosts.map((h) => [h.mac, h.ip]).sort()).toEqual([
      [host(1).mac, '10.99.0.2'],
      [host(2).mac, '10.99.0.1'],
    ]);
  });

  it('names what makes a map unfit: a name DHCP cannot carry, a MAC or an IP twice in a subnet, a host without its subnet', () => {
    expect(
      mapProblems({
        hosts: [
          host(1),
          host(1, 5),
          host(2, 5),
          { ...host(3), subnet: '10.98.0.0/24' },
          { ...host(4), hostname: 'a_b' },
        ],
        subnets: [subnet],
      }),
    ).toEqual([
      'host 02:00:00:00:00:04 (10.99.0.4): "a_b" is not a name DHCP can carry (RFC 1123 labels)',
      '02:00:00:00:00:01 has two addresses in 10.99.0.0/24: 10.99.0.1 and 10.99.0.5',
      '10.99.0.5 is reserved twice in 10.99.0.0/24: for 02:00:00:00:00:01 and 02:00:00:00:00:02',
      'host 02:00:00:00:00:03 is in subnet 10.98.0.0/24, which the map lacks',
    ]);
  });
});
