/**
 * The IPAM lists page (API.md, "Lists") on both databases: subnets, a subnet's ranges,
 * addresses, nodes and pools, walked two at a time by following `nextCursor`, give exactly
 * the one-page list in its order; a cursor a client forged is a 400 naming `cursor`, never a
 * 500.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ApiResponse,
  expectProblem,
  forgedCursor,
  startTestCollector,
  TARGETS,
  type TestCollector,
} from './support/collector.js';

describe.each(TARGETS)('IPAM lists on %s', (target) => {
  let c: TestCollector;
  let subnetId: string;

  beforeAll(async () => {
    c = await startTestCollector(target);
    // Five subnets on VLAN 7, made out of order; one of them with five ranges and five addresses.
    for (const third of [4, 1, 3, 0, 2]) {
      const { body } = await c.api('POST', '/subnets', { json: { cidr: `10.99.${third}.0/24`, vlan: 7 } });
      if (third === 0) subnetId = body.id;
    }
    for (const start of [90, 10, 70, 30, 50]) {
      await c.api('POST', `/subnets/${subnetId}/ranges`, {
        json: { start: `10.99.0.${start}`, end: `10.99.0.${start + 5}`, purpose: 'reserved' },
      });
    }
    for (const last of [200, 100, 250, 150, 180]) {
      await c.api('POST', '/addresses', { json: { subnet: subnetId, kind: 'reserved', ip: `10.99.0.${last}` } });
    }
    for (const [i, host] of ['echo', 'alpha', 'delta', 'bravo', 'charlie'].entries()) {
      await c.api('POST', '/nodes', { json: { hostname: host, interfaces: [{ mac: `02:00:00:00:07:0${i}` }] } });
    }
    for (const [i, name] of ['pool-e', 'pool-a', 'pool-d', 'pool-b', 'pool-c'].entries()) {
      await c.api('POST', '/pools', {
        json: { name, namePrefix: name, ranges: [{ start: `10.99.3.${10 * i + 1}`, end: `10.99.3.${10 * i + 5}` }] },
      });
    }
  }, 60_000);

  afterAll(async () => c?.close());

  /** Every page of `path` at `limit` per page, following nextCursor. */
  async function walk(path: string, limit: number): Promise<unknown[]> {
    const items: unknown[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 100; pages++) {
      const separator = path.includes('?') ? '&' : '?';
      const query = `${separator}limit=${limit}${cursor === null ? '' : `&cursor=${cursor}`}`;
      const { status, body }: ApiResponse = await c.api('GET', `${path}${query}`);
      expect(status).toBe(200);
      expect(body.items.length).toBeLessThanOrEqual(limit);
      items.push(...body.items);
      cursor = body.nextCursor;
      if (cursor === null) return items;
    }
    throw new Error(`${path} did not end`);
  }

  it.each([
    ['subnets of a VLAN', () => '/subnets?vlan=7', (s: { cidr: string }) => s.cidr],
    ['ranges of a subnet', () => `/subnets/${subnetId}/ranges`, (r: { start: string }) => r.start],
    ['addresses of a subnet', () => `/addresses?subnet=${subnetId}`, (a: { ip: string }) => a.ip],
    ['nodes', () => '/nodes', (n: { hostname: string }) => n.hostname],
    ['pools', () => '/pools', (p: { name: string }) => p.name],
  ])('pages through the %s two at a time, in order, missing none', async (_what, path, keyOf) => {
    // biome-ignore lint/suspicious/noExplicitAny: each case reads the key of its own items.
    const key = keyOf as (item: any) => string;
    const whole = (await c.api('GET', path())).body;
    expect(whole.nextCursor).toBeNull();
    expect(whole.items).toHaveLength(5);
    const paged = await walk(path(), 2);
    expect(paged.map(key)).toEqual(whole.items.map(key));
  });

  it('lists each node and pool as its own GET shows it, interfaces, addresses and claims included', async () => {
    const deployOn = (await c.api('GET', '/subnets?vlan=7')).body.items.find(
      (s: { cidr: string }) => s.cidr === '10.99.1.0/24',
    );
    const nodes = (await c.api('GET', '/nodes')).body.items as { id: string; hostname: string }[];
    for (const node of nodes.slice(0, 3)) {
      expect((await c.api('POST', `/nodes/${node.id}/deploy`, { json: { subnet: deployOn.id } })).status).toBe(200);
    }
    const pools = (await c.api('GET', '/pools')).body.items as { name: string }[];
    for (const pool of pools.slice(1, 4)) {
      for (const claim of ['one', 'two']) {
        expect((await c.api('PUT', `/pools/${pool.name}/claims/${claim}`, { json: {} })).status).toBeLessThan(300);
      }
    }
    for (const [path, items, one] of [
      ['/nodes', nodes, (n: { id: string }) => `/nodes/${n.id}`],
      ['/pools', pools, (p: { name: string }) => `/pools/${p.name}`],
    ] as const) {
      const listed = (await c.api('GET', path)).body.items;
      expect(listed).toHaveLength(items.length);
      // biome-ignore lint/suspicious/noExplicitAny: nodes and pools alike.
      for (const item of listed) expect(item).toEqual((await c.api('GET', one(item as any))).body);
    }
    const listedNodes = (await c.api('GET', '/nodes')).body.items;
    expect(listedNodes.filter((n: { addresses: unknown[] }) => n.addresses.length === 1)).toHaveLength(3);
    const listedPools = (await c.api('GET', '/pools')).body.items;
    expect(
      listedPools.filter((p: { status: { claims: object } }) => Object.keys(p.status.claims).length === 2),
    ).toHaveLength(3);
  });

  it('keeps the subnets in VLAN and address order: 10.99.2.0 before 10.99.10.0, not after it', async () => {
    await c.api('POST', '/subnets', { json: { cidr: '10.99.10.0/24', vlan: 7 } });
    const cidrs = (await walk('/subnets?vlan=7', 2)).map((s) => (s as { cidr: string }).cidr);
    expect(cidrs).toEqual([
      '10.99.0.0/24',
      '10.99.1.0/24',
      '10.99.2.0/24',
      '10.99.3.0/24',
      '10.99.4.0/24',
      '10.99.10.0/24',
    ]);
  });

  it.each([
    ['subnets', () => '/subnets', [7, 'not-a-cidr']],
    ['subnets', () => '/subnets', ['7', '10.99.0.0/24']],
    ['ranges', () => `/subnets/${subnetId}/ranges`, ['10.99.0.x']],
    ['addresses', () => '/addresses', ['10.99.0.1', 'not-a-uuid']],
    ['addresses', () => '/addresses', ['nonsense', '00000000-0000-0000-0000-000000000000']],
    ['nodes', () => '/nodes', [42]],
    ['pools', () => '/pools', [{ name: 'x' }]],
  ])('refuses a forged %s cursor %j with a 400 naming it', async (_what, path, key) => {
    expectProblem(await c.api('GET', `${path()}?cursor=${forgedCursor(key)}`), 400, 'validation-failed', 'cursor');
  });
});
