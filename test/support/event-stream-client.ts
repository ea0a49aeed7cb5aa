/**
 * `GET /events` read as a client would, over a real HTTP connection: Server-Sent Events frames
 * parsed as they arrive (client/src/event-stream.ts), for tests that wait for an event the system under test emits.
 */
import { EventStreamParser } from '@ipwarden/client/event-stream';
import { expect } from 'vitest';

/** One frame of the stream: its id, its type, and the event as webhooks carry it. */
export interface StreamEvent<T = Record<string, unknown>> {
  id: number;
  type: string;
  data: { id: number; type: string; data: T };
}

/** `GET /events` read as a client would: frames parsed as they arrive. */
export class EventStreamClient<T = Record<string, unknown>> {
  readonly events: StreamEvent<T>[] = [];
  private readonly abort = new AbortController();

  static async open<T = Record<string, unknown>>(url: string, token: string): Promise<EventStreamClient<T>> {
    const client = new EventStreamClient<T>();
    const response = await fetch(`${url}/api/v1/events`, {
      headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
      signal: client.abort.signal,
    });
    expect(response.status).toBe(200);
    void client.read(response.body!.getReader());
    return client;
  }

  private async read(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
    const parser = new EventStreamParser();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        for (const event of parser.push(value)) {
          this.events.push({ id: Number(event.lastEventId), type: event.type, data: JSON.parse(event.data) });
        }
      }
    } catch {
      // Aborted at the end of the test.
    }
  }

  close(): void {
    this.abort.abort();
  }
}
