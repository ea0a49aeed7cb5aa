/**
 * An option is declared once (STYLE.md 8): its key (in the configuration and a JSON file), its
 * flag, its environment variable, its value type, its default and its description. The loader
 * reads flags over the environment over a file over the defaults, and a bad value stops it with
 * a message naming the option and where the value came from.
 */
import { UsageError } from './usage-error.js';
import { ValueProblem, type ValueType } from './value-types.js';

export interface Option<K extends string = string, T = unknown> {
  /** The configuration's property, and the key in a JSON configuration file. */
  readonly key: K;
  /** Without its dashes: `state-dir` is `--state-dir`. */
  readonly flag: string;
  readonly env?: string;
  readonly type: ValueType<T>;
  /** What the value is in the usage text (`--state-dir DIR`), where the type's placeholder is not enough. */
  readonly value?: string;
  /** Absent: the option is unset (undefined) unless given. */
  readonly default?: T;
  readonly description: string;
  /** False for options a configuration file cannot hold (the file's own name). */
  readonly inFile?: boolean;
}

// biome-ignore lint/suspicious/noExplicitAny: a schema holds options of every value type
export type AnyOption = Option<string, any>;

/** The configuration a literal option list loads into: each key's value, `| undefined` without a default. */
type Shape<O extends readonly AnyOption[]> = {
  -readonly [E in O[number] as E['key']]: E['type'] extends ValueType<infer T>
    ? 'default' extends keyof E
      ? T
      : T | undefined
    : never;
};

declare const configType: unique symbol;

/**
 * Options as defineOptions returns them: each readable as an Option (`o.env`, `o.default`), the
 * list carrying the type of the configuration it loads into.
 */
export type OptionList<C> = readonly AnyOption[] & { readonly [configType]?: C };

/** The configuration `loadOptions(list)` returns. */
export type ConfigOf<L extends OptionList<unknown>> = NonNullable<L[typeof configType]>;

/** Checks an option list once, where it is declared: keys, flags and variables are unique. */
export function defineOptions<const O extends readonly AnyOption[]>(options: O): OptionList<Shape<O>> {
  const seen = new Set<string>();
  for (const o of options) {
    for (const name of [`key ${o.key}`, `--${o.flag}`, ...(o.env === undefined ? [] : [o.env])]) {
      if (seen.has(name)) throw new Error(`option ${o.key}: ${name} is declared twice`);
      seen.add(name);
    }
  }
  return options;
}

/** `--flag (ENV)`: the option in a message that concerns no particular value of it. */
export function optionName(option: AnyOption): string {
  return option.env === undefined ? `--${option.flag}` : `--${option.flag} (${option.env})`;
}

/** Where a value came from, for messages. */
export type Origin = { flag: string } | { env: string } | { file: string };

function where(option: AnyOption, origin: Origin): string {
  if ('flag' in origin) return `--${option.flag}`;
  if ('env' in origin) return `${origin.env} (--${option.flag})`;
  return `"${option.key}" in ${origin.file} (--${option.flag})`;
}

/** Parses one value of `option`; a refusal becomes a UsageError naming it and its origin. */
export function parseValue<T>(option: Option<string, T>, raw: unknown, origin: Origin): T {
  try {
    return option.type.parse(raw, !('file' in origin));
  } catch (error) {
    if (error instanceof ValueProblem) throw new UsageError(`${where(option, origin)}: ${error.message}`);
    throw error;
  }
}

export interface OptionSources {
  /** Flags as parseArgs gives them, by flag name; repeatable ones as lists. */
  flags: Record<string, unknown>;
  env: Record<string, string | undefined>;
  /** A configuration file's values, by key (see configFileValues), and its name for messages. */
  file?: { name: string; values: Record<string, unknown> };
}

/**
 * Flags over the environment over the file over the defaults. An empty environment variable is
 * unset (`FOO= cmd`, compose's `${FOO:-}`); an empty flag is a value, checked as any other.
 */
export function loadOptions<L extends OptionList<unknown>>(options: L, sources: OptionSources): ConfigOf<L> {
  const { flags, env, file } = sources;
  const config: Record<string, unknown> = {};
  for (const option of options) {
    let flag = flags[option.flag];
    // A single-valued option given as a list (parseArgs' `multiple`) takes its last value.
    if (Array.isArray(flag) && !option.type.repeatable) flag = flag.at(-1);
    const fromEnv = option.env === undefined ? undefined : env[option.env];
    const fromFile = option.inFile === false ? undefined : file?.values[option.key];
    if (flag !== undefined && !(Array.isArray(flag) && flag.length === 0))
      config[option.key] = parseValue(option, flag, { flag: option.flag });
    else if (fromEnv !== undefined && fromEnv !== '')
      config[option.key] = parseValue(option, fromEnv, { env: option.env! });
    else if (fromFile !== undefined) config[option.key] = parseValue(option, fromFile, { file: file!.name });
    else config[option.key] = option.default;
  }
  return config as ConfigOf<L>;
}

/**
 * A JSON configuration file's text as values by key; refuses what is not a JSON object and keys
 * that are no option of `options`, so a typo does not pass for a default. Reading it is the
 * program's: this package does no I/O.
 */
export function configFileValues(options: readonly AnyOption[], text: string, file: string): Record<string, unknown> {
  let values: unknown;
  try {
    values = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`configuration ${file} is not JSON: ${(error as Error).message}`);
  }
  if (typeof values !== 'object' || values === null || Array.isArray(values))
    throw new UsageError(`configuration ${file} must be a JSON object`);
  for (const key of Object.keys(values)) {
    if (!options.some((o) => o.key === key && o.inFile !== false))
      throw new UsageError(`configuration ${file}: unknown option "${key}"`);
  }
  return values as Record<string, unknown>;
}

/** The options as `node:util` parseArgs reads them: a string each (a list if repeatable), a boolean for a presence flag. */
export function parseArgsOptions(
  options: readonly AnyOption[],
): Record<string, { type: 'string'; multiple: boolean } | { type: 'boolean' }> {
  return Object.fromEntries(
    options.map((o) => [
      o.flag,
      o.type.presence ? { type: 'boolean' as const } : { type: 'string' as const, multiple: !!o.type.repeatable },
    ]),
  );
}
