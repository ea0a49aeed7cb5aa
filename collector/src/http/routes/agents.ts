/** Agents (API.md): the list with their state and DHCP maps, registration by an admin, what each serves, revocation. */
import { type Static, Type } from '@sinclair/typebox';
import { sql } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { listAgents, registerAgent, revokeAgent, setServes } from '../../agents/agent-store.js';
import { PLAN_CHANNEL } from '../../conflicts/reconciler.js';
import { ApiError, ErrorCode } from '../../errors.js';
import { findSubnet } from '../../ipam/subnet-store.js';
import { ADMIN, READ, requireRole } from '../auth.js';
import type { AppContext } from '../context.js';
import { IdParams, Name, Text } from '../schemas.js';

const NewAgent = Type.Object({ name: Name }, { additionalProperties: false });
/** `serves`: subnets by id or CIDR; null goes back to those its interfaces sit in. */
const AgentChange = Type.Object(
  { serves: Type.Union([Type.Array(Text(64), { maxItems: 4096 }), Type.Null()]) },
  { additionalProperties: false },
);

export async function agentRoutes(app: FastifyInstance, { db, gateway, principals, dhcp }: AppContext): Promise<void> {
  const view = async (id: string) => {
    const [agent] = await listAgents(db, (a) => gateway.isConnected(a), dhcp.pusher.servable(), id);
    if (agent === undefined) throw new ApiError(ErrorCode.NOT_FOUND, `no agent ${id}`);
    return agent;
  };

  app.get('/agents', { onRequest: requireRole(principals, READ) }, async () => ({
    items: await listAgents(db, (id) => gateway.isConnected(id), dhcp.pusher.servable()),
    nextCursor: null,
  }));

  app.get<{ Params: Static<typeof IdParams> }>(
    '/agents/:id',
    { schema: { params: IdParams }, onRequest: requireRole(principals, READ) },
    async (request) => view(request.params.id),
  );

  app.post<{ Body: Static<typeof NewAgent> }>(
    '/agents',
    { schema: { body: NewAgent }, onRequest: requireRole(principals, ADMIN) },
    async (request, reply) => reply.code(201).send(await registerAgent(db, request.body.name)),
  );

  app.patch<{ Params: Static<typeof IdParams>; Body: Static<typeof AgentChange> }>(
    '/agents/:id',
    { schema: { params: IdParams, body: AgentChange }, onRequest: requireRole(principals, ADMIN) },
    async (request) => {
      const { serves } = request.body;
      const ids =
        serves === null
          ? null
          : [...new Set(await Promise.all(serves.map(async (ref) => (await findSubnet(db, ref, 'serves')).id)))];
      if (!(await setServes(db, request.params.id, ids))) {
        throw new ApiError(ErrorCode.NOT_FOUND, `no agent ${request.params.id}`);
      }
      // Every collector works out again who serves what, and sends the agent its new map.
      await db.execute(sql`select pg_notify(${PLAN_CHANNEL}, '')`);
      return view(request.params.id);
    },
  );

  app.get<{ Params: Static<typeof IdParams> }>(
    '/agents/:id/dhcp-map',
    { schema: { params: IdParams }, onRequest: requireRole(principals, READ) },
    async (request) => {
      const map = await dhcp.pusher.wantedMap(request.params.id);
      if (map === undefined) throw new ApiError(ErrorCode.NOT_FOUND, `no agent ${request.params.id}`);
      return map;
    },
  );

  app.delete<{ Params: Static<typeof IdParams> }>(
    '/agents/:id',
    { schema: { params: IdParams }, onRequest: requireRole(principals, ADMIN) },
    async (request, reply) => {
      await revokeAgent(db, request.params.id);
      gateway.disconnect(request.params.id);
      return reply.code(204).send();
    },
  );
}
