/**
 * `address.created`, `address.changed` and `address.released` (DESIGN.md, "Events"), each with
 * the address as the API shows it. Written right after the change commits, by the route that
 * made it: the allocator decides many requests in one statement of its own (ipam/allocator.ts),
 * and an event per request belongs to the request, not to the batch. A collector that dies
 * between the two loses the event, never the address.
 */
import type { Database } from '../db/database.js';
import { appendEvents, type EventType } from './event-log.js';

export async function announceAddresses(
  db: Database,
  type: Extract<EventType, `address.${string}`>,
  addresses: readonly unknown[],
): Promise<void> {
  if (addresses.length === 0) return;
  await appendEvents(
    db,
    addresses.map((data) => ({ type, data })),
  );
}
