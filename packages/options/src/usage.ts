/**
 * The options in a program's --help: one entry per option, from the same schema as the loader,
 * so that the text and the behaviour never disagree.
 */
import type { AnyOption } from './options.js';

/** Help text is read in a terminal: 100 columns at most, where words allow. */
const WIDTH = 100;
const INDENT = '      ';

/** `text` in lines of at most WIDTH columns, each after INDENT. */
function wrap(text: string): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line !== '' && INDENT.length + line.length + 1 + word.length > WIDTH) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  lines.push(line);
  return lines.map((l) => `${INDENT}${l}`).join('\n');
}

/** `--flag VALUE` as the usage shows it. */
export function flagSynopsis(option: AnyOption): string {
  const value = option.value ?? option.type.placeholder;
  return value === '' ? `--${option.flag}` : `--${option.flag} ${value}`;
}

/** One entry: the flag with its notes (variable, repeatable, default), then the description below. */
export function helpEntry(synopsis: string, notes: ReadonlyArray<string | undefined>, description: string): string {
  const shown = notes.filter((note) => note !== undefined && note !== '');
  const head = shown.length === 0 ? `  ${synopsis}` : `${`  ${synopsis}`.padEnd(40)} ${shown.join(', ')}`;
  return `${head}\n${wrap(description)}`;
}

/** What the help says of a default: the value with its unit. */
export function defaultText(option: AnyOption): string | undefined {
  return option.default === undefined ? undefined : option.type.format(option.default);
}

/** One entry per option, in the schema's order. */
export function optionsHelp(options: readonly AnyOption[]): string {
  return options
    .map((o) => {
      const shown = defaultText(o);
      return helpEntry(
        flagSynopsis(o),
        [o.env, o.type.repeatable ? 'repeatable' : undefined, shown === undefined ? undefined : `default ${shown}`],
        o.description,
      );
    })
    .join('\n');
}
