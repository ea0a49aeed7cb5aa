/**
 * The agent gateway (DESIGN.md, "The wire protocol"): WebSockets at /agent/v1 on the API's own
 * port. Agents authenticate in the upgrade (their token, or the enrollment secret on first
 * contact); every message is checked against packages/protocol before anything acts on it; a
 * batch is acknowledged only after its transaction commits. One agent's messages are handled
 * strictly in order — the seq guard in storeBatch relies on it — and while they queue up the
 * socket is paused, so a fast agent feels TCP back-pressure instead of growing our memory.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  ACCEPTED_VERSIONS,
  AGENT_PATH,
  type AgentConfig,
  type AgentMessage,
  type DhcpDrift,
  type DhcpMap,
  type DhcpMapChange,
  decodeAgentMessage,
  encodeMessage,
  type Hello,
  MAX_MESSAGE_BYTES,
  PROTOCOL_VERSION,
  ProtocolError,
  type ProtocolErrorKind,
  protocolError,
  type SightingItem,
  type Sightings,
  type Watch,
  type Welcome,
} from '@ipwarden/protocol';
import type { FastifyBaseLogger } from 'fastify';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import {
  type AgentRecord,
  agentForToken,
  enrollAgent,
  isRevoked,
  recordDhcpApplied,
  recordDisconnect,
  recordHello,
  recordStats,
} from '../agents/agent-store.js';
import { bearerToken, sameSecret } from '../auth/tokens.js';
import type { Database } from '../db/database.js';
import { storeBatch } from '../ingest/store-batch.js';
import { STORING_AT_ONCE, StoreGate } from '../ingest/store-gate.js';
import type { Metrics } from '../metrics.js';
import { NAME_PATTERN } from '../names.js';
import { readSettings } from '../settings.js';

/** The API's rule for names (names.ts), applied to names agents enroll under. */
const AGENT_NAME = new RegExp(NAME_PATTERN);

/**
 * Frames past the protocol's limit but under this one get the catalogue's `message-too-large`
 * and a 4413 close; past this one ws itself closes with 1009 (RFC 6455 7.4.1) before buffering more.
 */
const HARD_MAX_PAYLOAD = 2 * MAX_MESSAGE_BYTES; // 16 MiB
/** Messages queued for one agent before its socket is paused. */
const QUEUE_HIGH_WATER = 8;
/** A connection that does not answer a ping within this time is dropped. */
const PING_INTERVAL_MS = 30_000; // 30 s
/** Time an agent has to send its hello. */
const HELLO_TIMEOUT_MS = 10_000; // 10 s

export interface GatewayOptions {
  db: Database;
  /** The enrollment secret; undefined disables enrolment (registered agents only). */
  agentSecret: string | undefined;
  log: FastifyBaseLogger;
  metrics: Metrics;
  /** Batches stored at once (`--ingest-statements`); default STORING_AT_ONCE. */
  ingestStatements?: number | undefined;
}

type Identity = { agent: AgentRecord } | { enroll: true };

/** Who hears of what agents send, once it is stored: the reconciler. */
export interface BatchSink {
  stored(agentId: string, items: readonly SightingItem[]): void;
  /** An agent said hello: its interfaces may have changed. */
  agentChanged(): void;
}

/** An agent with a DHCP backend, welcomed here, as the DHCP pusher sees it. */
export interface DhcpPeer {
  id: string;
  name: string;
  backend: Hello['dhcp']['backend'];
  send(message: DhcpMap | DhcpMapChange): void;
}

/** Who pushes DHCP maps to agents and hears what they applied (dhcp/map-pusher.ts). */
export interface DhcpSink {
  connected(peer: DhcpPeer): Promise<void>;
  disconnected(agentId: string, send: DhcpPeer['send']): void;
  applied(agentId: string, version: number): Promise<void>;
  failed(agentId: string, version: number, error: string, behind?: boolean): Promise<void>;
  drifted(agentId: string, drift: Omit<DhcpDrift, 'type'>): Promise<void>;
}

class ProtocolFailure extends Error {
  constructor(
    readonly kind: ProtocolErrorKind,
    message: string,
  ) {
    super(message);
  }
}

class AgentConnection {
  agent: AgentRecord | undefined;
  /** The welcome was sent: from now on the agent takes configuration changes. */
  welcomed = false;
  private queue: Promise<void> = Promise.resolve();
  private queued = 0;
  private paused = false;
  private closed = false;
  alive = true;
  private readonly helloTimer: NodeJS.Timeout;
  /** The DHCP pusher's way to this agent: one function per connection, so a newer one is told apart. */
  readonly sendDhcp = (message: DhcpMap | DhcpMapChange) => this.send(message);
  private dhcpBackend: Hello['dhcp']['backend'] = 'none';

  constructor(
    readonly socket: WebSocket,
    private readonly identity: Identity,
    private readonly gateway: AgentGateway,
  ) {
    this.helloTimer = setTimeout(
      () => this.fail(new ProtocolFailure(ProtocolError.UNEXPECTED_MESSAGE, 'no hello within 10 s')),
      HELLO_TIMEOUT_MS,
    );
    socket.on('message', (data, isBinary) => this.receive(data, isBinary));
    socket.on('pong', () => {
      this.alive = true;
    });
    socket.on('close', () => this.onClose());
    socket.on('error', (error) => this.gateway.log.debug({ err: error }, 'agent socket error'));
  }

  send(message: Parameters<typeof encodeMessage>[0]): void {
    if (!this.closed) this.socket.send(encodeMessage(message));
  }

  private receive(data: RawData, isBinary: boolean): void {
    if (this.closed) return;
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
    // Checked here, before anything is queued, so a bad message never waits behind good ones.
    if (isBinary) {
      this.fail(new ProtocolFailure(ProtocolError.MALFORMED_MESSAGE, 'messages are JSON text frames'));
      return;
    }
    if (bytes.length > MAX_MESSAGE_BYTES) {
      this.fail(
        new ProtocolFailure(ProtocolError.MESSAGE_TOO_LARGE, `${bytes.length} bytes; at most ${MAX_MESSAGE_BYTES}`),
      );
      return;
    }
    const decoded = decodeAgentMessage(bytes.toString('utf8'));
    if (!decoded.ok) {
      this.fail(new ProtocolFailure(protocolError(decoded.error), decoded.detail));
      return;
    }
    const arrived = performance.now();
    this.queued++;
    if (this.queued >= QUEUE_HIGH_WATER && !this.paused) {
      this.paused = true;
      this.socket.pause();
    }
    this.queue = this.queue
      .then(() => (this.closed ? undefined : this.handle(decoded.message, arrived)))
      .catch((error: unknown) => this.fail(error))
      .finally(() => {
        this.queued--;
        if (this.paused && this.queued < QUEUE_HIGH_WATER / 2) {
          this.paused = false;
          this.socket.resume();
        }
      });
  }

  private async handle(message: AgentMessage, arrived: number): Promise<void> {
    if (this.agent === undefined) {
      if (message.type !== 'hello') {
        throw new ProtocolFailure(ProtocolError.UNEXPECTED_MESSAGE, `${message.type} before hello`);
      }
      return this.welcome(message);
    }
    const { db, metrics } = this.gateway;
    switch (message.type) {
      case 'hello':
        throw new ProtocolFailure(ProtocolError.UNEXPECTED_MESSAGE, 'hello was already received');
      case 'sightings':
        return this.store(message, arrived);
      case 'stats':
        return recordStats(db, this.agent.id, message);
      case 'dhcpApplied':
        await recordDhcpApplied(db, this.agent.id, message.version);
        return this.gateway.dhcp?.applied(this.agent.id, message.version);
      case 'dhcpFailed':
        metrics.dhcpApplyFailures.inc();
        this.gateway.log.warn(
          { agent: this.agent.name, version: message.version },
          `DHCP apply failed: ${message.error}`,
        );
        return this.gateway.dhcp?.failed(this.agent.id, message.version, message.error, message.behind === true);
      case 'dhcpDrift': {
        metrics.dhcpDrifts.inc();
        this.gateway.log.warn(
          { agent: this.agent.name, version: message.version },
          `DHCP server drifted from its map: ${message.detail}`,
        );
        const { type: _, ...drift } = message;
        return this.gateway.dhcp?.drifted(this.agent.id, drift);
      }
    }
  }

  private async welcome(hello: Hello): Promise<void> {
    clearTimeout(this.helloTimer);
    if (!ACCEPTED_VERSIONS.includes(hello.protocol)) {
      throw new ProtocolFailure(
        ProtocolError.UNSUPPORTED_VERSION,
        `protocol ${hello.protocol}; this collector speaks ${ACCEPTED_VERSIONS.join(', ')}`,
      );
    }
    const { db } = this.gateway;
    let token: string | undefined;
    let record: AgentRecord;
    if ('enroll' in this.identity) {
      const name = hello.agentId ?? hello.hostname;
      // Names follow the API's rule (POST /agents): an enrolled agent can be named in a URL or a shell.
      if (!AGENT_NAME.test(name)) {
        throw new ProtocolFailure(
          ProtocolError.INVALID_MESSAGE,
          `"${name.slice(0, 64)}" is not an agent name (letters, digits, . _ -, at most 64): set one with --name`,
        );
      }
      const enrolment = await enrollAgent(db, name, hello.instance);
      if (!enrolment.ok) {
        const kind = enrolment.reason === 'revoked' ? ProtocolError.UNAUTHORIZED : ProtocolError.NAME_TAKEN;
        throw new ProtocolFailure(kind, enrolment.detail);
      }
      record = enrolment.agent;
      token = enrolment.token;
    } else {
      record = this.identity.agent;
    }
    const recorded = await recordHello(db, record.id, hello);
    if (recorded === undefined) throw new ProtocolFailure(ProtocolError.UNAUTHORIZED, 'this agent was revoked');
    if (this.closed) return;
    this.agent = record = recorded;
    this.gateway.adopt(this);
    // Its interfaces' addresses are its own, and not conflicts (conflict-rules.ts).
    this.gateway.sink?.agentChanged();
    const settings = await readSettings(db);
    const welcome: Welcome = {
      type: 'welcome',
      protocol: PROTOCOL_VERSION,
      agentId: record.id,
      lastSeq: record.lastSeq,
      ...(token !== undefined && { token }),
      config: {
        discovery: settings.discovery.enabled,
        refreshSeconds: settings.refreshSeconds,
        ...(this.gateway.watches.has(record.id) && { watch: this.gateway.watches.get(record.id)! }),
      },
    };
    this.send(welcome);
    // Only now may settings changes follow: the agent takes nothing before its welcome.
    this.welcomed = true;
    this.gateway.log.info(
      {
        agent: record.name,
        id: record.id,
        lastSeq: record.lastSeq,
        agentLastSeq: hello.lastSeq,
        enrolled: token !== undefined,
      },
      'agent welcomed',
    );
    // Its DHCP map follows the welcome (the agent takes nothing before it).
    this.dhcpBackend = hello.dhcp.backend;
    await this.gateway.dhcp?.connected({
      id: record.id,
      name: record.name,
      backend: hello.dhcp.backend,
      send: this.sendDhcp,
    });
  }

  private async store(batch: Sightings, arrived: number): Promise<void> {
    const { db, metrics } = this.gateway;
    let stored: boolean;
    try {
      ({ stored } = await this.gateway.storing.run(batch.items.length, () =>
        storeBatch(db, this.agent!.id, batch.seq, batch.items),
      ));
    } catch (error) {
      // The driver's error, not drizzle's wrapper: that one quotes the whole batch as a parameter.
      const cause = (error as { cause?: unknown }).cause ?? error;
      this.gateway.log.error({ err: cause, agent: this.agent!.name, seq: batch.seq }, 'storing a batch failed');
      // SQLSTATE class 22 (data exception): the batch itself is bad, and sending it again would not help.
      if (/^22/.test(String((cause as { code?: unknown }).code))) {
        throw new ProtocolFailure(
          ProtocolError.INVALID_MESSAGE,
          `the database refused the batch: ${(cause as Error).message}`,
        );
      }
      throw new ProtocolFailure(ProtocolError.UNAVAILABLE, 'the batch could not be stored; send it again');
    }
    // Revoked since it was welcomed (by this collector's API or another's): nothing more is taken.
    if (!stored && (await isRevoked(db, this.agent!.id))) {
      throw new ProtocolFailure(ProtocolError.UNAUTHORIZED, 'this agent was revoked');
    }
    metrics.batches.inc({ outcome: stored ? 'stored' : 'replay' });
    if (stored) metrics.sightingsStored.inc(batch.items.length);
    this.send({ type: 'ack', seq: batch.seq });
    // Judged after the ack: reconciliation never holds a batch up (conflicts/reconciler.ts).
    if (stored) this.gateway.sink?.stored(this.agent!.id, batch.items);
    metrics.batchSeconds.observe((performance.now() - arrived) / 1000);
  }

  /** Sends the error, then closes with its code (RFC 6455 7.4.2: 4000–4999 are the application's). */
  fail(error: unknown): void {
    if (this.closed) return;
    const failure =
      error instanceof ProtocolFailure
        ? error
        : new ProtocolFailure(ProtocolError.UNAVAILABLE, 'the collector could not handle the message');
    if (!(error instanceof ProtocolFailure)) this.gateway.log.error({ err: error }, 'agent message failed');
    this.gateway.metrics.protocolErrors.inc({ code: failure.kind.code });
    this.gateway.log.warn(
      { agent: this.agent?.name, code: failure.kind.code, detail: failure.message },
      'closing agent connection',
    );
    this.send({ type: 'error', code: failure.kind.code, message: failure.message });
    this.close(failure.kind.close, failure.kind.code);
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.close(code, reason);
    // A peer that never answers the close handshake is not waited for (RFC 6455 7.1.1 lets us).
    setTimeout(() => this.socket.terminate(), 5_000).unref();
  }

  private onClose(): void {
    this.closed = true;
    clearTimeout(this.helloTimer);
    if (this.agent !== undefined && this.dhcpBackend !== 'none')
      this.gateway.dhcp?.disconnected(this.agent.id, this.sendDhcp);
    this.gateway.release(this);
  }
}

export class AgentGateway {
  readonly db: Database;
  readonly log: FastifyBaseLogger;
  readonly metrics: Metrics;
  /** Batches being stored, all agents together (ingest/store-gate.ts). */
  readonly storing: StoreGate;
  private readonly secret: string | undefined;
  private readonly server = new WebSocketServer({
    noServer: true,
    maxPayload: HARD_MAX_PAYLOAD,
    perMessageDeflate: false,
  });
  /** The welcomed connection of each agent, by agent id. */
  private readonly byAgent = new Map<string, AgentConnection>();
  private readonly connections = new Set<AgentConnection>();
  private readonly pinger: NodeJS.Timeout;
  /** Set once the reconciler runs. */
  sink: BatchSink | undefined;
  /** Set once the DHCP pusher runs. */
  dhcp: DhcpSink | undefined;
  /**
   * By agent: the addresses under conflict it saw, which it reports at a short interval
   * (protocol `config.watch`), until a list without them.
   */
  readonly watches = new Map<string, Watch>();

  constructor(options: GatewayOptions) {
    this.db = options.db;
    this.log = options.log;
    this.metrics = options.metrics;
    this.storing = new StoreGate(options.ingestStatements ?? STORING_AT_ONCE);
    this.secret = options.agentSecret;
    this.pinger = setInterval(() => this.ping(), PING_INTERVAL_MS);
    this.pinger.unref();
  }

  /** For the HTTP server's `upgrade` event: agents only, authenticated before the handshake. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    // The request target as sent, without its query; not through URL, which throws on some (`//[`).
    const path = (request.url ?? '').split('?', 1)[0];
    if (path !== AGENT_PATH) {
      refuse(socket, 404, 'not-found', `WebSockets are served at ${AGENT_PATH}`);
      return;
    }
    this.identify(bearerToken(request.headers.authorization))
      .then((identity) => {
        if (identity === undefined) {
          this.metrics.protocolErrors.inc({ code: ProtocolError.UNAUTHORIZED.code });
          return refuse(socket, 401, ProtocolError.UNAUTHORIZED.code, 'no valid agent token or enrollment secret');
        }
        this.server.handleUpgrade(request, socket, head, (ws) => {
          this.connections.add(new AgentConnection(ws, identity, this));
        });
      })
      .catch((error: unknown) => {
        this.log.error({ err: error }, 'agent authentication failed');
        refuse(socket, 503, ProtocolError.UNAVAILABLE.code, 'the collector cannot check tokens now');
      });
  }

  private async identify(token: string | undefined): Promise<Identity | undefined> {
    if (token === undefined) return undefined;
    if (this.secret !== undefined && sameSecret(token, this.secret)) return { enroll: true };
    const agent = await agentForToken(this.db, token);
    return agent === undefined ? undefined : { agent };
  }

  /** A connection was welcomed: it replaces any older one of the same agent. */
  adopt(connection: AgentConnection): void {
    const id = connection.agent!.id;
    const older = this.byAgent.get(id);
    this.byAgent.set(id, connection);
    this.metrics.agentsConnected.set(this.byAgent.size);
    if (older !== undefined && older !== connection) {
      older.fail(new ProtocolFailure(ProtocolError.SUPERSEDED, 'a newer connection of this agent was welcomed'));
    }
  }

  release(connection: AgentConnection): void {
    this.connections.delete(connection);
    const id = connection.agent?.id;
    if (id !== undefined && this.byAgent.get(id) === connection) {
      this.byAgent.delete(id);
      this.metrics.agentsConnected.set(this.byAgent.size);
      this.log.info({ agent: connection.agent!.name }, 'agent disconnected');
      recordDisconnect(this.db, connection.agent!).catch((error: unknown) =>
        this.log.debug({ err: error }, 'agent.disconnected not recorded (the database is going away)'),
      );
    }
  }

  isConnected(agentId: string): boolean {
    return this.byAgent.has(agentId);
  }

  /** A settings change, to every welcomed agent at once. */
  broadcastConfig(config: Partial<AgentConfig>): void {
    for (const connection of this.byAgent.values()) {
      if (connection.welcomed) connection.send({ type: 'config', config });
    }
  }

  /** A new watch list for an agent: now if it is connected here, and in its welcome when it connects. */
  setWatch(agentId: string, watch: Watch): void {
    if (watch.addresses.length === 0) this.watches.delete(agentId);
    else this.watches.set(agentId, watch);
    const connection = this.byAgent.get(agentId);
    if (connection?.welcomed) connection.send({ type: 'config', config: { watch } });
  }

  /** A revoked agent's connection ends now, not at its next reconnect. */
  disconnect(agentId: string): void {
    this.byAgent.get(agentId)?.fail(new ProtocolFailure(ProtocolError.UNAUTHORIZED, 'this agent was revoked'));
  }

  private ping(): void {
    for (const connection of this.connections) {
      if (!connection.alive) {
        connection.socket.terminate();
        continue;
      }
      connection.alive = false;
      connection.socket.ping();
    }
  }

  async close(): Promise<void> {
    clearInterval(this.pinger);
    for (const connection of this.connections) connection.close(1001, 'collector shutting down');
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** An HTTP answer to an upgrade that is not accepted, in the API's problem+json form. */
function refuse(socket: Duplex, status: number, code: string, detail: string): void {
  const body = JSON.stringify({ type: 'about:blank', title: code, status, code, detail });
  socket.end(
    `HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : status === 404 ? 'Not Found' : 'Service Unavailable'}\r\n` +
      'Content-Type: application/problem+json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
  );
}
