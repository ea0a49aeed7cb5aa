export { BindingTable, type BindingTableOptions, type Sighting, type SightingEvent } from './binding-table.js';
export { readCaptureFile } from './capture-file.js';
export { type ReadOptions, type ReadStats, readCommand } from './read-command.js';
