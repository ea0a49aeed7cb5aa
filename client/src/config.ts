/**
 * The client's configuration: one schema (STYLE.md 8). Flags, environment variables and a JSON
 * configuration file map onto it, in that order of precedence; bad configuration fails with a
 * message naming the option and where its value came from.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from './errors.js';

export interface ClientConfig {
  /** The collector's base URL, without a trailing slash. */
  server: string;
  token: string | undefined;
  timeoutSeconds: number;
}

interface Option {
  key: keyof ClientConfig;
  flag: string;
  env: string;
  kind: 'url' | 'token' | 'integer';
  /** What the value is, in the usage text (`--server URL`). */
  value: string;
  description: string;
  default: ClientConfig[keyof ClientConfig] | undefined;
  min?: number;
  max?: number;
}

export const CLIENT_OPTIONS: readonly Option[] = [
  {
    key: 'server',
    flag: 'server',
    env: 'IPWARDEN_SERVER',
    kind: 'url',
    value: 'URL',
    description: "the collector's http(s)://host:port",
    default: undefined,
  },
  {
    key: 'token',
    flag: 'token',
    env: 'IPWARDEN_TOKEN',
    kind: 'token',
    value: 'TOKEN',
    description: 'API token (better in the environment or the file: arguments are visible to every local user)',
    default: undefined,
  },
  {
    key: 'timeoutSeconds',
    flag: 'timeout',
    env: 'IPWARDEN_TIMEOUT',
    kind: 'integer',
    value: 'SECONDS',
    min: 1,
    max: 3600,
    description: 'seconds to wait for each answer of the server',
    default: 30, // 30 s: above the API's default DHCP wait of 5 s
  },
];

/** The configuration file's flag and variable: not options of the file itself. */
export const CONFIG_FLAG = 'config';
export const CONFIG_ENV = 'IPWARDEN_CONFIG';

/** `$XDG_CONFIG_HOME/ipwarden/config.json`, else `~/.config/ipwarden/config.json`. */
export function defaultConfigFile(env: Record<string, string | undefined>, home: string): string {
  return join(env.XDG_CONFIG_HOME || join(home, '.config'), 'ipwarden', 'config.json');
}

type Origin = { flag: string } | { env: string } | { file: string };

function fail(option: Option, origin: Origin, problem: string): never {
  const where =
    'flag' in origin
      ? `--${option.flag}`
      : 'env' in origin
        ? `${origin.env} (--${option.flag})`
        : `"${option.key}" in ${origin.file} (--${option.flag})`;
  throw new UsageError(`${where}: ${problem}`);
}

/** Checks and converts one value: a string from flags and the environment, anything from the file. */
function parse(option: Option, raw: unknown, origin: Origin): string | number {
  switch (option.kind) {
    case 'url': {
      if (typeof raw !== 'string') fail(option, origin, 'a URL');
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        fail(option, origin, `"${raw}" is not a URL`);
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:')
        fail(option, origin, `"${raw}" is not http:// or https://`);
      // A path is kept, for a collector behind a proxy under a prefix.
      return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
    }
    case 'token':
      // The value is never echoed: it is a secret.
      if (typeof raw !== 'string' || !/^[\x21-\x7e]+$/.test(raw))
        fail(option, origin, 'a token of printable characters without spaces');
      return raw;
    case 'integer': {
      // Text from flags and the environment; a JSON number from the file.
      const fromText = !('file' in origin);
      const n =
        typeof raw === 'number' && !fromText
          ? raw
          : typeof raw === 'string' && fromText && /^\d+$/.test(raw)
            ? Number(raw)
            : Number.NaN;
      if (!Number.isSafeInteger(n) || n < option.min! || n > option.max!)
        fail(option, origin, `a whole number from ${option.min} to ${option.max}, not "${String(raw)}"`);
      return n;
    }
  }
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
  let values: unknown;
  try {
    values = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`configuration ${file} is not JSON: ${(error as Error).message}`);
  }
  if (typeof values !== 'object' || values === null || Array.isArray(values))
    throw new UsageError(`configuration ${file} must be a JSON object`);
  for (const key of Object.keys(values)) {
    if (!CLIENT_OPTIONS.some((o) => o.key === key))
      throw new UsageError(`configuration ${file}: unknown option "${key}"`);
  }
  const warnings: string[] = [];
  const mode = statSync(file).mode & 0o777;
  // As ssh does for private keys: a token others can read is a token others can use.
  if ('token' in values && (mode & 0o077) !== 0) {
    warnings.push(
      `${file} holds a token and other users can read or change it (mode ${mode.toString(8).padStart(4, '0')}): chmod 600 ${file}`,
    );
  }
  return { values: values as Record<string, unknown>, warnings };
}

/** Flags over environment over file over defaults; throws a UsageError naming the bad option. */
export function loadConfig({ flags, env, home }: ConfigSources): LoadedConfig {
  const named = (flags[CONFIG_FLAG] as string | undefined) || env[CONFIG_ENV] || undefined;
  const file = named ?? defaultConfigFile(env, home);
  const { values: fromFile, warnings } = readFile(file, named !== undefined);
  const config: Record<string, unknown> = {};
  for (const option of CLIENT_OPTIONS) {
    const flag = flags[option.flag];
    const envValue = env[option.env];
    if (flag !== undefined) config[option.key] = parse(option, flag, { flag: option.flag });
    else if (envValue !== undefined && envValue !== '')
      config[option.key] = parse(option, envValue, { env: option.env });
    else if (fromFile[option.key] !== undefined) config[option.key] = parse(option, fromFile[option.key], { file });
    else config[option.key] = option.default;
  }
  if (config.server === undefined)
    throw new UsageError(`no server: give --server URL, set IPWARDEN_SERVER, or put "server" in ${file}`);
  return { config: config as unknown as ClientConfig, file, warnings };
}
