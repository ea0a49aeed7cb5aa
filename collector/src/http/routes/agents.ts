/** Agents (API.md): the list with their state, registration by an admin, revocation. */
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { listAgents, registerAgent, revokeAgent } from '../../agents/agent-store.js';
import { ADMIN, READ, requireRole } from '../auth.js';
import type { AppContext } from '../context.js';
import { IdParams, Name } from '../schemas.js';

const NewAgent = Type.Object({ name: Name }, { additionalProperties: false });

export async function agentRoutes(app: FastifyInstance, { db, gateway, principals }: AppContext): Promise<void> {
  app.get('/agents', { onRequest: requireRole(principals, READ) }, async () => ({
    items: await listAgents(db, (id) => gateway.isConnected(id)),
    nextCursor: null,
  }));

  app.post<{ Body: Static<typeof NewAgent> }>(
    '/agents',
    { schema: { body: NewAgent }, onRequest: requireRole(principals, ADMIN) },
    async (request, reply) => reply.code(201).send(await registerAgent(db, request.body.name)),
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
