/**
 * The event log (DESIGN.md, "Events"): every event is written in the transaction that causes
 * it, with an id that only grows, and announced with a NOTIFY that PostgreSQL delivers at
 * commit — to every collector on the server, so that webhooks and `GET /events` of any replica
 * learn of it at once. Readers go back to the table for the events themselves: a NOTIFY only
 * says "there is more".
 */
import { and, asc, gt, inArray, type SQL, sql } from 'drizzle-orm';
import type { Database, Tx } from '../db/database.js';
import { events } from '../db/schema/index.js';

/** The channel every collector listens on for new events. */
export const EVENTS_CHANNEL = 'ipwarden_events';

/** Every event type (DESIGN.md, "Events"); `ping` is a webhook's test delivery. */
export const EVENT_TYPES = [
  'conflict.opened',
  'conflict.updated',
  'conflict.acknowledged',
  'conflict.resolved',
  'discovery.new',
  'discovery.moved',
  'address.created',
  'address.changed',
  'address.released',
  'agent.connected',
  'agent.disconnected',
  'dhcp.applied',
  'dhcp.failed',
] as const;

export type EventType = (typeof EVENT_TYPES)[number] | 'ping';

export interface NewEvent {
  type: EventType;
  /** The resource as the API shows it. */
  data: unknown;
}

/** An event as webhooks and `GET /events` carry it. */
export interface StoredEvent {
  id: number;
  type: EventType;
  at: string;
  data: unknown;
}

/** Appends events in `tx` (they exist once it commits) and has every collector told at commit. */
export async function appendEvents(tx: Database | Tx, batch: readonly NewEvent[]): Promise<void> {
  if (batch.length === 0) return;
  await tx.insert(events).values(batch.map((event) => ({ type: event.type, data: event.data })));
  // One NOTIFY per transaction is enough; PostgreSQL folds repeats of one payload anyway.
  await tx.execute(sql`select pg_notify(${EVENTS_CHANNEL}, '')`);
}

/** The SQL for appending events inside a larger statement's CTEs is kept here too. */
export function notifyEvents(): SQL {
  return sql`select pg_notify(${EVENTS_CHANNEL}, '')`;
}

/** Events after `afterId`, oldest first, of the given types (all when undefined). */
export async function readEvents(
  db: Database,
  afterId: number,
  limit: number,
  types?: readonly string[],
): Promise<StoredEvent[]> {
  const rows = await db
    .select()
    .from(events)
    .where(and(gt(events.id, afterId), types === undefined ? undefined : inArray(events.type, [...types])))
    .orderBy(asc(events.id))
    .limit(limit);
  return rows.map((row) => ({ id: row.id, type: row.type as EventType, at: row.at.toISOString(), data: row.data }));
}

/** The id of the newest event, 0 when there is none. */
export async function lastEventId(db: Database): Promise<number> {
  const [row] = await db.select({ id: sql<number>`coalesce(max(${events.id}), 0)::bigint` }).from(events);
  return Number(row?.id ?? 0);
}
