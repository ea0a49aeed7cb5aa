import { describe, expect, it } from 'vitest';
import { keaConfig, keaProblems, keaSubnetId } from './kea-config.js';
import { parseHostsDatabase } from './kea-hosts-database.js';

const database = parseHostsDatabase('postgres://kea:secret@db.example:5433/kea');
const places = { interfaces: ['eth1'], controlSocket: '/s/kea.sock', leaseFile: '/s/leases4.csv', database };

describe('the Kea configuration', () => {
  it('numbers a subnet by its network address, beyond 2^31 too (Kea subnet ids are 32-bit)', () => {
    expect(keaSubnetId('10.99.0.0/24')).toBe(0x0a630000);
    expect(keaSubnetId('192.168.0.0/16')).toBe(3_232_235_520);
    expect(keaSubnetId('0.0.0.0/0')).toBe(1);
  });

  it('holds subnets, pools and options, and no reservation', () => {
    const config = keaConfig(
      [
        {
          cidr: '10.99.0.0/24',
          gateway: '10.99.0.1',
          dnsServers: ['10.99.0.53', '10.99.0.54'],
          domain: 'rack.example',
          leaseSeconds: 3600,
          nextServer: '10.99.0.2',
          bootFile: 'pxelinux.0',
          dynamicRanges: [{ start: '10.99.0.100', end: '10.99.0.199' }],
        },
      ],
      places,
    ) as { Dhcp4: Record<string, unknown> };
    expect(config.Dhcp4.subnet4).toEqual([
      {
        id: 0x0a630000,
        subnet: '10.99.0.0/24',
        pools: [{ pool: '10.99.0.100 - 10.99.0.199' }],
        'option-data': [
          { name: 'routers', data: '10.99.0.1' },
          { name: 'domain-name-servers', data: '10.99.0.53, 10.99.0.54' },
          { name: 'domain-name', data: 'rack.example' },
        ],
        'valid-lifetime': 3600,
        'next-server': '10.99.0.2',
        'boot-file-name': 'pxelinux.0',
      },
    ]);
    expect(config.Dhcp4['hosts-database']).toMatchObject({
      type: 'postgresql',
      name: 'kea',
      host: 'db.example',
      port: 5433,
      user: 'kea',
      password: 'secret',
      'on-fail': 'serve-retry-continue',
    });
    expect(JSON.stringify(config)).not.toContain('reservations');
  });

  it('refuses what DHCPv4 Kea cannot serve: IPv6 subnets, two subnets on one network address', () => {
    expect(
      keaProblems({
        version: 1,
        hosts: [],
        subnets: [{ cidr: 'fd99::/64' }, { cidr: '10.99.0.0/24' }, { cidr: '10.99.0.0/25' }],
      }),
    ).toEqual([
      'subnet fd99::/64: this backend serves DHCPv4 only',
      'subnets 10.99.0.0/24 and 10.99.0.0/25 share a network address',
    ]);
  });
});

describe('the Kea hosts database URL', () => {
  it('takes a Unix socket directory in libpq’s ?host= form', () => {
    expect(parseHostsDatabase('postgres://kea@localhost/kea?host=/run/postgresql&port=5432')).toEqual({
      name: 'kea',
      host: '/run/postgresql',
      port: 5432,
      user: 'kea',
    });
  });

  it('says what is wrong with one it cannot use', () => {
    expect(() => parseHostsDatabase('not a url')).toThrow(/is not a URL/);
    expect(() => parseHostsDatabase('mysql://kea@db/kea')).toThrow(/must be a postgres:\/\/ URL, not mysql:/);
    expect(() => parseHostsDatabase('postgres://db.example/')).toThrow(/needs a user and a database name/);
  });
});
