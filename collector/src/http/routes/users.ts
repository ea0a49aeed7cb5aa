/** Users and tokens (API.md, "Conventions"), and `GET /me`. */
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { createUser, listUsers, revokeUser, rotateUserToken } from '../../auth/users.js';
import { ADMIN, READ, requireRole } from '../auth.js';
import type { AppContext } from '../context.js';
import { IdParams, Name } from '../schemas.js';

const Role = Type.Union([Type.Literal('admin'), Type.Literal('user'), Type.Literal('viewer')]);
const NewUser = Type.Object({ name: Name, role: Role }, { additionalProperties: false });

export async function userRoutes(app: FastifyInstance, { db, principals }: AppContext): Promise<void> {
  app.get('/me', { onRequest: requireRole(principals, READ) }, async (request) => request.principal);

  app.get('/users', { onRequest: requireRole(principals, ADMIN) }, async () => ({
    items: await listUsers(db),
    nextCursor: null,
  }));

  app.post<{ Body: Static<typeof NewUser> }>(
    '/users',
    { schema: { body: NewUser }, onRequest: requireRole(principals, ADMIN) },
    async (request, reply) => reply.code(201).send(await createUser(db, request.body.name, request.body.role)),
  );

  app.delete<{ Params: Static<typeof IdParams> }>(
    '/users/:id',
    { schema: { params: IdParams }, onRequest: requireRole(principals, ADMIN) },
    async (request, reply) => {
      await revokeUser(db, request.params.id);
      principals.forget();
      return reply.code(204).send();
    },
  );

  app.post<{ Params: Static<typeof IdParams> }>(
    '/users/:id/token',
    { schema: { params: IdParams }, onRequest: requireRole(principals, ADMIN) },
    async (request) => {
      const rotated = await rotateUserToken(db, request.params.id);
      principals.forget();
      return rotated;
    },
  );
}
