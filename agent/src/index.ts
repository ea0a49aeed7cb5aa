export { writeFileAtomic } from './atomic-file.js';
export { BindingTable, type BindingTableOptions, type Sighting, type SightingEvent } from './binding-table.js';
export { readCaptureFile } from './capture-file.js';
export { CAPTURE_FILTER } from './capture-filter.js';
export { CaptureSet, type CaptureSetOptions, type CaptureTotals } from './capture-set.js';
export { AGENT_OPTIONS, type AgentConfig, type ConfigSources, loadConfig } from './config.js';
export { HostError, UsageError } from './errors.js';
export { emptyStats, FramePipeline, type PipelineStats } from './frame-pipeline.js';
export { type WatchedInterface, watchedInterfaces } from './interfaces.js';
export {
  type CaptureCounters,
  CapturePermissionError,
  checkCaptureCapabilities,
  type LiveCapture,
  missingCaptureCapabilities,
  openLiveCapture,
} from './live-capture.js';
export { DEFAULT_OUTBOX_BYTES, Outbox, type OutboxBatch, type OutboxOptions, type OutboxStats } from './outbox.js';
export { type ReadOptions, type ReadStats, readCommand } from './read-command.js';
export { RepeatFilter } from './repeat-filter.js';
export { type Logger, logToStderr, runAgent } from './run-command.js';
export { lockStateDirectory, StateDirectoryLocked } from './state-lock.js';
export {
  type Credential,
  type CredentialSource,
  type Credentials,
  TokenStore,
  type TokenStoreOptions,
} from './token-store.js';
export {
  type Backoff,
  backoffDelay,
  collectorUrl,
  DEFAULT_BATCH_ITEMS,
  DEFAULT_FLUSH_DELAY_MS,
  type HelloFields,
  Uplink,
  type UplinkCounters,
  type UplinkOptions,
} from './uplink.js';
