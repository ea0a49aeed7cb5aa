/**
 * Reading and writing protocol messages. Each side decodes what it receives with the decoder of
 * the other side's messages: text that is not JSON, not a message, a type that side does not
 * send, or fields off their schema each come back as an error with its catalogue code — never
 * as an exception, and never as a half-checked value.
 */
import { FormatRegistry, type TSchema } from '@sinclair/typebox';
import { type TypeCheck, TypeCompiler } from '@sinclair/typebox/compiler';
import { ProtocolError, type ProtocolErrorCode } from './errors.js';
import { isWellFormedText, isWireIp } from './formats.js';
import {
  Ack,
  type AgentMessage,
  type CollectorMessage,
  ConfigChange,
  DhcpApplied,
  DhcpDrift,
  DhcpFailed,
  DhcpMap,
  DhcpMapChange,
  ErrorMessage,
  Hello,
  Sightings,
  Stats,
  Welcome,
} from './messages.js';

FormatRegistry.Set('ip', isWireIp);
FormatRegistry.Set('text', isWellFormedText);

/** The largest message either side accepts: a full batch of sightings with room to spare. */
export const MAX_MESSAGE_BYTES = 8 * 1024 * 1024; // 8 MiB

export type Decoded<T> = { ok: true; message: T } | { ok: false; error: ProtocolErrorCode; detail: string };

type Checks = Record<string, TypeCheck<TSchema>>;

function compile(schemas: Record<string, TSchema>): Checks {
  return Object.fromEntries(Object.entries(schemas).map(([type, schema]) => [type, TypeCompiler.Compile(schema)]));
}

const fromAgents = compile({
  hello: Hello,
  sightings: Sightings,
  dhcpApplied: DhcpApplied,
  dhcpFailed: DhcpFailed,
  dhcpDrift: DhcpDrift,
  stats: Stats,
});
const fromCollector = compile({
  welcome: Welcome,
  ack: Ack,
  dhcpMap: DhcpMap,
  dhcpMapChange: DhcpMapChange,
  config: ConfigChange,
  error: ErrorMessage,
});

function decode<T>(text: string, checks: Checks, sender: string): Decoded<T> {
  if (text.length > MAX_MESSAGE_BYTES) {
    return { ok: false, error: ProtocolError.MESSAGE_TOO_LARGE.code, detail: `message of ${text.length} characters` };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, error: ProtocolError.MALFORMED_MESSAGE.code, detail: `not JSON: ${(error as Error).message}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, error: ProtocolError.MALFORMED_MESSAGE.code, detail: 'a message is a JSON object' };
  }
  const type = (value as { type?: unknown }).type;
  if (typeof type !== 'string') {
    return { ok: false, error: ProtocolError.MALFORMED_MESSAGE.code, detail: 'a message has a string "type"' };
  }
  const check = Object.hasOwn(checks, type) ? checks[type] : undefined;
  if (check === undefined) {
    return {
      ok: false,
      error: ProtocolError.UNEXPECTED_MESSAGE.code,
      detail: `"${type.slice(0, 64)}" is not a message the ${sender} sends`,
    };
  }
  if (!check.Check(value)) {
    const first = check.Errors(value).First();
    const where = first?.path || '/';
    return {
      ok: false,
      error: ProtocolError.INVALID_MESSAGE.code,
      detail: `${type} ${where}: ${first?.message ?? 'invalid'}`,
    };
  }
  return { ok: true, message: value as T };
}

/** A message received from an agent (the collector's side). */
export function decodeAgentMessage(text: string): Decoded<AgentMessage> {
  return decode(text, fromAgents, 'agent');
}

/** A message received from the collector (the agent's side). */
export function decodeCollectorMessage(text: string): Decoded<CollectorMessage> {
  return decode(text, fromCollector, 'collector');
}

export function encodeMessage(message: AgentMessage | CollectorMessage): string {
  return JSON.stringify(message);
}
