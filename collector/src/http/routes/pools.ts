/** Pools and claims (API.md, Metal3-style): admins shape pools; users and admins claim. */
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { DEFAULT_DHCP_WAIT_MS, inMaps } from '../../dhcp/dhcp-wait.js';
import {
  claimAddress,
  claimedAddress,
  createPool,
  deletePool,
  exportPool,
  findPool,
  importPool,
  listPools,
  type PoolExport,
  releaseClaim,
} from '../../ipam/pool-store.js';
import { paged } from '../../paging.js';
import { ADMIN, READ, requireRole, WRITE } from '../auth.js';
import type { AppContext } from '../context.js';
import { Limit, Name, PageQuery, Waiting } from '../schemas.js';

const ListQuery = Type.Partial(Type.Object(PageQuery), { additionalProperties: false });

const Address = Type.String({ minLength: 1, maxLength: 64 });
const Prefix = Type.Integer({ minimum: 0, maximum: 128 });
const Dns = Type.Array(Address, { maxItems: 16 });
const Range = Type.Object(
  {
    start: Type.Optional(Address),
    end: Type.Optional(Address),
    subnet: Type.Optional(Address),
    prefix: Type.Optional(Prefix),
    gateway: Type.Optional(Address),
    dnsServers: Type.Optional(Dns),
  },
  { additionalProperties: false },
);
const PoolSpec = Type.Object(
  {
    name: Name,
    namePrefix: Type.String({ minLength: 1, maxLength: 63, pattern: '^[a-z0-9]([a-z0-9-]*[a-z0-9])?$' }),
    ranges: Type.Array(Range, { minItems: 1, maxItems: 256 }),
    prefix: Type.Optional(Prefix),
    gateway: Type.Optional(Address),
    dnsServers: Type.Optional(Dns),
    preAllocations: Type.Optional(Type.Record(Type.String({ maxLength: 63 }), Address)),
    exclusions: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 1024 })),
    allocation: Type.Optional(Type.Union([Type.Literal('sequential'), Type.Literal('random')])),
  },
  { additionalProperties: false },
);
const PoolParams = Type.Object({ pool: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false });
const ClaimParams = Type.Object(
  { pool: Type.String({ minLength: 1, maxLength: 64 }), claim: Type.String({ minLength: 1, maxLength: 63 }) },
  { additionalProperties: false },
);
const ClaimBody = Type.Partial(Type.Object({ mac: Address, ip: Address }), { additionalProperties: false });
const Force = Type.Partial(Type.Object({ force: Type.Boolean() }), { additionalProperties: false });
const Export = Type.Object(
  {
    pool: Type.Object(
      {
        ...PoolSpec.properties,
        preAllocations: Type.Record(Type.String(), Address),
        exclusions: Type.Array(Type.String()),
      },
      { additionalProperties: true },
    ),
    subnets: Type.Array(
      Type.Object(
        {
          cidr: Address,
          vlan: Type.Integer({ minimum: 0, maximum: 4095 }),
          gateway: Type.Union([Address, Type.Null()]),
          dnsServers: Dns,
        },
        { additionalProperties: false },
      ),
      { maxItems: 256 },
    ),
    claims: Type.Array(
      Type.Object(
        { claim: Type.String({ minLength: 1, maxLength: 63 }), ip: Address, mac: Type.Union([Address, Type.Null()]) },
        { additionalProperties: false },
      ),
      { maxItems: 100_000 },
    ),
  },
  { additionalProperties: false },
);

export async function poolRoutes(
  app: FastifyInstance,
  { db, allocator, principals, reconciler, dhcp }: AppContext,
): Promise<void> {
  app.post<{ Body: Static<typeof PoolSpec> }>(
    '/pools',
    { schema: { body: PoolSpec }, onRequest: requireRole(principals, ADMIN) },
    async (request, reply) => reply.code(201).send(await createPool(db, request.body)),
  );

  app.get<{ Querystring: Static<typeof ListQuery> }>(
    '/pools',
    { schema: { querystring: ListQuery }, onRequest: requireRole(principals, READ) },
    async (request) => {
      const { cursor, limit = Limit.default } = request.query;
      return paged(
        cursor,
        limit,
        (rows, after) => listPools(db, { limit: rows, after: after?.[0] as string | undefined }),
        { types: ['string'], of: (p) => [p.name] },
      );
    },
  );

  app.get<{ Params: Static<typeof PoolParams> }>(
    '/pools/:pool',
    { schema: { params: PoolParams }, onRequest: requireRole(principals, READ) },
    async (request) => findPool(db, request.params.pool),
  );

  app.delete<{ Params: Static<typeof PoolParams>; Querystring: Static<typeof Force> }>(
    '/pools/:pool',
    { schema: { params: PoolParams, querystring: Force }, onRequest: requireRole(principals, ADMIN) },
    async (request, reply) => {
      await deletePool(db, request.params.pool, request.query.force === true);
      await reconciler.changed({ all: true });
      return reply.code(204).send();
    },
  );

  app.put<{ Params: Static<typeof ClaimParams>; Body: Static<typeof ClaimBody>; Querystring: Static<typeof Waiting> }>(
    '/pools/:pool/claims/:claim',
    {
      schema: { params: ClaimParams, body: ClaimBody, querystring: Waiting },
      onRequest: requireRole(principals, WRITE),
    },
    async (request) => {
      const claim = await claimAddress(
        db,
        allocator,
        request.principal!,
        request.params.pool,
        request.params.claim,
        request.body ?? {},
      );
      await reconciler.changed({ ips: [claim.address] });
      // A claim with a MAC is a DHCP host: answered once the serving agents applied it, or after
      // the wait (the claim keeps Metal3's shape: GET /agents tells the DHCP state).
      if (claim.mac !== null) {
        const held = await claimedAddress(db, request.params.pool, request.params.claim);
        if (held !== undefined && inMaps(held)) {
          await dhcp.waits.outcome([held.subnet], request.query.wait ?? DEFAULT_DHCP_WAIT_MS);
        }
      }
      return claim;
    },
  );

  app.delete<{ Params: Static<typeof ClaimParams>; Querystring: Static<typeof Waiting> }>(
    '/pools/:pool/claims/:claim',
    { schema: { params: ClaimParams, querystring: Waiting }, onRequest: requireRole(principals, WRITE) },
    async (request, reply) => {
      const released = await releaseClaim(db, request.principal!, request.params.pool, request.params.claim);
      await reconciler.changed({ all: true });
      if (inMaps(released)) await dhcp.waits.outcome([released.subnet], request.query.wait ?? DEFAULT_DHCP_WAIT_MS);
      return reply.code(204).send();
    },
  );

  app.get<{ Params: Static<typeof PoolParams> }>(
    '/pools/:pool/export',
    { schema: { params: PoolParams }, onRequest: requireRole(principals, READ) },
    async (request) => exportPool(db, request.params.pool),
  );

  app.post<{ Body: Static<typeof Export> }>(
    '/pools/import',
    { schema: { body: Export }, onRequest: requireRole(principals, ADMIN) },
    async (request, reply) => {
      const pool = await importPool(db, allocator, request.principal!, request.body as PoolExport);
      await reconciler.changed({ all: true });
      return reply.code(201).send(pool);
    },
  );
}
