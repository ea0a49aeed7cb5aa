/**
 * The address map (API.md, `GET /subnets/{subnet}/map`) on both databases: one byte per address
 * for an IPv4 /16 — its state, when it was last seen, whether it is in conflict — and 256
 * summary blocks for a larger IPv4 subnet or an IPv6 one.
 */
import { rowsOf, storeBatch } from '@ipwarden/collector';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, startTestCollector, TARGETS, type TestCollector } from './support/collector.js';
import { sighting } from './support/sightings.js';

const path = (cidr: string) => `/subnets/${encodeURIComponent(cidr)}`;
const DAY = 86_400_000;

/** What the dashboard does with a map: each address's state name, seen flag and conflict bit. */
function decode(map: { states: string[]; cells: string }) {
  const bytes = Buffer.from(map.cells, 'base64');
  return {
    size: bytes.length,
    at: (offset: number) => {
      const byte = bytes[offset]!;
      return { state: map.states[byte & 0x0f], seen: (byte >> 4) & 0x03, conflict: (byte & 0x40) !== 0 };
    },
  };
}

describe.each(TARGETS)('address map on %s', (target) => {
  let c: TestCollector;
  let viewer: string;
  let agentId: string;
  let seq = 0;

  const observe = (ip: string, mac: string, at = Date.now()) =>
    storeBatch(c.collector.database.db, agentId, ++seq, [sighting({ at, ip, mac })]);

  beforeAll(async () => {
    c = await startTestCollector(target);
    viewer = (await c.api('POST', '/users', { json: { name: 'map-viewer', role: 'viewer' } })).body.token;
    agentId = (await c.api('POST', '/agents', { json: { name: 'rack-map' } })).body.id;
  }, 60_000);

  afterAll(async () => c?.close());

  it('gives an IPv4 /16 one byte per address: state, last seen and conflict', async () => {
    const { body: subnet } = await c.api('POST', '/subnets', {
      json: { cidr: '10.98.0.0/16', gateway: '10.98.0.1', dnsServers: ['10.98.0.2'] },
    });
    const ranges = `/subnets/${subnet.id}/ranges`;
    await c.api('POST', ranges, { json: { start: '10.98.1.0', end: '10.98.1.255', purpose: 'dynamic' } });
    await c.api('POST', ranges, { json: { start: '10.98.2.0', end: '10.98.2.9', purpose: 'reserved' } });
    await c.api('POST', '/addresses', { json: { subnet: subnet.id, kind: 'reserved', ip: '10.98.0.10' } });
    await c.api('POST', '/addresses', {
      json: { subnet: subnet.id, kind: 'device', ip: '10.98.0.11', mac: '02:00:00:98:00:11' },
    });
    await observe('10.98.0.11', '02:00:00:98:00:11');
    await observe('10.98.200.7', '02:00:00:98:c8:07'); // seen, allocated to nobody
    await observe('10.98.200.8', '02:00:00:98:c8:08', Date.now() - 30 * DAY); // seen long ago
    // A conflict on .200.7, as the reconciler would have opened it.
    const now = new Date().toISOString();
    await c.collector.database.db.execute(sql`
      insert into conflicts (kind, vlan, subject, ip, macs, subnet_id, first_seen, last_seen, condition_at, evidence)
      values ('unallocated-in-use', 0, '10.98.200.7', '10.98.200.7', '{}', ${subnet.id}, ${now}, ${now}, ${now}, '[]')`);

    const { status, body } = await c.api('GET', `${path('10.98.0.0/16')}/map`, { token: viewer });
    expect(status).toBe(200);
    expect(body).toMatchObject({ cidr: '10.98.0.0/16', family: 4, first: '10.98.0.0' });
    expect(body.blocks).toBeUndefined();
    const map = decode(body);
    expect(map.size).toBe(65_536);
    const at = (ip: string) => {
      const [, , x, y] = ip.split('.').map(Number);
      return map.at(x! * 256 + y!);
    };
    expect(at('10.98.0.0').state).toBe('network');
    expect(at('10.98.255.255').state).toBe('broadcast');
    expect(at('10.98.0.1').state).toBe('gateway');
    expect(at('10.98.0.2').state).toBe('dns');
    expect(at('10.98.1.0').state).toBe('dynamic');
    expect(at('10.98.1.255').state).toBe('dynamic');
    expect(at('10.98.2.9').state).toBe('reserved-range');
    expect(at('10.98.2.10')).toEqual({ state: 'free', seen: 0, conflict: false });
    expect(at('10.98.0.10')).toEqual({ state: 'reserved', seen: 0, conflict: false });
    expect(at('10.98.0.11')).toEqual({ state: 'device', seen: 1, conflict: false });
    expect(at('10.98.200.7')).toEqual({ state: 'free', seen: 1, conflict: true });
    expect(at('10.98.200.8')).toEqual({ state: 'free', seen: 2, conflict: false });
    // Compact: a /16 in under 100 KB of JSON, where a list of objects would be megabytes.
    expect(JSON.stringify(body).length).toBeLessThan(100_000);
  });

  it('summarises a larger IPv4 subnet and an IPv6 one in 256 blocks', async () => {
    await c.api('POST', '/subnets', { json: { cidr: '10.128.0.0/10' } });
    await c.api('POST', `${path('10.128.0.0/10')}/ranges`, {
      json: { start: '10.128.0.0', end: '10.128.95.255', purpose: 'dynamic' }, // a block and a half
    });
    await c.api('POST', '/addresses', { json: { subnet: '10.128.0.0/10', kind: 'reserved', ip: '10.128.100.1' } });
    const v4 = (await c.api('GET', `${path('10.128.0.0/10')}/map`)).body;
    expect(v4.cells).toBeUndefined();
    expect(v4.blockSize).toBe(String(2 ** 22 / 256));
    expect(v4.blocks).toHaveLength(256);
    expect(v4.blocks[0]).toMatchObject({ first: '10.128.0.0', dynamic: 1, allocated: 0 });
    expect(v4.blocks[1]).toMatchObject({ first: '10.128.64.0', dynamic: 0.5, allocated: 1 });
    expect(v4.blocks[2]).toMatchObject({ dynamic: 0, allocated: 0 });

    await c.api('POST', '/subnets', { json: { cidr: 'fd98::/64' } });
    await c.api('POST', '/addresses', { json: { subnet: 'fd98::/64', kind: 'reserved', ip: 'fd98::ff00:0:0:1' } });
    await observe('fd98::1', '02:00:00:98:00:01');
    const v6 = (await c.api('GET', `${path('fd98::/64')}/map`)).body;
    expect(v6).toMatchObject({ family: 6, first: 'fd98::', blockSize: String(2n ** 56n) });
    expect(v6.blocks[0]).toMatchObject({ first: 'fd98::', seenUnallocated: 1, allocated: 0 });
    expect(v6.blocks[255]).toMatchObject({ first: 'fd98::ff00:0:0:0', allocated: 1 });
  });

  it('answers a missing token, an unknown subnet and a malformed one with their problems', async () => {
    expectProblem(await c.api('GET', `${path('10.98.0.0/16')}/map`, { token: '' }), 401, 'unauthorized');
    expectProblem(await c.api('GET', `${path('10.97.0.0/16')}/map`), 404, 'not-found');
    expectProblem(await c.api('GET', `${path('10.97.0.7/16')}/map`), 400, 'invalid-cidr');
    // Nothing was written by reading.
    const conflicts = await rowsOf(c.collector.database.db, sql`select count(*)::int as n from conflicts`);
    expect(conflicts[0]).toMatchObject({ n: 1 });
  });
});
