/**
 * The agent's configuration: one schema (STYLE.md 8) in the option machinery of
 * @ipwarden/options. Every option has a default, a description and a check; flags, environment
 * variables and a JSON configuration file all map onto it, in that order of precedence. Bad
 * configuration fails at start-up with a message naming the option and where its value came
 * from.
 */
import { readFileSync } from 'node:fs';
import {
  type ConfigOf,
  choice,
  configFileValues,
  defineOptions,
  httpUrl,
  integer,
  list,
  loadOptions,
  optionName,
  path,
  text,
  UsageError,
} from '@ipwarden/options';
import { MAX_BATCH_ITEMS } from '@ipwarden/protocol';
import { DEFAULT_MAX_ENTRIES, DEFAULT_REFRESH_MS } from './binding-table.js';
import { DEFAULT_DRIFT_CHECK_MS } from './dhcp/dhcp-service.js';
import { DEFAULT_OUTBOX_BYTES, MAX_OUTBOX_BYTES } from './outbox.js';
import { DEFAULT_BATCH_ITEMS, DEFAULT_FLUSH_DELAY_MS } from './uplink.js';

/** Every option of `ipwarden-agent run`; DESIGN.md's command-line contract names most of them. */
export const AGENT_OPTIONS = defineOptions([
  {
    key: 'collectors',
    flag: 'collector',
    env: 'IPWARDEN_COLLECTOR',
    type: list(httpUrl()),
    description: 'collector URL (http:// or https://); several for failover',
    default: [],
  },
  {
    key: 'secret',
    flag: 'secret',
    env: 'IPWARDEN_AGENT_SECRET',
    type: text({ placeholder: 'SECRET' }),
    description:
      'enrollment secret, for the first contact (prefer the environment variable: arguments are visible to every local user)',
  },
  {
    key: 'token',
    flag: 'token',
    env: 'IPWARDEN_AGENT_TOKEN',
    type: text({ placeholder: 'TOKEN' }),
    description:
      "this agent's token, when an admin made one; after enrollment the agent keeps its own in the state directory (prefer the environment variable: arguments are visible to every local user)",
  },
  {
    key: 'interfaces',
    flag: 'interface',
    env: 'IPWARDEN_INTERFACES',
    type: list(text({ placeholder: 'IF' })),
    description: 'interface to watch; default: every up, non-loopback interface with an address',
    default: [],
  },
  {
    key: 'stateDir',
    flag: 'state-dir',
    env: 'IPWARDEN_STATE_DIR',
    type: path('DIR'),
    description: 'outbox, token and last DHCP map',
    default: '/var/lib/ipwarden-agent',
  },
  {
    key: 'name',
    flag: 'name',
    env: 'IPWARDEN_AGENT_NAME',
    type: text({ placeholder: 'NAME', maxLength: 64 }), // the protocol's bound on hello.agentId
    description: 'name to enroll under; default: the hostname',
  },
  {
    key: 'dhcpBackend',
    flag: 'dhcp-backend',
    env: 'IPWARDEN_DHCP_BACKEND',
    type: choice(['none', 'file', 'dnsmasq', 'kea']),
    description: 'DHCP server the agent keeps in step',
    default: 'none',
  },
  {
    key: 'dhcpFile',
    flag: 'dhcp-file',
    env: 'IPWARDEN_DHCP_FILE',
    type: path('FILE'),
    description: 'where the file backend writes the DHCP map (JSON); default: dhcp-map.json in the state directory',
  },
  {
    key: 'dnsmasqDir',
    flag: 'dnsmasq-dir',
    env: 'IPWARDEN_DNSMASQ_DIR',
    type: path('DIR'),
    description:
      "where the dnsmasq backend keeps dnsmasq's hosts file, hosts directory and options file; default: dnsmasq/ in the state directory",
  },
  {
    key: 'dnsmasqPidFile',
    flag: 'dnsmasq-pid-file',
    env: 'IPWARDEN_DNSMASQ_PID_FILE',
    type: path('FILE'),
    description:
      'a dnsmasq run by someone else, reading the files of --dnsmasq-dir, to send SIGHUP to; default: the agent runs its own on its interfaces',
  },
  {
    key: 'keaDir',
    flag: 'kea-dir',
    env: 'IPWARDEN_KEA_DIR',
    type: path('DIR'),
    description:
      "where the kea backend keeps kea-dhcp4's configuration, leases, control socket and pid file; default: kea/ in the state directory",
  },
  {
    key: 'keaHostsDatabase',
    flag: 'kea-hosts-database',
    env: 'IPWARDEN_KEA_HOSTS_DATABASE',
    type: text({ placeholder: 'URL' }),
    description:
      'the PostgreSQL database Kea reads reservations from, postgres://user:password@host:port/name (?host=/socket/dir for a Unix socket); its schema is made when it is empty',
  },
  {
    key: 'dhcpCheckSeconds',
    flag: 'dhcp-check',
    env: 'IPWARDEN_DHCP_CHECK_SECONDS',
    type: integer({ min: 0, max: 86_400, unit: 's' }),
    description:
      'seconds between reads of what the DHCP server serves, to report drift from the applied map and put it back (kea, file); 0: never',
    default: DEFAULT_DRIFT_CHECK_MS / 1000, // 300 s
  },
  {
    key: 'pcap',
    flag: 'pcap',
    type: path('FILE'),
    description: "stream a capture file's sightings instead of capturing live",
  },
  {
    key: 'refreshSeconds',
    flag: 'refresh',
    env: 'IPWARDEN_REFRESH_SECONDS',
    type: integer({ min: 1, max: 86_400, unit: 's' }),
    description:
      "seconds before an unchanged binding is reported again; once connected, the collector's setting (PUT /settings) replaces it",
    default: DEFAULT_REFRESH_MS / 1000, // 600 s
  },
  {
    key: 'maxBindings',
    flag: 'max-bindings',
    env: 'IPWARDEN_MAX_BINDINGS',
    type: integer({ min: 1, max: 100_000_000, unit: 'bindings' }),
    description: 'bindings remembered at most per interface; the least recently reported go first',
    default: DEFAULT_MAX_ENTRIES,
  },
  {
    key: 'outboxBytes',
    flag: 'outbox-bytes',
    env: 'IPWARDEN_OUTBOX_BYTES',
    type: integer({ min: 64 * 1024, max: MAX_OUTBOX_BYTES, unit: 'bytes' }), // 64 KiB to 256 MiB
    description: 'bytes of unacknowledged sightings kept on disk',
    default: DEFAULT_OUTBOX_BYTES, // 64 MiB
  },
  {
    key: 'ca',
    flag: 'ca',
    env: 'IPWARDEN_CA',
    type: path('FILE'),
    description: "PEM certificates to trust for an https:// collector (a self-signed collector's own)",
  },
  {
    key: 'batchItems',
    flag: 'batch-items',
    env: 'IPWARDEN_BATCH_ITEMS',
    type: integer({ min: 1, max: MAX_BATCH_ITEMS, unit: 'sightings' }),
    description: 'sightings per batch at most',
    default: DEFAULT_BATCH_ITEMS, // 1000 sightings
  },
  {
    key: 'flushDelayMs',
    flag: 'flush-delay',
    env: 'IPWARDEN_FLUSH_DELAY_MS',
    type: integer({ min: 0, max: 10_000, unit: 'ms' }),
    description: 'milliseconds a sighting waits for others to share its batch',
    default: DEFAULT_FLUSH_DELAY_MS, // 5 ms
  },
  {
    key: 'statsSeconds',
    flag: 'stats-interval',
    env: 'IPWARDEN_STATS_SECONDS',
    type: integer({ min: 1, max: 3600, unit: 's' }),
    description: 'seconds between two reports of the capture and outbox counters to the collector',
    default: 10, // 10 s
  },
]);

/** The configuration file's own option: it names the file, so the file cannot hold it. */
export const AGENT_CONFIG_FILE = defineOptions([
  {
    key: 'configFile',
    flag: 'config',
    env: 'IPWARDEN_AGENT_CONFIG',
    type: path('FILE'),
    description: 'JSON file holding any of the other options, by key',
    inFile: false,
  },
]);

/** Everything `run` takes on its command line, in the order --help shows it. */
export const AGENT_RUN_OPTIONS = [...AGENT_CONFIG_FILE, ...AGENT_OPTIONS];

export type AgentConfig = ConfigOf<typeof AGENT_OPTIONS>;

export interface ConfigSources {
  /** Parsed flags: repeatable ones as arrays. */
  flags: Record<string, string | string[] | undefined>;
  env: Record<string, string | undefined>;
  /** A JSON configuration file, if one is named. */
  file?: string;
}

/** Flags over environment over file over defaults; throws a UsageError naming the bad option. */
export function loadConfig({ flags, env, file }: ConfigSources): AgentConfig {
  let values: Record<string, unknown> = {};
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new UsageError(`cannot read configuration ${file}: ${(error as Error).message}`);
    }
    values = configFileValues(AGENT_OPTIONS, text, file);
  }
  const config = loadOptions(AGENT_OPTIONS, { flags, env, file: { name: file ?? '', values } });
  if (config.collectors.length === 0) {
    const option = AGENT_OPTIONS.find((o) => o.key === 'collectors')!;
    throw new UsageError(`${optionName(option)}: at least one collector URL is needed`);
  }
  return config;
}
