/**
 * Events appended straight into a test collector's log, as the code that causes them does (in
 * its transaction, with the NOTIFY at commit): for tests of what follows the log.
 */
import { schema } from '@ipwarden/collector';
import { desc } from 'drizzle-orm';
import type { Tx } from '../../collector/src/db/database.js';
import { appendEvents, type EventType } from '../../collector/src/events/event-log.js';
import type { TestCollector } from './collector.js';

/** Appends events of these types in `tx` (data: their index); their ids. */
export async function appendIn(tx: Tx, types: string[]): Promise<number[]> {
  await appendEvents(
    tx,
    types.map((type, n) => ({ type: type as EventType, data: { n } })),
  );
  const rows = await tx
    .select({ id: schema.events.id })
    .from(schema.events)
    .orderBy(desc(schema.events.id))
    .limit(types.length);
  return rows.map((row) => row.id).reverse();
}

/** Appends events in a transaction of their own; their ids. */
export const append = (c: TestCollector, types: string[]): Promise<number[]> =>
  c.collector.database.db.transaction((tx) => appendIn(tx, types));
