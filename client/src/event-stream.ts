/**
 * Reading `GET /events` (API.md, "Events"): a Server-Sent Events stream parsed as the HTML
 * standard's "Server-sent events" section, 9.2.6 "Interpreting an event stream", says — lines
 * ended by CRLF, LF or CR, a leading byte order mark ignored, fields up to the first colon with
 * one optional space after it, `data` lines joined by LF, a comment line (the collector's
 * heartbeat) ignored, a blank line dispatching the event. The one parser of the CLI's `events`,
 * the dashboard, the tests and the benchmarks; pure (text in, events out), so that each reads
 * the bytes its own way (fetch in Node and in browsers alike).
 */

/** One event of the stream. */
export interface ServerSentEvent {
  /** Its `event` field; "message" without one. */
  type: string;
  /** Its `data` lines, joined by LF: for the collector, the event as webhooks carry it (JSON). */
  data: string;
  /** The last event ID as of this event: what to send back in Last-Event-ID on reconnecting. */
  lastEventId: string;
}

const LF = 10;
const SPACE = 32;

export class EventStreamParser {
  // The BOM is the parser's to drop, once: a decoder left to itself would take one more.
  private readonly decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  private atStart = true;
  /** The previous chunk ended with CR: an LF first in this one is the rest of a CRLF. */
  private afterCr = false;
  /** The text after the last complete line. */
  private rest = '';
  private type = '';
  private data = '';
  private idBuffer: string;
  private last: string;
  /** The `retry` field's reconnection time, once the server sent one. */
  retryMs: number | undefined;

  private readonly onComment: ((comment: string) => void) | undefined;

  /**
   * `lastEventId`: the ID a client resumes from (it sent it as Last-Event-ID). `onComment`: hears
   * each comment line (the collector's heartbeat), which carries no event.
   */
  constructor({ lastEventId = '', onComment }: { lastEventId?: string; onComment?: (comment: string) => void } = {}) {
    this.idBuffer = lastEventId;
    this.last = lastEventId;
    this.onComment = onComment;
  }

  /** The last event ID so far: what to send back in Last-Event-ID on reconnecting. */
  get lastEventId(): string {
    return this.last;
  }

  /** The events that `chunk` (bytes of UTF-8, or text) completes, in order. */
  push(chunk: Uint8Array | string): ServerSentEvent[] {
    let text = typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    if (text === '') return [];
    if (this.atStart) {
      this.atStart = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (this.afterCr) {
      this.afterCr = false;
      if (text.charCodeAt(0) === LF) text = text.slice(1);
    }
    const buffer = this.rest === '' ? text : this.rest + text;
    const events: ServerSentEvent[] = [];
    let start = 0;
    // Each kind of line end searched for once per line it ends, not once per line: a stream
    // without CRs (the collector's) is not scanned to its end for one at every line; nor is the
    // unfinished line of before, which holds neither, scanned again.
    let lf = buffer.indexOf('\n', this.rest.length);
    let cr = buffer.indexOf('\r', this.rest.length);
    while (lf >= 0 || cr >= 0) {
      const end = lf < 0 ? cr : cr < 0 ? lf : Math.min(lf, cr);
      this.line(buffer.slice(start, end), events);
      start = end + 1;
      if (end === cr) {
        if (start === buffer.length) this.afterCr = true;
        else if (buffer.charCodeAt(start) === LF) start++;
      }
      if (lf >= 0 && lf < start) lf = buffer.indexOf('\n', start);
      if (cr >= 0 && cr < start) cr = buffer.indexOf('\r', start);
    }
    this.rest = buffer.slice(start);
    return events;
  }

  private line(line: string, events: ServerSentEvent[]): void {
    if (line === '') {
      this.dispatch(events);
      return;
    }
    const colon = line.indexOf(':');
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === SPACE) value = value.slice(1);
    switch (colon === 0 ? '' : colon < 0 ? line : line.slice(0, colon)) {
      case '': // a comment
        this.onComment?.(value);
        break;
      case 'event':
        this.type = value;
        break;
      case 'data':
        this.data += `${value}\n`;
        break;
      case 'id':
        if (!value.includes('\u0000')) this.idBuffer = value;
        break;
      case 'retry':
        if (/^[0-9]+$/.test(value)) this.retryMs = Number(value);
        break;
      // Any other field is ignored.
    }
  }

  private dispatch(events: ServerSentEvent[]): void {
    this.last = this.idBuffer;
    if (this.data !== '') {
      events.push({
        type: this.type === '' ? 'message' : this.type,
        data: this.data.slice(0, -1),
        lastEventId: this.last,
      });
    }
    this.type = '';
    this.data = '';
  }
}
