/**
 * The collector's configuration: one schema (STYLE.md 8) in the option machinery of
 * @ipwarden/options — every option with its default, its flag and environment variable
 * (DESIGN.md, "Command-line contract"), and a check that names the option when its value is
 * bad. Flags win over the environment.
 */
import { isIP } from 'node:net';
import {
  defineOptions,
  integer,
  invalid,
  loadOptions,
  onOff,
  optionName,
  path,
  secret,
  UsageError,
  type ValueType,
} from '@ipwarden/options';
import { MAX_STORING_AT_ONCE, STORING_AT_ONCE } from './ingest/store-gate.js';

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
  ingestStatements: number;
}

/** `HOST:PORT`, an IPv6 host in brackets. */
const hostPort: ValueType<{ host: string; port: number }> = {
  placeholder: 'HOST:PORT',
  accepts: 'HOST:PORT (`[::]:8460` for IPv6)',
  parse(raw) {
    const text = String(raw);
    const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
    const host = match?.[1] ?? match?.[2];
    const port = Number(match?.[3]);
    if (host === undefined || port > 65_535 || (match?.[1] !== undefined && isIP(host) !== 6))
      invalid(`"${text}" is not HOST:PORT (0.0.0.0:8460, [::]:8460)`);
    return { host, port };
  },
  format: ({ host, port }) => (isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`),
};

/** A PostgreSQL server's URL; a password in a refused one is not echoed. */
const postgresUrl: ValueType<string> = {
  placeholder: 'URL',
  accepts: 'a postgres:// or postgresql:// URL',
  parse(raw) {
    const text = String(raw);
    if (!/^postgres(ql)?:\/\//.test(text)) invalid(`a postgres:// URL, not "${text.replace(/:[^:@/]*@/, ':***@')}"`);
    return text;
  },
  format: (value) => value,
};

/** Tokens and secrets: long enough to resist guessing, printable, no spaces. */
const collectorSecret = secret({ placeholder: 'SECRET', minLength: 16, maxLength: 512 });

export const COLLECTOR_OPTIONS = defineOptions([
  {
    key: 'listen',
    flag: 'listen',
    env: 'IPWARDEN_LISTEN',
    type: hostPort,
    description: 'HOST:PORT for the API and the agent WebSocket',
    default: { host: '0.0.0.0', port: 8460 },
  },
  {
    key: 'dataDir',
    flag: 'data-dir',
    env: 'IPWARDEN_DATA_DIR',
    type: path('DIR'),
    description: 'embedded database and generated secrets',
    default: '/var/lib/ipwarden',
  },
  {
    key: 'databaseUrl',
    flag: 'database-url',
    env: 'DATABASE_URL',
    type: postgresUrl,
    description: 'postgres://… for a PostgreSQL server; unset: embedded PGlite in the data directory',
  },
  {
    key: 'adminToken',
    flag: 'admin-token',
    env: 'IPWARDEN_ADMIN_TOKEN',
    type: { ...collectorSecret, placeholder: 'TOKEN' },
    description:
      "the admin's API token; unset: generated at first start, kept in the data directory (prefer the environment variable: arguments are visible to every local user)",
  },
  {
    key: 'agentSecret',
    flag: 'agent-secret',
    env: 'IPWARDEN_AGENT_SECRET',
    type: collectorSecret,
    description:
      'enrollment secret agents present on first contact; unset: generated, kept in the data directory (prefer the environment variable: arguments are visible to every local user)',
  },
  {
    key: 'tlsCert',
    flag: 'tls-cert',
    env: 'IPWARDEN_TLS_CERT',
    type: path('FILE'),
    description: 'PEM certificate: serve https:// and wss://',
  },
  {
    key: 'tlsKey',
    flag: 'tls-key',
    env: 'IPWARDEN_TLS_KEY',
    type: path('FILE'),
    description: 'PEM private key of --tls-cert',
  },
  {
    key: 'reconcile',
    flag: 'reconcile',
    env: 'IPWARDEN_RECONCILE',
    type: onOff(),
    description: 'on: judge sightings against the allocations and raise conflicts; off: store and serve them only',
    default: true,
  },
  {
    key: 'ingestStatements',
    flag: 'ingest-statements',
    env: 'IPWARDEN_INGEST_STATEMENTS',
    type: integer({ min: 1, max: MAX_STORING_AT_ONCE }),
    description:
      "batches of sightings stored at once, each keeping one of PostgreSQL's cores busy: raise it where PostgreSQL has cores to spare",
    default: STORING_AT_ONCE,
  },
]);

export function loadCollectorConfig(
  flags: Record<string, string | undefined>,
  env: Record<string, string | undefined>,
): CollectorConfig {
  const { listen, ...config } = loadOptions(COLLECTOR_OPTIONS, { flags, env });
  if ((config.tlsCert === undefined) !== (config.tlsKey === undefined)) {
    const [cert, key] = ['tlsCert', 'tlsKey'].map((k) => optionName(COLLECTOR_OPTIONS.find((o) => o.key === k)!));
    throw new UsageError(`${cert} and ${key} go together`);
  }
  return { ...listen, ...config };
}
