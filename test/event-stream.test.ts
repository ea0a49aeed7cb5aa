/**
 * `GET /events` over real HTTP (API.md, "Conflicts and alerts"): Server-Sent Events as an
 * EventSource reads them — only new events without Last-Event-ID, what was missed and then the
 * live ones with it (no gap, no repeat, even while events keep coming), the types filter,
 * heartbeats, bad input, and a collector that stops with streams open.
 */
import { EventStreamParser } from '@ipwarden/client/event-stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, expectProblem, startTestCollector, TARGETS, type TestCollector } from './support/collector.js';
import { append, appendIn } from './support/events.js';

const HEARTBEAT_MS = 300;

interface Frame {
  id: number;
  event: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests read payloads freely; each asserts the shape it expects.
  data: any;
}

/** A Server-Sent Events client: the stream parsed as clients parse it (client/src/event-stream.ts). */
class SseClient {
  readonly frames: Frame[] = [];
  readonly comments: string[] = [];
  /** The stream's last event ID so far (an id without data moves it too). */
  lastEventId = '';
  ended = false;
  private readonly controller = new AbortController();

  private constructor(readonly response: Response) {}

  static async open(c: TestCollector, query = '', headers: Record<string, string> = {}): Promise<SseClient> {
    const client = await fetch(`${c.url}/api/v1/events${query}`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...headers },
    }).then((response) => new SseClient(response));
    expect(client.response.status).toBe(200);
    expect(client.response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    void client.read();
    // The stream is open once its first comment came: from then on it misses nothing.
    await client.until(() => client.comments.length > 0);
    return client;
  }

  private async read(): Promise<void> {
    const parser = new EventStreamParser({ onComment: (comment) => this.comments.push(comment) });
    const reader = this.response.body!.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        for (const { lastEventId, type, data } of parser.push(value)) {
          this.frames.push({ id: Number(lastEventId), event: type, data: JSON.parse(data) });
        }
        this.lastEventId = parser.lastEventId;
      }
    } catch {
      // aborted
    } finally {
      this.ended = true;
    }
  }

  ids(): number[] {
    return this.frames.map((frame) => frame.id);
  }

  async until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) {
        throw new Error(`stream: condition still false after ${timeoutMs} ms; ids ${JSON.stringify(this.ids())}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  close(): void {
    this.controller.abort();
    void this.response.body?.cancel().catch(() => {});
  }
}

const streams: SseClient[] = [];
afterEach(() => {
  for (const stream of streams.splice(0)) stream.close();
});

async function open(c: TestCollector, query = '', headers: Record<string, string> = {}): Promise<SseClient> {
  const stream = await SseClient.open(c, query, headers);
  streams.push(stream);
  return stream;
}

describe.each(TARGETS)('GET /events on %s', (target) => {
  let c: TestCollector;

  beforeAll(async () => {
    c = await startTestCollector(target, { collector: { eventStream: { heartbeatMs: HEARTBEAT_MS } } });
  }, 60_000);

  afterAll(async () => c?.close());

  it('sends only new events to a client without Last-Event-ID, each as id, event and data', async () => {
    await append(c, ['conflict.opened', 'conflict.opened']);
    const stream = await open(c);
    const appended = await append(c, ['conflict.opened', 'discovery.new', 'agent.connected']);
    await stream.until(() => stream.frames.length === 3);
    expect(stream.ids()).toEqual(appended);
    expect(stream.frames.map((f) => f.event)).toEqual(['conflict.opened', 'discovery.new', 'agent.connected']);
    expect(stream.frames[0]!.data).toEqual({
      id: appended[0],
      type: 'conflict.opened',
      at: expect.any(String),
      data: { n: 0 },
    });
  });

  it('tells a client without Last-Event-ID where it starts, so that one coming back before any event misses nothing', async () => {
    const [before] = await append(c, ['discovery.new']);
    const stream = await open(c);
    await stream.until(() => stream.lastEventId === String(before));
    expect(stream.frames).toEqual([]);
    stream.close();
    const missed = await append(c, ['conflict.opened', 'conflict.resolved']);
    const again = await open(c, '', { 'last-event-id': stream.lastEventId });
    await again.until(() => again.frames.length === 2);
    expect(again.ids()).toEqual(missed);
  });

  it('sends a client coming back with Last-Event-ID what it missed, then the live events, with no gap and no repeat', async () => {
    const [first] = await append(c, ['discovery.new']);
    // More than one catch-up page, and more coming while the client catches up.
    const missed = await append(
      c,
      Array.from({ length: 1_200 }, () => 'discovery.new'),
    );
    const header = await open(c, '', { 'last-event-id': String(first) });
    const query = await open(c, `?lastEventId=${first}`);
    const live: number[] = [];
    for (let i = 0; i < 20; i++) live.push(...(await append(c, ['discovery.moved', 'discovery.moved'])));
    const expected = [...missed, ...live];
    for (const stream of [header, query]) {
      await stream.until(() => stream.frames.length >= expected.length);
      expect(stream.ids()).toEqual(expected);
    }
  });

  // On PostgreSQL the later transaction commits first and the hub must hold its event back; PGlite
  // runs one transaction at a time, so there the later one waits — either way the stream is in order.
  it('holds an event back while an earlier transaction with a smaller id is still open, then gives both in order', async () => {
    const stream = await open(c);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let earlier: number[] | undefined;
    const slow = c.collector.database.db.transaction(async (tx) => {
      earlier = await appendIn(tx, ['conflict.updated']);
      await gate;
    });
    await expect.poll(() => earlier).toBeDefined();
    const later = append(c, ['conflict.updated']);
    await new Promise((resolve) => setTimeout(resolve, 2_500)); // past the hub's poll
    expect(stream.frames).toEqual([]);
    release();
    await slow;
    const laterIds = await later;
    expect(laterIds[0]).toBeGreaterThan(earlier![0]!);
    await stream.until(() => stream.frames.length === 2);
    expect(stream.ids()).toEqual([...earlier!, ...laterIds]);
  });

  it('keeps to the types asked for, and shows no webhook pings', async () => {
    const stream = await open(c, '?types=conflict.resolved,agent.disconnected');
    const all = await open(c);
    const appended = await append(c, [
      'conflict.opened',
      'conflict.resolved',
      'ping',
      'agent.disconnected',
      'dhcp.applied',
    ]);
    await all.until(() => all.frames.length === 4);
    await stream.until(() => stream.frames.length === 2);
    expect(stream.ids()).toEqual([appended[1], appended[3]]);
    expect(all.ids()).toEqual([appended[0], appended[1], appended[3], appended[4]]);
    // Filtered with Last-Event-ID too.
    const back = await open(c, `?types=dhcp.applied&lastEventId=${appended[0]}`);
    await back.until(() => back.frames.length === 1);
    expect(back.ids()).toEqual([appended[4]]);
  });

  it('gives many clients the same events from one read of the log', async () => {
    const many = await Promise.all(Array.from({ length: 20 }, () => open(c)));
    const appended = await append(c, ['address.created', 'address.changed', 'address.released']);
    for (const stream of many) {
      await stream.until(() => stream.frames.length === 3);
      expect(stream.ids()).toEqual(appended);
    }
    const metrics: string = (await c.api('GET', '/metrics')).body;
    expect(metrics).toMatch(/ipwarden_event_stream_clients (2\d|[3-9]\d)/);
  });

  it('sends a heartbeat comment while nothing happens', async () => {
    const stream = await open(c);
    await stream.until(() => stream.comments.filter((comment) => comment === 'ping').length >= 2, HEARTBEAT_MS * 10);
    expect(stream.frames).toEqual([]);
  });

  it('lets any valid token subscribe, and refuses bad input with a 4xx problem', async () => {
    const viewer = (await c.api('POST', '/users', { json: { name: `sse-viewer-${target}`, role: 'viewer' } })).body
      .token;
    const response = await fetch(`${c.url}/api/v1/events`, { headers: { authorization: `Bearer ${viewer}` } });
    expect(response.status).toBe(200);
    await response.body?.cancel();
    expectProblem(await c.api('GET', '/events', { token: null }), 401, 'unauthorized');
    expectProblem(await c.api('GET', '/events', { token: 'iwu_forged-token' }), 401, 'unauthorized');
    expectProblem(
      await c.api('GET', '/events?types=conflict.opened,conflict.exploded'),
      400,
      'unknown-event-type',
      'types',
    );
    expectProblem(await c.api('GET', '/events?types=ping'), 400, 'unknown-event-type', 'types');
    expectProblem(await c.api('GET', '/events?lastEventId=abc'), 400, 'validation-failed');
    expectProblem(await c.api('GET', '/events?lastEventId=-1'), 400, 'validation-failed');
    expectProblem(await c.api('GET', '/events?colour=red'), 400, 'validation-failed');
    const forged = await fetch(`${c.url}/api/v1/events`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'last-event-id': '1; drop table events' },
    });
    expect(forged.status).toBe(400);
    expect(((await forged.json()) as { code: string }).code).toBe('validation-failed');
  });
});

describe('a collector stopping with streams open', () => {
  it('ends them and stops at once', async () => {
    const c = await startTestCollector('PGlite');
    const open = await Promise.all([SseClient.open(c), SseClient.open(c), SseClient.open(c, '?lastEventId=0')]);
    const started = Date.now();
    await c.close();
    expect(Date.now() - started).toBeLessThan(2_000);
    for (const stream of open) await stream.until(() => stream.ended);
  });
});
