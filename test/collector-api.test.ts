/**
 * The collector's HTTP API against its contract (API.md: Conventions, Discovery, Agents,
 * Operations), one conformance suite run on both database targets: the embedded PGlite and a
 * PostgreSQL server of its own. Requests go over loopback with Node's fetch.
 */
import { randomUUID } from 'node:crypto';
import { rowsOf, storeBatch } from '@ipwarden/collector';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectProblem,
  forgedCursor,
  type RequestOptions,
  startTestCollector,
  TARGETS,
  type TestCollector,
} from './support/collector.js';
import { host, sighting, T0 } from './support/sightings.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const iso = (ms: number) => new Date(ms).toISOString();

/** The status of each problem code the malformed-input cases expect (collector/src/errors.ts). */
const STATUS = {
  'validation-failed': 400,
  'malformed-json': 400,
  'not-found': 404,
  'body-too-large': 413,
  'unsupported-media-type': 415,
} as const;

describe.each(TARGETS)('the collector API on %s', (target) => {
  let c: TestCollector;
  let viewer: string;
  let user: string;

  beforeAll(async () => {
    c = await startTestCollector(target);
    viewer = (await c.api('POST', '/users', { json: { name: 'vera', role: 'viewer' } })).body.token;
    user = (await c.api('POST', '/users', { json: { name: 'ulla', role: 'user' } })).body.token;
  }, 60_000);

  afterAll(async () => c?.close());

  describe('roles', () => {
    const readRoutes = [
      ['GET', '/discoveries'],
      ['GET', '/discoveries/history?ip=10.99.0.1'],
      ['GET', '/settings'],
      ['GET', '/agents'],
      ['GET', '/me'],
    ] as const;

    it.each(readRoutes)('%s %s answers 401 without a valid token and 200 to every role', async (method, path) => {
      expectProblem(await c.api(method, path, { token: null }), 401, 'unauthorized');
      expectProblem(await c.api(method, path, { token: 'iwu_not-a-token-of-anyone-here' }), 401, 'unauthorized');
      for (const token of [viewer, user, undefined]) {
        expect((await c.api(method, path, { token })).status).toBe(200);
      }
    });

    // Each with a well-formed request, so that only the role decides; the admin's answer is its own.
    const adminRoutes: [string, () => string, () => RequestOptions, number][] = [
      ['PUT', () => '/settings', () => ({ json: {} }), 200],
      ['POST', () => '/agents', () => ({ json: { name: `matrix-${randomUUID().slice(0, 8)}` } }), 201],
      ['DELETE', () => `/agents/${randomUUID()}`, () => ({}), 404],
      ['DELETE', () => '/discoveries?ip=10.99.0.250', () => ({}), 200],
      ['GET', () => '/users', () => ({}), 200],
      ['POST', () => '/users', () => ({ json: { name: `matrix-${randomUUID().slice(0, 8)}`, role: 'viewer' } }), 201],
      ['DELETE', () => `/users/${randomUUID()}`, () => ({}), 404],
      ['POST', () => `/users/${randomUUID()}/token`, () => ({}), 404],
    ];

    it.each(adminRoutes)(
      '%s %s answers 401 without a valid token, 403 to a viewer and a user, and serves an admin',
      async (method, path, options, adminStatus) => {
        expectProblem(await c.api(method, path(), { ...options(), token: null }), 401, 'unauthorized');
        expectProblem(
          await c.api(method, path(), { ...options(), token: 'iwu_wrong-wrong-wrong' }),
          401,
          'unauthorized',
        );
        expectProblem(await c.api(method, path(), { ...options(), token: viewer }), 403, 'forbidden');
        expectProblem(await c.api(method, path(), { ...options(), token: user }), 403, 'forbidden');
        expect((await c.api(method, path(), options())).status).toBe(adminStatus);
      },
    );

    it('checks the token before the body: a caller without one learns nothing of the schema', async () => {
      expectProblem(await c.api('PUT', '/settings', { json: { bogus: 1 }, token: null }), 401, 'unauthorized');
      expectProblem(await c.api('PUT', '/settings', { json: { bogus: 1 }, token: viewer }), 403, 'forbidden');
      expectProblem(await c.api('DELETE', '/agents/not-a-uuid', { token: null }), 401, 'unauthorized');
      expectProblem(
        await c.api('POST', '/agents', { raw: '{', contentType: 'application/json', token: null }),
        401,
        'unauthorized',
      );
    });

    it('takes an agent token for no API call', async () => {
      const agent = await c.api('POST', '/agents', { json: { name: 'not-a-person' } });
      expectProblem(await c.api('GET', '/settings', { token: agent.body.token }), 401, 'unauthorized');
    });

    it('serves the operations endpoints without a token', async () => {
      for (const path of ['/healthz', '/readyz', '/metrics', '/api/v1/healthz', '/api/v1/readyz', '/api/v1/metrics']) {
        expect((await c.api('GET', path, { token: null })).status, path).toBe(200);
      }
    });
  });

  describe('users and tokens', () => {
    it('creates a user whose token works at once and names its holder', async () => {
      const created = await c.api('POST', '/users', { json: { name: 'nils', role: 'user' } });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ id: expect.stringMatching(UUID), name: 'nils', role: 'user' });
      expect(created.body.token).toMatch(/^iwu_/);
      const me = await c.api('GET', '/me', { token: created.body.token });
      expect(me.body).toEqual({ id: created.body.id, name: 'nils', role: 'user' });
      const users = await c.api('GET', '/users');
      expect(users.body.items).toContainEqual(expect.objectContaining({ id: created.body.id, name: 'nils' }));
      expect(JSON.stringify(users.body)).not.toContain(created.body.token);
    });

    it('refuses a second user of the same name with 409 name-taken', async () => {
      await c.api('POST', '/users', { json: { name: 'twin', role: 'viewer' } });
      expectProblem(await c.api('POST', '/users', { json: { name: 'twin', role: 'admin' } }), 409, 'name-taken');
    });

    it('revokes every token of a deleted user at once', async () => {
      const { body } = await c.api('POST', '/users', { json: { name: 'leaver', role: 'viewer' } });
      expect((await c.api('GET', '/me', { token: body.token })).status).toBe(200);
      expect((await c.api('DELETE', `/users/${body.id}`)).status).toBe(204);
      expectProblem(await c.api('GET', '/me', { token: body.token }), 401, 'unauthorized');
    });

    it('rotates a token: the old one stops working, the new one works', async () => {
      const { body } = await c.api('POST', '/users', { json: { name: 'rotor', role: 'viewer' } });
      const rotated = await c.api('POST', `/users/${body.id}/token`);
      expect(rotated.status).toBe(200);
      expect(rotated.body).toEqual({ id: body.id, token: expect.stringMatching(/^iwu_/) });
      expect(rotated.body.token).not.toBe(body.token);
      expectProblem(await c.api('GET', '/me', { token: body.token }), 401, 'unauthorized');
      expect((await c.api('GET', '/me', { token: rotated.body.token })).body.name).toBe('rotor');
    });
  });

  describe('malformed input', () => {
    const big = JSON.stringify({ name: 'x'.repeat(1024 * 1024 + 1) });
    const json = (raw: string) => ({ raw, contentType: 'application/json' });
    const FORM = 'application/x-www-form-urlencoded';
    const NOBODY = '00000000-0000-4000-8000-000000000000';
    const key = (vlan: number, ip = '10.99.0.1') => forgedCursor([ip, vlan, 0, '02:00:00:00:00:01']);
    const list = '/discoveries?cursor=';
    const history = '/discoveries/history?ip=10.99.0.1&cursor=';
    // [what, request, its options, problem code, the field named in errors[]]; the cursors are forged
    const cases: [string, string, RequestOptions, keyof typeof STATUS, string?][] = [
      ['an unknown field', 'PUT /settings', { json: { refreshSeconds: 60, x: 1 } }, 'validation-failed', 'body.x'],
      ['a number as text', 'PUT /settings', { json: { refreshSeconds: '9' } }, 'validation-failed', 'refreshSeconds'],
      ['a zero interval', 'PUT /settings', { json: { refreshSeconds: 0 } }, 'validation-failed', 'body.refreshSeconds'],
      ['a fraction', 'PUT /settings', { json: { refreshSeconds: 1.5 } }, 'validation-failed', 'refreshSeconds'],
      ['text for a flag', 'PUT /settings', { json: { discovery: { enabled: 'no' } } }, 'validation-failed', 'enabled'],
      ['a null object', 'PUT /settings', { json: { discovery: null } }, 'validation-failed', 'body.discovery'],
      ['an array for an object', 'PUT /settings', { json: [] }, 'validation-failed', 'body'],
      ['truncated JSON', 'PUT /settings', json('{"refreshSeconds":'), 'malformed-json'],
      ['an empty JSON body', 'PUT /settings', json(''), 'malformed-json'],
      ['a prototype-polluting body', 'PUT /settings', json('{"__proto__":{"refreshSeconds":1}}'), 'malformed-json'],
      ['a body over 1 MiB', 'POST /agents', json(big), 'body-too-large'],
      ['a text body', 'PUT /settings', { raw: 'refresh=9', contentType: 'text/plain' }, 'unsupported-media-type'],
      ['a form body', 'POST /agents', { raw: 'name=rack-9', contentType: FORM }, 'unsupported-media-type'],
      ['an empty name', 'POST /agents', { json: { name: '' } }, 'validation-failed', 'body.name'],
      ['a name with a space', 'POST /agents', { json: { name: 'rack 9' } }, 'validation-failed', 'body.name'],
      ['a name as a number', 'POST /agents', { json: { name: 9 } }, 'validation-failed', 'body.name'],
      ['a missing name', 'POST /agents', { json: {} }, 'validation-failed', 'body'],
      ['an unknown role', 'POST /users', { json: { name: 'root', role: 'root' } }, 'validation-failed', 'body.role'],
      ['an invalid ip', 'GET /discoveries?ip=10.99.0.300', {}, 'validation-failed', 'ip'],
      ['an ip with a zone', 'GET /discoveries?ip=fe80::1%25eth0', {}, 'validation-failed', 'ip'],
      ['a MAC with dashes', 'GET /discoveries?mac=02-00-00-00-00-07', {}, 'validation-failed', 'mac'],
      ['a prefix too long', 'GET /discoveries?subnet=10.99.0.0/33', {}, 'validation-failed', 'subnet'],
      ['an IPv6 prefix too long', 'GET /discoveries?subnet=fd99::/129', {}, 'validation-failed', 'subnet'],
      ['a subnet without a prefix', 'GET /discoveries?subnet=10.99.0.0', {}, 'validation-failed', 'subnet'],
      ['a subnet with a zone', 'GET /discoveries?subnet=fe80::1%25eth0/64', {}, 'validation-failed', 'subnet'],
      ['an unknown source', 'GET /discoveries?source=icmp', {}, 'validation-failed', 'source'],
      ['a zero limit', 'GET /discoveries?limit=0', {}, 'validation-failed', 'limit'],
      ['a limit as a word', 'GET /discoveries?limit=all', {}, 'validation-failed', 'limit'],
      ['an unknown query parameter', 'GET /discoveries?colour=red', {}, 'validation-failed', 'colour'],
      ['a repeated query parameter', 'GET /discoveries?ip=10.99.0.1&ip=10.99.0.2', {}, 'validation-failed', 'ip'],
      ['a cursor of nonsense', 'GET /discoveries?cursor=not-a-cursor', {}, 'validation-failed', 'cursor'],
      ['a cursor with a fractional VLAN', `GET ${list}${key(1.5)}`, {}, 'validation-failed', 'cursor'],
      ['a cursor with a huge VLAN', `GET ${list}${key(2 ** 40)}`, {}, 'validation-failed', 'cursor'],
      ['a cursor with a bad address', `GET ${list}${key(0, '10.99.0.x')}`, {}, 'validation-failed', 'cursor'],
      [
        'a history cursor in year 10000',
        `GET ${history}${forgedCursor([1e20, NOBODY, 1, 0])}`,
        {},
        'validation-failed',
        'cursor',
      ],
      [
        'a history cursor with seq 1.5',
        `GET ${history}${forgedCursor([T0, NOBODY, 1.5, 0])}`,
        {},
        'validation-failed',
        'cursor',
      ],
      [
        'a history cursor with no agent',
        `GET ${history}${forgedCursor([T0, 'rack-1', 1, 0])}`,
        {},
        'validation-failed',
        'cursor',
      ],
      [
        'a history cursor past an int',
        `GET ${history}${forgedCursor([T0, NOBODY, 1, 2 ** 31])}`,
        {},
        'validation-failed',
        'cursor',
      ],
      ['a history without ip or mac', 'GET /discoveries/history', {}, 'validation-failed'],
      ['a forget without ip or mac', 'DELETE /discoveries', {}, 'validation-failed'],
      ['a forget of an invalid ip', 'DELETE /discoveries?ip=nope', {}, 'validation-failed', 'ip'],
      ['a bad agent id in the path', 'DELETE /agents/not-a-uuid', {}, 'validation-failed', 'params.id'],
      ['a bad user id in the path', 'DELETE /users/not-a-uuid', {}, 'validation-failed', 'params.id'],
      ['a bad user id to rotate', 'POST /users/1/token', {}, 'validation-failed', 'params.id'],
      ['an unknown route', 'GET /api/v1/subnetz', {}, 'not-found'],
      ['an unknown route at the root', 'GET /nothing-here', { root: true }, 'not-found'],
      ['an unknown agent', `DELETE /agents/${NOBODY}`, {}, 'not-found'],
      ['an unknown user', `POST /users/${NOBODY}/token`, {}, 'not-found'],
    ];

    let before: unknown;
    const state = async () => ({
      settings: (await c.api('GET', '/settings')).body,
      agents: (await c.api('GET', '/agents')).body,
      users: (await c.api('GET', '/users')).body,
      stored: await c.counts(),
    });

    beforeAll(async () => {
      before = await state();
    });

    it.each(cases)('answers %s with a problem, not a 500', async (_, request, options, code, field) => {
      const [method, path] = request.split(' ') as [string, string];
      expectProblem(await c.api(method, path, options), STATUS[code], code, field);
    });

    it('changed nothing for any of them: settings, agents, users and discoveries are as they were', async () => {
      expect(await state()).toEqual(before);
    });

    it('never answered with a 500 (the metrics count answers by status)', async () => {
      const metrics = (await c.api('GET', '/metrics')).body as string;
      expect(metrics).toContain('ipwarden_http_requests_total');
      const failures = metrics
        .split('\n')
        .filter((line) => /^ipwarden_http_requests_total\{.*status="5\d\d"/.test(line));
      expect(failures).toEqual([]);
    });
  });

  describe('discoveries', () => {
    let agentId: string;
    const intel = '00:1b:21:3a:4b:5c';
    const [h10, h11, h12, h20] = [host(10), host(11), host(12), host(20)];
    const movedTo = '02:00:00:00:01:20';
    const fighters = ['02:00:00:00:0f:01', '02:00:00:00:0f:02'];

    beforeAll(async () => {
      agentId = (await c.api('POST', '/agents', { json: { name: 'rack-1' } })).body.id;
      const { db } = c.collector.database;
      await storeBatch(db, agentId, 1, [
        sighting({ ip: h10.ip, mac: intel }),
        sighting({ ...h11, source: 'mdns', hostname: 'node-11', at: T0 + 1_000 }),
        sighting({ ...h11, ip: 'fd99::11', source: 'ndp', at: T0 + 2_000, interface: 'eth1' }),
        sighting({
          ...h12,
          vlan: 100,
          outerVlan: 200,
          source: 'dhcp',
          kind: 'dhcp-lease',
          detail: { messageType: 'ack' },
        }),
        sighting({ ...h20 }),
      ]);
      await storeBatch(db, agentId, 2, [
        sighting({ ip: h20.ip, mac: movedTo, event: 'moved', previousMac: h20.mac, at: T0 + 60_000 }),
        ...Array.from({ length: 25 }, (_, i) => sighting({ ...host(100 + i), at: T0 + i })),
      ]);
      // Two MACs fighting over one address within a millisecond: three events of one time.
      const fight = { ip: host(30).ip, at: T0 + 70_000 };
      await storeBatch(db, agentId, 3, [
        sighting({ ...fight, mac: fighters[0] }),
        sighting({ ...fight, mac: fighters[1], event: 'moved', previousMac: fighters[0] }),
        sighting({ ...fight, mac: fighters[0], event: 'moved', previousMac: fighters[1] }),
      ]);
    });

    it('lists a binding with its vendor, names, VLAN, agent, interface, sources and times', async () => {
      const { status, body } = await c.api('GET', `/discoveries?ip=${h10.ip}`, { token: viewer });
      expect(status).toBe(200);
      expect(body).toEqual({
        items: [
          {
            ip: h10.ip,
            mac: intel,
            vendor: 'Intel Corporate',
            hostnames: [],
            vlan: 0,
            agent: 'rack-1',
            agentId,
            interface: 'eth0',
            sources: ['arp'],
            firstSeen: iso(T0),
            lastSeen: iso(T0),
          },
        ],
        nextCursor: null,
      });
    });

    it('gives a locally administered MAC no vendor, and keeps announced names', async () => {
      const { body } = await c.api('GET', `/discoveries?ip=${h11.ip}`);
      expect(body.items).toEqual([
        expect.objectContaining({ mac: h11.mac, vendor: null, hostnames: ['node-11'], sources: ['mdns'] }),
      ]);
    });

    it('gives a QinQ binding its inner VLAN and its outer VLAN', async () => {
      const { body } = await c.api('GET', `/discoveries?ip=${h12.ip}`);
      expect(body.items).toEqual([expect.objectContaining({ vlan: 100, outerVlan: 200, sources: ['dhcp'] })]);
    });

    it('filters by IPv4 and IPv6 subnet, address, MAC and source', async () => {
      const ips = async (query: string) =>
        (await c.api('GET', `/discoveries?${query}`)).body.items.map((d: { ip: string }) => d.ip);
      expect(await ips('subnet=10.99.0.0/28')).toEqual([h10.ip, h11.ip, h12.ip]);
      expect(await ips(`subnet=${encodeURIComponent('fd99::/64')}`)).toEqual(['fd99::11']);
      expect(await ips('ip=fd99::11')).toEqual(['fd99::11']);
      expect(await ips(`mac=${h11.mac}`)).toEqual([h11.ip, 'fd99::11']);
      expect(await ips(`mac=${intel.toUpperCase()}`)).toEqual([h10.ip]);
      expect(await ips('source=ndp')).toEqual(['fd99::11']);
      expect(await ips('source=mdns&subnet=10.99.0.0/24')).toEqual([h11.ip]);
      expect(await ips('subnet=10.99.1.0/24')).toEqual([]);
    });

    it('pages through every binding exactly once with limit and nextCursor', async () => {
      const all = (await c.api('GET', '/discoveries?limit=1000')).body;
      expect(all.nextCursor).toBeNull();
      expect(all.items.length).toBeGreaterThanOrEqual(31);
      const seen: unknown[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const query: string = cursor === null ? 'limit=7' : `limit=7&cursor=${encodeURIComponent(cursor)}`;
        const page = (await c.api('GET', `/discoveries?${query}`, { token: user })).body;
        expect(page.items.length).toBeLessThanOrEqual(7);
        seen.push(...page.items);
        cursor = page.nextCursor;
        pages++;
      } while (cursor !== null);
      expect(seen).toEqual(all.items);
      expect(pages).toBe(Math.ceil(all.items.length / 7));
    });

    it('finds bindings by part of a hostname, in any case, taking LIKE wildcards as text', async () => {
      const ips = async (hostname: string) =>
        (await c.api('GET', `/discoveries?hostname=${encodeURIComponent(hostname)}`)).body.items.map(
          (d: { ip: string }) => d.ip,
        );
      expect(await ips('ODE-1')).toEqual([h11.ip]);
      expect(await ips('node_11')).toEqual([]);
      expect(await ips('%')).toEqual([]);
    });

    it('sorts by last or first seen, newest first, paging through every binding once', async () => {
      const all = (await c.api('GET', '/discoveries?limit=1000')).body.items as {
        lastSeen: string;
        firstSeen: string;
      }[];
      for (const sort of ['lastSeen', 'firstSeen'] as const) {
        const seen: { lastSeen: string; firstSeen: string }[] = [];
        let cursor: string | null = null;
        do {
          const query: string = `sort=${sort}&limit=4${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`;
          const page = (await c.api('GET', `/discoveries?${query}`)).body;
          seen.push(...page.items);
          cursor = page.nextCursor;
        } while (cursor !== null);
        expect(seen).toHaveLength(all.length);
        expect(new Set(seen.map((d) => JSON.stringify(d))).size).toBe(all.length);
        const times = seen.map((d) => Date.parse(d[sort]));
        expect(times).toEqual([...times].sort((a, b) => b - a));
      }
      expectProblem(await c.api('GET', '/discoveries?sort=vendor'), 400, 'validation-failed', 'sort');
      const forged = forgedCursor(['not-a-time', '10.99.0.1', 0, 0, '02:00:00:00:00:01']);
      expectProblem(
        await c.api('GET', `/discoveries?sort=lastSeen&cursor=${forged}`),
        400,
        'validation-failed',
        'cursor',
      );
    });

    it('tells the history of an address: new, then moved with the previous MAC, in time order', async () => {
      const { status, body } = await c.api('GET', `/discoveries/history?ip=${h20.ip}`, { token: viewer });
      expect(status).toBe(200);
      expect(body.items).toEqual([
        expect.objectContaining({ at: iso(T0), event: 'new', ip: h20.ip, mac: h20.mac, agent: 'rack-1' }),
        expect.objectContaining({ at: iso(T0 + 60_000), event: 'moved', mac: movedTo, previousMac: h20.mac }),
      ]);
      expect(body.items[0]).not.toHaveProperty('previousMac');
    });

    it('finds the history of a MAC, as the MAC and as the previous one', async () => {
      const { body } = await c.api('GET', `/discoveries/history?mac=${h20.mac}`);
      expect(body.items.map((e: { event: string }) => e.event)).toEqual(['new', 'moved']);
      const moved = await c.api('GET', `/discoveries/history?mac=${movedTo}`);
      expect(moved.body.items).toEqual([expect.objectContaining({ event: 'moved', mac: movedTo })]);
    });

    it('pages through the history with limit and nextCursor', async () => {
      const first = (await c.api('GET', `/discoveries/history?ip=${h20.ip}&limit=1`)).body;
      expect(first.items).toEqual([expect.objectContaining({ event: 'new' })]);
      const second = (
        await c.api('GET', `/discoveries/history?ip=${h20.ip}&limit=1&cursor=${encodeURIComponent(first.nextCursor)}`)
      ).body;
      expect(second.items).toEqual([expect.objectContaining({ event: 'moved' })]);
      expect(second.nextCursor).toBeNull();
    });

    it('finds a MAC in the history through its indexes, as the MAC and as the previous one', async () => {
      // With sequential scans ruled out, a plan that still has one has no index to use instead.
      const plan = await c.collector.database.db.transaction(async (tx) => {
        await tx.execute(sql`set local enable_seqscan = off`);
        const rows = await rowsOf<{ 'QUERY PLAN': string }>(
          tx,
          sql`explain select * from sighting_events
              where mac = ${h20.mac}::macaddr or previous_mac = ${h20.mac}::macaddr order by at limit 101`,
        );
        return rows.map((row) => row['QUERY PLAN']).join('\n');
      });
      expect(plan).not.toMatch(/Seq Scan/);
      expect(plan).toMatch(/sighting_events_mac_idx/);
      expect(plan).toMatch(/sighting_events_previous_mac_idx/);
    });

    it('pages through events of one millisecond in the order they were stored, each once', async () => {
      const macs: string[] = [];
      let cursor: string | null = null;
      do {
        const after: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
        const page = (await c.api('GET', `/discoveries/history?ip=${host(30).ip}&limit=1${after}`)).body;
        macs.push(...page.items.map((e: { mac: string }) => e.mac));
        cursor = page.nextCursor;
      } while (cursor !== null && macs.length < 10);
      expect(macs).toEqual([fighters[0], fighters[1], fighters[0]]);
    });

    it('forgets the bindings of an address for an admin, and keeps their history', async () => {
      const forgotten = await c.api('DELETE', `/discoveries?ip=${h20.ip}`);
      expect(forgotten.status).toBe(200);
      expect(forgotten.body).toEqual({ deleted: 2 });
      expect((await c.api('GET', `/discoveries?ip=${h20.ip}`)).body.items).toEqual([]);
      expect((await c.api('GET', `/discoveries/history?ip=${h20.ip}`)).body.items).toHaveLength(2);
      expect((await c.api('GET', `/discoveries?ip=${h10.ip}`)).body.items).toHaveLength(1);
    });
  });

  describe('settings', () => {
    const defaults = {
      discovery: { enabled: true },
      refreshSeconds: 600,
      observationWindowSeconds: 86_400,
      conflictQuietSeconds: 3_600,
    };

    it('starts from the defaults', async () => {
      expect((await c.api('GET', '/settings', { token: viewer })).body).toEqual(defaults);
    });

    it('changes only what a PUT names, and keeps it', async () => {
      const changed = await c.api('PUT', '/settings', { json: { refreshSeconds: 300 } });
      expect(changed.status).toBe(200);
      expect(changed.body).toEqual({ ...defaults, refreshSeconds: 300 });
      const off = await c.api('PUT', '/settings', {
        json: { discovery: { enabled: false }, conflictQuietSeconds: 60 },
      });
      expect(off.body).toEqual({
        ...defaults,
        discovery: { enabled: false },
        refreshSeconds: 300,
        conflictQuietSeconds: 60,
      });
      expect((await c.api('PUT', '/settings', { json: {} })).body).toEqual(off.body);
      expect((await c.api('GET', '/settings')).body).toEqual(off.body);
      await c.api('PUT', '/settings', { json: defaults });
      expect((await c.api('GET', '/settings')).body).toEqual(defaults);
    });

    it('refuses values out of range and changes nothing', async () => {
      expectProblem(
        await c.api('PUT', '/settings', { json: { refreshSeconds: 86_401 } }),
        400,
        'validation-failed',
        'body.refreshSeconds',
      );
      expectProblem(
        await c.api('PUT', '/settings', { json: { refreshSeconds: 60, conflictQuietSeconds: -1 } }),
        400,
        'validation-failed',
        'body.conflictQuietSeconds',
      );
      expect((await c.api('GET', '/settings')).body).toEqual(defaults);
    });
  });

  describe('agents', () => {
    it('registers an agent: 201 with its id, name and a token shown once', async () => {
      const created = await c.api('POST', '/agents', { json: { name: 'rack-2' } });
      expect(created.status).toBe(201);
      expect(created.body).toEqual({
        id: expect.stringMatching(UUID),
        name: 'rack-2',
        token: expect.stringMatching(/^iwa_/),
      });
      const listed = (await c.api('GET', '/agents', { token: viewer })).body;
      expect(listed.items).toContainEqual(
        expect.objectContaining({
          id: created.body.id,
          name: 'rack-2',
          connected: false,
          revoked: false,
          lastSeen: null,
          stats: null,
          dhcp: {
            backend: 'none',
            appliedVersion: null,
            wantedVersion: null,
            inStep: true,
            serves: [],
            servesSetBy: 'interfaces',
            failure: null,
            lastDrift: null,
          },
        }),
      );
      expect(JSON.stringify(listed)).not.toContain(created.body.token);
    });

    it('refuses a second agent of the same name with 409 name-taken', async () => {
      expectProblem(await c.api('POST', '/agents', { json: { name: 'rack-2' } }), 409, 'name-taken');
    });

    it('revokes an agent with 204, and answers 404 for one it does not know', async () => {
      const { body } = await c.api('POST', '/agents', { json: { name: 'rack-3' } });
      expect((await c.api('DELETE', `/agents/${body.id}`)).status).toBe(204);
      const listed = (await c.api('GET', '/agents')).body.items;
      expect(listed).toContainEqual(expect.objectContaining({ id: body.id, revoked: true }));
      expectProblem(await c.api('DELETE', `/agents/${randomUUID()}`), 404, 'not-found');
    });
  });

  describe('operations', () => {
    it.each(['', '/api/v1'])('answers health, readiness and metrics at %s/', async (prefix) => {
      const health = await c.api('GET', `${prefix}/healthz`, { token: null });
      expect([health.status, health.body]).toEqual([200, { status: 'ok' }]);
      const ready = await c.api('GET', `${prefix}/readyz`, { token: null });
      expect([ready.status, ready.body]).toEqual([200, { status: 'ready' }]);
      const metrics = await c.api('GET', `${prefix}/metrics`, { token: null });
      expect(metrics.status).toBe(200);
      expect(metrics.contentType).toMatch(/^text\/plain/);
      expect(metrics.body).toMatch(/^# TYPE ipwarden_sightings_stored_total counter$/m);
    });
  });
});
