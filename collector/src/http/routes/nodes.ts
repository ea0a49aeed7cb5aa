/** Nodes (API.md): machines being provisioned; admins deploy and release them, everyone reads. */
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { DEFAULT_DHCP_WAIT_MS, inMaps, NO_DHCP } from '../../dhcp/dhcp-wait.js';
import { announceAddresses } from '../../events/address-events.js';
import { createNode, deleteNode, deployNode, findNode, listNodes, releaseNode } from '../../ipam/node-store.js';
import { paged } from '../../paging.js';
import { ADMIN, READ, requireRole } from '../auth.js';
import type { AppContext } from '../context.js';
import { IdParams, Limit, PageQuery, Waiting } from '../schemas.js';

const ListQuery = Type.Partial(Type.Object(PageQuery), { additionalProperties: false });

const NewNode = Type.Object(
  {
    hostname: Type.String({ minLength: 1, maxLength: 253 }),
    interfaces: Type.Array(
      Type.Object(
        {
          mac: Type.String({ minLength: 1, maxLength: 64 }),
          name: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
          virtual: Type.Optional(Type.Boolean()),
        },
        { additionalProperties: false },
      ),
      { maxItems: 64 },
    ),
  },
  { additionalProperties: false },
);
const Deployment = Type.Object(
  { subnet: Type.String({ minLength: 1, maxLength: 64 }) },
  { additionalProperties: false },
);

export async function nodeRoutes(
  app: FastifyInstance,
  { db, allocator, principals, reconciler, dhcp }: AppContext,
): Promise<void> {
  app.post<{ Body: Static<typeof NewNode> }>(
    '/nodes',
    { schema: { body: NewNode }, onRequest: requireRole(principals, ADMIN) },
    async (request, reply) => reply.code(201).send(await createNode(db, request.body)),
  );

  app.get<{ Querystring: Static<typeof ListQuery> }>(
    '/nodes',
    { schema: { querystring: ListQuery }, onRequest: requireRole(principals, READ) },
    async (request) => {
      const { cursor, limit = Limit.default } = request.query;
      return paged(
        cursor,
        limit,
        (rows, after) => listNodes(db, { limit: rows, after: after?.[0] as string | undefined }),
        { types: ['string'], of: (n) => [n.hostname] },
      );
    },
  );

  app.get<{ Params: Static<typeof IdParams> }>(
    '/nodes/:id',
    { schema: { params: IdParams }, onRequest: requireRole(principals, READ) },
    async (request) => findNode(db, request.params.id),
  );

  app.post<{ Params: Static<typeof IdParams>; Body: Static<typeof Deployment>; Querystring: Static<typeof Waiting> }>(
    '/nodes/:id/deploy',
    { schema: { params: IdParams, body: Deployment, querystring: Waiting }, onRequest: requireRole(principals, ADMIN) },
    async (request) => {
      const address = await deployNode(db, allocator, request.principal!, request.params.id, request.body.subnet);
      await announceAddresses(db, 'address.created', [address]);
      await reconciler.changed({ ips: [address.ip] });
      // Answered once the agents serving the subnet hand the boot MAC its address (MAAS answers before).
      return dhcp.waits.withDhcp(address, inMaps(address), request.query.wait);
    },
  );

  app.post<{ Params: Static<typeof IdParams>; Querystring: Static<typeof Waiting> }>(
    '/nodes/:id/release',
    { schema: { params: IdParams, querystring: Waiting }, onRequest: requireRole(principals, ADMIN) },
    async (request) => {
      const before = await findNode(db, request.params.id);
      const node = await releaseNode(db, request.params.id);
      const kept = new Set(node.addresses.map((a) => `${a.subnet}/${a.ip}`));
      const released = before.addresses.filter((a) => !kept.has(`${a.subnet}/${a.ip}`));
      await announceAddresses(db, 'address.released', released);
      await reconciler.changed({ ips: before.addresses.map((a) => a.ip) });
      // Answered once the agents serving those subnets no longer hand the node's MACs their addresses.
      const left = released.filter(inMaps).map((a) => a.subnet);
      return {
        ...node,
        dhcp: left.length === 0 ? NO_DHCP : await dhcp.waits.outcome(left, request.query.wait ?? DEFAULT_DHCP_WAIT_MS),
      };
    },
  );

  app.delete<{ Params: Static<typeof IdParams>; Querystring: Static<typeof Waiting> }>(
    '/nodes/:id',
    { schema: { params: IdParams, querystring: Waiting }, onRequest: requireRole(principals, ADMIN) },
    async (request, reply) => {
      const before = await findNode(db, request.params.id);
      await deleteNode(db, request.params.id);
      await announceAddresses(db, 'address.released', before.addresses);
      await reconciler.changed({ ips: before.addresses.map((a) => a.ip) });
      // 204 once the agents serving its subnets dropped the node's hosts, or after the wait
      // (a 204 has no body to say which: GET /agents does).
      await dhcp.waits.outcome(
        before.addresses.filter(inMaps).map((a) => a.subnet),
        request.query.wait ?? DEFAULT_DHCP_WAIT_MS,
      );
      return reply.code(204).send();
    },
  );
}
