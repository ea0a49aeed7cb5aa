/**
 * What an option's value may be: how it is read from text (a flag, an environment variable) or
 * from JSON (a configuration file), what a person is told it accepts, and how a value — its
 * default — is shown with its unit.
 */

/** A value an option refuses; the loader prefixes the option and where the value came from. */
export class ValueProblem extends Error {
  override readonly name = 'ValueProblem';
}

/** Refuses a value: `problem` says what was expected, in the words of the option's message. */
export function invalid(problem: string): never {
  throw new ValueProblem(problem);
}

export interface ValueType<T> {
  /** The value in the usage text when the option does not name it (`--collector URL`). */
  readonly placeholder: string;
  /** What it accepts, for --help and the reference (`1 to 86400 s`, `on \| off`). */
  readonly accepts: string;
  /** Given several times on the command line, comma-separated in the environment. */
  readonly repeatable?: boolean;
  /** A flag without a value (`--json`). */
  readonly presence?: boolean;
  /** A value from a flag or the environment (`fromText`), or anything from a JSON file. */
  parse(raw: unknown, fromText: boolean): T;
  /** A value as a person reads it, with its unit (`300 s`, `64 MiB`); undefined: nothing to show. */
  format(value: T): string | undefined;
}

/** WHATWG URL, a global of Node and browsers: typed here so the package needs neither DOM nor Node typings. */
declare const URL: new (input: string) => { protocol: string; origin: string; pathname: string };

const MIB = 1024 * 1024;

/** The unit of a whole number: seconds, milliseconds, bytes, or a plural noun (`sightings`). */
export type Unit = 's' | 'ms' | 'bytes' | (string & {});

function withUnit(n: number, unit: Unit | undefined): string {
  if (unit === 'bytes') {
    if (n >= MIB && n % MIB === 0) return `${n / MIB} MiB`;
    if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  }
  return unit === undefined ? String(n) : `${n} ${unit}`;
}

/** A non-empty string, at most `maxLength` characters (a bound of the protocol, say). */
export function text(options: { placeholder?: string; maxLength?: number } = {}): ValueType<string> {
  const { maxLength } = options;
  return {
    placeholder: options.placeholder ?? 'VALUE',
    accepts: maxLength === undefined ? 'text' : `text, at most ${maxLength} characters`,
    parse(raw) {
      if (typeof raw !== 'string' || raw === '') invalid('a non-empty string');
      if (maxLength !== undefined && raw.length > maxLength) invalid(`at most ${maxLength} characters`);
      return raw;
    },
    format: (value) => value,
  };
}

/** A file or directory name; not checked for existence here: the program opening it says. */
export const path = (placeholder: 'FILE' | 'DIR'): ValueType<string> => ({
  ...text({ placeholder }),
  accepts: placeholder === 'DIR' ? 'a directory' : 'a file',
});

/**
 * A token or secret: printable ASCII without spaces, optionally of bounded length. Its value is
 * never echoed in a message.
 */
export function secret(
  options: { placeholder?: string; minLength?: number; maxLength?: number } = {},
): ValueType<string> {
  const { minLength = 1, maxLength } = options;
  const shape =
    maxLength === undefined
      ? 'a token of printable characters without spaces'
      : `${minLength} to ${maxLength} printable characters without spaces`;
  return {
    placeholder: options.placeholder ?? 'TOKEN',
    accepts: shape.replace(/^a token of /, 'a token: '),
    parse(raw) {
      if (
        typeof raw !== 'string' ||
        !/^[\x21-\x7e]+$/.test(raw) ||
        raw.length < minLength ||
        (maxLength !== undefined && raw.length > maxLength)
      )
        invalid(shape);
      return raw;
    },
    format: () => undefined,
  };
}

/** A whole number from `min` to `max`: text of digits from flags and the environment, a JSON number from a file. */
export function integer(options: { min: number; max: number; unit?: Unit; placeholder?: string }): ValueType<number> {
  const { min, max, unit } = options;
  return {
    placeholder:
      options.placeholder ?? (unit === 's' ? 'SECONDS' : unit === 'ms' ? 'MS' : unit === 'bytes' ? 'BYTES' : 'N'),
    accepts: `${withUnit(min, unit === 'bytes' ? unit : undefined)} to ${withUnit(max, unit)}`,
    parse(raw, fromText) {
      const n =
        typeof raw === 'number' && !fromText
          ? raw
          : typeof raw === 'string' && fromText && /^\d+$/.test(raw.trim())
            ? Number(raw)
            : Number.NaN;
      if (!Number.isSafeInteger(n) || n < min || n > max)
        invalid(`a whole number from ${min} to ${max}, not "${String(raw)}"`);
      return n;
    },
    format: (value) => withUnit(value, unit),
  };
}

/** `on` or `off` (true or false in a JSON file). */
export function onOff(): ValueType<boolean> {
  return {
    placeholder: 'on|off',
    accepts: 'on | off',
    parse(raw, fromText) {
      if (!fromText && typeof raw === 'boolean') return raw;
      if (raw === 'on' || raw === 'off') return raw === 'on';
      invalid(`on or off, not "${String(raw)}"`);
    },
    format: (value) => (value ? 'on' : 'off'),
  };
}

/** One of a few words. */
export function choice<const C extends string>(choices: readonly C[]): ValueType<C> {
  return {
    placeholder: choices.join('|'),
    accepts: choices.join(' | '),
    parse(raw) {
      if (typeof raw !== 'string' || !choices.includes(raw as C)) invalid(`one of ${choices.join(', ')}`);
      return raw as C;
    },
    format: (value) => value,
  };
}

/** An http:// or https:// URL: its origin, or with `keepPath` its path too, without a trailing slash. */
export function httpUrl(options: { keepPath?: boolean } = {}): ValueType<string> {
  return {
    placeholder: 'URL',
    accepts: options.keepPath ? 'an http:// or https:// URL' : 'an http:// or https:// URL (its origin)',
    parse(raw) {
      if (typeof raw !== 'string') invalid('a URL');
      let url: InstanceType<typeof URL>;
      try {
        url = new URL(raw);
      } catch {
        invalid(`"${raw}" is not a URL`);
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') invalid(`"${raw}" is not http:// or https://`);
      return options.keepPath ? `${url.origin}${url.pathname.replace(/\/+$/, '')}` : url.origin;
    },
    format: (value) => value,
  };
}

/**
 * Several values: a flag given again and again, a comma-separated environment variable, a JSON
 * list (or comma-separated string) in a file. Empty items are dropped.
 */
export function list<T>(item: ValueType<T>): ValueType<T[]> {
  return {
    placeholder: item.placeholder,
    accepts: `${item.accepts}; repeatable, comma-separated in the environment`,
    repeatable: true,
    parse(raw, fromText) {
      let items: string[];
      if (Array.isArray(raw)) items = raw.map((v) => (typeof v === 'string' ? v : invalid('a list of strings')));
      else if (typeof raw === 'string')
        items = raw
          .split(',')
          .map((v) => v.trim())
          .filter((v) => v !== '');
      else invalid('a string or a list of strings');
      return items.map((v) => item.parse(v, fromText));
    },
    format: (values) => (values.length === 0 ? undefined : values.map((v) => item.format(v)).join(', ')),
  };
}

/** A flag without a value (`--json`): given or not. */
export function presence(): ValueType<boolean> {
  return {
    placeholder: '',
    accepts: 'no value',
    presence: true,
    parse(raw) {
      if (typeof raw !== 'boolean') invalid('no value');
      return raw;
    },
    format: () => undefined,
  };
}
