/** Webhooks (API.md, "Conflicts and alerts"): admins alone create, list, delete and ping them. */
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { createWebhook, deleteWebhook, listWebhooks, pingWebhook } from '../../events/webhook-store.js';
import { isUuid, type Key, paged } from '../../paging.js';
import { ADMIN, requireRole } from '../auth.js';
import type { AppContext } from '../context.js';
import { IdParams, Limit, PageQuery } from '../schemas.js';

const NewWebhook = Type.Object(
  {
    /** Checked by webhook-store.ts, which says what is wrong with it. */
    url: Type.String({ minLength: 1, maxLength: 2048 }),
    /** Names from EVENT_TYPES, or "*" — also checked there, for the same reason. */
    events: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { minItems: 1, maxItems: 64 }),
    secret: Type.String({ minLength: 16, maxLength: 256, pattern: '^[^\\u0000]*$' }),
    format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('slack')])),
  },
  { additionalProperties: false },
);
const ListQuery = Type.Partial(Type.Object(PageQuery), { additionalProperties: false });

export async function webhookRoutes(app: FastifyInstance, { db, eventHub, principals }: AppContext): Promise<void> {
  const admin = requireRole(principals, ADMIN);

  app.post<{ Body: Static<typeof NewWebhook> }>(
    '/webhooks',
    { schema: { body: NewWebhook }, onRequest: admin },
    async (request, reply) => {
      const webhook = await createWebhook(db, request.body);
      eventHub.wake(); // the dispatcher starts its loop
      return reply.code(201).send(webhook);
    },
  );

  app.get<{ Querystring: Static<typeof ListQuery> }>(
    '/webhooks',
    { schema: { querystring: ListQuery }, onRequest: admin },
    async (request) => {
      const { cursor, limit = Limit.default } = request.query;
      return paged(cursor, limit, (rows, after) => listWebhooks(db, rows, after?.[0] as string | undefined), {
        types: ['string'],
        valid: ([id]: Key) => isUuid(id),
        of: (webhook) => [webhook.id],
      });
    },
  );

  app.delete<{ Params: Static<typeof IdParams> }>(
    '/webhooks/:id',
    { schema: { params: IdParams }, onRequest: admin },
    async (request, reply) => {
      await deleteWebhook(db, request.params.id);
      eventHub.wake(); // the dispatcher stops its loop
      return reply.code(204).send();
    },
  );

  app.post<{ Params: Static<typeof IdParams> }>(
    '/webhooks/:id/ping',
    { schema: { params: IdParams }, onRequest: admin },
    async (request, reply) => {
      const event = await pingWebhook(db, request.params.id);
      eventHub.wake();
      return reply.code(202).send({ event });
    },
  );
}
