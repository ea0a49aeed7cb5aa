/** Operations (API.md): liveness, readiness and Prometheus metrics, without a token. */
import type { FastifyInstance } from 'fastify';
import { listAgents } from '../../agents/agent-store.js';
import type { AppContext } from '../context.js';

export async function operationRoutes(app: FastifyInstance, { db, dhcp, metrics, ready }: AppContext): Promise<void> {
  /**
   * What is read from the database at each scrape: the agents whose DHCP map is behind what
   * their subnets are at, as GET /agents judges it. A scrape while the database is down keeps
   * the last value (and /readyz says why).
   */
  const readDhcpBehind = async () => {
    try {
      const agents = await listAgents(db, () => false, dhcp.pusher.servable());
      metrics.dhcpAgentsBehind.set(
        agents.filter((a) => a.dhcp.backend !== 'none' && !a.revoked && !a.dhcp.inStep).length,
      );
    } catch {
      // the last value stands
    }
  };

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) =>
    (await ready())
      ? { status: 'ready' }
      : reply.code(503).send({ status: 'unavailable', detail: 'the database does not answer' }),
  );

  app.get('/metrics', async (_request, reply) => {
    await readDhcpBehind();
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
}
