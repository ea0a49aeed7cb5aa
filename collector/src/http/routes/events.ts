/**
 * `GET /events` (API.md, "Conflicts and alerts"): the event log as Server-Sent Events (WHATWG
 * HTML, "Server-sent events"), for any valid token. A client sending Last-Event-ID — the header
 * EventSource sends when it reconnects, or `?lastEventId=` — first gets what it missed.
 */
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ApiError, ErrorCode } from '../../errors.js';
import type { LoggedEvent } from '../../events/event-log.js';
import { checkEventTypes } from '../../events/webhook-store.js';
import { READ, requireRole } from '../auth.js';
import type { AppContext } from '../context.js';

const EVENT_ID = '^[0-9]{1,15}$';

const EventsQuery = Type.Partial(
  Type.Object({
    /** Comma-separated event types; all when absent. */
    types: Type.String({ maxLength: 2048 }),
    lastEventId: Type.String({ pattern: EVENT_ID }),
  }),
  { additionalProperties: false },
);

/** A client this far behind in reading is cut off; it comes back with Last-Event-ID. */
const MAX_UNSENT_BYTES = 4 * 1024 * 1024; // 4 MiB

const frame = (event: LoggedEvent) =>
  `id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify({ id: event.id, type: event.type, at: event.at, data: event.data })}\n\n`;

export async function eventRoutes(
  app: FastifyInstance,
  { eventStream, metrics, principals }: AppContext,
): Promise<void> {
  app.get<{ Querystring: Static<typeof EventsQuery> }>(
    '/events',
    { schema: { querystring: EventsQuery }, onRequest: requireRole(principals, READ) },
    async (request, reply) => {
      const named = request.query.types?.split(',').filter((type) => type !== '');
      const types = named === undefined || named.length === 0 ? undefined : checkEventTypes(named, 'types');
      const header = request.headers['last-event-id'];
      const lastEventId = typeof header === 'string' && header !== '' ? header : request.query.lastEventId;
      if (lastEventId !== undefined && !new RegExp(EVENT_ID).test(lastEventId)) {
        throw new ApiError(ErrorCode.VALIDATION_FAILED, 'Last-Event-ID: not an event id', [
          { field: 'Last-Event-ID', message: 'not an event id' },
        ]);
      }

      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        // A proxy that buffers (nginx) would hold events back.
        'x-accel-buffering': 'no',
      });
      raw.write(': ipwarden events\n\n');
      metrics.eventStreamClients.inc();
      const subscription = eventStream.open({
        afterId: lastEventId === undefined ? undefined : Number(lastEventId),
        types: types === undefined || types.includes('*') ? undefined : new Set(types),
        // An id and no data: no event, but where a client coming back resumes (the HTML standard's
        // "last event ID"), though nothing has reached it yet.
        start: (afterId) => raw.write(`id: ${afterId}\n\n`),
        send: (events) => {
          raw.write(events.map(frame).join(''));
          if (raw.writableLength > MAX_UNSENT_BYTES) raw.destroy();
        },
        end: () => raw.end(),
      });
      const heartbeat = setInterval(() => raw.write(': ping\n\n'), eventStream.options.heartbeatMs);
      raw.once('close', () => {
        clearInterval(heartbeat);
        subscription.close();
        metrics.eventStreamClients.dec();
      });
      subscription.ready.catch((error: unknown) => {
        request.log.warn({ err: error }, 'events: a stream could not catch up; ended');
        raw.end();
      });
    },
  );
}
