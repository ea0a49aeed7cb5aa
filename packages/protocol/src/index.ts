export { isBindingSighting } from './binding.js';
export { type Decoded, decodeAgentMessage, decodeCollectorMessage, encodeMessage, MAX_MESSAGE_BYTES } from './codec.js';
export { applyMapChange, type DhcpMapContent, isDhcpHostname, mapChange, mapProblems } from './dhcp-map.js';
export { ProtocolError, type ProtocolErrorCode, type ProtocolErrorKind, protocolError } from './errors.js';
export { isWellFormedText, isWireIp, MAC_PATTERN } from './formats.js';
export * from './messages.js';
export { ACCEPTED_VERSIONS, AGENT_PATH, PROTOCOL_VERSION } from './version.js';
