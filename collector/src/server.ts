/**
 * The collector as one running thing: the database (migrated), the admin bootstrap, the HTTP
 * API and the agent gateway on one port. `startCollector` is what the binary and the tests run.
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { sql } from 'drizzle-orm';
import type { FastifyBaseLogger } from 'fastify';
import pino from 'pino';
import { bootstrapAdmin, Principals } from './auth/users.js';
import { PLAN_CHANNEL, Reconciler } from './conflicts/reconciler.js';
import { type DatabaseHandle, openDatabase } from './db/database.js';
import { DhcpWaits } from './dhcp/dhcp-wait.js';
import { DhcpPusher } from './dhcp/map-pusher.js';
import { EventHub } from './events/event-hub.js';
import { EventStream, type EventStreamOptions } from './events/event-stream.js';
import { type WebhookDeliveryOptions, WebhookDispatcher } from './events/webhook-dispatcher.js';
import { AgentGateway } from './gateway/agent-gateway.js';
import { buildApp } from './http/app.js';
import { Allocator } from './ipam/allocator.js';
import { Metrics } from './metrics.js';
import { followSettings, readSettings } from './settings.js';

/** How long requests under way may take to finish when the collector stops. */
const CLOSE_GRACE_MS = 5_000; // 5 s

export interface CollectorOptions {
  /** Address to listen on; port 0 picks a free one. */
  host: string;
  port: number;
  /** Data directory: the embedded database and the generated admin token live here. */
  dataDir?: string;
  /** postgres://… to use a PostgreSQL server instead of the embedded database. */
  databaseUrl?: string;
  adminToken?: string;
  agentSecret?: string;
  tls?: { certFile: string; keyFile: string };
  logger?: FastifyBaseLogger;
  /** False: sightings are stored and served, and not judged (no conflicts). Default true. */
  reconcile?: boolean;
  /** Batches stored at once (ingest/store-gate.ts: STORING_AT_ONCE). */
  ingestStatements?: number;
  /** Webhook delivery's timings (events/webhook-dispatcher.ts: DEFAULT_DELIVERY); tests shorten them. */
  webhooks?: Partial<WebhookDeliveryOptions>;
  /** `GET /events` (events/event-stream.ts: DEFAULT_EVENT_STREAM); tests shorten the heartbeat. */
  eventStream?: Partial<EventStreamOptions>;
}

export interface Collector {
  /** Where the API listens: http(s)://host:port. */
  url: string;
  database: DatabaseHandle;
  gateway: AgentGateway;
  reconciler: Reconciler;
  dhcp: DhcpPusher;
  /** Set when this start generated the admin token. */
  newAdminToken?: string;
  adminTokenFile?: string;
  close(): Promise<void>;
}

export async function startCollector(options: CollectorOptions): Promise<Collector> {
  const logger = options.logger ?? (pino({ level: process.env.IPWARDEN_LOG_LEVEL ?? 'info' }) as FastifyBaseLogger);
  const https =
    options.tls === undefined
      ? undefined
      : { cert: readFileSync(options.tls.certFile), key: readFileSync(options.tls.keyFile) };
  const database = await openDatabase({ url: options.databaseUrl, dataDir: options.dataDir });
  try {
    const { db } = database;
    const bootstrap = await bootstrapAdmin(db, { adminToken: options.adminToken, dataDir: options.dataDir });
    await readSettings(db);
    const metrics = new Metrics();
    const eventHub = await EventHub.start(database);
    const eventStream = new EventStream(db, eventHub, options.eventStream);
    const gateway = new AgentGateway({
      db,
      agentSecret: options.agentSecret,
      log: logger,
      metrics,
      ingestStatements: options.ingestStatements,
    });
    const reconciler = new Reconciler({ database, gateway, eventHub, metrics, log: logger });
    await reconciler.start();
    gateway.sink = {
      stored: (agentId, items) => {
        if (options.reconcile !== false) reconciler.submit(agentId, items);
      },
      agentChanged: () => reconciler.agentsChanged(),
    };
    const dhcp = new DhcpPusher({ database, metrics, log: logger });
    await dhcp.start();
    gateway.dhcp = dhcp;
    const dhcpWaits = new DhcpWaits(database, dhcp, logger);
    await dhcpWaits.start();
    const unlistenPlan = await database.listen(PLAN_CHANNEL, () => void dhcp.planChanged());
    const unfollowSettings = await followSettings(
      database,
      async (before, after) => {
        if (after.discovery.enabled !== before.discovery.enabled || after.refreshSeconds !== before.refreshSeconds) {
          gateway.broadcastConfig({ discovery: after.discovery.enabled, refreshSeconds: after.refreshSeconds });
        }
        // The quiet period sets how often agents report watched addresses.
        await reconciler.settingsChanged();
      },
      (error) => logger.warn({ err: error }, 'following a settings change failed'),
    );
    const ready = async () => {
      try {
        await db.execute(sql`select 1`);
        return true;
      } catch {
        return false;
      }
    };
    const app = buildApp(
      {
        db,
        allocator: new Allocator(db, database.reserve, metrics),
        principals: new Principals(db),
        gateway,
        eventHub,
        eventStream,
        reconciler,
        dhcp: { pusher: dhcp, waits: dhcpWaits },
        metrics,
        ready,
      },
      { logger, https },
    );
    app.server.on('upgrade', (request, socket, head) => gateway.handleUpgrade(request, socket, head));
    await app.listen({ host: options.host, port: options.port });
    const webhooks = WebhookDispatcher.start({ db, hub: eventHub, metrics, log: logger, options: options.webhooks });
    const address = app.server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const url = `${https === undefined ? 'http' : 'https'}://${host}:${address.port}`;
    return {
      url,
      database,
      gateway,
      newAdminToken: bootstrap.newToken,
      adminTokenFile: bootstrap.tokenFile,
      reconciler,
      dhcp,
      async close() {
        await gateway.close();
        await unlistenPlan();
        await unfollowSettings();
        await dhcpWaits.close();
        await dhcp.close();
        await reconciler.close();
        await webhooks.close();
        // Open event streams would keep app.close() waiting for the grace period.
        eventStream.close();
        // Requests under way get a grace period; a client that stops reading does not hold the
        // shutdown for ever.
        const grace = setTimeout(() => app.server.closeAllConnections(), CLOSE_GRACE_MS);
        try {
          await app.close();
        } finally {
          clearTimeout(grace);
        }
        await eventHub.close();
        await database.close();
      },
    };
  } catch (error) {
    await database.close();
    throw error;
  }
}
