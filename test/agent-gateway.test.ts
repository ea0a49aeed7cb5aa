import { connect } from 'node:net';
/**
 * The agent gateway over real WebSockets (DESIGN.md, "The wire protocol"): authentication in the
 * upgrade, enrolment with the shared secret, revocation, acks only after a batch can be queried,
 * replays, and every kind of bad message answered with its catalogue code and close code —
 * without touching the database or the other agents connected at the time.
 */
import { ProtocolError } from '@ipwarden/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AgentSocket, refusedUpgrade } from './support/agent-socket.js';
import { AGENT_SECRET, eventually, startTestCollector, TARGETS, type TestCollector } from './support/collector.js';
import { hello, host, sighting, T0 } from './support/sightings.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Sockets a test opened, closed after it whatever happened. */
const open: AgentSocket[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((socket) => socket.close().catch(() => undefined)));
});

function tracked(socket: AgentSocket): AgentSocket {
  open.push(socket);
  return socket;
}

/** Enrols an agent under `name` with the secret and returns its id and own token. */
async function enrol(c: TestCollector, name: string): Promise<{ id: string; token: string }> {
  const socket = await AgentSocket.connect(c.agentUrl, AGENT_SECRET);
  const welcome = await socket.hello({ agentId: name });
  await socket.close();
  return { id: welcome.agentId, token: welcome.token! };
}

/** The value of an unlabelled counter in the collector's Prometheus text. */
async function counter(c: TestCollector, name: string): Promise<number> {
  const text: string = (await c.api('GET', '/metrics')).body;
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ')[1]);
}

async function agentView(c: TestCollector, id: string) {
  const { body } = await c.api('GET', '/agents');
  return body.items.find((agent: { id: string }) => agent.id === id);
}

describe('the agent gateway', () => {
  let c: TestCollector;

  beforeAll(async () => {
    c = await startTestCollector('PGlite');
  });

  afterAll(async () => c?.close());

  describe('the upgrade', () => {
    it('refuses a WebSocket without a token with HTTP 401', async () => {
      const refusal = await refusedUpgrade(c.agentUrl);
      expect(refusal.status).toBe(401);
      expect(JSON.parse(refusal.body)).toMatchObject({ status: 401, code: 'unauthorized' });
    });

    it('refuses a wrong token, and a person’s API token, with HTTP 401', async () => {
      expect((await refusedUpgrade(c.agentUrl, 'iwa_not-a-token-of-any-agent')).status).toBe(401);
      const person = (await c.api('POST', '/users', { json: { name: 'operator', role: 'admin' } })).body.token;
      expect((await refusedUpgrade(c.agentUrl, person)).status).toBe(401);
    });

    it('survives request targets that are not URLs, answering 404, and goes on serving', async () => {
      const { port } = new URL(c.url);
      for (const target of ['//[', 'http://[', 'http://%zz/agent/v1', 'http://x:99999/agent/v1', '*']) {
        const answer = await new Promise<string>((resolve, reject) => {
          const socket = connect(Number(port), '127.0.0.1', () =>
            socket.write(
              `GET ${target} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
                `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
            ),
          );
          let text = '';
          socket.on('data', (chunk) => {
            text += chunk.toString();
          });
          socket.on('close', () => resolve(text));
          socket.on('error', reject);
        });
        expect(answer).toMatch(/^HTTP\/1\.1 (400|404) /);
      }
      expect((await c.api('GET', '/discoveries')).status).toBe(200);
    });

    it('answers 404 for a WebSocket anywhere but /agent/v1', async () => {
      for (const path of ['/agent/v2', '/api/v1/agents', '/']) {
        expect((await refusedUpgrade(`${c.agentUrl.replace('/agent/v1', '')}${path}`, AGENT_SECRET)).status).toBe(404);
      }
    });
  });

  describe('enrolment', () => {
    let first: { agentId: string; token: string };

    it('enrols an agent that presents the secret: its id, lastSeq 0, its own token and the config', async () => {
      const socket = tracked(await AgentSocket.connect(c.agentUrl, AGENT_SECRET));
      const welcome = await socket.hello({ agentId: 'rack-7' });
      expect(welcome).toEqual({
        type: 'welcome',
        protocol: 1,
        agentId: expect.stringMatching(UUID),
        lastSeq: 0,
        token: expect.stringMatching(/^iwa_/),
        config: { discovery: true, refreshSeconds: 600 },
      });
      first = { agentId: welcome.agentId, token: welcome.token! };
      expect(await agentView(c, welcome.agentId)).toMatchObject({ name: 'rack-7', hostname: 'rack-7.lab' });
    });

    it('welcomes the enrolled agent by its own token, with no new token', async () => {
      const socket = tracked(await AgentSocket.connect(c.agentUrl, first.token));
      const welcome = await socket.hello({ agentId: 'rack-7' });
      expect(welcome).toEqual({
        type: 'welcome',
        protocol: 1,
        agentId: first.agentId,
        lastSeq: 0,
        config: { discovery: true, refreshSeconds: 600 },
      });
      expect((await socket.sightings(4, [sighting({ ...host(70) })])).seq).toBe(4);
    });

    it('rotates the token when the same name enrols again, and keeps the agent and its lastSeq', async () => {
      const socket = tracked(await AgentSocket.connect(c.agentUrl, AGENT_SECRET));
      const welcome = await socket.hello({ agentId: 'rack-7' });
      expect(welcome).toMatchObject({ agentId: first.agentId, lastSeq: 4, token: expect.stringMatching(/^iwa_/) });
      expect(welcome.token).not.toBe(first.token);
      expect((await refusedUpgrade(c.agentUrl, first.token)).status).toBe(401);
      await socket.close();
      const again = tracked(await AgentSocket.connect(c.agentUrl, welcome.token!));
      expect(await again.hello()).toMatchObject({ agentId: first.agentId, lastSeq: 4 });
    });

    it('refuses the name to another installation presenting the secret (name-taken, 4410)', async () => {
      const socket = tracked(await AgentSocket.connect(c.agentUrl, AGENT_SECRET));
      socket.send(hello({ agentId: 'rack-7', instance: '11111111-2222-4333-8444-555555555555' }));
      const { error, close } = await socket.failure();
      expect(error).toMatchObject({ type: 'error', code: 'name-taken', message: expect.stringMatching(/--name/) });
      expect(close.code).toBe(4410);
      expect(await agentView(c, first.agentId)).toMatchObject({ name: 'rack-7', lastSeq: 4 });
    });

    it('refuses to enrol under a name the API would not accept (invalid-message, 4422)', async () => {
      const socket = tracked(await AgentSocket.connect(c.agentUrl, AGENT_SECRET));
      socket.send(hello({ agentId: 'rack 7; rm -rf /' }));
      expect((await socket.failure()).close.code).toBe(4422);
    });

    it('welcomes an agent registered through the API by the token it was given', async () => {
      const { body } = await c.api('POST', '/agents', { json: { name: 'rack-api' } });
      const socket = tracked(await AgentSocket.connect(c.agentUrl, body.token));
      expect(await socket.hello()).toMatchObject({ agentId: body.id, lastSeq: 0 });
    });
  });

  describe('revocation', () => {
    it('disconnects a revoked agent at once, refuses its token, and does not let it enrol again', async () => {
      const agent = await enrol(c, 'rack-gone');
      const socket = tracked(await AgentSocket.welcomed(c.agentUrl, agent.token));
      expect((await c.api('DELETE', `/agents/${agent.id}`)).status).toBe(204);
      const { error, close } = await socket.failure();
      expect(error).toMatchObject({ type: 'error', code: 'unauthorized' });
      expect(close.code).toBe(4401);

      expect((await refusedUpgrade(c.agentUrl, agent.token)).status).toBe(401);
      const reenrol = tracked(await AgentSocket.connect(c.agentUrl, AGENT_SECRET));
      reenrol.send(hello({ agentId: 'rack-gone' }));
      const refused = await reenrol.failure();
      expect([refused.error.code, refused.close.code]).toEqual(['unauthorized', 4401]);
      expect(await agentView(c, agent.id)).toMatchObject({ revoked: true, connected: false });
    });

    it('does not welcome an agent revoked between its upgrade and its hello', async () => {
      const agent = await enrol(c, 'rack-late');
      const socket = tracked(await AgentSocket.connect(c.agentUrl, agent.token));
      expect((await c.api('DELETE', `/agents/${agent.id}`)).status).toBe(204);
      const before = await c.counts();
      socket.send(hello());
      socket.send({ type: 'sightings', seq: 1, items: [sighting({ ...host(80) })] });
      const { error, close } = await socket.failure();
      expect([error.code, close.code]).toEqual(['unauthorized', 4401]);
      expect(await c.counts()).toEqual(before);
      expect(await agentView(c, agent.id)).toMatchObject({ revoked: true, connected: false, lastSeq: 0 });
    });
  });

  describe('bad messages', () => {
    let offender: string;
    let bystander: AgentSocket;
    let bystanderSeq = 0;

    beforeAll(async () => {
      offender = (await enrol(c, 'rack-bad')).token;
      bystander = await AgentSocket.welcomed(c.agentUrl, (await enrol(c, 'rack-good')).token);
    });

    afterAll(async () => bystander?.close());

    const good = sighting({ ...host(90) });
    const batch = (items: unknown[], seq = 1) => ({ type: 'sightings', seq, items });
    const stats = { type: 'stats', captured: 1, kernelDrops: 0, decodeErrors: 0, outboxDepth: 0, outboxDropped: 0 };
    const text = (raw: string) => ({ raw });
    const nineMiB = 'x'.repeat(9 * 1024 * 1024);
    // [what, says hello first, what it sends (a message, text, or a binary frame), error code, close code]
    const cases: [string, boolean, object, string, number][] = [
      ['sightings before hello', false, batch([good]), 'unexpected-message', 4409],
      ['stats before hello', false, stats, 'unexpected-message', 4409],
      ['a second hello', true, hello(), 'unexpected-message', 4409],
      ['a message of an unknown type', true, { type: 'gossip', seq: 1 }, 'unexpected-message', 4409],
      ['a message the collector sends', true, { type: 'ack', seq: 1 }, 'unexpected-message', 4409],
      ['text that is not JSON', true, text('{"type":"sightings",'), 'malformed-message', 4400],
      ['JSON that is not an object', true, text('[{"type":"sightings"}]'), 'malformed-message', 4400],
      ['an object without a type', true, { seq: 1, items: [good] }, 'malformed-message', 4400],
      ['a binary frame', true, Buffer.from(JSON.stringify(batch([good]))), 'malformed-message', 4400],
      ['a sighting with a bad MAC', true, batch([{ ...good, mac: '02-00-00-00-00-5a' }]), 'invalid-message', 4422],
      ['a sighting with an extra field', true, batch([{ ...good, colour: 'red' }]), 'invalid-message', 4422],
      ['a batch with seq 0', true, batch([good], 0), 'invalid-message', 4422],
      ['an empty batch', true, batch([]), 'invalid-message', 4422],
      ['an IPv6 address not in RFC 5952 form', true, batch([{ ...good, ip: 'FD99:0::5a' }]), 'invalid-message', 4422],
      ['a 9 MiB message', true, batch([{ ...good, hostname: nineMiB }]), 'message-too-large', 4413],
      ['a hello of protocol version 99', false, hello({ protocol: 99 }), 'unsupported-version', 4426],
      ['a hello of protocol version 0', false, hello({ protocol: 0 }), 'invalid-message', 4422],
      // A lone surrogate survives JSON but has no UTF-8 form: PostgreSQL would refuse it.
      ['a hostname with a lone surrogate', true, batch([{ ...good, hostname: 'rack\ud800' }]), 'invalid-message', 4422],
      ['an interface name with NUL', true, batch([{ ...good, interface: 'eth\u00000' }]), 'invalid-message', 4422],
    ];

    it.each(cases)(
      'answers %s with its error and close code; nothing is stored and the other agent is served',
      async (_, saysHello, message, code, closeCode) => {
        const before = await c.counts();
        const socket = tracked(await AgentSocket.connect(c.agentUrl, offender));
        if (saysHello) await socket.hello();
        if (Buffer.isBuffer(message)) socket.sendRaw(message, true);
        else if ('raw' in message) socket.sendRaw((message as { raw: string }).raw);
        else socket.send(message);
        const { error, close } = await socket.failure();
        expect(error).toEqual({ type: 'error', code, message: expect.any(String) });
        expect(close.code).toBe(closeCode);
        expect(Object.values(ProtocolError).find((kind) => kind.code === code)?.close).toBe(closeCode);
        expect(await c.counts()).toEqual(before);

        bystanderSeq++;
        const ack = await bystander.sightings(bystanderSeq, [sighting({ ...host(100 + bystanderSeq) })]);
        expect(ack).toEqual({ type: 'ack', seq: bystanderSeq });
      },
    );

    it('stored nothing of the offender at all', async () => {
      const { body } = await c.api('GET', '/discoveries?ip=10.99.0.90');
      expect(body.items).toEqual([]);
    });
  });

  describe('connections', () => {
    it('supersedes the first connection of an agent when a second one is welcomed', async () => {
      const { token } = await enrol(c, 'rack-twice');
      const older = tracked(await AgentSocket.welcomed(c.agentUrl, token));
      const newer = tracked(await AgentSocket.welcomed(c.agentUrl, token));
      const { error, close } = await older.failure();
      expect([error.code, close.code]).toEqual(['superseded', 4408]);
      expect(await newer.sightings(1, [sighting({ ...host(40) })])).toEqual({ type: 'ack', seq: 1 });
    });

    it('sends a settings change to every connected agent at once', async () => {
      const agents = await Promise.all(
        ['rack-c1', 'rack-c2'].map(async (name) =>
          tracked(await AgentSocket.welcomed(c.agentUrl, (await enrol(c, name)).token)),
        ),
      );
      expect((await c.api('PUT', '/settings', { json: { discovery: { enabled: false } } })).status).toBe(200);
      for (const agent of agents) {
        expect(await agent.next()).toEqual({ type: 'config', config: { discovery: false, refreshSeconds: 600 } });
      }
      const late = tracked(await AgentSocket.connect(c.agentUrl, (await enrol(c, 'rack-c3')).token));
      expect((await late.hello()).config).toEqual({ discovery: false, refreshSeconds: 600 });

      await c.api('PUT', '/settings', { json: { discovery: { enabled: true }, refreshSeconds: 120 } });
      for (const agent of [...agents, late]) {
        expect(await agent.next()).toEqual({ type: 'config', config: { discovery: true, refreshSeconds: 120 } });
      }
      await c.api('PUT', '/settings', { json: { refreshSeconds: 600 } });
    });

    it('shows an agent’s stats and that it is connected, and not once it has gone', async () => {
      const { id, token } = await enrol(c, 'rack-stats');
      const socket = tracked(await AgentSocket.welcomed(c.agentUrl, token, { version: '1.2.3' }));
      const counts = { captured: 1200, kernelDrops: 3, decodeErrors: 2, outboxDepth: 40, outboxDropped: 1 };
      socket.send({ type: 'stats', ...counts });
      await eventually(async () => (await agentView(c, id))?.stats !== null);
      expect(await agentView(c, id)).toMatchObject({
        name: 'rack-stats',
        hostname: 'rack-7.lab',
        version: '1.2.3',
        connected: true,
        lastSeen: expect.any(String),
        interfaces: hello().interfaces,
        stats: { ...counts, at: expect.any(String) },
      });
      expect((await socket.close()).code).toBe(1000);
      await eventually(async () => (await agentView(c, id)).connected === false);
    });
  });
});

describe.each(TARGETS)('batches on %s', (target) => {
  let c: TestCollector;

  beforeAll(async () => {
    c = await startTestCollector(target);
  }, 60_000);

  afterAll(async () => c?.close());

  it('acks a batch only once its sightings can be queried', async () => {
    const { id, token } = await enrol(c, 'rack-1');
    const socket = tracked(await AgentSocket.welcomed(c.agentUrl, token));
    expect(await socket.sightings(1, [sighting({ ...host(11), hostname: 'node-11' })])).toEqual({
      type: 'ack',
      seq: 1,
    });
    const { body } = await c.api('GET', '/discoveries?ip=10.99.0.11');
    expect(body.items).toEqual([
      expect.objectContaining({ mac: host(11).mac, hostnames: ['node-11'], agent: 'rack-1', agentId: id }),
    ]);
  });

  it('acks a replayed seq without storing it again', async () => {
    const { token } = await enrol(c, 'rack-2');
    const socket = tracked(await AgentSocket.welcomed(c.agentUrl, token));
    await socket.sightings(1, [sighting({ ...host(21) })]);
    await socket.sightings(2, [sighting({ ...host(22) })]);
    const before = await c.counts();
    const storedBefore = await counter(c, 'ipwarden_sightings_stored_total');
    expect(storedBefore).toBeGreaterThanOrEqual(2);
    // The same seq again (as after a reconnect), and one below the last, each with other items.
    expect(await socket.sightings(2, [sighting({ ...host(22) }), sighting({ ...host(23) })])).toEqual({
      type: 'ack',
      seq: 2,
    });
    expect(await socket.sightings(1, [sighting({ ...host(24) })])).toEqual({ type: 'ack', seq: 1 });
    expect(await c.counts()).toEqual(before);
    expect(await counter(c, 'ipwarden_sightings_stored_total')).toBe(storedBefore);
    expect((await c.api('GET', '/discoveries/history?ip=10.99.0.22')).body.items).toHaveLength(1);
    expect((await c.api('GET', '/discoveries?subnet=10.99.0.23/32')).body.items).toEqual([]);
  });

  it('acks batches sent back to back in their order, and welcomes the agent back at the last seq', async () => {
    const { id, token } = await enrol(c, 'rack-3');
    const socket = tracked(await AgentSocket.welcomed(c.agentUrl, token));
    const seqs = Array.from({ length: 20 }, (_, i) => i + 1);
    for (const seq of seqs) {
      socket.send({ type: 'sightings', seq, items: [sighting({ ...host(130 + seq), at: T0 + seq })] });
    }
    const acked: number[] = [];
    while (acked.length < seqs.length) acked.push((await socket.nextOf('ack')).seq);
    expect(acked).toEqual(seqs);
    expect((await c.api('GET', '/discoveries?subnet=10.99.0.128/26')).body.items).toHaveLength(20);
    await socket.close();
    const again = tracked(await AgentSocket.connect(c.agentUrl, token));
    expect(await again.hello({ lastSeq: 20 })).toMatchObject({ agentId: id, lastSeq: 20 });
  });
});
