/** Discovery (API.md): observed bindings, their history, forgetting stale ones. */
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { DISCOVERY_SORTS, discoveryHistory, forgetDiscoveries, listDiscoveries } from '../../discovery/discoveries.js';
import { ADMIN, READ, requireRole } from '../auth.js';
import type { AppContext } from '../context.js';
import { Limit, PageQuery } from '../schemas.js';

const Source = Type.Union([Type.Literal('arp'), Type.Literal('ndp'), Type.Literal('mdns'), Type.Literal('dhcp')]);
const Text = Type.String({ minLength: 1, maxLength: 64 });

const ListQuery = Type.Object(
  {
    ...PageQuery,
    subnet: Text,
    ip: Text,
    mac: Text,
    source: Source,
    unknown: Type.Boolean(),
    hostname: Text,
    sort: Type.Union(DISCOVERY_SORTS.map((sort) => Type.Literal(sort))),
  },
  { additionalProperties: false },
);
const ListQueryPartial = Type.Partial(ListQuery, { additionalProperties: false });

const HistoryQuery = Type.Partial(Type.Object({ ...PageQuery, ip: Text, mac: Text }), { additionalProperties: false });
const ForgetQuery = Type.Partial(Type.Object({ ip: Text, mac: Text }), { additionalProperties: false });

export async function discoveryRoutes(app: FastifyInstance, { db, principals }: AppContext): Promise<void> {
  app.get<{ Querystring: Static<typeof ListQueryPartial> }>(
    '/discoveries',
    { schema: { querystring: ListQueryPartial }, onRequest: requireRole(principals, READ) },
    async (request) => listDiscoveries(db, { ...request.query, limit: request.query.limit ?? Limit.default }),
  );

  app.get<{ Querystring: Static<typeof HistoryQuery> }>(
    '/discoveries/history',
    { schema: { querystring: HistoryQuery }, onRequest: requireRole(principals, READ) },
    async (request) => discoveryHistory(db, { ...request.query, limit: request.query.limit ?? Limit.default }),
  );

  app.delete<{ Querystring: Static<typeof ForgetQuery> }>(
    '/discoveries',
    { schema: { querystring: ForgetQuery }, onRequest: requireRole(principals, ADMIN) },
    async (request) => ({ deleted: await forgetDiscoveries(db, request.query) }),
  );
}
