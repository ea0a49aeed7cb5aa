/** Operations (API.md): liveness, readiness and Prometheus metrics, without a token. */
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../context.js';

export async function operationRoutes(app: FastifyInstance, { metrics, ready }: AppContext): Promise<void> {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) =>
    (await ready())
      ? { status: 'ready' }
      : reply.code(503).send({ status: 'unavailable', detail: 'the database does not answer' }),
  );

  app.get('/metrics', async (_request, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
}
