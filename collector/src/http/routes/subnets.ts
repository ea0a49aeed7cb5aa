/** Subnets and ranges (API.md): admins create and change them; every role reads them. */
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { subnetAddressMap } from '../../ipam/address-map.js';
import {
  createRange,
  createSubnet,
  deleteRange,
  deleteSubnet,
  findSubnet,
  listRanges,
  listSubnets,
  updateSubnet,
} from '../../ipam/subnet-store.js';
import { subnetUtilization } from '../../ipam/utilization.js';
import { type Key, paged } from '../../paging.js';
import { ADMIN, READ, requireRole } from '../auth.js';
import type { AppContext } from '../context.js';
import { IdParams, isAddress, isPrefix, Limit, PageQuery, Text } from '../schemas.js';

/** Addresses arrive as text and are checked by packages/ipam, which says what is wrong. */
const Address = Type.String({ minLength: 1, maxLength: 64 });
const Nullable = <T extends ReturnType<typeof Type.String> | ReturnType<typeof Type.Integer>>(schema: T) =>
  Type.Union([schema, Type.Null()]);

const Fields = {
  name: Nullable(Text(128)),
  gateway: Nullable(Address),
  dnsServers: Type.Array(Address, { maxItems: 16 }),
  ntpServers: Type.Array(Address, { maxItems: 16 }),
  dhcpServers: Type.Array(Address, { maxItems: 16 }),
  domain: Nullable(Type.String({ minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$' })),
  leaseSeconds: Nullable(Type.Integer({ minimum: 60, maximum: 365 * 86_400 })),
  nextServer: Nullable(Address),
  bootFile: Nullable(Text(255)),
  managed: Type.Boolean(),
  allocation: Type.Union([Type.Literal('lowest'), Type.Literal('random')]),
};

const NewSubnet = Type.Object(
  {
    cidr: Type.String({ minLength: 1, maxLength: 64 }),
    vlan: Type.Optional(Type.Integer({ minimum: 0, maximum: 4095 })),
    ...Type.Partial(Type.Object(Fields)).properties,
  },
  { additionalProperties: false },
);
const SubnetChange = Type.Partial(Type.Object(Fields), { additionalProperties: false });
const SubnetParams = Type.Object(
  { subnet: Type.String({ minLength: 1, maxLength: 64 }) },
  { additionalProperties: false },
);
const SubnetQuery = Type.Partial(Type.Object({ ...PageQuery, vlan: Type.Integer({ minimum: 0, maximum: 4095 }) }), {
  additionalProperties: false,
});
const RangeQuery = Type.Partial(Type.Object(PageQuery), { additionalProperties: false });
const DeleteQuery = Type.Partial(Type.Object({ force: Type.Boolean() }), { additionalProperties: false });
const NewRange = Type.Object(
  {
    start: Address,
    end: Address,
    purpose: Type.Union([Type.Literal('dynamic'), Type.Literal('reserved')]),
    comment: Type.Optional(Text(1024)),
  },
  { additionalProperties: false },
);

export async function subnetRoutes(app: FastifyInstance, { db, principals, reconciler }: AppContext): Promise<void> {
  app.post<{ Body: Static<typeof NewSubnet> }>(
    '/subnets',
    { schema: { body: NewSubnet }, onRequest: requireRole(principals, ADMIN) },
    async (request, reply) => {
      const subnet = await createSubnet(db, request.body);
      // Its addresses are no longer foreign (API.md: changes re-evaluate at once).
      await reconciler.changed({ plan: true, cidr: subnet.cidr });
      return reply.code(201).send(subnet);
    },
  );

  app.get<{ Querystring: Static<typeof SubnetQuery> }>(
    '/subnets',
    { schema: { querystring: SubnetQuery }, onRequest: requireRole(principals, READ) },
    async (request) => {
      const { cursor, limit = Limit.default, vlan } = request.query;
      const key = { types: [4095, 'string'], valid: ([, cidr]: Key) => isPrefix(cidr) } as const;
      return paged(
        cursor,
        limit,
        (rows, after) =>
          listSubnets(db, {
            vlan,
            limit: rows,
            after: after === undefined ? undefined : { vlan: after[0] as number, cidr: after[1] as string },
          }),
        { ...key, of: (s) => [s.vlan, s.cidr] },
      );
    },
  );

  app.get<{ Params: Static<typeof SubnetParams> }>(
    '/subnets/:subnet',
    { schema: { params: SubnetParams }, onRequest: requireRole(principals, READ) },
    async (request) => findSubnet(db, request.params.subnet),
  );

  app.patch<{ Params: Static<typeof SubnetParams>; Body: Static<typeof SubnetChange> }>(
    '/subnets/:subnet',
    { schema: { params: SubnetParams, body: SubnetChange }, onRequest: requireRole(principals, ADMIN) },
    async (request) => {
      const subnet = await updateSubnet(db, request.params.subnet, request.body);
      await reconciler.changed({ plan: true, cidr: subnet.cidr });
      return subnet;
    },
  );

  app.delete<{ Params: Static<typeof SubnetParams>; Querystring: Static<typeof DeleteQuery> }>(
    '/subnets/:subnet',
    { schema: { params: SubnetParams, querystring: DeleteQuery }, onRequest: requireRole(principals, ADMIN) },
    async (request, reply) => {
      await deleteSubnet(db, request.params.subnet, request.query.force === true);
      await reconciler.changed({ plan: true });
      return reply.code(204).send();
    },
  );

  app.get<{ Params: Static<typeof SubnetParams> }>(
    '/subnets/:subnet/utilization',
    { schema: { params: SubnetParams }, onRequest: requireRole(principals, READ) },
    async (request) => subnetUtilization(db, request.params.subnet),
  );

  app.get<{ Params: Static<typeof SubnetParams> }>(
    '/subnets/:subnet/map',
    { schema: { params: SubnetParams }, onRequest: requireRole(principals, READ) },
    async (request) => subnetAddressMap(db, request.params.subnet),
  );

  app.post<{ Params: Static<typeof SubnetParams>; Body: Static<typeof NewRange> }>(
    '/subnets/:subnet/ranges',
    { schema: { params: SubnetParams, body: NewRange }, onRequest: requireRole(principals, ADMIN) },
    async (request, reply) => {
      const range = await createRange(db, request.params.subnet, request.body);
      await reconciler.changed({ plan: true });
      return reply.code(201).send(range);
    },
  );

  app.get<{ Params: Static<typeof SubnetParams>; Querystring: Static<typeof RangeQuery> }>(
    '/subnets/:subnet/ranges',
    { schema: { params: SubnetParams, querystring: RangeQuery }, onRequest: requireRole(principals, READ) },
    async (request) => {
      const { cursor, limit = Limit.default } = request.query;
      const key = { types: ['string'], valid: ([start]: Key) => isAddress(start) } as const;
      return paged(
        cursor,
        limit,
        (rows, after) =>
          listRanges(db, request.params.subnet, { limit: rows, after: after?.[0] as string | undefined }),
        { ...key, of: (r) => [r.start] },
      );
    },
  );

  app.delete<{ Params: Static<typeof IdParams> }>(
    '/ranges/:id',
    { schema: { params: IdParams }, onRequest: requireRole(principals, ADMIN) },
    async (request, reply) => {
      await deleteRange(db, request.params.id);
      await reconciler.changed({ plan: true });
      return reply.code(204).send();
    },
  );
}
