/**
 * The agent's configuration: one schema (STYLE.md 8). Every option has a default, a description
 * and a check; flags, environment variables and a JSON configuration file all map onto it, in
 * that order of precedence. Bad configuration fails at start-up with a message naming the
 * option and where its value came from.
 */
import { readFileSync } from 'node:fs';
import { MAX_BATCH_ITEMS } from '@ipwarden/protocol';
import { DEFAULT_MAX_ENTRIES, DEFAULT_REFRESH_MS } from './binding-table.js';
import { DEFAULT_DRIFT_CHECK_MS } from './dhcp/dhcp-service.js';
import { UsageError } from './errors.js';
import { DEFAULT_OUTBOX_BYTES, MAX_OUTBOX_BYTES } from './outbox.js';
import { DEFAULT_BATCH_ITEMS, DEFAULT_FLUSH_DELAY_MS } from './uplink.js';

export interface AgentConfig {
  collectors: string[];
  secret: string | undefined;
  token: string | undefined;
  interfaces: string[];
  stateDir: string;
  name: string | undefined;
  dhcpBackend: 'none' | 'file' | 'dnsmasq' | 'kea';
  dhcpFile: string | undefined;
  dnsmasqDir: string | undefined;
  dnsmasqPidFile: string | undefined;
  keaDir: string | undefined;
  keaHostsDatabase: string | undefined;
  dhcpCheckSeconds: number;
  pcap: string | undefined;
  refreshSeconds: number;
  maxBindings: number;
  outboxBytes: number;
  ca: string | undefined;
  batchItems: number;
  flushDelayMs: number;
  statsSeconds: number;
}

type Kind = 'string' | 'list' | 'integer' | 'urls' | 'choice';

interface Option {
  key: keyof AgentConfig;
  flag: string;
  env?: string;
  kind: Kind;
  description: string;
  default: AgentConfig[keyof AgentConfig];
  /** What the value is, in the usage text (`--state-dir DIR`). */
  value?: string;
  choices?: readonly string[];
  min?: number;
  max?: number;
  /** Longest string accepted, for values that go on the wire under a bound of the protocol. */
  maxLength?: number;
}

/** Every option of `ipwarden-agent run`; DESIGN.md's command-line contract names most of them. */
export const AGENT_OPTIONS: readonly Option[] = [
  {
    key: 'collectors',
    flag: 'collector',
    env: 'IPWARDEN_COLLECTOR',
    kind: 'urls',
    value: 'URL',
    description: 'collector URL (http:// or https://); several for failover',
    default: [],
  },
  {
    key: 'secret',
    flag: 'secret',
    env: 'IPWARDEN_AGENT_SECRET',
    kind: 'string',
    value: 'SECRET',
    description:
      'enrollment secret, for the first contact (prefer the environment variable: arguments are visible to every local user)',
    default: undefined,
  },
  {
    key: 'token',
    flag: 'token',
    env: 'IPWARDEN_AGENT_TOKEN',
    kind: 'string',
    value: 'TOKEN',
    description:
      "this agent's token, when an admin made one; after enrollment the agent keeps its own in the state directory (prefer the environment variable: arguments are visible to every local user)",
    default: undefined,
  },
  {
    key: 'interfaces',
    flag: 'interface',
    env: 'IPWARDEN_INTERFACES',
    kind: 'list',
    value: 'IF',
    description: 'interface to watch; default: every up, non-loopback interface with an address',
    default: [],
  },
  {
    key: 'stateDir',
    flag: 'state-dir',
    env: 'IPWARDEN_STATE_DIR',
    kind: 'string',
    value: 'DIR',
    description: 'outbox, token and last DHCP map',
    default: '/var/lib/ipwarden-agent',
  },
  {
    key: 'name',
    flag: 'name',
    env: 'IPWARDEN_AGENT_NAME',
    kind: 'string',
    value: 'NAME',
    maxLength: 64, // the protocol's bound on hello.agentId
    description: 'name to enroll under; default: the hostname',
    default: undefined,
  },
  {
    key: 'dhcpBackend',
    flag: 'dhcp-backend',
    env: 'IPWARDEN_DHCP_BACKEND',
    kind: 'choice',
    choices: ['none', 'file', 'dnsmasq', 'kea'],
    description: 'DHCP server the agent keeps in step',
    default: 'none',
  },
  {
    key: 'dhcpFile',
    flag: 'dhcp-file',
    env: 'IPWARDEN_DHCP_FILE',
    kind: 'string',
    value: 'FILE',
    description: 'where the file backend writes the DHCP map (JSON); default: dhcp-map.json in the state directory',
    default: undefined,
  },
  {
    key: 'dnsmasqDir',
    flag: 'dnsmasq-dir',
    env: 'IPWARDEN_DNSMASQ_DIR',
    kind: 'string',
    value: 'DIR',
    description:
      "where the dnsmasq backend keeps dnsmasq's hosts file, hosts directory and options file; default: dnsmasq/ in the state directory",
    default: undefined,
  },
  {
    key: 'dnsmasqPidFile',
    flag: 'dnsmasq-pid-file',
    env: 'IPWARDEN_DNSMASQ_PID_FILE',
    kind: 'string',
    value: 'FILE',
    description:
      'a dnsmasq run by someone else, reading the files of --dnsmasq-dir, to send SIGHUP to; default: the agent runs its own on its interfaces',
    default: undefined,
  },
  {
    key: 'keaDir',
    flag: 'kea-dir',
    env: 'IPWARDEN_KEA_DIR',
    kind: 'string',
    value: 'DIR',
    description:
      "where the kea backend keeps kea-dhcp4's configuration, leases, control socket and pid file; default: kea/ in the state directory",
    default: undefined,
  },
  {
    key: 'keaHostsDatabase',
    flag: 'kea-hosts-database',
    env: 'IPWARDEN_KEA_HOSTS_DATABASE',
    kind: 'string',
    value: 'URL',
    description:
      'the PostgreSQL database Kea reads reservations from, postgres://user:password@host:port/name (?host=/socket/dir for a Unix socket); its schema is made when it is empty',
    default: undefined,
  },
  {
    key: 'dhcpCheckSeconds',
    flag: 'dhcp-check',
    env: 'IPWARDEN_DHCP_CHECK_SECONDS',
    kind: 'integer',
    value: 'SECONDS',
    min: 0,
    max: 86_400,
    description:
      'seconds between reads of what the DHCP server serves, to report drift from the applied map and put it back (kea, file); 0: never',
    default: DEFAULT_DRIFT_CHECK_MS / 1000, // 300 s
  },
  {
    key: 'pcap',
    flag: 'pcap',
    kind: 'string',
    value: 'FILE',
    description: "stream a capture file's sightings instead of capturing live",
    default: undefined,
  },
  {
    key: 'refreshSeconds',
    flag: 'refresh',
    env: 'IPWARDEN_REFRESH_SECONDS',
    kind: 'integer',
    value: 'SECONDS',
    min: 1,
    max: 86_400,
    description:
      "seconds before an unchanged binding is reported again; once connected, the collector's setting (PUT /settings) replaces it",
    default: DEFAULT_REFRESH_MS / 1000, // 600 s
  },
  {
    key: 'maxBindings',
    flag: 'max-bindings',
    env: 'IPWARDEN_MAX_BINDINGS',
    kind: 'integer',
    value: 'N',
    min: 1,
    max: 100_000_000,
    description: 'bindings remembered at most per interface; the least recently reported go first',
    default: DEFAULT_MAX_ENTRIES,
  },
  {
    key: 'outboxBytes',
    flag: 'outbox-bytes',
    env: 'IPWARDEN_OUTBOX_BYTES',
    kind: 'integer',
    value: 'BYTES',
    min: 64 * 1024,
    max: MAX_OUTBOX_BYTES, // 256 MiB
    description: 'bytes of unacknowledged sightings kept on disk',
    default: DEFAULT_OUTBOX_BYTES, // 64 MiB
  },
  {
    key: 'ca',
    flag: 'ca',
    env: 'IPWARDEN_CA',
    kind: 'string',
    value: 'FILE',
    description: "PEM certificates to trust for an https:// collector (a self-signed collector's own)",
    default: undefined,
  },
  {
    key: 'batchItems',
    flag: 'batch-items',
    env: 'IPWARDEN_BATCH_ITEMS',
    kind: 'integer',
    value: 'N',
    min: 1,
    max: MAX_BATCH_ITEMS,
    description: 'sightings per batch at most',
    default: DEFAULT_BATCH_ITEMS, // 1000 sightings
  },
  {
    key: 'flushDelayMs',
    flag: 'flush-delay',
    env: 'IPWARDEN_FLUSH_DELAY_MS',
    kind: 'integer',
    value: 'MS',
    min: 0,
    max: 10_000,
    description: 'milliseconds a sighting waits for others to share its batch',
    default: DEFAULT_FLUSH_DELAY_MS, // 5 ms
  },
  {
    key: 'statsSeconds',
    flag: 'stats-interval',
    env: 'IPWARDEN_STATS_SECONDS',
    kind: 'integer',
    value: 'SECONDS',
    min: 1,
    max: 3600,
    description: 'seconds between two reports of the capture and outbox counters to the collector',
    default: 10, // 10 s
  },
];

/** Where a value came from, for error messages. */
type Origin = { flag: string } | { env: string } | { file: string };

function describe(option: Option, origin: Origin): string {
  if ('flag' in origin) return `--${option.flag}`;
  if ('env' in origin) return `${origin.env} (--${option.flag})`;
  return `"${option.key}" in ${origin.file} (--${option.flag})`;
}

function fail(option: Option, origin: Origin, problem: string): never {
  throw new UsageError(`${describe(option, origin)}: ${problem}`);
}

/** Checks and converts one value; `raw` is a string from flags and env, anything from the file. */
function parse(option: Option, raw: unknown, origin: Origin): AgentConfig[keyof AgentConfig] {
  const values = (): string[] => {
    if (Array.isArray(raw))
      return raw.map((v) => (typeof v === 'string' ? v : fail(option, origin, 'a list of strings')));
    if (typeof raw !== 'string') fail(option, origin, 'a string or a list of strings');
    return raw
      .split(',')
      .map((v) => v.trim())
      .filter((v) => v !== '');
  };
  switch (option.kind) {
    case 'string':
      if (typeof raw !== 'string' || raw === '') fail(option, origin, 'a non-empty string');
      if (option.maxLength !== undefined && raw.length > option.maxLength)
        fail(option, origin, `at most ${option.maxLength} characters`);
      return raw;
    case 'list':
      return values();
    case 'urls':
      return values().map((text) => {
        let url: URL;
        try {
          url = new URL(text);
        } catch {
          fail(option, origin, `"${text}" is not a URL`);
        }
        if (url.protocol !== 'http:' && url.protocol !== 'https:')
          fail(option, origin, `"${text}" is not http:// or https://`);
        return url.origin;
      });
    case 'choice':
      if (typeof raw !== 'string' || !option.choices!.includes(raw))
        fail(option, origin, `one of ${option.choices!.join(', ')}`);
      return raw;
    case 'integer': {
      // Text from flags and the environment; a JSON number from the file.
      const fromText = !('file' in origin);
      const n =
        typeof raw === 'number' && !fromText
          ? raw
          : typeof raw === 'string' && fromText && /^\d+$/.test(raw.trim())
            ? Number(raw)
            : Number.NaN;
      if (!Number.isSafeInteger(n) || n < option.min! || n > option.max!) {
        fail(option, origin, `a whole number from ${option.min} to ${option.max}, not "${String(raw)}"`);
      }
      return n;
    }
  }
}

export interface ConfigSources {
  /** Parsed flags: repeatable ones as arrays. */
  flags: Record<string, string | string[] | undefined>;
  env: Record<string, string | undefined>;
  /** A JSON configuration file, if one is named. */
  file?: string;
}

/** Flags over environment over file over defaults; throws a UsageError naming the bad option. */
export function loadConfig({ flags, env, file }: ConfigSources): AgentConfig {
  let fromFile: Record<string, unknown> = {};
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new UsageError(`cannot read configuration ${file}: ${(error as Error).message}`);
    }
    try {
      fromFile = JSON.parse(text) as Record<string, unknown>;
    } catch (error) {
      throw new UsageError(`configuration ${file} is not JSON: ${(error as Error).message}`);
    }
    if (typeof fromFile !== 'object' || fromFile === null || Array.isArray(fromFile)) {
      throw new UsageError(`configuration ${file} must be a JSON object`);
    }
    for (const key of Object.keys(fromFile)) {
      if (!AGENT_OPTIONS.some((o) => o.key === key))
        throw new UsageError(`configuration ${file}: unknown option "${key}"`);
    }
  }
  const config: Record<string, unknown> = {};
  for (const option of AGENT_OPTIONS) {
    const flag = flags[option.flag];
    const envValue = option.env === undefined ? undefined : env[option.env];
    if (flag !== undefined && !(Array.isArray(flag) && flag.length === 0)) {
      config[option.key] = parse(option, Array.isArray(flag) && option.kind === 'string' ? flag.at(-1) : flag, {
        flag: option.flag,
      });
    } else if (envValue !== undefined && envValue !== '') {
      config[option.key] = parse(option, envValue, { env: option.env! });
    } else if (fromFile[option.key] !== undefined) {
      config[option.key] = parse(option, fromFile[option.key], { file: file! });
    } else {
      config[option.key] = option.default;
    }
  }
  const result = config as unknown as AgentConfig;
  if (result.collectors.length === 0) {
    throw new UsageError('--collector (IPWARDEN_COLLECTOR): at least one collector URL is needed');
  }
  return result;
}
