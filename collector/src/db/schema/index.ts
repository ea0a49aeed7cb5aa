// The one home of the collector's database schema; drizzle-kit generates ../../../drizzle from it.
export { type AgentInterface, type AgentStats, agents } from './agents.js';
export {
  type ConflictEvidence,
  type ConflictKind,
  type ConflictStatus,
  conflictExemptions,
  conflicts,
  dhcpServers,
  events,
  webhooks,
} from './conflicts.js';
export { agentDhcp, dhcpChanges } from './dhcp.js';
export { bindings, sightingEvents } from './discoveries.js';
export {
  type AddressKind,
  addresses,
  nodeInterfaces,
  nodes,
  poolRanges,
  pools,
  ranges,
  subnets,
  takenRuns,
} from './ipam.js';
export { DEFAULT_OBSERVATION_WINDOW_SECONDS, settings } from './settings.js';
export { type Role, users } from './users.js';
