/**
 * Webhooks over real HTTP (API.md, "Conflicts and alerts"): the API, signed deliveries checked
 * as receivers check them, retries with backoff, 410, a receiver that never answers next to one
 * that does and to agents' acks, a receiver down for 30 s, a collector restarted mid-queue, and
 * two collectors on one PostgreSQL server delivering each event once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { standardWebhooksSecret } from '../collector/src/events/webhook-signature.js';
import { AgentSocket } from './support/agent-socket.js';
import { expectProblem, startTestCollector, TARGETS, type TestCollector } from './support/collector.js';
import { append } from './support/events.js';
import { startPostgres } from './support/postgres-server.js';
import { host, sighting } from './support/sightings.js';
import { verifyIpwardenSignature, verifyStandardWebhook, WebhookReceiver } from './support/webhook-receiver.js';

const SECRET = 'test-webhook-secret-0123456789';

/** Retries come within a second: the tests wait for receivers, not for backoff. */
const FAST = { backoffBaseMs: 50, backoffCapMs: 1_000, timeoutMs: 1_000, leaseMs: 3_000 };

const receivers: WebhookReceiver[] = [];
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.stop()));
});

async function receiver(): Promise<WebhookReceiver> {
  const r = await WebhookReceiver.start();
  receivers.push(r);
  return r;
}

async function createHook(
  c: TestCollector,
  r: WebhookReceiver,
  body: Record<string, unknown> = {},
): Promise<{ id: string; deliveredId: number }> {
  const response = await c.api('POST', '/webhooks', { json: { url: r.url, events: ['*'], secret: SECRET, ...body } });
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return response.body;
}

const ids = (r: WebhookReceiver) => r.delivered().map((body) => body.id as number);

async function hookState(c: TestCollector, id: string) {
  const { body } = await c.api('GET', '/webhooks?limit=1000');
  return body.items.find((w: { id: string }) => w.id === id);
}

describe.each(TARGETS)('webhooks on %s', (target) => {
  let c: TestCollector;

  beforeAll(async () => {
    c = await startTestCollector(target, { collector: { webhooks: FAST } });
  }, 60_000);

  afterAll(async () => c?.close());

  it('signs a ping so that both the plain HMAC and the Standard Webhooks reference check pass', async () => {
    const r = await receiver();
    const created = await c.api('POST', '/webhooks', { json: { url: r.url, events: ['*'], secret: SECRET } });
    expect(created.status).toBe(201);
    expect(JSON.stringify(created.body)).not.toContain(SECRET);
    const ping = await c.api('POST', `/webhooks/${created.body.id}/ping`);
    expect(ping.status).toBe(202);
    await r.until((got) => got.length === 1);
    const [got] = r.received;
    expect(got!.headers['content-type']).toBe('application/json');
    expect(got!.headers['x-ipwarden-event']).toBe('ping');
    expect(got!.headers['x-ipwarden-delivery']).toBe(String(ping.body.event));
    expect(got!.headers['webhook-id']).toBe(String(ping.body.event));
    expect(verifyIpwardenSignature(SECRET, got!)).toBe(true);
    const payload = verifyStandardWebhook(standardWebhooksSecret(SECRET), got!);
    expect(payload).toEqual({
      id: ping.body.event,
      type: 'ping',
      at: expect.any(String),
      data: { webhook: created.body.id },
    });
    // The wrong secret, or a body changed on the way, fails both checks.
    expect(verifyIpwardenSignature(`${SECRET}x`, got!)).toBe(false);
    expect(() => verifyStandardWebhook(standardWebhooksSecret(`${SECRET}x`), got!)).toThrow('No matching signature');
    const tampered = { ...got!, body: got!.body.replace('"ping"', '"pong"') };
    expect(verifyIpwardenSignature(SECRET, tampered)).toBe(false);
    expect(() => verifyStandardWebhook(standardWebhooksSecret(SECRET), tampered)).toThrow();
    // A replay from long ago fails the Standard Webhooks timestamp check.
    expect(() => verifyStandardWebhook(standardWebhooksSecret(SECRET), got!, Date.now() / 1000 + 600)).toThrow(
      'too old',
    );

    // The receiver has it before the collector writes its answer down.
    await expect.poll(async () => (await hookState(c, created.body.id)).lastStatus).toBe(204);
    const listed = await hookState(c, created.body.id);
    expect(listed).toMatchObject({ url: r.url, events: ['*'], enabled: true, failures: 0, dropped: 0 });
    expect(listed.lastDeliveryAt).toEqual(expect.any(String));
    expect(JSON.stringify(listed)).not.toContain(SECRET);
    await c.api('DELETE', `/webhooks/${created.body.id}`);
  });

  it('delivers what a webhook asked for, from its creation on, pings to their own webhook only, and slack lines', async () => {
    await append(c, ['conflict.opened']); // before the webhooks: theirs is from now on
    const [conflicts, all, slack] = [await receiver(), await receiver(), await receiver()];
    const a = await createHook(c, conflicts, { events: ['conflict.opened', 'conflict.resolved'] });
    const b = await createHook(c, all);
    const s = await createHook(c, slack, { events: ['conflict.opened'], format: 'slack' });
    const appended = await append(c, ['conflict.opened', 'discovery.new', 'agent.connected', 'conflict.resolved']);
    const ping = (await c.api('POST', `/webhooks/${b.id}/ping`)).body.event;
    await all.until((got) => got.length === 5);
    await conflicts.until((got) => got.length === 2);
    await slack.until((got) => got.length === 1);
    expect(ids(all)).toEqual([...appended, ping]);
    expect(ids(conflicts)).toEqual([appended[0], appended[3]]);
    expect(conflicts.delivered().map((e) => e.type)).toEqual(['conflict.opened', 'conflict.resolved']);
    expect(slack.delivered()[0]).toEqual({ text: expect.stringContaining('conflict.opened') });
    // The ones not wanted are passed over: each cursor is at the end of the log.
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const hook of [a, b, s]) expect((await hookState(c, hook.id)).deliveredId).toBe(ping);
    expect(conflicts.received).toHaveLength(2);
    for (const hook of [a, b, s]) await c.api('DELETE', `/webhooks/${hook.id}`);
  });

  it('retries a receiver answering 500, in order, until it takes the events', async () => {
    const r = await receiver();
    r.answer = (n) => (n < 3 ? 500 : 204);
    const hook = await createHook(c, r);
    const appended = await append(c, ['address.created', 'address.changed']);
    await r.until((got) => got.length === 5);
    expect(r.received.map((got) => [Number(got.headers['x-ipwarden-delivery']), got.answered])).toEqual([
      [appended[0], 500],
      [appended[0], 500],
      [appended[0], 500],
      [appended[0], 204],
      [appended[1], 204],
    ]);
    await expect
      .poll(async () => hookState(c, hook.id))
      .toMatchObject({ failures: 0, lastStatus: 204, lastError: null, deliveredId: appended[1] });
    const metrics: string = (await c.api('GET', '/metrics')).body;
    expect(metrics).toMatch(/ipwarden_webhook_deliveries_total\{outcome="failed"\} [3-9]/);
    await c.api('DELETE', `/webhooks/${hook.id}`);
  });

  it('disables a webhook whose receiver answers 410, and sends it nothing more', async () => {
    const r = await receiver();
    r.answer = () => 410;
    const hook = await createHook(c, r);
    await append(c, ['dhcp.failed', 'dhcp.failed']);
    await r.until((got) => got.length === 1);
    await expect.poll(async () => hookState(c, hook.id)).toMatchObject({ enabled: false, lastStatus: 410 });
    await append(c, ['dhcp.failed']);
    await c.api('POST', `/webhooks/${hook.id}/ping`);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(r.received).toHaveLength(1);
    await c.api('DELETE', `/webhooks/${hook.id}`);
  });

  it('lets a receiver that never answers hold up neither another webhook nor the agents’ acks', async () => {
    const [silent, good] = [await receiver(), await receiver()];
    silent.answer = () => 'hang';
    // Only what the test appends: the agent connecting is an event too (agent.connected).
    const s = await createHook(c, silent, { events: ['discovery.new'] });
    const g = await createHook(c, good, { events: ['discovery.new'] });
    const agent = (await c.api('POST', '/agents', { json: { name: `rack-${target.toLowerCase()}` } })).body;
    const socket = await AgentSocket.welcomed(c.agentUrl, agent.token);
    try {
      const appended = await append(c, ['discovery.new', 'discovery.new', 'discovery.new']);
      await silent.until((got) => got.length === 1);
      // The silent receiver's first attempt is under way and will be for its whole timeout.
      const started = Date.now();
      const items = Array.from({ length: 200 }, (_, i) => sighting({ ...host(10 + (i % 200)), at: Date.now() }));
      const ack = await socket.sightings(1, items);
      expect(ack).toMatchObject({ type: 'ack', seq: 1 });
      expect(Date.now() - started).toBeLessThan(FAST.timeoutMs);
      await good.until((got) => got.length === 3, FAST.timeoutMs);
      expect(ids(good)).toEqual(appended);
      expect(Date.now() - started).toBeLessThan(FAST.timeoutMs);
      // And the silent one is retried once its attempt timed out.
      await silent.until((got) => got.length >= 2, 5_000);
      expect(silent.received.map((got) => Number(got.headers['x-ipwarden-delivery']))).toEqual(
        silent.received.map(() => appended[0]),
      );
      await expect.poll(async () => (await hookState(c, s.id)).lastError).toMatch(/no answer within/);
    } finally {
      await socket.close();
      await c.api('DELETE', `/webhooks/${s.id}`);
      await c.api('DELETE', `/webhooks/${g.id}`);
    }
  });

  it('refuses bad input with a 4xx problem and changes nothing', async () => {
    const r = await receiver();
    const hook = await createHook(c, r);
    const before = (await c.api('GET', '/webhooks?limit=1000')).body;
    const good = { url: r.url, events: ['*'], secret: SECRET };
    const bad: [Record<string, unknown>, string, string?][] = [
      [{ ...good, url: 'ftp://127.0.0.1/hook' }, 'invalid-url', 'url'],
      [{ ...good, url: 'javascript:alert(1)' }, 'invalid-url', 'url'],
      [{ ...good, url: '127.0.0.1:8080/hook' }, 'invalid-url', 'url'],
      [{ ...good, url: 'no scheme at all' }, 'invalid-url', 'url'],
      [{ ...good, url: 'http://user:pass@127.0.0.1/hook' }, 'invalid-url', 'url'],
      [{ ...good, url: 'file:///etc/passwd' }, 'invalid-url', 'url'],
      [{ ...good, url: '' }, 'validation-failed'],
      [{ ...good, url: `http://example.com/${'a'.repeat(3000)}` }, 'validation-failed'],
      [{ ...good, events: ['conflict.exploded'] }, 'unknown-event-type', 'events'],
      [{ ...good, events: ['ping'] }, 'unknown-event-type', 'events'],
      [{ ...good, events: [] }, 'validation-failed'],
      [{ ...good, events: 'conflict.opened' }, 'validation-failed'],
      [{ ...good, secret: 'short' }, 'validation-failed'],
      [{ ...good, secret: 'x'.repeat(257) }, 'validation-failed'],
      [{ ...good, secret: 'sixteen-chars-\u0000-nul' }, 'validation-failed'],
      [{ ...good, format: 'xml' }, 'validation-failed'],
      [{ ...good, colour: 'red' }, 'validation-failed'],
      [{ url: r.url, events: ['*'] }, 'validation-failed'],
    ];
    for (const [json, code, field] of bad) {
      const response = await c.api('POST', '/webhooks', { json });
      expectProblem(response, 400, code, field);
    }
    expectProblem(
      await c.api('POST', '/webhooks', { raw: '{"url":', contentType: 'application/json' }),
      400,
      'malformed-json',
    );
    expectProblem(await c.api('DELETE', '/webhooks/not-a-uuid'), 400, 'validation-failed');
    expectProblem(await c.api('DELETE', `/webhooks/${hook.id.replace(/^.{8}/, '00000000')}`), 404, 'not-found');
    expectProblem(await c.api('POST', '/webhooks/1%27%20or%201=1/ping'), 400, 'validation-failed');
    expectProblem(await c.api('POST', '/webhooks/00000000-0000-4000-8000-000000000000/ping'), 404, 'not-found');
    expectProblem(await c.api('GET', '/webhooks?cursor=bm9wZQ'), 400, 'validation-failed');
    // Admins only, and the token first.
    const viewer = (await c.api('POST', '/users', { json: { name: `v-${target}`, role: 'viewer' } })).body.token;
    const user = (await c.api('POST', '/users', { json: { name: `u-${target}`, role: 'user' } })).body.token;
    for (const token of [viewer, user]) {
      expectProblem(await c.api('GET', '/webhooks', { token }), 403, 'forbidden');
      expectProblem(await c.api('POST', '/webhooks', { token, json: good }), 403, 'forbidden');
      expectProblem(await c.api('DELETE', `/webhooks/${hook.id}`, { token }), 403, 'forbidden');
      expectProblem(await c.api('POST', `/webhooks/${hook.id}/ping`, { token }), 403, 'forbidden');
    }
    expectProblem(await c.api('GET', '/webhooks', { token: null }), 401, 'unauthorized');
    expectProblem(await c.api('POST', '/webhooks', { token: null, json: good }), 401, 'unauthorized');
    expect((await c.api('GET', '/webhooks?limit=1000')).body).toEqual(before);
    expect(r.received).toHaveLength(0); // and no ping went out
    expect((await c.api('DELETE', `/webhooks/${hook.id}`)).status).toBe(204);
    expectProblem(await c.api('DELETE', `/webhooks/${hook.id}`), 404, 'not-found');
  });
});

describe('a webhook whose receiver is down for 30 s', () => {
  let c: TestCollector;

  beforeAll(async () => {
    c = await startTestCollector('PostgreSQL', { collector: { webhooks: FAST } });
  }, 60_000);

  afterAll(async () => c?.close());

  it('gets every event once, in order, when it comes back', async () => {
    const r = await receiver();
    await createHook(c, r);
    await r.stop();
    const appended: number[] = [];
    const until = Date.now() + 30_000;
    while (Date.now() < until) {
      appended.push(...(await append(c, ['discovery.new', 'discovery.moved'])));
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    await r.listen();
    await r.until(() => ids(r).length >= appended.length, 5_000);
    expect(ids(r)).toEqual(appended);
    expect(r.received.every((got) => got.answered === 204)).toBe(true);
  }, 45_000);
});

describe.each(TARGETS)('a collector on %s restarted mid-queue', (target) => {
  it('loses and repeats nothing', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ipwarden-restart-'));
    const postgres = target === 'PostgreSQL' ? startPostgres() : undefined;
    const options = { databaseUrl: postgres?.url, collector: { dataDir, webhooks: FAST } };
    let c = await startTestCollector(target, options);
    try {
      const r = await receiver();
      r.delayMs = 50;
      await createHook(c, r);
      const appended = await append(
        c,
        Array.from({ length: 30 }, () => 'address.changed'),
      );
      await r.until((got) => got.length >= 8);
      await c.close(); // an attempt under way is let finish, and its ack written
      const before = r.received.length;
      expect(before).toBeLessThan(30);
      c = await startTestCollector(target, options);
      await r.until((got) => got.length >= 30, 15_000);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(ids(r)).toEqual(appended);
    } finally {
      await c.close();
      postgres?.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('two collectors on one PostgreSQL server', () => {
  it('deliver each event once, and the other takes over when one stops', async () => {
    const postgres = startPostgres();
    const a = await startTestCollector('PostgreSQL', { databaseUrl: postgres.url, collector: { webhooks: FAST } });
    const b = await startTestCollector('PostgreSQL', { databaseUrl: postgres.url, collector: { webhooks: FAST } });
    try {
      const r = await receiver();
      r.delayMs = 20;
      await createHook(a, r);
      const appended: number[] = [];
      for (let i = 0; i < 10; i++)
        appended.push(...(await append(i % 2 === 0 ? a : b, ['conflict.updated', 'conflict.updated'])));
      await r.until((got) => got.length >= 10);
      await a.close();
      for (let i = 0; i < 5; i++) appended.push(...(await append(b, ['conflict.updated', 'conflict.updated'])));
      await r.until((got) => got.length >= appended.length, 15_000);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(ids(r)).toEqual(appended);
      expect(r.received).toHaveLength(appended.length);
    } finally {
      await a.close().catch(() => {});
      await b.close();
      postgres.stop();
    }
  }, 60_000);
});
