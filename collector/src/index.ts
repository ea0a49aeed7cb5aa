export type { AgentView } from './agents/agent-store.js';
export { listAgents, registerAgent, revokeAgent } from './agents/agent-store.js';
export { hashToken, newToken } from './auth/tokens.js';
export { COLLECTOR_OPTIONS, type CollectorConfig, loadCollectorConfig } from './config.js';
export type { Conflict } from './conflicts/conflict-store.js';
export {
  type Database,
  type DatabaseHandle,
  type DatabaseOptions,
  openDatabase,
  pipelined,
  rowsOf,
} from './db/database.js';
export * as schema from './db/schema/index.js';
export type { DhcpOutcome } from './dhcp/dhcp-wait.js';
export type { Discovery, HistoryEntry } from './discovery/discoveries.js';
export { ApiError, ErrorCode } from './errors.js';
export { type StoredBatch, storeBatch } from './ingest/store-batch.js';
export type { AddressMap, MapBlock } from './ipam/address-map.js';
export type { Address, OwnerHolding } from './ipam/address-store.js';
export type { Subnet } from './ipam/subnet-store.js';
export type { Utilization } from './ipam/utilization.js';
export { type Collector, type CollectorOptions, startCollector } from './server.js';
