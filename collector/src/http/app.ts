/**
 * The HTTP API: fastify with the TypeBox validator, problem+json errors, the routes under
 * /api/v1, and the operations endpoints both there and at the root (where probes and
 * Prometheus look for them).
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { AppContext } from './context.js';
import { dashboardRoutes } from './dashboard.js';
import { installProblemHandlers } from './problem.js';
import { addressRoutes } from './routes/addresses.js';
import { agentRoutes } from './routes/agents.js';
import { conflictRoutes } from './routes/conflicts.js';
import { discoveryRoutes } from './routes/discoveries.js';
import { eventRoutes } from './routes/events.js';
import { nodeRoutes } from './routes/nodes.js';
import { operationRoutes } from './routes/operations.js';
import { poolRoutes } from './routes/pools.js';
import { settingsRoutes } from './routes/settings.js';
import { subnetRoutes } from './routes/subnets.js';
import { userRoutes } from './routes/users.js';
import { webhookRoutes } from './routes/webhooks.js';
import { typeboxValidatorCompiler } from './validation.js';

export const API_PREFIX = '/api/v1';
/** Largest request body: API bodies are small objects. */
const BODY_LIMIT = 1024 * 1024; // 1 MiB

export interface AppOptions {
  logger: FastifyBaseLogger;
  https?: { cert: Buffer; key: Buffer };
}

export function buildApp(context: AppContext, options: AppOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: options.logger,
    // One line per request is noise at an API polled by dashboards; failures are logged by problem.ts.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    ...(options.https !== undefined && { https: options.https }),
  }) as unknown as FastifyInstance;
  // Bodies are JSON: without fastify's default text/plain parser, a text body is a 415, not a 400.
  app.removeContentTypeParser('text/plain');
  app.setValidatorCompiler(typeboxValidatorCompiler);
  app.decorateRequest('principal', undefined);
  installProblemHandlers(app);
  app.addHook('onResponse', async (request, reply) => {
    context.metrics.httpRequests.inc({ method: request.method, status: String(reply.statusCode) });
  });
  // The OpenAPI document is generated from the route schemas that validate the requests.
  app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'ipwarden', description: 'IP address management and network discovery', version: '1' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { url: `${API_PREFIX}/openapi.json` } });
  app.register(operationRoutes, context);
  app.register(dashboardRoutes);
  app.register(
    async (api) => {
      api.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
      await api.register(operationRoutes, context);
      await api.register(discoveryRoutes, context);
      await api.register(settingsRoutes, context);
      await api.register(agentRoutes, context);
      await api.register(userRoutes, context);
      await api.register(subnetRoutes, context);
      await api.register(addressRoutes, context);
      await api.register(nodeRoutes, context);
      await api.register(poolRoutes, context);
      await api.register(conflictRoutes, context);
      await api.register(webhookRoutes, context);
      await api.register(eventRoutes, context);
    },
    { prefix: API_PREFIX },
  );
  return app;
}
