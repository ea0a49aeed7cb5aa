/**
 * The event log (DESIGN.md, "Events"): every event is written in the transaction that causes
 * it, with an id that only grows, and announced with a NOTIFY that PostgreSQL delivers at
 * commit — to every collector on the server, so that webhooks and `GET /events` of any replica
 * learn of it at once. Readers go back to the table for the events themselves: a NOTIFY only
 * says "there is more".
 */
import { sql } from 'drizzle-orm';
import { type Database, rowsOf, type Tx } from '../db/database.js';
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
  'dhcp.drift',
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
  // One statement of one fixed text, however many events: the batch as one JSON parameter, ids
  // given in its order, and the NOTIFY with them — one per transaction is enough, PostgreSQL
  // folds repeats of one payload anyway. (A multi-row VALUES was a new statement to parse and
  // plan for every size, and the NOTIFY a round trip of its own.)
  await tx.execute(sql`
    with added as (
      insert into ${events} (type, data)
      select e.value->>'type', e.value->'data'
      from jsonb_array_elements(${JSON.stringify(batch)}::jsonb) with ordinality as e(value, n)
      order by e.n
      returning 1)
    select pg_notify(${EVENTS_CHANNEL}, '') where exists (select from added)`);
}

/**
 * Where a reader is in the log: events follow each other in (tx, id) order — by writing
 * transaction, then by id within one. Readers see only the settled part, the events of
 * transactions older than the oldest one still running: no event can commit into it any more,
 * so it only grows at its end and a reader that has passed a position never misses an event
 * before it. (A transaction that writes for long holds the events of those after it back until
 * it ends — on PostgreSQL, one on any database of the server.)
 */
export interface LogPosition {
  tx: bigint;
  id: number;
}

/** Before every event. */
export const LOG_START: LogPosition = { tx: 0n, id: 0 };

/** An event with its place in the log. */
export interface LoggedEvent extends StoredEvent {
  position: LogPosition;
}

/** Whether `a` comes after `b` in the log. */
export function isAfter(a: LogPosition, b: LogPosition): boolean {
  return a.tx > b.tx || (a.tx === b.tx && a.id > b.id);
}

interface EventRow {
  id: number | string;
  tx: string;
  type: string;
  at: Date | string;
  data: unknown;
}

const SETTLED = sql`${events.tx} < pg_snapshot_xmin(pg_current_snapshot())`;

const logged = (row: EventRow): LoggedEvent => ({
  id: Number(row.id),
  type: row.type as EventType,
  at: new Date(row.at).toISOString(),
  data: row.data,
  position: { tx: BigInt(row.tx), id: Number(row.id) },
});

/** Settled events after `after`, in log order. */
export async function readLog(db: Database, after: LogPosition, limit: number): Promise<LoggedEvent[]> {
  const rows = await rowsOf<EventRow>(
    db,
    sql`select ${events.id} as id, ${events.tx}::text as tx, ${events.type} as type, ${events.at} as at,
          ${events.data} as data
        from ${events}
        where (${events.tx}, ${events.id}) > (${after.tx.toString()}::xid8, ${after.id}) and ${SETTLED}
        order by ${events.tx}, ${events.id}
        limit ${limit}`,
  );
  return rows.map(logged);
}

/**
 * The position of event `id` (a webhook's cursor, an SSE client's Last-Event-ID). An id the log
 * does not hold — 0, or one no event has — stands after every event with a smaller id.
 */
export async function positionOf(db: Database, id: number): Promise<LogPosition> {
  if (id <= 0) return LOG_START;
  const [row] = await rowsOf<{ tx: string | null }>(
    db,
    sql`select coalesce(
          (select ${events.tx} from ${events} where ${events.id} = ${id}),
          (select ${events.tx} from ${events} where ${events.id} < ${id} order by ${events.tx} desc limit 1)
        )::text as tx`,
  );
  return row?.tx == null ? LOG_START : { tx: BigInt(row.tx), id };
}

/** The last settled event: what a reader starting "from now on" starts after (0: none). */
export async function lastEventId(db: Database): Promise<number> {
  return (await endOfLog(db)).id;
}

/** The position of the last settled event. */
export async function endOfLog(db: Database): Promise<LogPosition> {
  const [row] = await rowsOf<{ id: number | string; tx: string }>(
    db,
    sql`select ${events.id} as id, ${events.tx}::text as tx from ${events} where ${SETTLED}
        order by ${events.tx} desc, ${events.id} desc limit 1`,
  );
  return row === undefined ? LOG_START : { tx: BigInt(row.tx), id: Number(row.id) };
}
