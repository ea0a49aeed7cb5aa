/**
 * Webhook delivery (API.md, "Conflicts and alerts"; DESIGN.md, "Events"). The queue is the
 * database: each webhook's `delivered_id` is its cursor in the event log, moved on only after a
 * 2xx (or when an event is dropped after retrying for the retry period), so a restart loses
 * nothing and events go out in log order, one at a time, per webhook.
 *
 * Every webhook has its own loop here, so a slow or dead receiver holds up only itself. Of
 * several collectors on one database, one at a time delivers a webhook's events: the one holding
 * its lease (`lease_holder`, `lease_until`), which every write of the loop renews and checks.
 * A collector that stops lets its leases go; one that dies leaves them to expire. Loops wake on
 * the event hub (a NOTIFY at commit, or its poll), never by polling of their own.
 */
import { randomUUID } from 'node:crypto';
import { and, eq, isNull, lt, or, sql } from 'drizzle-orm';
import type { FastifyBaseLogger } from 'fastify';
import type { Database } from '../db/database.js';
import { webhooks } from '../db/schema/index.js';
import type { Metrics } from '../metrics.js';
import type { EventHub } from './event-hub.js';
import { type LoggedEvent, positionOf, readLog } from './event-log.js';
import { signatureHeaders } from './webhook-signature.js';

export interface WebhookDeliveryOptions {
  /** A receiver that has not answered by then has failed. */
  timeoutMs: number;
  /** The first retry's delay; each further failure doubles it, up to `backoffCapMs`. */
  backoffBaseMs: number;
  backoffCapMs: number;
  /** An event failing for this long is dropped, and the next one tried. */
  retryForMs: number;
  /** How long a collector holds a webhook after its last write, if it says nothing more. */
  leaseMs: number;
  /** Events read from the log at a time. */
  batchSize: number;
}

export const DEFAULT_DELIVERY: WebhookDeliveryOptions = {
  timeoutMs: 10_000, // 10 s
  backoffBaseMs: 1_000, // 1 s
  backoffCapMs: 600_000, // 10 min
  retryForMs: 86_400_000, // 24 h
  leaseMs: 30_000, // 30 s: longer than one attempt's timeout, so a working holder keeps it
  batchSize: 100,
};

/** How long an attempt under way may still take when the collector stops. */
const STOP_GRACE_MS = 5_000; // 5 s
/** After an unexpected failure (the database away), a loop tries again this much later. */
const TROUBLE_DELAY_MS = 1_000; // 1 s

/**
 * The delay before retry number `failures` (1 for the first): doubling from the base, capped,
 * and drawn from its upper half so that receivers coming back are not hit by every sender at
 * once. `random` is in [0, 1).
 */
export function retryDelay(failures: number, options: WebhookDeliveryOptions, random: number): number {
  const full = Math.min(options.backoffCapMs, options.backoffBaseMs * 2 ** Math.min(failures - 1, 40));
  return Math.round(full / 2 + (full / 2) * random);
}

/** The one-line text of a `format: "slack"` delivery. */
export function slackText(event: Pick<LoggedEvent, 'id' | 'type' | 'at' | 'data'>): string {
  const data = event.data !== null && typeof event.data === 'object' ? (event.data as Record<string, unknown>) : {};
  const parts: string[] = [];
  for (const key of ['kind', 'ip', 'mac', 'macs', 'hostname', 'name', 'subnet', 'status', 'webhook']) {
    const value = data[key];
    if (typeof value === 'string' || typeof value === 'number') parts.push(`${key} ${value}`);
    else if (Array.isArray(value)) {
      const named = value.filter((item) => typeof item === 'string' || typeof item === 'number');
      if (named.length > 0) parts.push(`${key} ${named.join(', ')}`);
    }
  }
  return `ipwarden ${event.type}${parts.length > 0 ? ` — ${parts.join('; ')}` : ''} (event ${event.id}, ${event.at})`;
}

type Webhook = typeof webhooks.$inferSelect;

/** What one attempt came to. */
type Attempt = { ok: true; status: number } | { ok: false; status: number | null; error: string };

export interface DispatcherDeps {
  db: Database;
  hub: EventHub;
  metrics: Metrics;
  log: FastifyBaseLogger;
  options?: Partial<WebhookDeliveryOptions>;
}

export class WebhookDispatcher {
  /** This collector, as the lease holder. */
  private readonly holder = randomUUID();
  private readonly workers = new Map<string, WebhookWorker>();
  private readonly options: WebhookDeliveryOptions;
  private readonly unsubscribe: () => void;
  private refreshing: Promise<void> | undefined;
  private refreshAgain = false;
  private closed = false;

  private constructor(private readonly deps: DispatcherDeps) {
    this.options = { ...DEFAULT_DELIVERY, ...deps.options };
    this.unsubscribe = deps.hub.subscribe(() => this.refresh());
  }

  static start(deps: DispatcherDeps): WebhookDispatcher {
    const dispatcher = new WebhookDispatcher(deps);
    dispatcher.refresh();
    return dispatcher;
  }

  /** Stops every loop, each after its attempt under way (given a grace period), and lets the leases go. */
  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe();
    await this.refreshing;
    await Promise.all([...this.workers.values()].map((worker) => worker.stop()));
    this.workers.clear();
  }

  /** Starts loops for new webhooks, stops those of deleted or disabled ones, and wakes the rest. */
  private refresh(): void {
    if (this.closed) return;
    if (this.refreshing !== undefined) {
      this.refreshAgain = true;
      return;
    }
    this.refreshing = (async () => {
      do {
        this.refreshAgain = false;
        try {
          const live = await this.deps.db.select({ id: webhooks.id }).from(webhooks).where(eq(webhooks.enabled, true));
          if (this.closed) return;
          const ids = new Set(live.map((row) => row.id));
          for (const [id, worker] of this.workers) {
            if (!ids.has(id)) {
              this.workers.delete(id);
              void worker.stop();
            }
          }
          for (const id of ids) {
            const worker = this.workers.get(id);
            if (worker === undefined) this.workers.set(id, new WebhookWorker(id, this.holder, this.deps, this.options));
            else worker.poke();
          }
        } catch (error) {
          this.deps.log.warn({ err: error }, 'webhooks: could not list the webhooks; trying at the next wake-up');
        }
      } while (this.refreshAgain && !this.closed);
    })().finally(() => {
      this.refreshing = undefined;
    });
  }
}

/** One webhook's delivery loop. */
class WebhookWorker {
  private stopped = false;
  private poked = false;
  private wakeUp: (() => void) | undefined;
  private inFlight: AbortController | undefined;
  private readonly done: Promise<void>;

  constructor(
    private readonly id: string,
    private readonly holder: string,
    private readonly deps: DispatcherDeps,
    private readonly options: WebhookDeliveryOptions,
  ) {
    this.done = this.run();
  }

  poke(): void {
    this.poked = true;
    this.wakeUp?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeUp?.();
    const grace = setTimeout(() => this.inFlight?.abort(new Error('the collector is stopping')), STOP_GRACE_MS);
    try {
      await this.done;
    } finally {
      clearTimeout(grace);
    }
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let waitMs: number | undefined;
      try {
        waitMs = await this.step();
      } catch (error) {
        if (this.stopped) break;
        this.deps.log.warn({ err: error, webhook: this.id }, 'webhooks: delivery loop failed; trying again');
        waitMs = TROUBLE_DELAY_MS;
      }
      if (waitMs !== 0) await this.sleep(waitMs);
    }
    this.deps.metrics.webhookLagSeconds.remove({ webhook: this.id });
    await this.deps.db
      .update(webhooks)
      .set({ leaseHolder: null, leaseUntil: null })
      .where(and(eq(webhooks.id, this.id), eq(webhooks.leaseHolder, this.holder)))
      .catch(() => {}); // the lease expires by itself
  }

  /** Until poked or `ms` (undefined: until poked). */
  private sleep(ms: number | undefined): Promise<void> {
    if (this.poked || this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = () => {
        this.wakeUp = undefined;
        done();
      };
    });
  }

  private leaseUntil() {
    return sql`now() + ${this.options.leaseMs} * interval '1 millisecond'`;
  }

  private mine() {
    return and(eq(webhooks.id, this.id), eq(webhooks.leaseHolder, this.holder));
  }

  /**
   * Delivers what is due; says how long to wait before the next step (0: at once, undefined:
   * until woken — a new event, or the hub's poll).
   */
  private async step(): Promise<number | undefined> {
    this.poked = false;
    const { db, metrics } = this.deps;
    const [leased] = await db
      .update(webhooks)
      .set({ leaseHolder: this.holder, leaseUntil: this.leaseUntil() })
      .where(
        and(
          eq(webhooks.id, this.id),
          eq(webhooks.enabled, true),
          or(isNull(webhooks.leaseUntil), lt(webhooks.leaseUntil, sql`now()`), eq(webhooks.leaseHolder, this.holder)),
        ),
      )
      .returning();
    if (leased === undefined) {
      // Another collector delivers it (or it is gone): this one tries again when woken.
      metrics.webhookLagSeconds.remove({ webhook: this.id });
      return undefined;
    }
    let webhook: Webhook = leased;
    // Woken, the loop renews its lease; while it waits it is woken at least this often.
    const renewMs = this.options.leaseMs / 3;
    const wait = webhook.nextAttemptAt === null ? 0 : webhook.nextAttemptAt.getTime() - Date.now();
    if (wait > 0) return Math.min(wait, renewMs);

    const batch = await readLog(db, await positionOf(db, webhook.deliveredId), this.options.batchSize);
    let passedOver: number | undefined;
    for (const event of batch) {
      if (this.stopped) return undefined;
      if (!wants(webhook, event)) {
        passedOver = event.id;
        continue;
      }
      metrics.webhookLagSeconds.set({ webhook: this.id }, Math.max(0, (Date.now() - Date.parse(event.at)) / 1000));
      const attempt = await this.attempt(webhook, event);
      const next = await this.record(webhook, event, attempt);
      if (next === undefined) return undefined; // disabled (410), deleted, or the lease lost
      webhook = next;
      passedOver = undefined;
      if (webhook.deliveredId !== event.id) {
        return Math.min(Math.max(0, webhook.nextAttemptAt!.getTime() - Date.now()), renewMs);
      }
    }
    if (passedOver !== undefined) {
      await db.update(webhooks).set({ deliveredId: passedOver, leaseUntil: this.leaseUntil() }).where(this.mine());
    }
    if (batch.length === this.options.batchSize) return 0;
    metrics.webhookLagSeconds.set({ webhook: this.id }, 0);
    return renewMs;
  }

  private async attempt(webhook: Webhook, event: LoggedEvent): Promise<Attempt> {
    const payload =
      webhook.format === 'slack'
        ? { text: slackText(event) }
        : { id: event.id, type: event.type, at: event.at, data: event.data };
    const body = JSON.stringify(payload);
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'ipwarden-collector',
      'x-ipwarden-event': event.type,
      'x-ipwarden-delivery': String(event.id),
      ...signatureHeaders(webhook.secret, { id: event.id, timestamp: Math.floor(Date.now() / 1000), body }),
    };
    const controller = new AbortController();
    this.inFlight = controller;
    const timeout = setTimeout(
      () => controller.abort(new Error(`no answer within ${this.options.timeoutMs} ms`)),
      this.options.timeoutMs,
    );
    try {
      // A redirect is not followed (it could lead anywhere) and counts as a failure.
      const response = await fetch(webhook.url, {
        method: 'POST',
        headers,
        body,
        redirect: 'manual',
        signal: controller.signal,
      });
      await response.body?.cancel().catch(() => {});
      if (response.status >= 200 && response.status < 300) return { ok: true, status: response.status };
      return { ok: false, status: response.status, error: `HTTP ${response.status}` };
    } catch (error) {
      return { ok: false, status: null, error: describe(controller.signal.aborted ? controller.signal.reason : error) };
    } finally {
      clearTimeout(timeout);
      this.inFlight = undefined;
    }
  }

  /** Writes an attempt's outcome; the webhook as it now is, or undefined when this loop is done with it. */
  private async record(webhook: Webhook, event: LoggedEvent, attempt: Attempt): Promise<Webhook | undefined> {
    const { db, metrics, log } = this.deps;
    const now = new Date();
    let change: Partial<Webhook>;
    if (attempt.ok) {
      metrics.webhookDeliveries.inc({ outcome: 'delivered' });
      change = {
        deliveredId: event.id,
        failures: 0,
        failingSince: null,
        nextAttemptAt: null,
        lastStatus: attempt.status,
        lastError: null,
      };
    } else if (attempt.status === 410) {
      // RFC 9110 15.5.11: gone for good — the receiver asks to be sent nothing more.
      log.info({ webhook: this.id, url: webhook.url }, 'webhooks: the receiver answered 410; webhook disabled');
      metrics.webhookDeliveries.inc({ outcome: 'failed' });
      await db
        .update(webhooks)
        .set({ enabled: false, lastDeliveryAt: now, lastStatus: 410, lastError: attempt.error, leaseHolder: null })
        .where(this.mine());
      this.stopped = true;
      return undefined;
    } else {
      const failingSince = webhook.failingSince ?? now;
      if (now.getTime() - failingSince.getTime() >= this.options.retryForMs) {
        log.warn({ webhook: this.id, event: event.id, error: attempt.error }, 'webhooks: event dropped after retrying');
        metrics.webhookDeliveries.inc({ outcome: 'dropped' });
        change = {
          deliveredId: event.id,
          dropped: webhook.dropped + 1,
          failures: 0,
          failingSince: null,
          nextAttemptAt: null,
          lastStatus: attempt.status,
          lastError: attempt.error,
        };
      } else {
        metrics.webhookDeliveries.inc({ outcome: 'failed' });
        const failures = webhook.failures + 1;
        change = {
          failures,
          failingSince,
          nextAttemptAt: new Date(now.getTime() + retryDelay(failures, this.options, Math.random())),
          lastStatus: attempt.status,
          lastError: attempt.error,
        };
      }
    }
    const [row] = await db
      .update(webhooks)
      .set({ ...change, lastDeliveryAt: now, leaseUntil: this.leaseUntil() })
      .where(and(this.mine(), eq(webhooks.enabled, true)))
      .returning();
    return row;
  }
}

/** Pings go to their own webhook only, whatever it subscribed to. */
function wants(webhook: Webhook, event: LoggedEvent): boolean {
  if (event.type === 'ping') return (event.data as { webhook?: unknown } | null)?.webhook === webhook.id;
  return webhook.eventTypes.includes('*') || webhook.eventTypes.includes(event.type);
}

/** An error as a short line for `lastError`: fetch's own says only "fetch failed", its cause says why. */
function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  if (cause !== undefined && typeof cause.message === 'string') return cause.message.slice(0, 500);
  return (error instanceof Error ? error.message : String(error)).slice(0, 500);
}
