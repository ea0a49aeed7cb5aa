/**
 * Addresses (API.md, "Addresses") on both databases: the MAAS flows for reserved and device
 * addresses, what the allocator never hands out, requested addresses refused with their
 * reasons, ownership, exhaustion, /31 and /32, random IPv6, and 64 clients allocating from one
 * subnet at once without ever sharing an address.
 */
import { rowsOf, storeBatch } from '@ipwarden/collector';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  allocateUntilExhausted,
  expectProblem,
  startTestCollector,
  TARGETS,
  type TestCollector,
} from './support/collector.js';
import { sighting } from './support/sightings.js';

const path = (cidr: string) => `/subnets/${encodeURIComponent(cidr)}`;

describe.each(TARGETS)('addresses on %s', (target) => {
  let c: TestCollector;
  let alice: string;
  let bob: string;
  let viewer: string;
  let seq = 0;

  /** Makes `ip` observed in use now, by `mac`, as an agent would report it. */
  async function observe(ip: string, mac: string): Promise<void> {
    const { body } = await c.api('GET', '/agents');
    const agentId =
      body.items.find((a: { name: string }) => a.name === 'rack-obs')?.id ??
      (await c.api('POST', '/agents', { json: { name: 'rack-obs' } })).body.id;
    await storeBatch(c.collector.database.db, agentId, ++seq, [sighting({ at: Date.now(), ip, mac })]);
  }

  beforeAll(async () => {
    c = await startTestCollector(target);
    alice = (await c.api('POST', '/users', { json: { name: 'alice', role: 'user' } })).body.token;
    bob = (await c.api('POST', '/users', { json: { name: 'bob', role: 'user' } })).body.token;
    viewer = (await c.api('POST', '/users', { json: { name: 'val', role: 'viewer' } })).body.token;
    const subnet = await c.api('POST', '/subnets', {
      json: { cidr: '10.99.0.0/24', gateway: '10.99.0.1', dnsServers: ['10.99.0.2'] },
    });
    await c.api('POST', `/subnets/${subnet.body.id}/ranges`, {
      json: { start: '10.99.0.3', end: '10.99.0.9', purpose: 'reserved' },
    });
    await c.api('POST', `/subnets/${subnet.body.id}/ranges`, {
      json: { start: '10.99.0.100', end: '10.99.0.199', purpose: 'dynamic' },
    });
  }, 60_000);

  afterAll(async () => c?.close());

  it('reserves a floating IP for a user, lists it, and lets them release it (MAAS)', async () => {
    const { status, body } = await c.api('POST', `${path('10.99.0.0/24')}/reserve`, {
      json: { hostname: 'vip-1' },
      token: alice,
    });
    expect(status).toBe(201);
    // Not the network (.0), the gateway (.1), the DNS server (.2) or the reserved range (.3-.9).
    expect(body).toMatchObject({
      ip: '10.99.0.10',
      cidr: '10.99.0.0/24',
      kind: 'reserved',
      owner: 'alice',
      hostname: 'vip-1',
      mac: null,
    });
    expect(body.dhcp).toEqual({ state: 'none', version: null, agents: [] });
    const listed = await c.api('GET', '/addresses?owner=alice', { token: viewer });
    expect(listed.body.items.map((a: { ip: string }) => a.ip)).toEqual(['10.99.0.10']);
    expectProblem(await c.api('DELETE', '/addresses/10.99.0.10', { token: bob }), 403, 'forbidden');
    expectProblem(await c.api('DELETE', '/addresses/10.99.0.10', { token: viewer }), 403, 'forbidden');
    expect((await c.api('DELETE', '/addresses/10.99.0.10', { token: alice })).status).toBe(200);
    expectProblem(await c.api('GET', '/addresses/10.99.0.10'), 404, 'not-found');
  });

  it('gives the lowest free address again once it is released', async () => {
    const first = await c.api('POST', '/addresses', {
      json: { subnet: '10.99.0.0/24', kind: 'reserved' },
      token: alice,
    });
    const second = await c.api('POST', '/addresses', {
      json: { subnet: '10.99.0.0/24', kind: 'reserved' },
      token: alice,
    });
    expect([first.body.ip, second.body.ip]).toEqual(['10.99.0.10', '10.99.0.11']);
    expect((await c.api('DELETE', '/addresses/10.99.0.10')).status).toBe(200); // an admin may release anyone's
    expect(
      (await c.api('POST', '/addresses', { json: { subnet: '10.99.0.0/24', kind: 'reserved' }, token: bob })).body.ip,
    ).toBe('10.99.0.10');
  });

  it('lets only an admin make a device address, which needs its MAC', async () => {
    const json = { subnet: '10.99.0.0/24', kind: 'device', mac: '02:AA:00:00:00:01', hostname: 'pdu-1' };
    expectProblem(await c.api('POST', '/addresses', { json, token: alice }), 403, 'forbidden');
    expectProblem(
      await c.api('POST', '/addresses', { json: { ...json, mac: undefined } }),
      400,
      'validation-failed',
      'mac',
    );
    const { status, body } = await c.api('POST', '/addresses', { json });
    expect(status).toBe(201);
    expect(body).toMatchObject({ kind: 'device', mac: '02:aa:00:00:00:01', owner: 'admin', ip: '10.99.0.12' });
  });

  it('gives a MAC one address in a subnet’s DHCP map, and says which it has when asked for a second', async () => {
    const json = { subnet: '10.99.0.0/24', kind: 'device', mac: '02:aa:00:00:00:0d' };
    const first = await c.api('POST', '/addresses', { json });
    expect(first.status).toBe(201);
    const second = await c.api('POST', '/addresses', { json: { ...json, kind: 'sticky' } });
    expectProblem(second, 409, 'mac-in-dhcp-map', 'mac');
    expect(second.body.detail).toContain(`already has ${first.body.ip} (device)`);
    // A reservation carries a MAC without being in a DHCP map: allowed beside it.
    expect((await c.api('POST', '/addresses', { json: { ...json, kind: 'reserved' } })).status).toBe(201);
    const other = await c.api('POST', '/addresses', { json: { ...json, mac: '02:aa:00:00:00:0e' } });
    expectProblem(
      await c.api('PATCH', `/addresses/${other.body.ip}`, { json: { mac: '02:aa:00:00:00:0d' } }),
      409,
      'mac-in-dhcp-map',
      'mac',
    );
    const mine = (await c.api('GET', '/addresses?mac=02:aa:00:00:00:0d')).body.items as { ip: string }[];
    expect(mine.length).toBe(2);
    expect((await c.api('GET', `/addresses/${other.body.ip}`)).body.mac).toBe('02:aa:00:00:00:0e');
    // Given back: the tests after this one count on the lowest free addresses.
    for (const { ip } of [...mine, other.body]) expect((await c.api('DELETE', `/addresses/${ip}`)).status).toBe(200);
  });

  it('refuses requested addresses the subnet never hands out, with the reason', async () => {
    const ask = (ip: string, token?: string, force?: boolean) =>
      c.api('POST', '/addresses', {
        json: { subnet: '10.99.0.0/24', kind: 'reserved', ip, ...(force && { force }) },
        token,
      });
    for (const ip of ['10.99.0.0', '10.99.0.255', '10.99.0.1', '10.99.0.2', '10.99.0.5', '10.99.0.150']) {
      expectProblem(await ask(ip), 409, 'ip-unavailable', 'ip');
    }
    expectProblem(await ask('10.99.0.11'), 409, 'ip-in-use', 'ip');
    expectProblem(await ask('10.99.1.20'), 400, 'ip-not-in-subnet', 'ip');
    expectProblem(await ask('fd99::20'), 400, 'invalid-ip', 'ip');
  });

  it('never hands out an address observed in use, unless an admin forces it', async () => {
    await observe('10.99.0.13', '02:00:00:00:01:13');
    const next = await c.api('POST', '/addresses', {
      json: { subnet: '10.99.0.0/24', kind: 'reserved' },
      token: alice,
    });
    expect(next.body.ip).toBe('10.99.0.14');
    const asked = { subnet: '10.99.0.0/24', kind: 'reserved', ip: '10.99.0.13' };
    const refused = await c.api('POST', '/addresses', { json: asked, token: alice });
    expectProblem(refused, 409, 'ip-in-use', 'ip');
    expect(refused.body.detail).toContain('02:00:00:00:01:13');
    expectProblem(
      await c.api('POST', '/addresses', { json: { ...asked, force: true }, token: alice }),
      403,
      'forbidden',
    );
    const forced = await c.api('POST', '/addresses', { json: { ...asked, force: true } });
    expect(forced.status).toBe(201);
    expect(forced.body).toMatchObject({ ip: '10.99.0.13', seenMac: '02:00:00:00:01:13', lastSeen: expect.any(String) });
  });

  it('refuses a dynamic range over an allocated address, and allows a reserved one', async () => {
    const subnet = (await c.api('GET', path('10.99.0.0/24'))).body.id;
    const over = { start: '10.99.0.10', end: '10.99.0.20' };
    expectProblem(
      await c.api('POST', `/subnets/${subnet}/ranges`, { json: { ...over, purpose: 'dynamic' } }),
      409,
      'ip-in-use',
    );
    const reserved = await c.api('POST', `/subnets/${subnet}/ranges`, { json: { ...over, purpose: 'reserved' } });
    expect(reserved.status).toBe(201);
    expect((await c.api('DELETE', `/ranges/${reserved.body.id}`)).status).toBe(204);
  });

  it('shows the allocation beside a discovery, and keeps only unexplained ones with unknown=true', async () => {
    await observe('10.99.0.12', '02:aa:00:00:00:01'); // the device address made above
    await observe('10.99.0.77', '02:00:00:00:00:77'); // allocated to nobody
    const { body } = await c.api('GET', '/discoveries?ip=10.99.0.12');
    expect(body.items[0].address).toMatchObject({
      ip: '10.99.0.12',
      kind: 'device',
      mac: '02:aa:00:00:00:01',
      hostname: 'pdu-1',
    });
    expect((await c.api('GET', '/discoveries?ip=10.99.0.77')).body.items[0].address).toBeUndefined();
    const unknown = (await c.api('GET', '/discoveries?unknown=true')).body.items.map((d: { ip: string }) => d.ip);
    expect(unknown).toContain('10.99.0.77');
    expect(unknown).not.toContain('10.99.0.12');
  });

  it('reports how a subnet is used: counts, and the state of every address of a small one', async () => {
    const { body: subnet } = await c.api('POST', '/subnets', {
      json: { cidr: '10.99.20.0/28', gateway: '10.99.20.1', dnsServers: ['10.99.20.2'] },
    });
    const ranges = `/subnets/${subnet.id}/ranges`;
    await c.api('POST', ranges, { json: { start: '10.99.20.8', end: '10.99.20.11', purpose: 'dynamic' } });
    await c.api('POST', ranges, { json: { start: '10.99.20.12', end: '10.99.20.13', purpose: 'reserved' } });
    for (let i = 0; i < 2; i++)
      await c.api('POST', '/addresses', { json: { subnet: subnet.id, kind: 'reserved' }, token: bob });
    await observe('10.99.20.5', '02:00:00:00:20:05');
    const { status, body } = await c.api('GET', `/subnets/${subnet.id}/utilization`, { token: viewer });
    expect(status).toBe(200);
    expect(body).toMatchObject({
      cidr: '10.99.20.0/28',
      total: 16,
      allocated: { total: 2, byKind: { reserved: 2 } },
      dynamic: 4,
      reserved: 2,
      observedUnallocated: 1,
      free: 3, // .6, .7 and .14
    });
    expect(body.addresses.map((a: { state: string }) => a.state)).toEqual([
      'network',
      'gateway',
      'dns',
      'allocated',
      'allocated',
      'observed',
      'free',
      'free',
      'dynamic',
      'dynamic',
      'dynamic',
      'dynamic',
      'reserved',
      'reserved',
      'free',
      'broadcast',
    ]);
    await c.api('POST', '/subnets', { json: { cidr: 'fd99:4::/64' } });
    await c.api('POST', '/addresses', { json: { subnet: 'fd99:4::/64', kind: 'reserved' } });
    const v6 = (await c.api('GET', `${path('fd99:4::/64')}/utilization`)).body;
    // 2^64 less the subnet-router anycast address and the one allocated: past 2^53, as text.
    expect(v6).toMatchObject({ total: '18446744073709551616', allocated: { total: 1 }, free: '18446744073709551614' });
    expect(v6.addresses).toBeUndefined();
  });

  it('lists one address by ip= (an empty list when it is free), refusing a malformed one', async () => {
    const { body: made } = await c.api('POST', '/addresses', { json: { subnet: '10.99.0.0/24', kind: 'reserved' } });
    const listed = (await c.api('GET', `/addresses?ip=${made.ip}`, { token: viewer })).body;
    expect(listed.items.map((a: { ip: string; subnet: string }) => [a.ip, a.subnet])).toEqual([[made.ip, made.subnet]]);
    expect((await c.api('GET', '/addresses?ip=10.99.0.254')).body).toEqual({ items: [], nextCursor: null });
    expectProblem(await c.api('GET', '/addresses?ip=10.99.0.300'), 400, 'invalid-ip', 'ip');
  });

  it("gives admins each owner's holdings by kind, largest first, and nobody else", async () => {
    for (let i = 0; i < 3; i++)
      await c.api('POST', '/addresses', { json: { subnet: '10.99.0.0/24', kind: 'reserved' }, token: bob });
    const { status, body } = await c.api('GET', '/addresses/owners');
    expect(status).toBe(200);
    // The same as counting the whole list by owner and kind.
    const all: { owner: string; kind: string }[] = [];
    let cursor: string | null = null;
    do {
      const page: { items: { owner: string; kind: string }[]; nextCursor: string | null } = (
        await c.api('GET', `/addresses?limit=500${cursor === null ? '' : `&cursor=${cursor}`}`)
      ).body;
      all.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor !== null);
    for (const holding of body.items) {
      const held = all.filter((a) => a.owner === holding.owner);
      expect(holding.total).toBe(held.length);
      for (const [kind, n] of Object.entries(holding.byKind))
        expect(held.filter((a) => a.kind === kind)).toHaveLength(n as number);
    }
    expect(body.items.reduce((n: number, h: { total: number }) => n + h.total, 0)).toBe(all.length);
    const totals = body.items.map((h: { total: number }) => h.total);
    expect(totals).toEqual([...totals].sort((a, b) => b - a));
    expect(body.items.find((h: { owner: string }) => h.owner === 'bob')).toMatchObject({ role: 'user' });
    expectProblem(await c.api('GET', '/addresses/owners', { token: alice }), 403, 'forbidden');
    expectProblem(await c.api('GET', '/addresses/owners', { token: viewer }), 403, 'forbidden');
  });

  it('answers bad input with its code and changes nothing', async () => {
    const before = (await c.api('GET', '/addresses')).body;
    const cases: [unknown, number, string, string?][] = [
      [{ subnet: '10.99.0.0/24', kind: 'reserved', mac: '02:00:00:00:00' }, 400, 'invalid-mac', 'mac'],
      [{ subnet: '10.99.0.0/24', kind: 'reserved', hostname: 'bad_name!' }, 400, 'invalid-hostname', 'hostname'],
      [{ subnet: '10.99.0.0/24', kind: 'reserved', ip: '10.99.0.256' }, 400, 'invalid-ip', 'ip'],
      [{ subnet: '10.99.0.0/23', kind: 'reserved' }, 404, 'not-found'],
      [{ subnet: '10.99.0.7/24', kind: 'reserved' }, 400, 'invalid-cidr', 'subnet'],
      [{ subnet: '10.99.0.0/24', kind: 'floating' }, 400, 'validation-failed', 'kind'],
      [{ subnet: '10.99.0.0/24', kind: 'reserved', colour: 'red' }, 400, 'validation-failed'],
      [{ subnet: '10.99.0.0/24', kind: 'reserved', force: 'yes' }, 400, 'validation-failed', 'force'],
      [{ kind: 'reserved' }, 400, 'validation-failed', 'subnet'],
    ];
    for (const [json, status, code, field] of cases) {
      expectProblem(await c.api('POST', '/addresses', { json, token: alice }), status, code, field);
    }
    expectProblem(
      await c.api('POST', '/addresses', { json: { subnet: '10.99.0.0/24', kind: 'reserved' }, token: viewer }),
      403,
      'forbidden',
    );
    expect((await c.api('GET', '/addresses')).body).toEqual(before);
  });

  it('fills a small subnet exactly, then answers subnet-exhausted', async () => {
    await c.api('POST', '/subnets', { json: { cidr: '10.99.8.0/29', gateway: '10.99.8.1' } });
    const got: string[] = [];
    for (;;) {
      const { status, body } = await c.api('POST', '/addresses', {
        json: { subnet: '10.99.8.0/29', kind: 'reserved' },
        token: bob,
      });
      if (status !== 201) {
        expectProblem({ status, body, contentType: 'application/problem+json' }, 409, 'subnet-exhausted');
        break;
      }
      got.push(body.ip);
    }
    expect(got).toEqual(['10.99.8.2', '10.99.8.3', '10.99.8.4', '10.99.8.5', '10.99.8.6']);
    expectProblem(await c.api('DELETE', path('10.99.8.0/29')), 409, 'subnet-in-use');
    expect((await c.api('DELETE', `${path('10.99.8.0/29')}?force=true`)).status).toBe(204);
    expect((await c.api('GET', '/addresses?owner=bob')).body.items.map((a: { ip: string }) => a.ip)).not.toContain(
      '10.99.8.2',
    );
  });

  it('hands out both addresses of a /31 (RFC 3021) and the one of a /32', async () => {
    await c.api('POST', '/subnets', { json: { cidr: '10.99.9.0/31' } });
    await c.api('POST', '/subnets', { json: { cidr: '10.99.9.8/32' } });
    const take = async (cidr: string) =>
      (await c.api('POST', '/addresses', { json: { subnet: cidr, kind: 'reserved' } })).body.ip;
    expect([await take('10.99.9.0/31'), await take('10.99.9.0/31'), await take('10.99.9.8/32')]).toEqual([
      '10.99.9.0',
      '10.99.9.1',
      '10.99.9.8',
    ]);
  });

  it('draws IPv6 addresses at random across a /64, never the subnet-router anycast address', async () => {
    await c.api('POST', '/subnets', { json: { cidr: 'fd99:1:2:3::/64', gateway: 'fd99:1:2:3::1' } });
    const drawn = new Set<string>();
    for (let i = 0; i < 8; i++) {
      const { status, body } = await c.api('POST', '/addresses', {
        json: { subnet: 'fd99:1:2:3::/64', kind: 'reserved' },
      });
      expect(status).toBe(201);
      expect(body.ip).toMatch(/^fd99:1:2:3:/);
      drawn.add(body.ip);
    }
    expect(drawn.size).toBe(8);
    expect(drawn.has('fd99:1:2:3::')).toBe(false);
  });

  it('finds the lowest free address past hundreds of runs and sightings, reading them in windows', async () => {
    // 10.98.0.0/16: allocated in runs of 99 with one address after each seen in use (offsets
    // 100, 200 … 59,900), then runs with free gaps: the first free address is offset 60,000.
    // Far more runs and sightings than one read takes, and run ends that sort apart as text
    // (.99 and .199) and as numbers.
    const subnet = (await c.api('POST', '/subnets', { json: { cidr: '10.98.0.0/16', gateway: '10.98.0.1' } })).body;
    const { db } = c.collector.database;
    const [admin] = await rowsOf<{ id: string }>(db, sql`select id from users where name = 'admin'`);
    const owner = admin!.id;
    await db.execute(sql`insert into addresses (subnet_id, ip, kind, owner_id)
      select ${subnet.id}::uuid, '10.98.0.0'::inet + n, 'reserved', ${owner}::uuid
      from generate_series(2, 65000) n where n % 100 <> 0`);
    await db.execute(sql`insert into taken_runs (subnet_id, lo, hi)
      select ${subnet.id}::uuid, '10.98.0.0'::inet + greatest(100 * m + 1, 2), '10.98.0.0'::inet + (100 * m + 99)
      from generate_series(0, 649) m`);
    await db.execute(sql`insert into bindings (vlan, outer_vlan, ip, mac, agent_id, interface, sources, hostnames, first_seen, last_seen)
      select 0, 0, '10.98.0.0'::inet + 100 * m, '02:00:00:00:00:01', gen_random_uuid(), 'eth0', '{arp}', '{}', now(), now()
      from generate_series(1, 599) m`);
    const take = async () =>
      (await c.api('POST', '/addresses', { json: { subnet: subnet.id, kind: 'reserved' } })).body.ip;
    expect([await take(), await take()]).toEqual(['10.98.234.96', '10.98.234.196']); // offsets 60,000 and 60,100
    // The runs either side joined up: [59,901 … 60,199] is one run now.
    const runs = await rowsOf<{ lo: string; hi: string }>(
      db,
      sql`select host(lo) as lo, host(hi) as hi from taken_runs
          where subnet_id = ${subnet.id}::uuid and hi > '10.98.233.152'::inet order by taken_runs.lo limit 3`,
    );
    expect(runs.map((r) => `${r.lo}-${r.hi}`)).toEqual([
      '10.98.233.153-10.98.233.251', // 59,801 … 59,899
      '10.98.233.253-10.98.235.39', // 59,901 … 60,199
      '10.98.235.41-10.98.235.139', // 60,201 … 60,299
    ]);
    expect((await c.api('DELETE', `/subnets/${subnet.id}?force=true`)).status).toBe(204);
    await db.execute(sql`delete from bindings where ip << '10.98.0.0/16'::inet`);
  }, 60_000);

  it('finds the lowest free address past 20,000 addresses seen in use, some by two MACs', async () => {
    // A subnet watched long before it was managed: more sightings than 64 reads of 256 rows.
    const subnet = (await c.api('POST', '/subnets', { json: { cidr: '10.97.0.0/16', gateway: '10.97.0.1' } })).body;
    const { db } = c.collector.database;
    await db.execute(sql`insert into bindings (vlan, outer_vlan, ip, mac, agent_id, interface, sources, hostnames, first_seen, last_seen)
      select 0, 0, '10.97.0.0'::inet + n, mac::macaddr, gen_random_uuid(), 'eth0', '{arp}', '{}', now(), now()
      from generate_series(2, 20001) n, (values ('02:00:00:00:00:01'), ('02:00:00:00:00:02')) as m(mac)
      where n < 1000 or mac = '02:00:00:00:00:01'`);
    const { status, body } = await c.api('POST', '/addresses', { json: { subnet: subnet.id, kind: 'reserved' } });
    expect(status).toBe(201);
    expect(body.ip).toBe('10.97.78.34'); // offset 20,002
    expect((await c.api('DELETE', `/subnets/${subnet.id}?force=true`)).status).toBe(204);
    await db.execute(sql`delete from bindings where ip << '10.97.0.0/16'::inet`);
  }, 60_000);

  it('gives 64 clients allocating at once distinct addresses until the subnet is exactly full', async () => {
    await c.api('POST', '/subnets', { json: { cidr: '10.99.16.0/25', gateway: '10.99.16.1' } });
    const capacity = 126 - 1; // usable addresses of a /25, less the gateway
    const all = await allocateUntilExhausted(64, () =>
      c.api('POST', '/addresses', { json: { subnet: '10.99.16.0/25', kind: 'reserved' }, token: alice }),
    );
    expect(all).toHaveLength(capacity);
    expect(new Set(all).size).toBe(capacity);
    const listed = (await c.api('GET', '/addresses?subnet=10.99.16.0%2F25&limit=1000')).body.items;
    expect(listed).toHaveLength(capacity);
  }, 60_000);
});
