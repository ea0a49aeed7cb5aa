import { describe, expect, it } from 'vitest';
import { servedSubnets } from './dhcp-serving.js';

const subnets = [
  { id: 'lab', cidr: '10.99.0.0/24', vlan: 0, managed: true },
  { id: 'lab6', cidr: 'fd99::/64', vlan: 0, managed: true },
  { id: 'tagged', cidr: '10.98.0.0/24', vlan: 98, managed: true },
  { id: 'foreign', cidr: '10.97.0.0/24', vlan: 0, managed: false },
];

describe('servedSubnets', () => {
  it('serves the subnets an interface has an address in, on its VLAN (untagged: 0)', () => {
    const agent = {
      interfaces: [{ vlans: [], addresses: ['10.99.0.2/24', 'fd99::2/64', '10.98.0.2/24', '10.97.0.2/24'] }],
    };
    // 10.98.0.2 is on an untagged interface, the subnet on VLAN 98; 10.97.0.0/24 is not managed.
    expect(servedSubnets(agent, subnets)).toEqual(['lab', 'lab6']);
  });

  it('serves a tagged subnet from an interface on that VLAN', () => {
    expect(servedSubnets({ interfaces: [{ vlans: [98], addresses: ['10.98.0.2/24'] }] }, subnets)).toEqual(['tagged']);
  });

  it('takes what an admin set over the interfaces, managed subnets only', () => {
    const agent = { interfaces: [{ vlans: [], addresses: ['10.99.0.2/24'] }], serves: ['tagged', 'foreign', 'gone'] };
    expect(servedSubnets(agent, subnets)).toEqual(['tagged']);
    expect(servedSubnets({ ...agent, serves: [] }, subnets)).toEqual([]);
  });

  it('skips addresses it cannot read', () => {
    expect(servedSubnets({ interfaces: [{ vlans: [], addresses: ['fe80::1%eth0/64', 'nonsense'] }] }, subnets)).toEqual(
      [],
    );
  });
});
