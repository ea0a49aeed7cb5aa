export { writeFileAtomic } from './atomic-file.js';
export { BindingTable, type BindingTableOptions, type Sighting, type SightingEvent } from './binding-table.js';
export { readCaptureFile } from './capture-file.js';
export { CAPTURE_FILTER } from './capture-filter.js';
export { AGENT_OPTIONS, type AgentConfig, type ConfigSources, loadConfig } from './config.js';
export { emptyStats, FramePipeline, type PipelineStats } from './frame-pipeline.js';
export { type WatchedInterface, watchedInterfaces } from './interfaces.js';
export {
  type CaptureCounters,
  CapturePermissionError,
  type LiveCapture,
  missingCaptureCapabilities,
  openLiveCapture,
} from './live-capture.js';
export { DEFAULT_OUTBOX_BYTES, Outbox, type OutboxBatch, type OutboxOptions, type OutboxStats } from './outbox.js';
export { type ReadOptions, type ReadStats, readCommand } from './read-command.js';
export { RepeatFilter } from './repeat-filter.js';
export { lockStateDirectory, StateDirectoryLocked } from './state-lock.js';
