/**
 * Who may do what to the IPAM API, and what bad input does to it (API.md, "Conventions": Auth and
 * Errors), on both databases. Every IPAM route (subnets, ranges, addresses, nodes, pools and
 * claims) is called with an admin's, a user's and a viewer's token, with none and with a wrong
 * one: reads answer 401 without a valid token and 200 to every role; writes answer 401 without
 * one, 403 to the roles that may not, and their success to the roles that may, each with a
 * well-formed request so that only the role decides. A user cannot change or release another
 * user's reservation; an admin can. Then bad input of every kind, to every resource, is answered
 * with a 4xx problem and its code, and subnets, ranges, addresses, nodes and pools are exactly as
 * they were. No request in this file is answered with a 500.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_TOKEN,
  type ApiResponse,
  expectProblem,
  forgedCursor,
  type RequestOptions,
  startTestCollector,
  TARGETS,
  type TestCollector,
} from './support/collector.js';

type Role = 'admin' | 'user' | 'viewer';
/** In this order, so that the roles refused a write try it before the roles that may. */
const ROLES: readonly Role[] = ['viewer', 'user', 'admin'];
const WRONG_TOKEN = 'iwu_a-token-nobody-was-given-0123456789';

/** The fixtures' address space: nothing else in this collector uses it. */
const NET = '10.99.0.0/24'; // reservations; a reserved range .200-.209
const DEPLOY_NET = '10.99.1.0/24'; // node deployments
const POOL_NET = '10.99.2.0/23'; // pool "matrix" holds .2.10-.2.250; fresh pools take .3.x
const NET6 = 'fd99::/64';
const FIXTURE_IP = '10.99.0.5';
const FIXTURE_MAC = '02:99:00:00:ff:01';
const path = (cidr: string) => `/subnets/${encodeURIComponent(cidr)}`;
const hex = (n: number) => n.toString(16).padStart(2, '0');
const NOBODY = '00000000-0000-4000-8000-000000000000';

/** A request, made fresh for each role that may make it: what it acts on is new each time. */
interface Call {
  path: string;
  options?: RequestOptions;
}

describe.each(TARGETS)('IPAM roles and bad input on %s', (target) => {
  let c: TestCollector;
  const tokens: Record<Role, string> = { admin: ADMIN_TOKEN, user: '', viewer: '' };
  let bob: string; // a second user
  let nodeId: string;

  /** Every request of this file, setup included: whatever the answer, never a 500. */
  async function api(method: string, url: string, options: RequestOptions = {}): Promise<ApiResponse> {
    const response = await c.api(method, url, options);
    expect(response.status, `${method} ${url}: ${JSON.stringify(response.body)}`).toBeLessThan(500);
    return response;
  }
  /** A request that must succeed with `status`: its body. */
  // biome-ignore lint/suspicious/noExplicitAny: as ApiResponse.body.
  async function made(status: number, method: string, url: string, options: RequestOptions = {}): Promise<any> {
    const response = await api(method, url, options);
    expect(response.status, `${method} ${url}: ${JSON.stringify(response.body)}`).toBe(status);
    return response.body;
  }

  // Fresh names and places for what the requests act on.
  let seq = 0;
  let hostIp = 10; // NET .10-.199
  let block = 16; // 10.99.16.0/24 …
  let chunk = 0; // 10.99.3.0-3, 10.99.3.4-7 …
  const mac = () => {
    const n = ++seq;
    return `02:99:00:00:${hex(n >> 8)}:${hex(n & 255)}`;
  };
  const name = (prefix: string) => `${prefix}-${++seq}`;
  const nextIp = () => `10.99.0.${hostIp++}`;
  const freshCidr = () => `10.99.${block++}.0/24`;
  const freshChunk = () => {
    const first = 4 * chunk++;
    return { start: `10.99.3.${first}`, end: `10.99.3.${first + 3}` };
  };
  const reserve = async (token: string) =>
    (await made(201, 'POST', '/addresses', { json: { subnet: NET, kind: 'reserved', ip: nextIp() }, token })).ip;
  /** A new /24: its id, and its first three octets. */
  const freshSubnet = async () => {
    const base = `10.99.${block++}`;
    return { id: (await made(201, 'POST', '/subnets', { json: { cidr: `${base}.0/24` } })).id as string, base };
  };
  const freshNode = async () =>
    (await made(201, 'POST', '/nodes', { json: { hostname: name('node'), interfaces: [{ mac: mac() }] } })).id;
  const freshPool = () => ({
    name: name('pool'),
    namePrefix: 'fresh',
    ranges: [{ ...freshChunk(), subnet: POOL_NET }],
  });

  beforeAll(async () => {
    c = await startTestCollector(target);
    tokens.user = (await made(201, 'POST', '/users', { json: { name: 'uma', role: 'user' } })).token;
    tokens.viewer = (await made(201, 'POST', '/users', { json: { name: 'vic', role: 'viewer' } })).token;
    bob = (await made(201, 'POST', '/users', { json: { name: 'bob', role: 'user' } })).token;
    await made(201, 'POST', '/subnets', { json: { cidr: NET, gateway: '10.99.0.1' } });
    await made(201, 'POST', `${path(NET)}/ranges`, {
      json: { start: '10.99.0.200', end: '10.99.0.209', purpose: 'reserved' },
    });
    await made(201, 'POST', '/subnets', { json: { cidr: DEPLOY_NET, gateway: '10.99.1.1' } });
    await made(201, 'POST', '/subnets', { json: { cidr: POOL_NET, gateway: '10.99.2.1' } });
    await made(201, 'POST', '/subnets', { json: { cidr: NET6, vlan: 0 } });
    await made(201, 'POST', '/addresses', {
      json: { subnet: NET, kind: 'reserved', ip: FIXTURE_IP },
      token: tokens.user,
    });
    await made(201, 'POST', '/pools', {
      json: { name: 'matrix', namePrefix: 'matrix', ranges: [{ start: '10.99.2.10', end: '10.99.2.250' }] },
    });
    await made(200, 'PUT', '/pools/matrix/claims/fixture', { json: {}, token: tokens.user });
    nodeId = (await made(201, 'POST', '/nodes', { json: { hostname: 'fixture', interfaces: [{ mac: FIXTURE_MAC }] } }))
      .id;
  }, 60_000);

  afterAll(async () => c?.close());

  describe('roles', () => {
    const readRoutes: [string, () => string][] = [
      ['GET /subnets', () => '/subnets'],
      ['GET /subnets/:subnet', () => path(NET)],
      ['GET /subnets/:subnet/utilization', () => `${path(NET)}/utilization`],
      ['GET /subnets/:subnet/map', () => `${path(NET)}/map`],
      ['GET /subnets/:subnet/ranges', () => `${path(NET)}/ranges`],
      ['GET /addresses', () => '/addresses?limit=1000'],
      ['GET /addresses/:ip', () => `/addresses/${FIXTURE_IP}`],
      ['GET /nodes', () => '/nodes'],
      ['GET /nodes/:id', () => `/nodes/${nodeId}`],
      ['GET /pools', () => '/pools'],
      ['GET /pools/:pool', () => '/pools/matrix'],
      ['GET /pools/:pool/export', () => '/pools/matrix/export'],
    ];

    it.each(readRoutes)('%s answers 401 without a valid token and 200 to every role', async (route, url) => {
      const method = route.split(' ')[0]!;
      expectProblem(await api(method, url(), { token: null }), 401, 'unauthorized');
      expectProblem(await api(method, url(), { token: WRONG_TOKEN }), 401, 'unauthorized');
      for (const role of ROLES) {
        const response = await api(method, url(), { token: tokens[role] });
        expect(response.status, `${role}: ${JSON.stringify(response.body)}`).toBe(200);
      }
    });

    const ADMIN = 'admin';
    const WRITE = 'admin and user';
    // [route, the status of success, the roles that may, a fresh well-formed request]
    const writeRoutes: [string, number, string, () => Promise<Call>][] = [
      ['POST /subnets', 201, ADMIN, async () => ({ path: '/subnets', options: { json: { cidr: freshCidr() } } })],
      ['PATCH /subnets/:subnet', 200, ADMIN, async () => ({ path: path(NET), options: { json: { name: name('n') } } })],
      ['DELETE /subnets/:subnet', 204, ADMIN, async () => ({ path: `/subnets/${(await freshSubnet()).id}` })],
      [
        'POST /subnets/:subnet/ranges',
        201,
        ADMIN,
        async () => {
          const { id, base } = await freshSubnet();
          const json = { start: `${base}.10`, end: `${base}.19`, purpose: 'reserved' };
          return { path: `/subnets/${id}/ranges`, options: { json } };
        },
      ],
      [
        'DELETE /ranges/:id',
        204,
        ADMIN,
        async () => {
          const { id, base } = await freshSubnet();
          const json = { start: `${base}.10`, end: `${base}.19`, purpose: 'dynamic' };
          return { path: `/ranges/${(await made(201, 'POST', `/subnets/${id}/ranges`, { json })).id}` };
        },
      ],
      [
        'POST /addresses (reserved)',
        201,
        WRITE,
        async () => ({ path: '/addresses', options: { json: { subnet: NET, kind: 'reserved', ip: nextIp() } } }),
      ],
      [
        'POST /addresses (device)',
        201,
        ADMIN,
        async () => ({
          path: '/addresses',
          options: { json: { subnet: NET, kind: 'device', ip: nextIp(), mac: mac(), hostname: name('pdu') } },
        }),
      ],
      [
        'POST /addresses (forced)',
        201,
        ADMIN,
        async () => ({
          path: '/addresses',
          options: { json: { subnet: NET, kind: 'reserved', ip: nextIp(), force: true } },
        }),
      ],
      [
        'POST /subnets/:subnet/reserve',
        201,
        WRITE,
        async () => ({ path: `${path(NET)}/reserve`, options: { json: { ip: nextIp(), hostname: name('vip') } } }),
      ],
      [
        'PATCH /addresses/:ip (a user’s own)',
        200,
        WRITE,
        async () => ({ path: `/addresses/${await reserve(tokens.user)}`, options: { json: { comment: 'changed' } } }),
      ],
      [
        'DELETE /addresses/:ip (a user’s own)',
        200,
        WRITE,
        async () => ({ path: `/addresses/${await reserve(tokens.user)}` }),
      ],
      [
        'POST /nodes',
        201,
        ADMIN,
        async () => ({ path: '/nodes', options: { json: { hostname: name('node'), interfaces: [{ mac: mac() }] } } }),
      ],
      [
        'POST /nodes/:id/deploy',
        200,
        ADMIN,
        async () => ({ path: `/nodes/${await freshNode()}/deploy`, options: { json: { subnet: DEPLOY_NET } } }),
      ],
      [
        'POST /nodes/:id/release',
        200,
        ADMIN,
        async () => {
          const id = await freshNode();
          await made(200, 'POST', `/nodes/${id}/deploy`, { json: { subnet: DEPLOY_NET } });
          return { path: `/nodes/${id}/release` };
        },
      ],
      ['DELETE /nodes/:id', 204, ADMIN, async () => ({ path: `/nodes/${await freshNode()}` })],
      ['POST /pools', 201, ADMIN, async () => ({ path: '/pools', options: { json: freshPool() } })],
      [
        'DELETE /pools/:pool',
        204,
        ADMIN,
        async () => ({ path: `/pools/${(await made(201, 'POST', '/pools', { json: freshPool() })).name}` }),
      ],
      [
        'PUT /pools/:pool/claims/:claim',
        200,
        WRITE,
        async () => ({ path: `/pools/matrix/claims/${name('claim')}`, options: { json: { mac: mac() } } }),
      ],
      [
        'DELETE /pools/:pool/claims/:claim',
        204,
        WRITE,
        async () => {
          const claim = `/pools/matrix/claims/${name('claim')}`;
          await made(200, 'PUT', claim, { json: {}, token: tokens.user });
          return { path: claim };
        },
      ],
      [
        'POST /pools/import',
        201,
        ADMIN,
        async () => {
          const pool = { ...freshPool(), preAllocations: {}, exclusions: [], allocation: 'sequential' };
          const json = {
            pool,
            subnets: [{ cidr: POOL_NET, vlan: 0, gateway: '10.99.2.1', dnsServers: [] }],
            claims: [{ claim: 'moved', ip: pool.ranges[0]!.start, mac: null }],
          };
          return { path: '/pools/import', options: { json } };
        },
      ],
    ];

    it.each(writeRoutes)(
      '%s answers %i to %s, 403 to the other roles and 401 without a valid token',
      async (route, status, who, prepare) => {
        const method = route.split(' ')[0]!;
        const may = ROLES.filter((role) => who.includes(role));
        // The refused tries come first, on what the first role that may then acts on with success:
        // a refusal changed nothing.
        let call = await prepare();
        const send = (token: string | null) => api(method, call.path, { ...call.options, token });
        expectProblem(await send(null), 401, 'unauthorized');
        expectProblem(await send(WRONG_TOKEN), 401, 'unauthorized');
        for (const role of ROLES) {
          if (!may.includes(role)) {
            expectProblem(await send(tokens[role]), 403, 'forbidden');
            continue;
          }
          const response = await send(tokens[role]);
          expect(response.status, `${role}: ${JSON.stringify(response.body)}`).toBe(status);
          if (role !== may.at(-1)) call = await prepare();
        }
      },
    );

    // [the request, the admin's status, its options]: on a user's reservation, tried by others first.
    const ownership: [string, number, RequestOptions][] = [
      ['PATCH', 200, { json: { hostname: 'taken-over', comment: 'not yours' } }],
      ['DELETE', 200, {}],
    ];

    it.each(ownership)(
      '%s /addresses/:ip of a user’s reservation: 403 to another user and a viewer, %i to an admin',
      async (method, status, options) => {
        const ip = await reserve(tokens.user);
        const before = await made(200, 'GET', `/addresses/${ip}`);
        expectProblem(await api(method, `/addresses/${ip}`, { ...options, token: bob }), 403, 'forbidden');
        expectProblem(await api(method, `/addresses/${ip}`, { ...options, token: tokens.viewer }), 403, 'forbidden');
        expect(await made(200, 'GET', `/addresses/${ip}`)).toEqual(before);
        expect((await api(method, `/addresses/${ip}`, options)).status).toBe(status);
        if (method === 'DELETE') expectProblem(await api('GET', `/addresses/${ip}`), 404, 'not-found');
        else expect(await made(200, 'GET', `/addresses/${ip}`)).toMatchObject({ owner: 'uma', comment: 'not yours' });
      },
    );

    it('lets only its owner or an admin release a claim, as a reservation', async () => {
      const claim = async (name: string, token: string) =>
        (await made(200, 'PUT', `/pools/matrix/claims/${name}`, { json: {}, token })).address;
      const mine = await claim('owned-by-uma', tokens.user);
      const admins = await claim('owned-by-admin', tokens.admin);
      expectProblem(await api('DELETE', '/pools/matrix/claims/owned-by-uma', { token: bob }), 403, 'forbidden');
      expectProblem(
        await api('DELETE', '/pools/matrix/claims/owned-by-admin', { token: tokens.user }),
        403,
        'forbidden',
      );
      const status = (await made(200, 'GET', '/pools/matrix')).status.claims;
      expect(status).toMatchObject({ 'owned-by-uma': mine, 'owned-by-admin': admins });
      expect((await api('DELETE', '/pools/matrix/claims/owned-by-uma', { token: tokens.user })).status).toBe(204);
      expect((await api('DELETE', '/pools/matrix/claims/owned-by-admin')).status).toBe(204);
    });

    it('lets no user release or change an admin’s address', async () => {
      const device = await made(201, 'POST', '/addresses', {
        json: { subnet: NET, kind: 'device', ip: nextIp(), mac: mac() },
      });
      expectProblem(await api('DELETE', `/addresses/${device.ip}`, { token: tokens.user }), 403, 'forbidden');
      expectProblem(
        await api('PATCH', `/addresses/${device.ip}`, { json: { mac: null }, token: tokens.user }),
        403,
        'forbidden',
      );
      expect(await made(200, 'GET', `/addresses/${device.ip}`)).toMatchObject({ owner: 'admin', mac: device.mac });
    });

    it.each([
      ['POST /subnets', { json: { cidr: 'not-a-prefix', colour: 1 } }],
      ['POST /addresses', { raw: '{"subnet":', contentType: 'application/json' }],
      ['PUT /pools/matrix/claims/Not_A_Claim', { raw: 'mac=zz', contentType: 'text/plain' }],
      ['POST /nodes', { json: { hostname: 42 } }],
    ] as [string, RequestOptions][])(
      '%s checks the token before the body: 401 without one, 403 to a viewer',
      async (request, options) => {
        const [method, url] = request.split(' ') as [string, string];
        expectProblem(await api(method, url, { ...options, token: null }), 401, 'unauthorized');
        expectProblem(await api(method, url, { ...options, token: tokens.viewer }), 403, 'forbidden');
      },
    );
  });

  describe('bad input', () => {
    const big = (field: string) => ({
      raw: JSON.stringify({ [field]: 'x'.repeat(1024 * 1024 + 1) }),
      contentType: 'application/json',
    });
    const text = { raw: 'cidr=10.99.250.0/24', contentType: 'text/plain' };
    const form = { raw: 'name=x', contentType: 'application/x-www-form-urlencoded' };
    const truncated = { raw: '{"cidr":', contentType: 'application/json' };
    const subnet = { cidr: '10.99.250.0/24' }; // would be new: only what is wrong with each is
    const range = { start: '10.99.0.180', end: '10.99.0.189', purpose: 'reserved' };
    const node = { hostname: 'sweep', interfaces: [{ mac: '02:99:00:00:fe:01' }] };
    const pool = { name: 'sweep', namePrefix: 'sweep', ranges: [{ start: '10.99.3.240', end: '10.99.3.249' }] };
    const ranges = `POST ${path(NET)}/ranges`;
    const reservation = `POST ${path(NET)}/reserve`;
    const address = `/addresses/${FIXTURE_IP}`;
    const exported = (change: object = {}, claims: object[] = []) => ({
      pool: { ...pool, preAllocations: {}, exclusions: [], allocation: 'sequential', ...change },
      subnets: [{ cidr: POOL_NET, vlan: 0, gateway: '10.99.2.1', dnsServers: [] }],
      claims,
    });
    /** A pool of its own name and range, for the imports that get as far as creating it. */
    const importing = (name: string, first: number) => ({
      name,
      ranges: [{ start: `10.99.3.${first}`, end: `10.99.3.${first + 4}` }],
    });

    // [what, request ({node} is the fixture node's id), its options, status, problem code, field in errors[]]
    const cases: [string, string, RequestOptions, number, string, string?][] = [
      // subnets
      ['an invalid CIDR', 'POST /subnets', { json: { cidr: '10.99.300.0/24' } }, 400, 'invalid-cidr', 'cidr'],
      ['a CIDR with host bits', 'POST /subnets', { json: { cidr: '10.99.250.7/24' } }, 400, 'invalid-cidr', 'cidr'],
      ['an IPv6 prefix of 129', 'POST /subnets', { json: { cidr: 'fd99:1::/129' } }, 400, 'invalid-cidr', 'cidr'],
      ['a CIDR as a number', 'POST /subnets', { json: { cidr: 10 } }, 400, 'validation-failed', 'body.cidr'],
      [
        'an invalid gateway',
        'POST /subnets',
        { json: { ...subnet, gateway: '10.99.250.256' } },
        400,
        'invalid-ip',
        'gateway',
      ],
      [
        'a gateway outside the subnet',
        'POST /subnets',
        { json: { ...subnet, gateway: '10.99.251.1' } },
        400,
        'ip-not-in-subnet',
        'gateway',
      ],
      [
        'an IPv6 gateway of an IPv4 subnet',
        'POST /subnets',
        { json: { ...subnet, gateway: 'fd99::1' } },
        400,
        'invalid-ip',
        'gateway',
      ],
      [
        'an invalid DNS server',
        'POST /subnets',
        { json: { ...subnet, dnsServers: ['10.99.250.2', 'dns.example'] } },
        400,
        'invalid-ip',
        'dnsServers[1]',
      ],
      [
        'an invalid domain',
        'POST /subnets',
        { json: { ...subnet, domain: 'lab_1.example' } },
        400,
        'validation-failed',
        'body.domain',
      ],
      ['an unknown field', 'POST /subnets', { json: { ...subnet, colour: 'red' } }, 400, 'validation-failed', 'colour'],
      ['a VLAN as text', 'POST /subnets', { json: { ...subnet, vlan: '7' } }, 400, 'validation-failed', 'body.vlan'],
      ['a VLAN of 4096', 'POST /subnets', { json: { ...subnet, vlan: 4096 } }, 400, 'validation-failed', 'body.vlan'],
      [
        'a lease as text',
        'POST /subnets',
        { json: { ...subnet, leaseSeconds: '3600' } },
        400,
        'validation-failed',
        'body.leaseSeconds',
      ],
      ['an array', 'POST /subnets', { json: [subnet] }, 400, 'validation-failed', 'body'],
      ['a subnet over another', 'POST /subnets', { json: { cidr: '10.99.0.0/16' } }, 409, 'subnet-overlaps', 'cidr'],
      ['a subnet inside another', 'POST /subnets', { json: { cidr: '10.99.0.64/26' } }, 409, 'subnet-overlaps', 'cidr'],
      ['an IPv6 subnet over another', 'POST /subnets', { json: { cidr: 'fd99::/48' } }, 409, 'subnet-overlaps', 'cidr'],
      ['a subnet body over 1 MiB', 'POST /subnets', big('cidr'), 413, 'body-too-large'],
      ['a subnet as text', 'POST /subnets', text, 415, 'unsupported-media-type'],
      ['truncated JSON', 'POST /subnets', truncated, 400, 'malformed-json'],
      [
        'a gateway moved outside',
        `PATCH ${path(NET)}`,
        { json: { gateway: '10.99.5.1' } },
        400,
        'ip-not-in-subnet',
        'gateway',
      ],
      [
        'an invalid next server',
        `PATCH ${path(NET)}`,
        { json: { nextServer: 'boot.example' } },
        400,
        'invalid-ip',
        'nextServer',
      ],
      [
        'a change of prefix',
        `PATCH ${path(NET)}`,
        { json: { cidr: '10.99.5.0/24' } },
        400,
        'validation-failed',
        'cidr',
      ],
      ['managed as text', `PATCH ${path(NET)}`, { json: { managed: 'no' } }, 400, 'validation-failed', 'managed'],
      ['a change as a form', `PATCH ${path(NET)}`, form, 415, 'unsupported-media-type'],
      ['an invalid subnet in the path', 'PATCH /subnets/10.99.0.0%2F33', { json: {} }, 400, 'invalid-cidr', 'subnet'],
      ['a delete of a non-prefix', 'DELETE /subnets/not-a-prefix', {}, 400, 'invalid-cidr', 'subnet'],
      ['a delete forced with text', `DELETE ${path(NET)}?force=maybe`, {}, 400, 'validation-failed', 'force'],
      ['a VLAN filter as text', 'GET /subnets?vlan=seven', {}, 400, 'validation-failed', 'vlan'],
      ['a subnets limit of 1001', 'GET /subnets?limit=1001', {}, 400, 'validation-failed', 'limit'],
      [
        'a forged subnets cursor',
        `GET /subnets?cursor=${forgedCursor([0, '10.99.0.0/33'])}`,
        {},
        400,
        'validation-failed',
        'cursor',
      ],
      [
        'a forged ranges cursor',
        `GET ${path(NET)}/ranges?cursor=${forgedCursor(['10.99.0.x'])}`,
        {},
        400,
        'validation-failed',
        'cursor',
      ],
      // ranges
      ['an invalid start', ranges, { json: { ...range, start: '10.99.0.x' } }, 400, 'invalid-ip', 'start'],
      ['an IPv6 start', ranges, { json: { ...range, start: 'fd99::1' } }, 400, 'invalid-ip', 'start'],
      ['an end outside the subnet', ranges, { json: { ...range, end: '10.99.1.5' } }, 400, 'ip-not-in-subnet', 'end'],
      ['an end before the start', ranges, { json: { ...range, end: '10.99.0.170' } }, 400, 'validation-failed', 'end'],
      ['an unknown purpose', ranges, { json: { ...range, purpose: 'static' } }, 400, 'validation-failed', 'purpose'],
      ['a range’s unknown field', ranges, { json: { ...range, vlan: 1 } }, 400, 'validation-failed', 'vlan'],
      ['a range over another', ranges, { json: { ...range, end: '10.99.0.200' } }, 409, 'range-overlaps', 'start'],
      [
        'a range inside another',
        ranges,
        { json: { ...range, start: '10.99.0.201', end: '10.99.0.202' } },
        409,
        'range-overlaps',
        'start',
      ],
      [
        'a dynamic range over an address',
        ranges,
        { json: { start: '10.99.0.4', end: '10.99.0.6', purpose: 'dynamic' } },
        409,
        'ip-in-use',
        'start',
      ],
      ['a range body over 1 MiB', ranges, big('comment'), 413, 'body-too-large'],
      ['a range as a form', ranges, form, 415, 'unsupported-media-type'],
      ['a range of a non-prefix', 'POST /subnets/10.99.0.0%2F33/ranges', { json: range }, 400, 'invalid-cidr'],
      ['a range id not a UUID', 'DELETE /ranges/1', {}, 400, 'validation-failed', 'params.id'],
      ['an unknown range', `DELETE /ranges/${NOBODY}`, {}, 404, 'not-found'],
      ['a range of an unknown subnet', `POST /subnets/${NOBODY}/ranges`, { json: range }, 404, 'not-found'],
      // addresses
      ...(
        [
          ['an invalid IP', { ip: '10.99.0.256' }, 400, 'invalid-ip', 'ip'],
          ['an IP outside the subnet', { ip: '10.99.5.5' }, 400, 'ip-not-in-subnet', 'ip'],
          ['an IPv6 IP in an IPv4 subnet', { ip: 'fd99::5' }, 400, 'invalid-ip', 'ip'],
          ['an invalid MAC', { mac: '02:99:00:00:00' }, 400, 'invalid-mac', 'mac'],
          ['a MAC with dashes', { mac: '02-99-00-00-00-01' }, 400, 'invalid-mac', 'mac'],
          ['an invalid hostname', { hostname: 'web_1' }, 400, 'invalid-hostname', 'hostname'],
          ['a hostname label of 64', { hostname: `${'a'.repeat(64)}.lab` }, 400, 'invalid-hostname', 'hostname'],
          ['an invalid subnet', { subnet: '10.99.0.0/33' }, 400, 'invalid-cidr', 'subnet'],
          ['an unknown subnet', { subnet: '10.99.249.0/24' }, 404, 'not-found'],
          ['an address’s unknown field', { vlan: 0 }, 400, 'validation-failed', 'vlan'],
          ['force as text', { force: 'yes' }, 400, 'validation-failed', 'body.force'],
          ['a node not a UUID', { node: 'fixture' }, 400, 'validation-failed', 'body.node'],
          ['an unknown node', { kind: 'extra', mac: FIXTURE_MAC, node: NOBODY }, 404, 'not-found'],
          ['an unknown subnet id', { subnet: NOBODY }, 404, 'not-found'],
          ['an unknown kind', { kind: 'floating' }, 400, 'validation-failed', 'kind'],
          ['a kind made by nodes', { kind: 'auto', mac: '02:99:00:00:fe:02' }, 400, 'validation-failed', 'kind'],
          ['a device without its MAC', { kind: 'device' }, 400, 'validation-failed', 'mac'],
          ['an IP of a reserved range', { ip: '10.99.0.205' }, 409, 'ip-unavailable', 'ip'],
          ['an IP held already', { ip: FIXTURE_IP }, 409, 'ip-in-use', 'ip'],
        ] as [string, object, number, string, string?][]
      ).map(([what, change, status, code, field]): [string, string, RequestOptions, number, string, string?] => [
        what,
        'POST /addresses',
        { json: { subnet: NET, kind: 'reserved', ...change } },
        status,
        code,
        field,
      ]),
      ['no subnet', 'POST /addresses', { json: { kind: 'reserved' } }, 400, 'validation-failed', 'subnet'],
      ['an address body over 1 MiB', 'POST /addresses', big('comment'), 413, 'body-too-large'],
      ['an address as a form', 'POST /addresses', form, 415, 'unsupported-media-type'],
      ['a reservation outside', reservation, { json: { ip: '10.99.1.9' } }, 400, 'ip-not-in-subnet', 'ip'],
      ['a reservation of a bad IP', reservation, { json: { ip: '10.99.0' } }, 400, 'invalid-ip', 'ip'],
      ['a reservation of a bad MAC', reservation, { json: { mac: 'zz' } }, 400, 'invalid-mac', 'mac'],
      ['a reservation with a kind', reservation, { json: { kind: 'device' } }, 400, 'validation-failed', 'kind'],
      ['a reservation as text', reservation, text, 415, 'unsupported-media-type'],
      ['a change to a bad MAC', `PATCH ${address}`, { json: { mac: 'zz' } }, 400, 'invalid-mac', 'mac'],
      [
        'a change to a bad hostname',
        `PATCH ${address}`,
        { json: { hostname: '-web' } },
        400,
        'invalid-hostname',
        'hostname',
      ],
      ['a change of the IP', `PATCH ${address}`, { json: { ip: '10.99.0.6' } }, 400, 'validation-failed', 'ip'],
      ['a comment as a number', `PATCH ${address}`, { json: { comment: 5 } }, 400, 'validation-failed', 'comment'],
      ['a change as a form', `PATCH ${address}`, form, 415, 'unsupported-media-type'],
      ['a change of a bad IP', 'PATCH /addresses/10.99.0.256', { json: {} }, 400, 'invalid-ip', 'ip'],
      ['a release of a bad IP', 'DELETE /addresses/not-an-ip', {}, 400, 'invalid-ip', 'ip'],
      ['a release in a bad subnet', `DELETE ${address}?subnet=10.99.0.0%2F33`, {}, 400, 'invalid-cidr', 'subnet'],
      ['a release of a free IP', 'DELETE /addresses/10.99.0.254', {}, 404, 'not-found'],
      ['a MAC filter of nonsense', 'GET /addresses?mac=zz', {}, 400, 'invalid-mac', 'mac'],
      ['a subnet filter of nonsense', 'GET /addresses?subnet=10.99.0.0%2F33', {}, 400, 'invalid-cidr', 'subnet'],
      ['a kind filter of nonsense', 'GET /addresses?kind=floating', {}, 400, 'validation-failed', 'kind'],
      ['a limit of 0', 'GET /addresses?limit=0', {}, 400, 'validation-failed', 'limit'],
      ['an unknown filter', 'GET /addresses?colour=red', {}, 400, 'validation-failed', 'colour'],
      ['a cursor of nonsense', 'GET /addresses?cursor=not-a-cursor', {}, 400, 'validation-failed', 'cursor'],
      [
        'a forged cursor',
        `GET /addresses?cursor=${forgedCursor(['10.99.0.x', 'rack-1'])}`,
        {},
        400,
        'validation-failed',
        'cursor',
      ],
      [
        'a comment holding NUL, which no PostgreSQL text can',
        'POST /addresses',
        { json: { subnet: NET, kind: 'reserved', comment: 'a\u0000b' } },
        400,
        'validation-failed',
        'comment',
      ],
      // nodes
      ['an invalid hostname', 'POST /nodes', { json: { ...node, hostname: 'web 1' } }, 400, 'invalid-hostname'],
      [
        'an invalid MAC',
        'POST /nodes',
        { json: { ...node, interfaces: [{ mac: '02:99:00:00:fe:0g' }] } },
        400,
        'invalid-mac',
        'interfaces[0].mac',
      ],
      [
        'the same MAC twice',
        'POST /nodes',
        { json: { ...node, interfaces: [...node.interfaces, ...node.interfaces] } },
        400,
        'validation-failed',
        'interfaces',
      ],
      [
        'a MAC of another node',
        'POST /nodes',
        { json: { ...node, interfaces: [{ mac: FIXTURE_MAC.toUpperCase() }] } },
        409,
        'mac-in-use',
      ],
      ['a hostname taken', 'POST /nodes', { json: { ...node, hostname: 'FIXTURE' } }, 409, 'name-taken'],
      ['a node’s unknown field', 'POST /nodes', { json: { ...node, rack: 7 } }, 400, 'validation-failed', 'rack'],
      [
        'interfaces as text',
        'POST /nodes',
        { json: { ...node, interfaces: 'eth0' } },
        400,
        'validation-failed',
        'body.interfaces',
      ],
      [
        'virtual as text',
        'POST /nodes',
        { json: { ...node, interfaces: [{ mac: '02:99:00:00:fe:01', virtual: 'yes' }] } },
        400,
        'validation-failed',
        'virtual',
      ],
      ['no hostname', 'POST /nodes', { json: { interfaces: [] } }, 400, 'validation-failed', 'body'],
      ['a node body over 1 MiB', 'POST /nodes', big('hostname'), 413, 'body-too-large'],
      ['a node as text', 'POST /nodes', text, 415, 'unsupported-media-type'],
      ['a deploy on a non-prefix', 'POST /nodes/{node}/deploy', { json: { subnet: 'rack-1' } }, 400, 'invalid-cidr'],
      ['a deploy on no subnet', 'POST /nodes/{node}/deploy', { json: { subnet: '10.99.249.0/24' } }, 404, 'not-found'],
      [
        'a deploy’s unknown field',
        'POST /nodes/{node}/deploy',
        { json: { subnet: DEPLOY_NET, ip: '10.99.1.7' } },
        400,
        'validation-failed',
        'ip',
      ],
      ['a deploy as a form', 'POST /nodes/{node}/deploy', form, 415, 'unsupported-media-type'],
      ['a node id not a UUID', 'POST /nodes/fixture/release', {}, 400, 'validation-failed', 'params.id'],
      ['a deploy of an unknown node', `POST /nodes/${NOBODY}/deploy`, { json: { subnet: NET } }, 404, 'not-found'],
      ['a delete of a node id not a UUID', 'DELETE /nodes/1', {}, 400, 'validation-failed', 'params.id'],
      ['a nodes cursor of nonsense', 'GET /nodes?cursor=not-a-cursor', {}, 400, 'validation-failed', 'cursor'],
      ['a nodes limit of 0', 'GET /nodes?limit=0', {}, 400, 'validation-failed', 'limit'],
      // pools and claims
      [
        'a pool range of a bad IP',
        'POST /pools',
        { json: { ...pool, ranges: [{ start: '10.99.3.x', end: '10.99.3.249' }] } },
        400,
        'invalid-ip',
        'ranges[0].start',
      ],
      [
        'a pool range ending outside',
        'POST /pools',
        { json: { ...pool, ranges: [{ start: '10.99.3.240', end: '10.99.4.9' }] } },
        400,
        'ip-not-in-subnet',
        'ranges[0].end',
      ],
      [
        'a pool range in no subnet',
        'POST /pools',
        { json: { ...pool, ranges: [{ start: '10.99.248.1', end: '10.99.248.9' }] } },
        400,
        'ip-not-in-subnet',
        'ranges[0].start',
      ],
      [
        'a pool range over another pool’s',
        'POST /pools',
        { json: { ...pool, ranges: [{ start: '10.99.2.250', end: '10.99.3.249' }] } },
        409,
        'range-overlaps',
        'ranges[0]',
      ],
      [
        'pool ranges over each other',
        'POST /pools',
        { json: { ...pool, ranges: [...pool.ranges, { start: '10.99.3.249', end: '10.99.3.250' }] } },
        409,
        'range-overlaps',
        'ranges[1]',
      ],
      [
        'pool ranges of two families',
        'POST /pools',
        { json: { ...pool, ranges: [...pool.ranges, { start: 'fd99::10', end: 'fd99::20' }] } },
        400,
        'invalid-ip',
        'ranges[1]',
      ],
      [
        'a pool gateway of a bad IP',
        'POST /pools',
        { json: { ...pool, gateway: '10.99.3.256' } },
        400,
        'invalid-ip',
        'gateway',
      ],
      [
        'a pool range gateway of a bad IP',
        'POST /pools',
        { json: { ...pool, ranges: [{ ...pool.ranges[0], gateway: 'gw' }] } },
        400,
        'invalid-ip',
        'ranges[0].gateway',
      ],
      [
        'a pool DNS server of a bad IP',
        'POST /pools',
        { json: { ...pool, dnsServers: ['dns.example'] } },
        400,
        'invalid-ip',
        'dnsServers[0]',
      ],
      [
        'a pre-allocation of a bad IP',
        'POST /pools',
        { json: { ...pool, preAllocations: { a: '10.99.3.2400' } } },
        400,
        'invalid-ip',
        'preAllocations.a',
      ],
      [
        'a pre-allocation outside the ranges',
        'POST /pools',
        { json: { ...pool, preAllocations: { a: '10.99.3.1' } } },
        400,
        'validation-failed',
        'preAllocations.a',
      ],
      [
        'an exclusion of nonsense',
        'POST /pools',
        { json: { ...pool, exclusions: ['10.99.3.7/24'] } },
        400,
        'validation-failed',
        'exclusions[0]',
      ],
      ['a pool name with a space', 'POST /pools', { json: { ...pool, name: 'a b' } }, 400, 'validation-failed', 'name'],
      [
        'a name prefix in capitals',
        'POST /pools',
        { json: { ...pool, namePrefix: 'Sweep' } },
        400,
        'validation-failed',
        'namePrefix',
      ],
      ['a prefix as text', 'POST /pools', { json: { ...pool, prefix: '24' } }, 400, 'validation-failed', 'prefix'],
      ['no ranges', 'POST /pools', { json: { ...pool, ranges: [] } }, 400, 'validation-failed', 'ranges'],
      ['a pool’s unknown field', 'POST /pools', { json: { ...pool, vlan: 0 } }, 400, 'validation-failed', 'vlan'],
      ['a pool name taken', 'POST /pools', { json: { ...pool, name: 'matrix' } }, 409, 'name-taken'],
      ['a pool by a non-uuid of 36 characters', `GET /pools/${'-'.repeat(36)}`, {}, 404, 'not-found'],
      ['a subnet a pool has ranges in', `DELETE ${path(POOL_NET)}?force=true`, {}, 409, 'subnet-in-use'],
      ['a pool body over 1 MiB', 'POST /pools', big('name'), 413, 'body-too-large'],
      ['a pool as a form', 'POST /pools', form, 415, 'unsupported-media-type'],
      ['a claim name in capitals', 'PUT /pools/matrix/claims/Web_1', { json: {} }, 400, 'validation-failed', 'claim'],
      ['a claim of a bad MAC', 'PUT /pools/matrix/claims/web-1', { json: { mac: 'zz' } }, 400, 'invalid-mac', 'mac'],
      [
        'a claim of a bad IP',
        'PUT /pools/matrix/claims/web-1',
        { json: { ip: '10.99.2.300' } },
        400,
        'invalid-ip',
        'ip',
      ],
      [
        'a claim outside the pool',
        'PUT /pools/matrix/claims/web-1',
        { json: { ip: '10.99.3.250' } },
        400,
        'ip-not-in-subnet',
        'ip',
      ],
      [
        'a claim’s unknown field',
        'PUT /pools/matrix/claims/web-1',
        { json: { hostname: 'web-1' } },
        400,
        'validation-failed',
        'hostname',
      ],
      ['a claim in no pool', 'PUT /pools/nowhere/claims/web-1', { json: {} }, 404, 'not-found'],
      ['a claim body over 1 MiB', 'PUT /pools/matrix/claims/web-1', big('mac'), 413, 'body-too-large'],
      ['a claim as text', 'PUT /pools/matrix/claims/web-1', text, 415, 'unsupported-media-type'],
      ['a release of no claim', 'DELETE /pools/matrix/claims/web-1', {}, 404, 'not-found'],
      ['a pool delete forced with text', 'DELETE /pools/matrix?force=maybe', {}, 400, 'validation-failed', 'force'],
      ['an export of no pool', 'GET /pools/nowhere/export', {}, 404, 'not-found'],
      ['a forged pools cursor', `GET /pools?cursor=${forgedCursor([42])}`, {}, 400, 'validation-failed', 'cursor'],
      ['an import without claims', 'POST /pools/import', { json: { pool, subnets: [] } }, 400, 'validation-failed'],
      [
        'an import with a claim’s unknown field',
        'POST /pools/import',
        { json: exported({}, [{ claim: 'a', ip: '10.99.3.240', mac: null, vlan: 0 }]) },
        400,
        'validation-failed',
        'vlan',
      ],
      [
        'an import of a subnet over another',
        'POST /pools/import',
        { json: { ...exported(), subnets: [{ cidr: '10.99.0.0/16', vlan: 0, gateway: null, dnsServers: [] }] } },
        409,
        'subnet-overlaps',
      ],
      [
        'an import of a subnet that is no prefix',
        'POST /pools/import',
        { json: { ...exported(), subnets: [{ cidr: 'not-a-prefix', vlan: 0, gateway: null, dnsServers: [] }] } },
        400,
        'invalid-cidr',
      ],
      [
        'an import of a subnet with host bits',
        'POST /pools/import',
        { json: { ...exported(), subnets: [{ cidr: '10.99.252.7/24', vlan: 0, gateway: null, dnsServers: [] }] } },
        400,
        'invalid-cidr',
      ],
      [
        'an import of a new subnet and a pool name taken',
        'POST /pools/import',
        {
          json: {
            ...exported({ name: 'matrix' }),
            subnets: [{ cidr: '10.99.253.0/24', vlan: 0, gateway: null, dnsServers: [] }],
          },
        },
        409,
        'name-taken',
      ],
      [
        'an import of a claim outside the pool',
        'POST /pools/import',
        { json: exported(importing('import-outside', 240), [{ claim: 'a', ip: '10.99.2.5', mac: null }]) },
        400,
        'ip-not-in-subnet',
        'ip',
      ],
      [
        'an import of a claim with a bad MAC',
        'POST /pools/import',
        { json: exported(importing('import-bad-mac', 245), [{ claim: 'a', ip: '10.99.3.245', mac: 'zz' }]) },
        400,
        'invalid-mac',
        'mac',
      ],
      ['an import body over 1 MiB', 'POST /pools/import', big('pool'), 413, 'body-too-large'],
      ['an import as text', 'POST /pools/import', text, 415, 'unsupported-media-type'],
    ];

    /** What bad input must leave alone: every list of the IPAM API, and the ranges of every subnet. */
    const state = async () => {
      const subnets = await made(200, 'GET', '/subnets?limit=1000');
      const ranges: Record<string, unknown> = {};
      for (const s of subnets.items)
        ranges[`${s.cidr} vlan ${s.vlan}`] = await made(200, 'GET', `/subnets/${s.id}/ranges?limit=1000`);
      return {
        subnets,
        ranges,
        addresses: await made(200, 'GET', '/addresses?limit=1000'),
        nodes: await made(200, 'GET', '/nodes?limit=1000'),
        pools: await made(200, 'GET', '/pools?limit=1000'),
      };
    };
    let before: Awaited<ReturnType<typeof state>>;

    beforeAll(async () => {
      before = await state();
    });

    it.each(cases)('answers %s (%s) with a problem', async (_, request, options, status, code, field) => {
      const [method, url] = request.replace('{node}', nodeId).split(' ') as [string, string];
      expectProblem(await api(method, url, options), status, code, field);
    });

    it('changed nothing for any of them: subnets, ranges, addresses, nodes and pools are as they were', async () => {
      expect(await state()).toEqual(before);
    });
  });

  it('never answered with a 500 (the metrics count answers by status)', async () => {
    const metrics = (await api('GET', '/metrics', { token: null })).body as string;
    expect(metrics).toContain('ipwarden_http_requests_total');
    expect(metrics.split('\n').filter((line) => /^ipwarden_http_requests_total\{.*status="5\d\d"/.test(line))).toEqual(
      [],
    );
  });
});
