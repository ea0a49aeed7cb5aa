/**
 * The client's configuration: one schema (STYLE.md 8) in the option machinery of
 * @ipwarden/options. Flags, environment variables and a JSON configuration file map onto it, in
 * that order of precedence; bad configuration fails with a message naming the option and where
 * its value came from.
 *
 * Only the program's own options are here: how to reach the server, and how to print. A
 * command's options (`--vlan`, `--hostname`…) are the API's parameters, with no variable, file
 * key or default: they stay with the commands' grammar in commands.ts.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  type ConfigOf,
  configFileValues,
  defineOptions,
  httpUrl,
  integer,
  loadOptions,
  path,
  presence,
  secret,
  UsageError,
} from '@ipwarden/options';

export const CLIENT_OPTIONS = defineOptions([
  {
    key: 'server',
    flag: 'server',
    env: 'IPWARDEN_SERVER',
    // A path is kept, for a collector behind a proxy under a prefix.
    type: httpUrl({ keepPath: true }),
    description: "the collector's http(s)://host:port",
  },
  {
    key: 'token',
    flag: 'token',
    env: 'IPWARDEN_TOKEN',
    type: secret(),
    description: 'API token (better in the environment or the file: arguments are visible to every local user)',
  },
  {
    key: 'timeoutSeconds',
    flag: 'timeout',
    env: 'IPWARDEN_TIMEOUT',
    type: integer({ min: 1, max: 3600, unit: 's' }),
    description: 'seconds to wait for each answer of the server',
    default: 30, // 30 s: above the API's default DHCP wait of 5 s
  },
]);

/** The server is required: loadConfig refuses to go without one. */
export type ClientConfig = ConfigOf<typeof CLIENT_OPTIONS> & { server: string };

/** The configuration file's own option: it names the file, so the file cannot hold it. */
export const CLIENT_CONFIG_FILE = defineOptions([
  {
    key: 'configFile',
    flag: 'config',
    env: 'IPWARDEN_CONFIG',
    type: path('FILE'),
    description: `JSON with any of ${CLIENT_OPTIONS.map((o) => `"${o.key}"`).join(', ')}; default $XDG_CONFIG_HOME/ipwarden/config.json, else ~/.config/ipwarden/config.json`,
    inFile: false,
  },
]);

/** How the answer is printed: a per-invocation choice, not configuration a file would hold. */
export const CLIENT_OUTPUT_OPTIONS = defineOptions([
  {
    key: 'json',
    flag: 'json',
    type: presence(),
    description: "print the API's JSON answer, one document, for scripts",
    default: false,
    inFile: false,
  },
]);

/** Every option of the program, allowed anywhere on the line, in the order --help shows them. */
export const CLIENT_GLOBAL_OPTIONS = [...CLIENT_OPTIONS, ...CLIENT_CONFIG_FILE, ...CLIENT_OUTPUT_OPTIONS];

/** `$XDG_CONFIG_HOME/ipwarden/config.json`, else `~/.config/ipwarden/config.json`. */
export function defaultConfigFile(env: Record<string, string | undefined>, home: string): string {
  return join(env.XDG_CONFIG_HOME || join(home, '.config'), 'ipwarden', 'config.json');
}

export interface ConfigSources {
  /** Parsed flags, by flag name (`--config` among them). */
  flags: Record<string, unknown>;
  env: Record<string, string | undefined>;
  /** The home directory, for the default configuration file. */
  home: string;
}

export interface LoadedConfig {
  config: ClientConfig;
  /** The configuration file consulted (it may not exist), for messages. */
  file: string;
  /** Things to tell the person, such as a token file others can read. */
  warnings: string[];
}

/** Reads the configuration file: a named one must exist, the default one may not. */
function readFile(file: string, named: boolean): { values: Record<string, unknown>; warnings: string[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if (!named && (error as NodeJS.ErrnoException).code === 'ENOENT') return { values: {}, warnings: [] };
    throw new UsageError(`cannot read configuration ${file}: ${(error as Error).message}`);
  }
  const values = configFileValues(CLIENT_OPTIONS, text, file);
  const warnings: string[] = [];
  const mode = statSync(file).mode & 0o777;
  // As ssh does for private keys: a token others can read is a token others can use.
  if ('token' in values && (mode & 0o077) !== 0) {
    warnings.push(
      `${file} holds a token and other users can read or change it (mode ${mode.toString(8).padStart(4, '0')}): chmod 600 ${file}`,
    );
  }
  return { values, warnings };
}

/** Flags over environment over file over defaults; throws a UsageError naming the bad option. */
export function loadConfig({ flags, env, home }: ConfigSources): LoadedConfig {
  const named = loadOptions(CLIENT_CONFIG_FILE, { flags, env }).configFile;
  const file = named ?? defaultConfigFile(env, home);
  const { values, warnings } = readFile(file, named !== undefined);
  const config = loadOptions(CLIENT_OPTIONS, { flags, env, file: { name: file, values } });
  if (config.server === undefined)
    throw new UsageError(`no server: give --server URL, set IPWARDEN_SERVER, or put "server" in ${file}`);
  return { config: { ...config, server: config.server }, file, warnings };
}
