/**
 * `GET /events` (Server-Sent Events) read with fetch, not EventSource: EventSource sends no
 * Authorization header, and the token must not go in a URL where logs and proxies keep it.
 * Frames are parsed as the HTML standard says (@ipwarden/client's EventStreamParser, the CLI's
 * too). On a dropped connection it comes back with Last-Event-ID, so the collector replays what
 * was missed.
 */
import { EventStreamParser } from '@ipwarden/client/event-stream';
import { API } from './api.js';

export interface LiveEvent {
  id: number;
  type: string;
  at: string;
  data: Record<string, unknown>;
}

type Listener = (event: LiveEvent) => void;
export type LiveState = 'connecting' | 'live' | 'down';

export class LiveEvents {
  private readonly listeners = new Set<Listener>();
  private readonly stateListeners = new Set<(state: LiveState) => void>();
  private readonly abort = new AbortController();
  private lastEventId = '';
  state: LiveState = 'connecting';

  constructor(private readonly token: string) {
    void this.run();
  }

  /** Calls `listener` with each event whose type starts with one of `prefixes` ("conflict."). */
  on(prefixes: readonly string[], listener: Listener): () => void {
    const filtered: Listener = (event) => {
      if (prefixes.some((prefix) => event.type.startsWith(prefix))) listener(event);
    };
    this.listeners.add(filtered);
    return () => this.listeners.delete(filtered);
  }

  onState(listener: (state: LiveState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  close(): void {
    this.abort.abort();
  }

  private setState(state: LiveState): void {
    this.state = state;
    for (const listener of this.stateListeners) listener(state);
  }

  private async run(): Promise<void> {
    let delay = 1_000;
    while (!this.abort.signal.aborted) {
      try {
        const headers: Record<string, string> = { authorization: `Bearer ${this.token}`, accept: 'text/event-stream' };
        if (this.lastEventId !== '') headers['last-event-id'] = this.lastEventId;
        const response = await fetch(`${API}/events`, { headers, signal: this.abort.signal });
        if (!response.ok || response.body === null) throw new Error(`GET /events: ${response.status}`);
        this.setState('live');
        delay = 1_000;
        await this.read(response.body);
      } catch {
        if (this.abort.signal.aborted) return;
      }
      this.setState('down');
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 30_000);
    }
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const reader = body.getReader();
    // The ID carried over: a stream that comes back resumes where the last one stopped.
    const parser = new EventStreamParser({ lastEventId: this.lastEventId });
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      for (const { data, lastEventId } of parser.push(value)) {
        // Past it whatever happens below: an event that cannot be read is not asked for again.
        this.lastEventId = lastEventId;
        let event: LiveEvent;
        try {
          event = JSON.parse(data) as LiveEvent;
        } catch {
          continue;
        }
        for (const listener of this.listeners) {
          try {
            listener(event);
          } catch (error) {
            console.error('live event listener failed', error);
          }
        }
      }
      // Moved by an id alone too: the collector names where a stream without Last-Event-ID starts.
      this.lastEventId = parser.lastEventId;
    }
  }
}
