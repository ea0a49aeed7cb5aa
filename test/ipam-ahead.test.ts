/**
 * Batches decided ahead (collector/src/ipam/allocator.ts): on PostgreSQL the allocator decides a
 * subnet's next batch from what it knew after the last one, before locking anything, and its
 * write checks under the lock that nothing changed since. Every kind of change is made here
 * between two allocations — a freed address, a reserved range, a DNS server, a sighting, a pool,
 * the observation window, another collector's allocation — and the next address handed out must
 * be the one a fresh read would give. On PGlite (no batches ahead) the same answers.
 */
import { rowsOf } from '@ipwarden/collector';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCollector, TARGETS, type TestCollector } from './support/collector.js';

/** A counter of the collector's /metrics (0 when absent). */
async function counter(c: TestCollector, name: string): Promise<number> {
  const text: string = (await c.api('GET', '/metrics')).body;
  return text
    .split('\n')
    .filter((line) => line.startsWith(name))
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
}

describe.each(TARGETS)('allocations decided ahead, on %s', (target) => {
  let c: TestCollector;
  let other: TestCollector | undefined;
  let subnet: { id: string };
  const take = async (via = c) => {
    const { status, body } = await via.api('POST', '/addresses', { json: { subnet: subnet.id, kind: 'reserved' } });
    expect(status, JSON.stringify(body)).toBe(201);
    return body.ip as string;
  };
  /** The subnet's runs are exactly its addresses, coalesced. */
  const expectRunsHoldAddresses = async (subnetId = subnet.id) => {
    const [check] = await rowsOf<{ addresses: number; covered: number; runs: number; touching: number }>(
      c.collector.database.db,
      sql`select (select count(*)::int from addresses where subnet_id = ${subnetId}::uuid) as addresses,
                 (select coalesce(sum(hi - lo + 1), 0)::int from taken_runs where subnet_id = ${subnetId}::uuid) as covered,
                 (select count(*)::int from addresses a where subnet_id = ${subnetId}::uuid and exists (
                    select 1 from taken_runs t where t.subnet_id = a.subnet_id and a.ip between t.lo and t.hi)) as runs,
                 (select count(*)::int from taken_runs t join taken_runs u on u.subnet_id = t.subnet_id
                    and u.lo = t.hi + 1 where t.subnet_id = ${subnetId}::uuid) as touching`,
    );
    expect(check).toEqual({
      addresses: check!.addresses,
      covered: check!.addresses,
      runs: check!.addresses,
      touching: 0,
    });
  };
  const heldBack = () => counter(c, 'ipwarden_allocation_subnets_held_back_total');

  beforeAll(async () => {
    c = await startTestCollector(target);
    if (target === 'PostgreSQL') other = await startTestCollector(target, { databaseUrl: c.postgres!.url });
    subnet = (await c.api('POST', '/subnets', { json: { cidr: '10.99.30.0/24', gateway: '10.99.30.1' } })).body;
  }, 60_000);

  afterAll(async () => {
    await other?.close();
    await c?.close();
  });

  it('decides a subnet’s batches ahead once it has been read, handing out the lowest free address each time', async () => {
    const before = await counter(c, 'ipwarden_allocation_batches_total{decided="ahead"}');
    const got = [];
    for (let i = 0; i < 5; i++) got.push(await take());
    expect(got).toEqual(['10.99.30.2', '10.99.30.3', '10.99.30.4', '10.99.30.5', '10.99.30.6']);
    const ahead = (await counter(c, 'ipwarden_allocation_batches_total{decided="ahead"}')) - before;
    // The first is read (or read-ahead from a lost view); the rest need no read at all.
    if (target === 'PostgreSQL') expect(ahead).toBeGreaterThanOrEqual(4);
    else expect(ahead).toBe(0);
    await expectRunsHoldAddresses();
  });

  it('hands out an address freed since, a range, a DNS server and a pool never', async () => {
    expect(await take()).toBe('10.99.30.7');
    expect((await c.api('DELETE', '/addresses/10.99.30.3')).status).toBe(200);
    expect(await take()).toBe('10.99.30.3');

    expect(await take()).toBe('10.99.30.8');
    const range = await c.api('POST', `/subnets/${subnet.id}/ranges`, {
      json: { start: '10.99.30.9', end: '10.99.30.12', purpose: 'reserved' },
    });
    expect(range.status, JSON.stringify(range.body)).toBe(201);
    expect(await take()).toBe('10.99.30.13');
    expect((await c.api('DELETE', `/ranges/${range.body.id}`)).status).toBe(204);
    expect(await take()).toBe('10.99.30.9');

    const dns = await c.api('PATCH', `/subnets/${subnet.id}`, { json: { dnsServers: ['10.99.30.10'] } });
    expect(dns.status, JSON.stringify(dns.body)).toBe(200);
    expect(await take()).toBe('10.99.30.11');

    expect(await take()).toBe('10.99.30.12');
    const pool = await c.api('POST', '/pools', {
      json: { name: 'ahead', namePrefix: 'ahead', ranges: [{ start: '10.99.30.14', end: '10.99.30.20' }] },
    });
    expect(pool.status, JSON.stringify(pool.body)).toBe(201);
    expect(await take()).toBe('10.99.30.21');
    expect((await c.api('DELETE', '/pools/ahead')).status).toBe(204);
    expect(await take()).toBe('10.99.30.14');
    await expectRunsHoldAddresses();
  });

  it('hands out no address seen in use since, and one that aged out of a narrowed window', async () => {
    expect(await take()).toBe('10.99.30.15');
    const before = await heldBack();
    const { db } = c.collector.database;
    const seen = (ip: string, ago: string) =>
      db.execute(sql`insert into bindings (vlan, outer_vlan, ip, mac, agent_id, interface, sources, hostnames, first_seen, last_seen)
        values (0, 0, ${ip}::inet, '02:00:00:00:30:01', gen_random_uuid(), 'eth0', '{arp}', '{}',
                now() - ${ago}::interval, now() - ${ago}::interval)`);
    await seen('10.99.30.16', '1 second');
    expect(await take()).toBe('10.99.30.17');
    // The view carried ahead did not know the sighting: the write was held back, and decided again.
    if (target === 'PostgreSQL') {
      expect(await heldBack()).toBe(before + 1);
    }

    await seen('10.99.30.18', '2 hours'); // in use within the default day
    expect(await take()).toBe('10.99.30.19');
    const narrowed = await c.api('PUT', '/settings', { json: { observationWindowSeconds: 3_600 } });
    expect(narrowed.status, JSON.stringify(narrowed.body)).toBe(200);
    expect(await take()).toBe('10.99.30.18');
    await c.api('PUT', '/settings', { json: { observationWindowSeconds: 86_400 } });
    await db.execute(sql`delete from bindings where ip << '10.99.30.0/24'::inet`);
    await expectRunsHoldAddresses();
  });

  it('hands out next what another collector left, after it allocated and freed in the same subnet', async () => {
    if (other === undefined) return; // one PGlite database is one collector's
    // Free now: .16 (its sighting gone), .20, and from .22 on.
    expect(await take()).toBe('10.99.30.16');
    expect(await take(other)).toBe('10.99.30.20');
    expect(await take()).toBe('10.99.30.22');
    expect((await other.api('DELETE', '/addresses/10.99.30.20')).status).toBe(200);
    expect(await take()).toBe('10.99.30.20');
    expect(await take(other)).toBe('10.99.30.23');
    expect(await take()).toBe('10.99.30.24');
    await expectRunsHoldAddresses();
  });

  it('takes addresses of a /64 it has not read to be unused, and the write checks that they are', async () => {
    const v6 = (await c.api('POST', '/subnets', { json: { cidr: 'fd99:30::/64' } })).body;
    expect(v6.allocation).toBe('random');
    const mine = async (ip?: string, via = c) =>
      via.api('POST', '/addresses', { json: { subnet: v6.id, kind: 'reserved', ...(ip && { ip }) } });
    const before = await counter(c, 'ipwarden_allocation_batches_total{decided="ahead"}');
    const drawn = [];
    for (let i = 0; i < 5; i++) drawn.push((await mine()).body.ip);
    expect(new Set(drawn).size).toBe(5);
    for (const ip of drawn) expect(ip).toMatch(/^fd99:30::/);
    // Random draws are never read first: after the first batch, each is decided ahead.
    const ahead = (await counter(c, 'ipwarden_allocation_batches_total{decided="ahead"}')) - before;
    if (target === 'PostgreSQL') expect(ahead).toBeGreaterThanOrEqual(4);

    // Asked for, unread: given, and then known taken.
    expect((await mine('fd99:30::a')).status).toBe(201);
    expect((await mine('fd99:30::a')).body.code).toBe('ip-in-use');

    // Seen in use, unread: the write finds the sighting.
    const { db } = c.collector.database;
    await db.execute(sql`insert into bindings (vlan, outer_vlan, ip, mac, agent_id, interface, sources, hostnames, first_seen, last_seen)
      values (0, 0, 'fd99:30::b0', '02:00:00:00:30:02', gen_random_uuid(), 'eth0', '{nd}', '{}', now(), now())`);
    const seenBefore = await heldBack();
    expect((await mine('fd99:30::b0')).body.code).toBe('ip-in-use');
    if (target === 'PostgreSQL') expect(await heldBack()).toBe(seenBefore + 1);

    // One address after another, each next to the last: only what was never read is checked.
    const nextBefore = await heldBack();
    expect((await mine('fd99:30::d0')).status).toBe(201);
    expect((await mine('fd99:30::d1')).status).toBe(201);
    expect((await mine('fd99:30::d2')).status).toBe(201);
    expect(await heldBack()).toBe(nextBefore);

    if (other !== undefined) {
      // Next to a run this collector never read (the other one made it): the write finds the
      // run, and the address is decided again from a read, so that the two join up.
      expect((await mine('fd99:30::c0', other)).status).toBe(201);
      expect((await mine()).status).toBe(201); // the stamp changed: read afresh, around another address
      const runBefore = await heldBack();
      expect((await mine('fd99:30::c1')).status).toBe(201);
      expect(await heldBack()).toBe(runBefore + 1);
      const runs = await rowsOf<{ lo: string; hi: string }>(
        db,
        sql`select host(lo) as lo, host(hi) as hi from taken_runs where subnet_id = ${v6.id}::uuid and lo = 'fd99:30::c0'`,
      );
      expect(runs).toEqual([{ lo: 'fd99:30::c0', hi: 'fd99:30::c1' }]);
    }
    await db.execute(sql`delete from bindings where ip << 'fd99:30::/64'::inet`);
    await expectRunsHoldAddresses(v6.id);
  });
});
