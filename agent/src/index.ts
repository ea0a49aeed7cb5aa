export { BindingTable, type BindingTableOptions, type Sighting, type SightingEvent } from './binding-table.js';
export { readCaptureFile } from './capture-file.js';
export { readCommand, type ReadOptions, type ReadStats } from './read-command.js';
