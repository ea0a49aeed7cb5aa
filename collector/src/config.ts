/**
 * The collector's configuration: one schema (STYLE.md 8) — every option with its default, its
 * flag and environment variable (DESIGN.md, "Command-line contract"), and a check that names
 * the option when its value is bad. Flags win over the environment.
 */
import { isIP } from 'node:net';
import { UsageError } from './usage-error.js';

export interface CollectorConfig {
  host: string;
  port: number;
  dataDir: string;
  databaseUrl: string | undefined;
  adminToken: string | undefined;
  agentSecret: string | undefined;
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  reconcile: boolean;
}

interface Option {
  flag: string;
  env?: string;
  description: string;
  default?: string;
}

export const COLLECTOR_OPTIONS = {
  listen: {
    flag: 'listen',
    env: 'IPWARDEN_LISTEN',
    description: 'HOST:PORT for the API and the agent WebSocket',
    default: '0.0.0.0:8460',
  },
  dataDir: {
    flag: 'data-dir',
    env: 'IPWARDEN_DATA_DIR',
    description: 'embedded database and generated secrets',
    default: '/var/lib/ipwarden',
  },
  databaseUrl: {
    flag: 'database-url',
    env: 'DATABASE_URL',
    description: 'postgres://… for a PostgreSQL server; unset: embedded PGlite in the data directory',
  },
  adminToken: {
    flag: 'admin-token',
    env: 'IPWARDEN_ADMIN_TOKEN',
    description:
      "the admin's API token; unset: generated at first start, kept in the data directory (prefer the environment variable: arguments are visible to every local user)",
  },
  agentSecret: {
    flag: 'agent-secret',
    env: 'IPWARDEN_AGENT_SECRET',
    description:
      'enrollment secret agents present on first contact; unset: generated, kept in the data directory (prefer the environment variable: arguments are visible to every local user)',
  },
  tlsCert: { flag: 'tls-cert', env: 'IPWARDEN_TLS_CERT', description: 'PEM certificate: serve https:// and wss://' },
  tlsKey: { flag: 'tls-key', env: 'IPWARDEN_TLS_KEY', description: 'PEM private key of --tls-cert' },
  reconcile: {
    flag: 'reconcile',
    env: 'IPWARDEN_RECONCILE',
    description: 'on: judge sightings against the allocations and raise conflicts; off: store and serve them only',
    default: 'on',
  },
} as const satisfies Record<string, Option>;

type Key = keyof typeof COLLECTOR_OPTIONS;

/** Tokens and secrets: long enough to resist guessing, printable, no spaces. */
const SECRET = /^[\x21-\x7e]{16,512}$/;

export function parseListen(text: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (host === undefined || port > 65_535 || (match?.[1] !== undefined && isIP(host) !== 6)) {
    throw new UsageError(`--listen (IPWARDEN_LISTEN): "${text}" is not HOST:PORT (0.0.0.0:8460, [::]:8460)`);
  }
  return { host, port };
}

export function loadCollectorConfig(
  flags: Record<string, string | undefined>,
  env: Record<string, string | undefined>,
): CollectorConfig {
  const value = (key: Key): string | undefined => {
    const option: Option = COLLECTOR_OPTIONS[key];
    const raw = flags[option.flag] ?? (option.env === undefined ? undefined : env[option.env]);
    return raw === undefined || raw === '' ? option.default : raw;
  };
  const named = (key: Key) => `--${COLLECTOR_OPTIONS[key].flag} (${COLLECTOR_OPTIONS[key].env})`;
  const { host, port } = parseListen(value('listen')!);
  const databaseUrl = value('databaseUrl');
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new UsageError(
      `${named('databaseUrl')}: a postgres:// URL, not "${databaseUrl.replace(/:[^:@/]*@/, ':***@')}"`,
    );
  }
  for (const key of ['adminToken', 'agentSecret'] as const) {
    const secret = value(key);
    if (secret !== undefined && !SECRET.test(secret)) {
      throw new UsageError(`${named(key)}: 16 to 512 printable characters without spaces`);
    }
  }
  const tlsCert = value('tlsCert');
  const tlsKey = value('tlsKey');
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    throw new UsageError(`${named('tlsCert')} and ${named('tlsKey')} go together`);
  }
  const reconcile = value('reconcile');
  if (reconcile !== 'on' && reconcile !== 'off')
    throw new UsageError(`${named('reconcile')}: on or off, not "${reconcile}"`);
  return {
    host,
    port,
    reconcile: reconcile === 'on',
    dataDir: value('dataDir')!,
    databaseUrl,
    adminToken: value('adminToken'),
    agentSecret: value('agentSecret'),
    tlsCert,
    tlsKey,
  };
}
