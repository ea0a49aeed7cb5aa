/**
 * The uplink (DESIGN.md, "The agent", point 5): one WebSocket to the collector at
 * `ws(s)://host:port/agent/v1`, which carries the outbox's batches and brings back acks and
 * configuration.
 *
 * - Sightings are gathered into batches (by count, or a few ms after the first) and written to
 *   the outbox before anything is sent: a batch leaves the outbox only when acked.
 * - After `hello` and the collector's `welcome` (which says what it has stored), the pending
 *   batches go out in seq order, at most `window` unacked at a time and never while the socket
 *   holds more than `highWaterBytes` unsent: a slow collector slows the agent's sending, not
 *   its memory.
 * - Every message received is checked against the protocol's schema; one that fails is a
 *   protocol error: the uplink closes with the catalogue's close code and connects again.
 * - Lost connections are retried with full-jitter exponential backoff, going through the
 *   collector URLs in turn (failover).
 */
import {
  AGENT_PATH,
  type AgentConfig as CollectorConfig,
  type CollectorMessage,
  type DhcpApplied,
  type DhcpDrift,
  type DhcpFailed,
  type DhcpMap,
  type DhcpMapChange,
  decodeAgentMessage,
  decodeCollectorMessage,
  encodeMessage,
  type Hello,
  MAX_MESSAGE_BYTES,
  PROTOCOL_VERSION,
  ProtocolError,
  type ProtocolErrorCode,
  protocolError,
  type SightingItem,
  type Stats,
  type Welcome,
} from '@ipwarden/protocol';
import WebSocket from 'ws';
import type { Outbox } from './outbox.js';
import type { Credential, Credentials } from './token-store.js';

export const DEFAULT_BATCH_ITEMS = 1000; // sightings
export const DEFAULT_FLUSH_DELAY_MS = 5; // 5 ms
export const DEFAULT_WINDOW = 64; // batches sent and not yet acked
/**
 * With this many batches unacked the collector is busy: a due batch waits for an ack (up to
 * MAX_HOLD_MS) and takes in what arrives meanwhile, so that batches grow with the load instead
 * of the collector's transactions multiplying — Nagle's idea (RFC 896) for sightings.
 */
const BUSY_IN_FLIGHT = 2;
const MAX_HOLD_MS = 100; // 100 ms
export const DEFAULT_HIGH_WATER_BYTES = 4 * 1024 * 1024; // 4 MiB
export const DEFAULT_BACKOFF: Backoff = { initialMs: 250, maxMs: 30_000 }; // 250 ms doubling to 30 s
const HANDSHAKE_TIMEOUT_MS = 10_000; // 10 s for TCP, TLS and the HTTP upgrade
const DEFAULT_WELCOME_TIMEOUT_MS = 10_000; // 10 s from hello to welcome
const DEFAULT_PING_INTERVAL_MS = 30_000; // 30 s
const CLOSE_GRACE_MS = 1000; // 1 s for the collector to answer a close frame

export interface Backoff {
  /** Bound of the first wait, in ms; it doubles with every failed attempt. */
  initialMs: number;
  /** Largest bound, in ms. */
  maxMs: number;
}

/** What the agent says in `hello` besides the protocol version and its last seq. */
export type HelloFields = Omit<Hello, 'type' | 'protocol' | 'lastSeq'>;

export interface UplinkOptions {
  /** Collector origins (`http(s)://host:port`), tried in turn. */
  collectors: readonly string[];
  credentials: Credentials;
  outbox: Outbox;
  /** Called for every connection: interfaces and addresses may have changed since the last. */
  hello: () => HelloFields;
  /** One line per event, without a timestamp. */
  log: (message: string) => void;
  /**
   * The collector's configuration: whole from `welcome` (`whole` true: a setting left out, as
   * `watch`, is unset), the changed settings from `config` (one left out is unchanged).
   */
  onConfig?: (config: Partial<CollectorConfig>, whole: boolean) => void;
  /** A DHCP host map for this agent; without a handler it is logged and left alone. */
  onDhcpMap?: (map: DhcpMap | DhcpMapChange) => void;
  /** The outbox cannot be written: the sightings of the batch are lost, and so is durability. */
  onFatal?: (error: Error) => void;
  /** PEM certificates to trust for `wss://`, instead of the system's. */
  ca?: string | Buffer;
  /** Sightings per batch at most (default 1000). */
  batchItems?: number;
  /** How long the first sighting of a batch waits for more, in ms (default 5). */
  flushDelayMs?: number;
  /** Batches sent and not yet acked, at most (default 64). */
  window?: number;
  /** No batch is sent while the socket holds more unsent bytes than this (default 4 MiB). */
  highWaterBytes?: number;
  backoff?: Backoff;
  /** Uniform in [0, 1): the jitter of the backoff. */
  random?: () => number;
  /** How long to wait for `welcome` after `hello`, in ms (default 10 s). */
  welcomeTimeoutMs?: number;
  /** How often to ping the collector, in ms; a collector that has not answered the last ping by the next is gone (default 30 s). */
  pingIntervalMs?: number;
}

export interface UplinkCounters {
  /** Sightings submitted. */
  submitted: number;
  /** Sightings dropped before the outbox because the collector would refuse them (bug guard). */
  refused: number;
  /** Batches sent, replays included. */
  sent: number;
  /** Connections that got a welcome. */
  welcomes: number;
}

/** The agent's WebSocket URL for a collector origin: `https://c:8443` → `wss://c:8443/agent/v1`. */
export function collectorUrl(origin: string): string {
  const url = new URL(origin);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.pathname = AGENT_PATH;
  url.search = '';
  url.hash = '';
  return url.href;
}

/**
 * The wait before reconnection attempt `attempt` (0 for the first): "full jitter", uniform
 * between 0 and the exponential bound, so that agents cut off together do not come back
 * together (AWS Architecture Blog, "Exponential Backoff and Jitter").
 */
export function backoffDelay(attempt: number, random: number, backoff: Backoff = DEFAULT_BACKOFF): number {
  const bound = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(attempt, 52));
  return Math.floor(random * bound);
}

/** A close reason fits a control frame: 123 bytes of UTF-8 at most (RFC 6455 5.5, 5.5.1). */
function closeReason(text: string): string {
  let reason = text;
  while (Buffer.byteLength(reason) > 123) reason = reason.slice(0, -1);
  return reason;
}

/**
 * One log line per event, whatever the collector sends: control characters in its text (error
 * messages, close reasons, names) are shown escaped, so they can neither break the line nor
 * forge another.
 */
function oneLine(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function messageText(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data).toString('utf8');
}

/** One attempt to talk to one collector, from the upgrade request to the close. */
interface Connection {
  ws: WebSocket;
  url: string;
  credential: Credential | undefined;
  opened: boolean;
  welcomed: boolean;
  /** The uplink closed it for a protocol error: what still arrives is ignored. */
  dropped: boolean;
  /** HTTP status of a refused upgrade. */
  status: number | undefined;
  /** Why the connection failed, from the socket's error. */
  failure: string | undefined;
  /** The outbox's last seq when hello was sent. */
  helloSeq: number;
  /** Highest seq sent on this connection (from welcome: what the collector holds). */
  sentThrough: number;
  /** Seqs sent and not yet acked, in order. */
  inFlight: number[];
  /** Something arrived since the last ping. */
  alive: boolean;
  welcomeTimer: NodeJS.Timeout | undefined;
  /** Every timer of the connection, cleared when it closes. */
  timers: NodeJS.Timeout[];
}

export class Uplink {
  readonly counters: UplinkCounters = { submitted: 0, refused: 0, sent: 0, welcomes: 0 };
  private readonly urls: string[];
  private readonly batchItems: number;
  private readonly flushDelayMs: number;
  private readonly window: number;
  private readonly highWaterBytes: number;
  private readonly backoff: Backoff;
  private readonly random: () => number;
  private readonly welcomeTimeoutMs: number;
  private readonly pingIntervalMs: number;
  private buffer: SightingItem[] = [];
  /** When the first sighting of the buffer came (performance.now()). */
  private bufferedSince = 0;
  private flushTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private connection: Connection | undefined;
  private urlIndex = 0;
  /** Failed attempts since the last welcome: the exponent of the backoff. */
  private attempt = 0;
  /** The count the last welcome reset, in case its connection turns out not to be healthy. */
  private attemptBeforeWelcome = 0;
  private started = false;
  private closing = false;
  private idleWaiters: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];

  constructor(private readonly options: UplinkOptions) {
    if (options.collectors.length === 0) throw new Error('the uplink needs at least one collector URL');
    this.urls = options.collectors.map(collectorUrl);
    this.batchItems = options.batchItems ?? DEFAULT_BATCH_ITEMS;
    this.flushDelayMs = options.flushDelayMs ?? DEFAULT_FLUSH_DELAY_MS;
    this.window = options.window ?? DEFAULT_WINDOW;
    this.highWaterBytes = options.highWaterBytes ?? DEFAULT_HIGH_WATER_BYTES;
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.random = options.random ?? Math.random;
    this.welcomeTimeoutMs = options.welcomeTimeoutMs ?? DEFAULT_WELCOME_TIMEOUT_MS;
    this.pingIntervalMs = options.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS;
  }

  private log(message: string): void {
    this.options.log(oneLine(message));
  }

  /** Connects to the first collector; from then on the uplink keeps itself connected. */
  start(): void {
    if (this.started || this.closing) return;
    this.started = true;
    this.connect();
  }

  /** Takes one sighting; it reaches the outbox with its batch, by count or after the flush delay. */
  submit(item: SightingItem): void {
    this.counters.submitted++;
    if (this.buffer.length === 0) this.bufferedSince = performance.now();
    this.buffer.push(item);
    if (this.buffer.length >= this.batchItems) this.flush();
    else this.flushTimer ??= setTimeout(() => this.flushWhenDue(), this.flushDelayMs);
  }

  /** The flush delay is over: flush, unless the collector is busy and the batch may still grow. */
  private flushWhenDue(): void {
    this.flushTimer = undefined;
    if (this.busy() && performance.now() - this.bufferedSince < MAX_HOLD_MS) {
      this.flushTimer = setTimeout(() => this.flushWhenDue(), this.flushDelayMs);
      return;
    }
    this.flush();
  }

  private busy(): boolean {
    const connection = this.connection;
    return connection?.welcomed === true && connection.inFlight.length >= BUSY_IN_FLIGHT;
  }

  /** Writes what is buffered to the outbox now, and sends it if the collector is there. */
  flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.buffer.length > 0) {
      const items = this.buffer;
      this.buffer = [];
      try {
        this.store(items);
      } catch (error) {
        this.log(`cannot write the outbox: ${(error as Error).message}`);
        this.options.onFatal?.(error as Error);
      }
      if (this.connection !== undefined) this.pump(this.connection);
    }
    this.checkIdle();
  }

  /** Sends the agent's counters, if the collector has welcomed it; false otherwise. */
  sendStats(stats: Omit<Stats, 'type'>): boolean {
    return this.sendNow({ type: 'stats', ...stats });
  }

  /**
   * Says how applying a DHCP map went, if the collector has welcomed it; false otherwise (the
   * next connection's welcome brings the map again, and the answer then).
   */
  sendDhcp(report: DhcpApplied | DhcpFailed | DhcpDrift): boolean {
    return this.sendNow(report);
  }

  private sendNow(message: Stats | DhcpApplied | DhcpFailed | DhcpDrift): boolean {
    const connection = this.connection;
    if (connection === undefined || !connection.welcomed || connection.ws.readyState !== WebSocket.OPEN) return false;
    connection.ws.send(encodeMessage(message));
    return true;
  }

  /** Resolves once nothing is buffered and the collector has acked every batch of the outbox. */
  idle(): Promise<void> {
    if (this.closing) return Promise.reject(new Error('the uplink is closed'));
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve, reject) => this.idleWaiters.push({ resolve, reject }));
  }

  /**
   * Writes what is buffered to the outbox, closes the connection normally (1000) and stops
   * reconnecting. What the collector has not acked stays in the outbox for the next run.
   */
  async close(): Promise<void> {
    if (this.closing) return;
    this.flush();
    this.closing = true;
    clearTimeout(this.retryTimer);
    for (const waiter of this.idleWaiters.splice(0)) waiter.reject(new Error('the uplink was closed'));
    const connection = this.connection;
    if (connection === undefined || connection.ws.readyState === WebSocket.CLOSED) return;
    const ws = connection.ws;
    await new Promise<void>((resolve) => {
      ws.once('close', () => resolve());
      if (ws.readyState === WebSocket.OPEN) {
        ws.close(1000, 'agent stopping');
        // The collector should answer the close frame (RFC 6455 5.5.1); it is not waited for long.
        connection.timers.push(setTimeout(() => ws.terminate(), CLOSE_GRACE_MS));
      } else {
        ws.terminate();
      }
    });
  }

  /**
   * Writes one batch to the outbox, checked first as the collector will check it: a batch it
   * refuses would come back after every reconnection and hold up every batch behind it. A
   * batch too large for one message is split; from one the collector would refuse, only the
   * sightings at fault are dropped.
   */
  private store(items: SightingItem[]): void {
    const refusal = this.refusal(items);
    if (refusal === undefined) {
      this.options.outbox.append(items);
    } else if (refusal.error === ProtocolError.MESSAGE_TOO_LARGE.code && items.length > 1) {
      const half = Math.ceil(items.length / 2);
      this.store(items.slice(0, half));
      this.store(items.slice(half));
    } else {
      const kept = this.acceptable(items, refusal);
      if (kept.length > 0) this.store(kept);
    }
  }

  /** The items the collector would take, found by halving; the others are counted and logged. */
  private acceptable(items: SightingItem[], refusal = this.refusal(items)): SightingItem[] {
    if (refusal === undefined) return items;
    if (items.length === 1) {
      this.counters.refused++;
      this.log(`dropped a sighting the collector would refuse (${refusal.error}: ${refusal.detail})`);
      return [];
    }
    const half = Math.ceil(items.length / 2);
    return [...this.acceptable(items.slice(0, half)), ...this.acceptable(items.slice(half))];
  }

  /** Why the collector would refuse a batch of `items`, or undefined. */
  private refusal(items: SightingItem[]): { error: ProtocolErrorCode; detail: string } | undefined {
    // The largest seq, so that the size checked is the largest the batch can have on the wire.
    const text = encodeMessage({ type: 'sightings', seq: Number.MAX_SAFE_INTEGER, items });
    const bytes = Buffer.byteLength(text);
    if (bytes > MAX_MESSAGE_BYTES) return { error: ProtocolError.MESSAGE_TOO_LARGE.code, detail: `${bytes} bytes` };
    const decoded = decodeAgentMessage(text);
    return decoded.ok ? undefined : decoded;
  }

  private isIdle(): boolean {
    return this.buffer.length === 0 && this.options.outbox.next(0) === undefined;
  }

  private checkIdle(): void {
    if (this.idleWaiters.length === 0 || !this.isIdle()) return;
    for (const waiter of this.idleWaiters.splice(0)) waiter.resolve();
  }

  private connect(): void {
    this.retryTimer = undefined;
    const url = this.urls[this.urlIndex]!;
    const credential = this.options.credentials.current();
    const ws = new WebSocket(url, {
      headers: credential === undefined ? {} : { Authorization: `Bearer ${credential.bearer}` },
      ca: this.options.ca,
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      maxPayload: MAX_MESSAGE_BYTES,
      // JSON over datacenter links: compression would cost more CPU and per-socket memory than it saves.
      perMessageDeflate: false,
    });
    const connection: Connection = {
      ws,
      url,
      credential,
      opened: false,
      welcomed: false,
      dropped: false,
      status: undefined,
      failure: undefined,
      helloSeq: 0,
      sentThrough: 0,
      inFlight: [],
      alive: true,
      welcomeTimer: undefined,
      timers: [],
    };
    this.connection = connection;
    // A refused upgrade (401 for a bad token) is an HTTP answer, not a WebSocket: keep its status.
    ws.on('unexpected-response', (_request, response) => {
      connection.status = response.statusCode;
      ws.terminate();
    });
    ws.on('error', (error) => {
      connection.failure ??= error.message;
    });
    ws.on('open', () => this.opened(connection));
    ws.on('message', (data, isBinary) => this.received(connection, data, isBinary));
    ws.on('pong', () => {
      connection.alive = true;
    });
    ws.on('close', (code, reason) => this.closed(connection, code, reason.toString('utf8')));
  }

  private opened(connection: Connection): void {
    const { ws, url } = connection;
    connection.opened = true;
    this.log(`connected to ${url}`);
    connection.helloSeq = this.options.outbox.lastSeq;
    ws.send(
      encodeMessage({
        type: 'hello',
        protocol: PROTOCOL_VERSION,
        ...this.options.hello(),
        lastSeq: connection.helloSeq,
      }),
    );
    connection.welcomeTimer = setTimeout(() => {
      this.log(`no welcome from ${url} within ${this.welcomeTimeoutMs} ms`);
      ws.terminate();
    }, this.welcomeTimeoutMs);
    connection.timers.push(connection.welcomeTimer);
    // Pings find a collector that vanished without closing (RFC 6455 5.5.2, 5.5.3); acks
    // alone would not while there is nothing to send.
    connection.timers.push(
      setInterval(() => {
        if (!connection.alive) {
          this.log(`${url} stopped answering (no pong within ${this.pingIntervalMs} ms)`);
          ws.terminate();
          return;
        }
        connection.alive = false;
        ws.ping();
      }, this.pingIntervalMs),
    );
  }

  private received(connection: Connection, data: WebSocket.RawData, isBinary: boolean): void {
    if (connection.dropped) return;
    connection.alive = true;
    if (isBinary) {
      this.violation(connection, ProtocolError.MALFORMED_MESSAGE, 'a binary message; the protocol is JSON text');
      return;
    }
    const decoded = decodeCollectorMessage(messageText(data));
    if (!decoded.ok) {
      this.violation(connection, protocolError(decoded.error), decoded.detail);
      return;
    }
    const message: CollectorMessage = decoded.message;
    if (message.type === 'error') {
      this.log(`${connection.url} reports an error: ${message.code}: ${message.message}`);
      return;
    }
    if (message.type === 'welcome') {
      if (connection.welcomed) this.violation(connection, ProtocolError.UNEXPECTED_MESSAGE, 'a second welcome');
      else this.welcomed(connection, message);
      return;
    }
    if (!connection.welcomed) {
      this.violation(connection, ProtocolError.UNEXPECTED_MESSAGE, `${message.type} before welcome`);
      return;
    }
    switch (message.type) {
      case 'ack':
        this.acked(connection, message.seq);
        break;
      case 'config':
        this.options.onConfig?.(message.config, false);
        break;
      case 'dhcpMap':
      case 'dhcpMapChange':
        if (this.options.onDhcpMap !== undefined) this.options.onDhcpMap(message);
        else this.log(`DHCP map version ${message.version} not applied: this agent has no DHCP applier`);
        break;
    }
  }

  private welcomed(connection: Connection, welcome: Welcome): void {
    const outbox = this.options.outbox;
    connection.welcomed = true;
    clearTimeout(connection.welcomeTimer);
    this.counters.welcomes++;
    this.attemptBeforeWelcome = this.attempt;
    this.attempt = 0;
    if (welcome.token !== undefined) {
      try {
        this.options.credentials.save(welcome.token);
        this.log(`enrolled as agent ${welcome.agentId}; its token is stored`);
      } catch (error) {
        this.log(`cannot store the token of agent ${welcome.agentId}: ${(error as Error).message}`);
      }
    }
    if (welcome.lastSeq > connection.helloSeq) {
      this.log(
        `${connection.url} holds batches up to seq ${welcome.lastSeq}, above this outbox's ${connection.helloSeq}: ` +
          'pending batches are numbered anew above it',
      );
      outbox.rebase(welcome.lastSeq);
    } else {
      outbox.ack(welcome.lastSeq);
    }
    connection.sentThrough = welcome.lastSeq;
    this.log(
      `welcomed by ${connection.url} as agent ${welcome.agentId} (stored through seq ${welcome.lastSeq}, ` +
        `${outbox.stats.depth} sightings to send)`,
    );
    this.options.onConfig?.(welcome.config, true);
    this.pump(connection);
    this.checkIdle();
  }

  private acked(connection: Connection, seq: number): void {
    // An ack for a batch never sent would empty the outbox of batches the collector never saw.
    if (seq > connection.sentThrough) {
      this.violation(connection, ProtocolError.UNEXPECTED_MESSAGE, `ack for seq ${seq}, which was not sent`);
      return;
    }
    this.options.outbox.ack(seq);
    while (connection.inFlight.length > 0 && connection.inFlight[0]! <= seq) connection.inFlight.shift();
    // A batch held back while the collector was busy goes now (flush pumps it).
    if (this.buffer.length > 0 && this.flushTimer !== undefined && !this.busy()) this.flush();
    else this.pump(connection);
    this.checkIdle();
  }

  /** Sends pending batches in seq order while the window and the socket's buffer allow. */
  private pump(connection: Connection): void {
    const { ws } = connection;
    if (!connection.welcomed || connection.dropped || ws.readyState !== WebSocket.OPEN) return;
    while (connection.inFlight.length < this.window && ws.bufferedAmount <= this.highWaterBytes) {
      const batch = this.options.outbox.next(connection.sentThrough);
      if (batch === undefined) return;
      connection.sentThrough = batch.seq;
      connection.inFlight.push(batch.seq);
      this.counters.sent++;
      // Called once the batch is handed to the kernel: room in the socket's buffer again.
      ws.send(encodeMessage({ type: 'sightings', seq: batch.seq, items: batch.items }), () => this.pump(connection));
    }
  }

  /** The collector broke the protocol: close with the catalogue's code (RFC 6455 7.4.2: 4000-4999 are ours). */
  private violation(
    connection: Connection,
    error: (typeof ProtocolError)[keyof typeof ProtocolError],
    detail: string,
  ): void {
    connection.dropped = true;
    this.log(`invalid message from ${connection.url}: ${error.code}: ${detail}`);
    const { ws } = connection;
    ws.close(error.close, closeReason(`${error.code}: ${detail}`));
    connection.timers.push(setTimeout(() => ws.terminate(), CLOSE_GRACE_MS));
  }

  private closed(connection: Connection, code: number, reason: string): void {
    for (const timer of connection.timers) clearTimeout(timer);
    if (this.connection === connection) this.connection = undefined;
    if (this.closing) return;
    // "Unavailable" right after a welcome (the database is down) does not make the collector
    // healthy: the backoff goes on growing from where the welcome had reset it.
    if (code === ProtocolError.UNAVAILABLE.close) this.attempt = Math.max(this.attempt, this.attemptBeforeWelcome);
    const delay = backoffDelay(this.attempt, this.random(), this.backoff);
    this.attempt++;
    let what: string;
    if (connection.status === 401) {
      const source = connection.credential?.source ?? 'missing token';
      const next = connection.credential && this.options.credentials.refused(connection.credential);
      what = `${connection.url} refused the ${source} (HTTP 401)`;
      if (next !== undefined && next.source !== source) what += `; trying the ${next.source} next`;
    } else if (connection.status !== undefined) {
      what = `${connection.url} answered HTTP ${connection.status} to the WebSocket upgrade`;
    } else if (!connection.opened) {
      what = `cannot connect to ${connection.url}: ${connection.failure ?? 'closed'}`;
    } else {
      what = `disconnected from ${connection.url} (${code}${reason === '' ? '' : ` ${reason}`})`;
    }
    this.urlIndex = (this.urlIndex + 1) % this.urls.length;
    const next = this.urls.length > 1 ? ` to ${this.urls[this.urlIndex]}` : '';
    this.log(`${what}; retry${next} in ${delay} ms`);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }
}
