/**
 * Two collectors on one PostgreSQL server, as replicas behind a load balancer would run: the
 * database, not either process, keeps allocation right. Clients of both fill a subnet exactly
 * with no address given twice; one claim asked of both at once gets one address; and what one
 * replica frees, the other hands out next (the free gave the subnet a new stamp, so the other's
 * view of it, carried from its last batch, is not written from: its batch is decided again from
 * a read behind the subnet's lock).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentSocket } from './support/agent-socket.js';
import { allocateUntilExhausted, startTestCollector, type TestCollector } from './support/collector.js';

describe('two collectors on one PostgreSQL server', () => {
  let a: TestCollector;
  let b: TestCollector;

  beforeAll(async () => {
    a = await startTestCollector('PostgreSQL');
    b = await startTestCollector('PostgreSQL', { databaseUrl: a.postgres!.url });
  }, 60_000);

  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it('fills a subnet exactly from clients of both, never giving an address twice', async () => {
    await a.api('POST', '/subnets', { json: { cidr: '10.99.20.0/25', gateway: '10.99.20.1' } });
    const capacity = 126 - 1; // usable addresses of a /25, less the gateway
    // Clients of both replicas, turn about.
    const all = await allocateUntilExhausted(32, (i) =>
      (i % 2 === 0 ? a : b).api('POST', '/addresses', { json: { subnet: '10.99.20.0/25', kind: 'reserved' } }),
    );
    expect(all).toHaveLength(capacity);
    expect(new Set(all).size).toBe(capacity);
    expect((await b.api('GET', '/addresses?subnet=10.99.20.0%2F25&limit=1000')).body.items).toHaveLength(capacity);
  }, 60_000);

  it('gives one claim asked of both replicas at once one address', async () => {
    await a.api('POST', '/subnets', { json: { cidr: '10.99.21.0/24' } });
    await a.api('POST', '/pools', {
      json: { name: 'shared', namePrefix: 'shared', ranges: [{ start: '10.99.21.10', end: '10.99.21.200' }] },
    });
    for (let round = 0; round < 8; round++) {
      const claim = `worker-${round}`;
      const answers = await Promise.all(
        [a, b, a, b].map((replica) => replica.api('PUT', `/pools/shared/claims/${claim}`, { json: {} })),
      );
      expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200]);
      expect(new Set(answers.map((r) => r.body.address)).size).toBe(1);
    }
    const pool = (await a.api('GET', '/pools/shared')).body;
    expect(new Set(Object.values(pool.status.claims)).size).toBe(8);
  }, 60_000);

  it('hands out next, on one replica, the address the other just freed', async () => {
    await a.api('POST', '/subnets', { json: { cidr: '10.99.22.0/24', gateway: '10.99.22.1' } });
    const take = async (replica: TestCollector) =>
      (await replica.api('POST', '/addresses', { json: { subnet: '10.99.22.0/24', kind: 'reserved' } })).body.ip;
    expect([await take(b), await take(b), await take(b)]).toEqual(['10.99.22.2', '10.99.22.3', '10.99.22.4']);
    expect((await a.api('DELETE', '/addresses/10.99.22.3')).status).toBe(200);
    expect(await take(b)).toBe('10.99.22.3');
    // And a range made through one replica is off limits at once through the other.
    await a.api('POST', '/subnets/10.99.22.0%2F24/ranges', {
      json: { start: '10.99.22.5', end: '10.99.22.50', purpose: 'dynamic' },
    });
    expect(await take(b)).toBe('10.99.22.51');
  });

  it('sends a settings change made through one replica to the agents connected to the other', async () => {
    const { token } = (await a.api('POST', '/agents', { json: { name: 'rack-settings' } })).body;
    const socket = await AgentSocket.welcomed(a.agentUrl, token);
    try {
      expect((await b.api('PUT', '/settings', { json: { refreshSeconds: 300 } })).status).toBe(200);
      expect(await socket.next()).toEqual({ type: 'config', config: { discovery: true, refreshSeconds: 300 } });
    } finally {
      await socket.close();
    }
  });
});
