/**
 * Wakes whatever follows the event log in this process (webhook delivery, `GET /events`) when
 * any collector on the database commits events: one LISTEN per process. A NOTIFY says only
 * "there is more"; listeners read the log from where they are. A poll now and then covers a
 * notification lost while the listening connection was being re-established.
 */
import { EventEmitter } from 'node:events';
import type { DatabaseHandle } from '../db/database.js';
import { EVENTS_CHANNEL } from './event-log.js';

/** Listeners are also woken this often, whatever arrives. */
const POLL_MS = 2_000; // 2 s

export class EventHub {
  private readonly emitter = new EventEmitter();
  private unlisten: (() => Promise<void>) | undefined;
  private readonly poller: NodeJS.Timeout;

  private constructor() {
    this.emitter.setMaxListeners(0);
    this.poller = setInterval(() => this.wake(), POLL_MS);
    this.poller.unref();
  }

  static async start(database: DatabaseHandle): Promise<EventHub> {
    const hub = new EventHub();
    hub.unlisten = await database.listen(EVENTS_CHANNEL, () => hub.wake());
    return hub;
  }

  /** Called after this process committed events: no need to wait for the NOTIFY's round trip. */
  wake(): void {
    this.emitter.emit('wake');
  }

  /** `onWake` runs on every wake-up until the returned function is called. */
  subscribe(onWake: () => void): () => void {
    this.emitter.on('wake', onWake);
    return () => this.emitter.off('wake', onWake);
  }

  async close(): Promise<void> {
    clearInterval(this.poller);
    this.emitter.removeAllListeners();
    await this.unlisten?.();
  }
}
