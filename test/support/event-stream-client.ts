/**
 * `GET /events` read as a client would, over a real HTTP connection: Server-Sent Events frames
 * parsed as they arrive, for tests that wait for an event the system under test emits.
 */
import { StringDecoder } from 'node:string_decoder';
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
    const decoder = new StringDecoder('utf8');
    let buffer = '';
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        buffer += decoder.write(value);
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields = new Map(
            frame
              .split('\n')
              .filter((line) => !line.startsWith(':'))
              .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trim()]),
          );
          if (fields.has('data')) {
            this.events.push({
              id: Number(fields.get('id')),
              type: fields.get('event')!,
              data: JSON.parse(fields.get('data')!),
            });
          }
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
