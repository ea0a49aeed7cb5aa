export { type Database, type DatabaseHandle, type DatabaseOptions, openDatabase } from './db/database.js';
export * as schema from './db/schema/index.js';
export { type StoredBatch, storeBatch } from './ingest/store-batch.js';
