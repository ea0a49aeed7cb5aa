/**
 * Pools and claims (API.md, Metal3-style) on both databases: a pool of two non-contiguous
 * ranges in two subnets with per-range gateways; exclusions skipped (which Metal3 lacks);
 * pre-allocations honoured; the same claim given the same address twice; exhaustion; pool
 * ranges off limits to other allocations; export, then import into a fresh database with every
 * claim at its address.
 */
import { storeBatch } from '@ipwarden/collector';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, startTestCollector, TARGETS, type TestCollector } from './support/collector.js';
import { sighting } from './support/sightings.js';

const spec = {
  name: 'workers',
  namePrefix: 'workers-ip',
  ranges: [
    { start: '10.99.40.10', end: '10.99.40.12', prefix: 24, gateway: '10.99.40.254' },
    { start: '10.99.41.20', end: '10.99.41.22', gateway: '10.99.41.254', dnsServers: ['10.99.41.53'] },
  ],
  dnsServers: ['10.99.40.53'],
  exclusions: ['10.99.40.11'],
  preAllocations: { 'worker-pre': '10.99.41.21' },
};

describe.each(TARGETS)('pools and claims on %s', (target) => {
  let c: TestCollector;
  let user: string;
  const claim = (name: string, token?: string, json: object = {}) =>
    c.api('PUT', `/pools/workers/claims/${name}`, { json, token });

  beforeAll(async () => {
    c = await startTestCollector(target);
    user = (await c.api('POST', '/users', { json: { name: 'ursula', role: 'user' } })).body.token;
    await c.api('POST', '/subnets', { json: { cidr: '10.99.40.0/24', gateway: '10.99.40.1' } });
    await c.api('POST', '/subnets', { json: { cidr: '10.99.41.0/24', gateway: '10.99.41.1' } });
  }, 60_000);

  afterAll(async () => c?.close());

  it('refuses bad pre-allocations and exclusions with 400, creating nothing', async () => {
    const cases: [object, string][] = [
      [{ preAllocations: { a: '10.99.40.99' } }, 'preAllocations.a'],
      [{ preAllocations: { a: '10.99.40.10', b: '10.99.40.10' } }, 'preAllocations.b'],
      [{ preAllocations: { a: '10.99.40.11' } }, 'preAllocations.a'],
      [{ exclusions: ['10.99.40.7/24'] }, 'exclusions[0]'],
      [{ ranges: [{ start: '10.99.42.1', end: '10.99.42.5' }] }, 'ranges[0].start'],
    ];
    for (const [change, field] of cases) {
      const response = await c.api('POST', '/pools', { json: { ...spec, ...change } });
      expect(response.status, JSON.stringify(response.body)).toBe(400);
      expect(response.body.errors[0].field).toBe(field);
    }
    expect((await c.api('GET', '/pools')).body.items).toEqual([]);
  });

  it('creates a pool of two ranges in two subnets', async () => {
    const { status, body } = await c.api('POST', '/pools', { json: spec });
    expect(status).toBe(201);
    expect(body.ranges.map((r: { cidr: string }) => r.cidr)).toEqual(['10.99.40.0/24', '10.99.41.0/24']);
    expectProblem(await c.api('POST', '/pools', { json: { ...spec, name: 'other' } }), 409, 'range-overlaps');
    expectProblem(await c.api('POST', '/pools', { json: spec }), 409, 'name-taken');
  });

  it('gives claims addresses in range order, skipping exclusions and others’ pre-allocations, with per-range settings', async () => {
    const a = await claim('worker-a', user, { mac: '02:40:00:00:00:0a' });
    expect(a.status).toBe(200);
    expect(a.body).toEqual({
      name: 'workers-ip-10-99-40-10',
      address: '10.99.40.10',
      prefix: 24,
      gateway: '10.99.40.254',
      dnsServers: ['10.99.40.53'],
      pool: 'workers',
      claim: 'worker-a',
      mac: '02:40:00:00:00:0a',
    });
    expect((await claim('worker-a', user)).body).toEqual(a.body); // idempotent
    expect((await claim('worker-b')).body.address).toBe('10.99.40.12'); // .11 is excluded
    const c3 = (await claim('worker-c')).body;
    expect(c3).toMatchObject({
      address: '10.99.41.20',
      gateway: '10.99.41.254',
      dnsServers: ['10.99.41.53'],
      prefix: 24,
    });
    expect((await claim('worker-d')).body.address).toBe('10.99.41.22'); // .21 waits for worker-pre
    expect((await claim('worker-pre')).body.address).toBe('10.99.41.21');
    expectProblem(await claim('worker-e'), 409, 'subnet-exhausted');
    expect((await c.api('GET', '/pools/workers')).body.status.claims).toEqual({
      'worker-a': '10.99.40.10',
      'worker-b': '10.99.40.12',
      'worker-c': '10.99.41.20',
      'worker-d': '10.99.41.22',
      'worker-pre': '10.99.41.21',
    });
  });

  it('keeps pool ranges away from every other allocation', async () => {
    expectProblem(
      await c.api('POST', '/addresses', { json: { subnet: '10.99.40.0/24', kind: 'reserved', ip: '10.99.40.11' } }),
      409,
      'ip-unavailable',
    );
  });

  it('exports the pool and imports it into a fresh database with every claim at its address', async () => {
    const exported = (await c.api('GET', '/pools/workers/export')).body;
    const fresh = await startTestCollector(target);
    try {
      // Where the pool moves to, its hosts are up and seen: that must not refuse their own addresses.
      const agent = (await fresh.api('POST', '/agents', { json: { name: 'rack-40' } })).body.id;
      await storeBatch(fresh.collector.database.db, agent, 1, [
        sighting({ at: Date.now(), ip: '10.99.40.10', mac: '02:40:00:00:00:0a' }),
      ]);
      const imported = await fresh.api('POST', '/pools/import', { json: exported });
      expect(imported.status, JSON.stringify(imported.body)).toBe(201);
      expect(imported.body.status.claims).toEqual((await c.api('GET', '/pools/workers')).body.status.claims);
      expect((await fresh.api('PUT', '/pools/workers/claims/worker-a', { json: {} })).body.address).toBe('10.99.40.10');
    } finally {
      await fresh.close();
    }
  }, 60_000);

  it('releases a claim, and deletes a pool with claims only when forced', async () => {
    expect((await c.api('DELETE', '/pools/workers/claims/worker-b')).status).toBe(204);
    expect((await claim('worker-f')).body.address).toBe('10.99.40.12');
    expectProblem(await c.api('DELETE', '/pools/workers'), 409, 'pool-in-use');
    expect((await c.api('DELETE', '/pools/workers?force=true')).status).toBe(204);
    expectProblem(await c.api('GET', '/addresses/10.99.40.10'), 404, 'not-found');
  });
});
