/**
 * The database goes away under a running collector (PostgreSQL stopped), then comes back. While
 * it is gone the API answers 503 `unavailable` — never a 500 — and `/readyz` says not ready while
 * `/healthz` says the process lives; an agent's batch is refused with `unavailable` and a 4503
 * close, so the agent keeps it and sends it again. Once the server is back, the same collector
 * serves and stores again, without a restart.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AgentSocket } from './support/agent-socket.js';
import { eventually, startTestCollector, type TestCollector } from './support/collector.js';
import { host, sighting } from './support/sightings.js';

let c: TestCollector;
let token: string;

beforeAll(async () => {
  c = await startTestCollector('PostgreSQL');
  token = (await c.api('POST', '/agents', { json: { name: 'rack-outage' } })).body.token;
}, 60_000);

afterAll(async () => c?.close());

it('answers 503 while PostgreSQL is down, refuses batches as unavailable, and recovers by itself', async () => {
  const agent = await AgentSocket.welcomed(c.agentUrl, token);
  c.postgres!.halt();
  try {
    const { status, body } = await c.api('GET', '/discoveries');
    expect(status).toBe(503);
    expect(body).toMatchObject({ status: 503, code: 'unavailable' });
    expect((await c.api('GET', '/readyz')).status).toBe(503);
    expect((await c.api('GET', '/healthz')).status).toBe(200);

    agent.send({ type: 'sightings', seq: 1, items: [sighting({ ...host(60) })] });
    const { error, close } = await agent.failure();
    expect(error).toMatchObject({ code: 'unavailable' });
    expect(close.code).toBe(4503);
  } finally {
    c.postgres!.resume();
  }

  await eventually(async () => (await c.api('GET', '/readyz')).status === 200, 20_000);
  const again = await AgentSocket.welcomed(c.agentUrl, token);
  expect(await again.sightings(1, [sighting({ ...host(60) })])).toEqual({ type: 'ack', seq: 1 });
  const { body } = await c.api('GET', '/discoveries?ip=10.99.0.60');
  expect(body.items).toHaveLength(1);
  await again.close();
}, 60_000);
