/**
 * The protocol version an agent states in `hello`. The collector accepts the current version
 * and the one before it (DESIGN.md, "The wire protocol"), so agents can be upgraded after it.
 */
export const PROTOCOL_VERSION = 1;

/** Versions the collector speaks: this one and the previous (none before 1). */
export const ACCEPTED_VERSIONS: readonly number[] = [PROTOCOL_VERSION];

/** The WebSocket path of the agent gateway. */
export const AGENT_PATH = '/agent/v1';
