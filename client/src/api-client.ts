/**
 * The IPAM API over HTTP (API.md): bearer token, JSON bodies, RFC 9457 problems. A 4xx answer
 * becomes an ApiProblem (the person's input was refused), anything else that is not a success a
 * ServerError naming the server.
 */
import { ApiProblem, type FieldError, ServerError } from './errors.js';
import { EventStreamParser, type ServerSentEvent } from './event-stream.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface Request {
  method: Method;
  /** Below /api/v1, its segments already encoded. */
  path: string;
  /** Parameters left undefined are not sent. */
  query?: Record<string, string | undefined>;
  /** Sent as JSON. */
  body?: unknown;
}

/** A page of a list (API.md, "Lists"). */
export interface Page {
  items: unknown[];
  nextCursor: string | null;
}

/** The text's JSON, or undefined if it is none. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Why a request never got an answer: fetch hides the socket's error in its cause. */
function reason(error: unknown): string {
  if ((error as Error).name === 'TimeoutError') return 'no answer in time (--timeout)';
  const cause = (error as { cause?: { message?: string } }).cause;
  // fetch refuses the ports of the WHATWG's list (9, 25, 6000, 6665-6669, ...) without trying.
  if (cause?.message === 'bad port') return 'fetch refuses to connect to this port (the WHATWG bad-port list)';
  return cause?.message ?? (error as Error).message;
}

/** A stream silent this long is taken for dead: three of the collector's heartbeats missed. */
const STREAM_SILENCE_MS = 45_000; // 45 s

export class ApiClient {
  constructor(
    readonly server: string,
    private readonly token: string | undefined,
    private readonly timeoutMs: number,
  ) {}

  /** The answer's JSON, or undefined for 204 No Content. */
  async send({ method, path, query = {}, body }: Request): Promise<unknown> {
    const url = this.url(path, query);
    const headers = this.headers('application/json, application/problem+json');
    if (body !== undefined) headers['content-type'] = 'application/json';
    let status: number;
    let text: string;
    try {
      const response = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      status = response.status;
      text = await response.text();
    } catch (error) {
      throw new ServerError(`cannot reach ${this.server}: ${reason(error)}`);
    }
    const json = parseJson(text);
    if (status >= 200 && status < 300) {
      if (status === 204 || text === '') return undefined;
      if (json === undefined)
        throw new ServerError(`${this.server} answered ${method} ${path} with something not JSON`);
      return json;
    }
    throw this.refusal(method, path, status, json);
  }

  /**
   * The events of `GET /events` (a Server-Sent Events stream), as they come, until the stream
   * ends; from after `lastEventId` when given (the collector first replays what came since).
   * `resumeFrom` hears the stream's last event ID once each chunk's events were taken — also
   * when only an id came, as the collector sends first to a client without one. The answer's
   * head must come within the timeout; then the events whenever they happen, but something
   * (the collector's heartbeat comment, every 15 s) at least every STREAM_SILENCE_MS.
   */
  async *follow(
    { path, query = {} }: Request,
    lastEventId: string | undefined,
    resumeFrom: (lastEventId: string) => void = () => {},
  ): AsyncGenerator<ServerSentEvent> {
    const url = this.url(path, query);
    const headers = this.headers('text/event-stream, application/problem+json');
    if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
    // Not AbortSignal.timeout: it would cut the stream itself once the time is up.
    const abort = new AbortController();
    let timer = setTimeout(() => abort.abort(new DOMException('no answer', 'TimeoutError')), this.timeoutMs);
    try {
      let response: Response;
      try {
        response = await fetch(url, { headers, signal: abort.signal });
      } catch (error) {
        throw new ServerError(`cannot reach ${this.server}: ${reason(error)}`);
      }
      if (response.status !== 200 || response.body === null) {
        // Still under the timeout: a head then nothing is no answer either.
        const text = await response.text().catch(() => '');
        throw this.refusal('GET', path, response.status, parseJson(text));
      }
      if (!/^text\/event-stream\b/.test(response.headers.get('content-type') ?? '')) {
        throw new ServerError(`${this.server} answered GET ${path} with something not an event stream`);
      }
      const parser = new EventStreamParser({ lastEventId });
      const silent = () => {
        clearTimeout(timer);
        timer = setTimeout(() => abort.abort(new Error('silent')), STREAM_SILENCE_MS);
      };
      silent();
      try {
        for await (const chunk of response.body) {
          silent();
          yield* parser.push(chunk);
          if (parser.lastEventId !== '') resumeFrom(parser.lastEventId);
        }
      } catch (error) {
        const why = abort.signal.aborted ? `nothing for ${STREAM_SILENCE_MS / 1000} s` : reason(error);
        throw new ServerError(`${this.server} closed ${path}: ${why}`);
      }
    } finally {
      clearTimeout(timer);
    }
  }

  private headers(accept: string): Record<string, string> {
    const headers: Record<string, string> = { accept };
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`;
    return headers;
  }

  private url(path: string, query: Record<string, string | undefined>): URL {
    const url = new URL(`${this.server}/api/v1${path}`);
    for (const [name, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(name, value);
    return url;
  }

  /** A failed answer as the error it is: an ApiProblem for a 4xx, a ServerError for the rest. */
  private refusal(method: Method, path: string, status: number, json: unknown): Error {
    const problem = (typeof json === 'object' && json !== null ? json : {}) as {
      code?: unknown;
      detail?: unknown;
      errors?: unknown;
    };
    const code = typeof problem.code === 'string' ? problem.code : `http-${status}`;
    const detail = typeof problem.detail === 'string' ? problem.detail : `${method} ${path} answered ${status}`;
    if (status >= 400 && status < 500) {
      const errors = Array.isArray(problem.errors) ? (problem.errors as FieldError[]) : [];
      return new ApiProblem(status, code, detail, errors);
    }
    return new ServerError(`${this.server} failed (${status} ${code}): ${detail}`);
  }

  /** Every item of a list, following nextCursor to the end, as one page. */
  async all(request: Request): Promise<Page> {
    const items: unknown[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = (await this.send({ ...request, query: { ...request.query, cursor } })) as Page;
      if (!Array.isArray(page?.items)) throw new ServerError(`${this.server} answered ${request.path} without items`);
      items.push(...page.items);
      if (page.nextCursor === null || page.nextCursor === undefined) return { items, nextCursor: null };
      // A server that hands back the cursor it was given would keep us here for ever.
      if (page.nextCursor === cursor) throw new ServerError(`${this.server} repeated the cursor of ${request.path}`);
      cursor = page.nextCursor;
    }
  }
}
