export { listAgents, registerAgent, revokeAgent } from './agents/agent-store.js';
export { hashToken, newToken } from './auth/tokens.js';
export { COLLECTOR_OPTIONS, type CollectorConfig, loadCollectorConfig } from './config.js';
export {
  type Database,
  type DatabaseHandle,
  type DatabaseOptions,
  openDatabase,
  pipelined,
  rowsOf,
} from './db/database.js';
export * as schema from './db/schema/index.js';
export type { Discovery, HistoryEntry } from './discovery/discoveries.js';
export { ApiError, ErrorCode } from './errors.js';
export { type StoredBatch, storeBatch } from './ingest/store-batch.js';
export { type Collector, type CollectorOptions, startCollector } from './server.js';
