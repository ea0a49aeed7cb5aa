/**
 * Conflicts and what keeps networks' habits quiet (API.md, "Conflicts and alerts"): the list
 * and each conflict, acknowledging and resolving them (admin), exemptions and known DHCP
 * servers (admin). Every change is judged again at once by the reconciler.
 */
import { CONFLICT_KINDS, formatIp } from '@ipwarden/ipam';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { acknowledge, findConflict, listConflicts, resolveByUser } from '../../conflicts/conflict-store.js';
import {
  createDhcpServer,
  createExemption,
  deleteDhcpServer,
  deleteExemption,
  listDhcpServers,
  listExemptions,
} from '../../conflicts/exemption-store.js';
import { checkMac } from '../../ipam/address-store.js';
import { checkAddress, findSubnet } from '../../ipam/subnet-store.js';
import { paged } from '../../paging.js';
import { ADMIN, READ, requireRole } from '../auth.js';
import type { AppContext } from '../context.js';
import { IdParams, Limit, PageQuery, Text, Uuid } from '../schemas.js';

const Kind = Type.Union(CONFLICT_KINDS.map((kind) => Type.Literal(kind)));
const Short = Type.String({ minLength: 1, maxLength: 64 });
const Vlan = Type.Integer({ minimum: 0, maximum: 4095 });
const UUID = new RegExp(Uuid.pattern!);

const ConflictQuery = Type.Partial(
  Type.Object({
    ...PageQuery,
    status: Type.Union([Type.Literal('open'), Type.Literal('acknowledged'), Type.Literal('resolved')]),
    kind: Kind,
    subnet: Short,
    ip: Short,
    mac: Short,
  }),
  { additionalProperties: false },
);

const Comment = Type.Object({ comment: Type.Optional(Text(1024)) }, { additionalProperties: false });

const NewExemption = Type.Object(
  {
    ip: Type.Optional(Short),
    cidr: Type.Optional(Short),
    macs: Type.Optional(Type.Array(Short, { maxItems: 64 })),
    kinds: Type.Optional(Type.Array(Short, { maxItems: CONFLICT_KINDS.length })),
    comment: Text(1024),
  },
  { additionalProperties: false },
);

const NewDhcpServer = Type.Object(
  {
    vlan: Vlan,
    outerVlan: Type.Optional(Vlan),
    ip: Type.Optional(Short),
    mac: Type.Optional(Short),
    comment: Type.Optional(Text(1024)),
  },
  { additionalProperties: false },
);

/** A POST without a body (`curl -X POST …/acknowledge`) says no more than `{}`. */
const noBodyIsEmpty = async (request: FastifyRequest) => {
  request.body ??= {};
};

const ListQuery = Type.Partial(Type.Object(PageQuery), { additionalProperties: false });
const idKey = { types: ['string'] as const, valid: (key: (string | number)[]) => UUID.test(String(key[0])) };

export async function conflictRoutes(app: FastifyInstance, { db, principals, reconciler }: AppContext): Promise<void> {
  app.get<{ Querystring: Static<typeof ConflictQuery> }>(
    '/conflicts',
    { schema: { querystring: ConflictQuery }, onRequest: requireRole(principals, READ) },
    async (request) => {
      const { cursor, limit = Limit.default, status, kind, subnet, ip, mac } = request.query;
      const cidr = subnet === undefined ? undefined : (await findSubnet(db, subnet)).cidr;
      const filter = {
        status,
        kind,
        cidr,
        ip: ip === undefined ? undefined : formatIp(checkAddress('ip', ip)),
        mac: mac === undefined ? undefined : checkMac('mac', mac),
      };
      return paged(
        cursor,
        limit,
        (rows, after) =>
          listConflicts(db, {
            ...filter,
            limit: rows,
            after: after === undefined ? undefined : { firstSeen: after[0] as string, id: after[1] as string },
          }),
        {
          types: ['string', 'string'],
          valid: (key) => !Number.isNaN(Date.parse(String(key[0]))) && UUID.test(String(key[1])),
          of: (c) => [c.firstSeen, c.id],
        },
      );
    },
  );

  app.get<{ Params: Static<typeof IdParams> }>(
    '/conflicts/:id',
    { schema: { params: IdParams }, onRequest: requireRole(principals, READ) },
    async (request) => findConflict(db, request.params.id),
  );

  app.post<{ Params: Static<typeof IdParams>; Body: Static<typeof Comment> }>(
    '/conflicts/:id/acknowledge',
    {
      schema: { params: IdParams, body: Comment },
      onRequest: requireRole(principals, ADMIN),
      preValidation: noBodyIsEmpty,
    },
    async (request) => acknowledge(db, request.params.id, request.principal!.name, request.body.comment),
  );

  app.post<{ Params: Static<typeof IdParams>; Body: Static<typeof Comment> }>(
    '/conflicts/:id/resolve',
    {
      schema: { params: IdParams, body: Comment },
      onRequest: requireRole(principals, ADMIN),
      preValidation: noBodyIsEmpty,
    },
    async (request) => {
      const resolved = await resolveByUser(db, request.params.id, request.principal!.name, request.body.comment);
      reconciler.resolvedByUser(resolved);
      return resolved;
    },
  );

  app.get<{ Querystring: Static<typeof ListQuery> }>(
    '/conflict-exemptions',
    { schema: { querystring: ListQuery }, onRequest: requireRole(principals, READ) },
    async (request) =>
      paged(
        request.query.cursor,
        request.query.limit ?? Limit.default,
        (rows, after) => listExemptions(db, rows, after?.[0] as string | undefined),
        { ...idKey, of: (e) => [e.id] },
      ),
  );

  app.post<{ Body: Static<typeof NewExemption> }>(
    '/conflict-exemptions',
    { schema: { body: NewExemption }, onRequest: requireRole(principals, ADMIN) },
    async (request, reply) => {
      const exemption = await createExemption(db, request.body);
      // What it covers resolves now (API.md).
      await reconciler.changed({ plan: true, cidr: exemption.cidr });
      return reply.code(201).send(exemption);
    },
  );

  app.delete<{ Params: Static<typeof IdParams> }>(
    '/conflict-exemptions/:id',
    { schema: { params: IdParams }, onRequest: requireRole(principals, ADMIN) },
    async (request, reply) => {
      await deleteExemption(db, request.params.id);
      await reconciler.changed({ plan: true });
      return reply.code(204).send();
    },
  );

  app.get<{ Querystring: Static<typeof ListQuery> }>(
    '/dhcp-servers',
    { schema: { querystring: ListQuery }, onRequest: requireRole(principals, READ) },
    async (request) =>
      paged(
        request.query.cursor,
        request.query.limit ?? Limit.default,
        (rows, after) => listDhcpServers(db, rows, after?.[0] as string | undefined),
        { ...idKey, of: (s) => [s.id] },
      ),
  );

  app.post<{ Body: Static<typeof NewDhcpServer> }>(
    '/dhcp-servers',
    { schema: { body: NewDhcpServer }, onRequest: requireRole(principals, ADMIN) },
    async (request, reply) => {
      const server = await createDhcpServer(db, request.body);
      await reconciler.changed({ plan: true });
      return reply.code(201).send(server);
    },
  );

  app.delete<{ Params: Static<typeof IdParams> }>(
    '/dhcp-servers/:id',
    { schema: { params: IdParams }, onRequest: requireRole(principals, ADMIN) },
    async (request, reply) => {
      await deleteDhcpServer(db, request.params.id);
      await reconciler.changed({ plan: true });
      return reply.code(204).send();
    },
  );
}
