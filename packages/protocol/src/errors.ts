/**
 * The protocol's error catalogue: every `error` message carries one of these stable codes, and
 * the collector then closes the WebSocket with the code's close code (RFC 6455 7.4.2: 4000–4999
 * are the application's). Codes are never reused for another meaning.
 */
export const ProtocolError = {
  /** The message is not JSON, or not an object with a known `type`. */
  MALFORMED_MESSAGE: { code: 'malformed-message', close: 4400 },
  /** The message's fields do not match its schema. */
  INVALID_MESSAGE: { code: 'invalid-message', close: 4422 },
  /** A message type this side does not take (or not at this point, e.g. sightings before hello). */
  UNEXPECTED_MESSAGE: { code: 'unexpected-message', close: 4409 },
  /** The message is larger than the collector accepts. */
  MESSAGE_TOO_LARGE: { code: 'message-too-large', close: 4413 },
  /** No token, a wrong one, or a revoked one. */
  UNAUTHORIZED: { code: 'unauthorized', close: 4401 },
  /** Another agent enrolled under this name: an agent re-enrolls only as the same instance. */
  NAME_TAKEN: { code: 'name-taken', close: 4410 },
  /** The agent speaks a protocol version the collector no longer or not yet accepts. */
  UNSUPPORTED_VERSION: { code: 'unsupported-version', close: 4426 },
  /** A newer connection of the same agent was welcomed; this one ends (the agent keeps the newer). */
  SUPERSEDED: { code: 'superseded', close: 4408 },
  /** The collector cannot take the message now (database unavailable); the agent retries. */
  UNAVAILABLE: { code: 'unavailable', close: 4503 },
} as const;

export type ProtocolErrorKind = (typeof ProtocolError)[keyof typeof ProtocolError];
export type ProtocolErrorCode = ProtocolErrorKind['code'];

const BY_CODE = new Map<string, ProtocolErrorKind>(Object.values(ProtocolError).map((kind) => [kind.code, kind]));

/** The catalogue entry of `code`, with its close code. */
export function protocolError(code: ProtocolErrorCode): ProtocolErrorKind {
  return BY_CODE.get(code)!;
}
