/**
 * Webhooks (API.md, "Conflicts and alerts"): created by admins, each with its own cursor in the
 * event log, which the dispatcher (webhook-dispatcher.ts) moves on as it delivers.
 */
import { asc, eq, gt, sql } from 'drizzle-orm';
import { type Database, rowsOf } from '../db/database.js';
import { webhooks } from '../db/schema/index.js';
import { ApiError, ErrorCode, fieldError } from '../errors.js';
import { appendEvents, EVENT_TYPES, lastEventId } from './event-log.js';

export type WebhookFormat = 'json' | 'slack';

export interface NewWebhook {
  url: string;
  events: string[];
  secret: string;
  format?: WebhookFormat;
}

/** A webhook as the API shows it: never its secret. */
export interface WebhookView {
  id: string;
  url: string;
  events: string[];
  format: WebhookFormat;
  enabled: boolean;
  createdAt: string;
  /** The last event delivered (or passed over as not wanted). */
  deliveredId: number;
  lastDeliveryAt: string | null;
  lastStatus: number | null;
  lastError: string | null;
  /** Failed attempts at the event now being retried. */
  failures: number;
  nextAttemptAt: string | null;
  /** Events given up after retrying for the retry period. */
  dropped: number;
}

const KNOWN_TYPES = new Set<string>(EVENT_TYPES);

/**
 * The URL, if it is one a webhook may post to: http or https, with a host and no credentials
 * (they would be shown by `GET /webhooks`; a receiver authenticates us by the signature).
 */
export function checkWebhookUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw fieldError(ErrorCode.INVALID_URL, 'url', 'not an absolute URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw fieldError(ErrorCode.INVALID_URL, 'url', `${url.protocol} is not http: or https:`);
  }
  if (url.hostname === '') throw fieldError(ErrorCode.INVALID_URL, 'url', 'no host');
  if (url.username !== '' || url.password !== '') {
    throw fieldError(ErrorCode.INVALID_URL, 'url', 'credentials do not belong in the URL; the secret signs');
  }
  return url.href;
}

/** Event type names, each known (or "*" alone, for all); unknown ones name the field. */
export function checkEventTypes(types: readonly string[], field: string): string[] {
  for (const [i, type] of types.entries()) {
    if (type !== '*' && !KNOWN_TYPES.has(type)) {
      throw fieldError(ErrorCode.UNKNOWN_EVENT_TYPE, `${field}/${i}`, `${JSON.stringify(type)} is no event type`);
    }
  }
  return types.includes('*') ? ['*'] : [...new Set(types)];
}

const view = (row: typeof webhooks.$inferSelect): WebhookView => ({
  id: row.id,
  url: row.url,
  events: row.eventTypes,
  format: row.format,
  enabled: row.enabled,
  createdAt: row.createdAt.toISOString(),
  deliveredId: row.deliveredId,
  lastDeliveryAt: row.lastDeliveryAt?.toISOString() ?? null,
  lastStatus: row.lastStatus,
  lastError: row.lastError,
  failures: row.failures,
  nextAttemptAt: row.nextAttemptAt?.toISOString() ?? null,
  dropped: row.dropped,
});

/** A new webhook gets what happens from now on: its cursor starts at the end of the log. */
export async function createWebhook(db: Database, input: NewWebhook): Promise<WebhookView> {
  const url = checkWebhookUrl(input.url);
  const eventTypes = checkEventTypes(input.events, 'events');
  const [row] = await db
    .insert(webhooks)
    .values({
      url,
      eventTypes,
      secret: input.secret,
      format: input.format ?? 'json',
      deliveredId: await lastEventId(db),
    })
    .returning();
  return view(row!);
}

export async function listWebhooks(db: Database, limit: number, after: string | undefined): Promise<WebhookView[]> {
  const rows = await db
    .select()
    .from(webhooks)
    .where(after === undefined ? undefined : gt(webhooks.id, after))
    .orderBy(asc(webhooks.id))
    .limit(limit);
  return rows.map(view);
}

export async function deleteWebhook(db: Database, id: string): Promise<void> {
  const deleted = await db.delete(webhooks).where(eq(webhooks.id, id)).returning({ id: webhooks.id });
  if (deleted.length === 0) throw new ApiError(ErrorCode.NOT_FOUND, `no webhook ${id}`);
}

/**
 * Appends a `ping` addressed to this webhook alone (the dispatcher delivers it to no other);
 * the event's id.
 */
export async function pingWebhook(db: Database, id: string): Promise<number> {
  return db.transaction(async (tx) => {
    const [row] = await tx.select({ id: webhooks.id }).from(webhooks).where(eq(webhooks.id, id)).for('share');
    if (row === undefined) throw new ApiError(ErrorCode.NOT_FOUND, `no webhook ${id}`);
    await appendEvents(tx, [{ type: 'ping', data: { webhook: id } }]);
    const [event] = await rowsOf<{ id: string | number }>(
      tx,
      sql`select currval(pg_get_serial_sequence('events', 'id')) as id`,
    );
    return Number(event!.id);
  });
}
