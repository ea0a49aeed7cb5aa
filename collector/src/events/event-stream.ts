/**
 * The fan-out behind `GET /events` (API.md, "Conflicts and alerts"): however many clients
 * follow the log, each wake-up of the hub costs one read of it, which every live subscription
 * takes its share of. A client coming back with Last-Event-ID first catches up on its own reads
 * of the stored events until it reaches the shared read's place, and only then joins it: no gap
 * (the settled log only grows at its end, event-log.ts) and no repeat (each subscription keeps
 * its own position and is given only what comes after it).
 */
import type { Database } from '../db/database.js';
import type { EventHub } from './event-hub.js';
import { endOfLog, isAfter, type LoggedEvent, type LogPosition, positionOf, readLog } from './event-log.js';

/** Events read at a time, by the shared read and by a catch-up. */
const PAGE = 500;

export interface EventStreamOptions {
  /** How often an open stream carries a comment, so that proxies keep it open. */
  heartbeatMs: number;
}

export const DEFAULT_EVENT_STREAM: EventStreamOptions = { heartbeatMs: 15_000 }; // 15 s

export interface SubscriptionOptions {
  /** The last event the client has (Last-Event-ID); undefined: only events from now on. */
  afterId?: number;
  /** The event types wanted; undefined: all. */
  types?: ReadonlySet<string>;
  /**
   * Called once, before any event, for a subscription without `afterId`: the id of the last
   * event before its start, which the client gives back as Last-Event-ID if it must reconnect
   * before any event reached it — or it would miss what came meanwhile.
   */
  start?(afterId: number): void;
  /** Events for the client, in log order. */
  send(events: LoggedEvent[]): void;
  /** The collector is stopping: end the client's stream. */
  end(): void;
}

export interface Subscription {
  /** Settles once the subscription follows the live log (rejects if catching up failed). */
  readonly ready: Promise<void>;
  close(): void;
}

interface Follower {
  position: LogPosition;
  options: SubscriptionOptions;
  closed: boolean;
}

export class EventStream {
  readonly options: EventStreamOptions;
  /** Every subscription, catching up or live. */
  private readonly followers = new Set<Follower>();
  /** The subscriptions the shared read serves. */
  private readonly live = new Set<Follower>();
  /** Where the shared read is; undefined while nobody follows it. */
  private head: LogPosition | undefined;
  private headRead: Promise<LogPosition> | undefined;
  private reading: Promise<void> | undefined;
  private readAgain = false;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly db: Database,
    hub: EventHub,
    options: Partial<EventStreamOptions> = {},
  ) {
    this.options = { ...DEFAULT_EVENT_STREAM, ...options };
    this.unsubscribe = hub.subscribe(() => this.wake());
  }

  open(options: SubscriptionOptions): Subscription {
    const follower: Follower = { position: { tx: 0n, id: 0 }, options, closed: false };
    this.followers.add(follower);
    const close = () => {
      follower.closed = true;
      this.followers.delete(follower);
      this.live.delete(follower);
      // Nobody follows the log: the next subscription starts the shared read afresh at its end.
      if (this.followers.size === 0 && this.reading === undefined) this.head = undefined;
    };
    const ready = this.catchUp(follower).catch((error: unknown) => {
      close();
      throw error;
    });
    return { ready, close };
  }

  /** Ends every stream (the collector is stopping) and stops following the log. */
  close(): void {
    this.unsubscribe();
    for (const follower of [...this.followers]) {
      follower.closed = true;
      follower.options.end();
    }
    this.followers.clear();
    this.live.clear();
  }

  private async catchUp(follower: Follower): Promise<void> {
    const { afterId } = follower.options;
    follower.position = afterId === undefined ? await endOfLog(this.db) : await positionOf(this.db, afterId);
    if (afterId === undefined && !follower.closed) follower.options.start?.(follower.position.id);
    await this.ensureHead();
    // The shared read may move on while this reads: read until at or past where it is, then
    // join it with no await between the check and the join.
    while (!follower.closed && this.head !== undefined && isAfter(this.head, follower.position)) {
      const page = await readLog(this.db, follower.position, PAGE);
      if (follower.closed) return;
      if (page.length === 0) break; // nothing stands between (a forged id far ahead)
      this.hand(follower, page);
    }
    if (follower.closed) return;
    if (this.head === undefined) {
      // Everyone left while this one read: start the shared read from here.
      this.head = follower.position;
    }
    this.live.add(follower);
  }

  private async ensureHead(): Promise<void> {
    if (this.head !== undefined) return;
    this.headRead ??= endOfLog(this.db).finally(() => {
      this.headRead = undefined;
    });
    const head = await this.headRead;
    this.head ??= head;
  }

  /** Gives `follower` what of `events` comes after its position and it wants; moves it on. */
  private hand(follower: Follower, events: readonly LoggedEvent[]): void {
    const { types } = follower.options;
    const wanted = events.filter(
      (event) =>
        isAfter(event.position, follower.position) &&
        event.type !== 'ping' && // a webhook's test delivery, for that webhook alone
        (types === undefined || types.has(event.type)),
    );
    const last = events.at(-1);
    if (last !== undefined && isAfter(last.position, follower.position)) follower.position = last.position;
    if (wanted.length > 0) follower.options.send(wanted);
  }

  private wake(): void {
    if (this.reading !== undefined) {
      this.readAgain = true;
      return;
    }
    if (this.live.size === 0 || this.head === undefined) return;
    this.reading = (async () => {
      do {
        this.readAgain = false;
        let page: LoggedEvent[];
        do {
          page = await readLog(this.db, this.head!, PAGE);
          const last = page.at(-1);
          if (last !== undefined) this.head = last.position;
          for (const follower of this.live) this.hand(follower, page);
        } while (page.length === PAGE && this.live.size > 0);
      } while (this.readAgain && this.live.size > 0);
    })()
      .catch(() => {
        // The database is away: the next wake-up (at the latest the hub's poll) reads again.
      })
      .finally(() => {
        this.reading = undefined;
        if (this.live.size === 0 && this.followers.size === 0) this.head = undefined;
      });
  }
}
