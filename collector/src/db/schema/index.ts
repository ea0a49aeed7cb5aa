// The one home of the collector's database schema; drizzle-kit generates ../../../drizzle from it.
export { agents } from './agents.js';
export { bindings, sightingEvents } from './discoveries.js';
