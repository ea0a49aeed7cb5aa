/**
 * The configuration reference (docs/CONFIGURATION.md): a table per program of every option, from
 * the same schemas the programs load, so that the document cannot describe options they lack.
 */
import type { AnyOption } from './options.js';
import { defaultText, flagSynopsis } from './usage.js';

export interface ReferenceSection {
  /** The program and command (`ipwarden-agent run`). */
  title: string;
  /** Markdown paragraphs above the table: precedence, a configuration file, what is not an option. */
  intro: string;
  options: readonly AnyOption[];
  /** The program reads a JSON configuration file: the table shows each option's key in it. */
  fileKeys?: boolean;
}

/** A table cell: pipes escaped, no line breaks. */
const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
const code = (text: string) => `\`${text}\``;

function table(section: ReferenceSection): string {
  const columns = [
    'Flag',
    'Environment',
    ...(section.fileKeys ? ['File key'] : []),
    'Default',
    'Accepts',
    'Description',
  ];
  const rows = section.options.map((o) => {
    const shown = defaultText(o);
    return [
      code(flagSynopsis(o)),
      o.env === undefined ? '—' : code(o.env),
      ...(section.fileKeys ? [o.inFile === false ? '—' : code(o.key)] : []),
      shown === undefined ? '—' : code(shown),
      o.type.accepts,
      o.description,
    ];
  });
  return [columns, columns.map(() => '---'), ...rows].map((r) => `| ${r.map(cell).join(' | ')} |`).join('\n');
}

/** The whole document: `preamble`, then per section its heading, intro and table. */
export function configurationReference(preamble: string, sections: readonly ReferenceSection[]): string {
  const parts = [preamble.trim()];
  for (const section of sections) {
    parts.push(`## ${code(section.title)}`, section.intro.trim(), table(section));
  }
  return `${parts.join('\n\n')}\n`;
}
