import type { Principals } from '../auth/users.js';
import type { Reconciler } from '../conflicts/reconciler.js';
import type { Database } from '../db/database.js';
import type { DhcpWaits } from '../dhcp/dhcp-wait.js';
import type { DhcpPusher } from '../dhcp/map-pusher.js';
import type { EventHub } from '../events/event-hub.js';
import type { EventStream } from '../events/event-stream.js';
import type { AgentGateway } from '../gateway/agent-gateway.js';
import type { Allocator } from '../ipam/allocator.js';
import type { Metrics } from '../metrics.js';

/** What the routes share, handed to each route plugin as its options. */
export interface AppContext {
  db: Database;
  allocator: Allocator;
  /** Who each bearer token is. */
  principals: Principals;
  gateway: AgentGateway;
  /** Wakes followers of the event log when events are committed. */
  eventHub: EventHub;
  /** Judges sightings, and again what an API change touches. */
  reconciler: Reconciler;
  /** The live event log for `GET /events`. */
  eventStream: EventStream;
  /** DHCP maps: what agents serve and hold, and waiting for a change to reach them. */
  dhcp: { pusher: DhcpPusher; waits: DhcpWaits };
  metrics: Metrics;
  /** True once the database answered and its migrations are applied. */
  ready: () => Promise<boolean>;
}
