/**
 * docs/CONFIGURATION.md is generated from the programs' option schemas and committed
 * (STYLE.md 11): this regenerates it in memory, as scripts/config-reference.mjs writes it, and
 * fails when the committed file differs — so CI, which runs this suite, catches a schema changed
 * without its reference. It also holds each built program's --help to the reference.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { agentBin, repoRoot } from './support/paths.js';

// The script imports the programs' dist/ (scripts/test.sh builds before the suite runs).
const script: { configurationMarkdown(): string; referenceFile: string } = await import(
  pathToFileURL(join(repoRoot, 'scripts', 'config-reference.mjs')).href
);

/** The reference's section of one program: from its heading to the next. */
function section(reference: string, title: string): string {
  const start = reference.indexOf(`## \`${title}\``);
  expect(start, `no section for ${title}`).toBeGreaterThan(-1);
  const end = reference.indexOf('\n## ', start + 1);
  return reference.slice(start, end === -1 ? undefined : end);
}

/** The flags an options part of --help lists, one entry each (`  --flag VALUE   ENV, …`). */
function helpFlags(help: string, after: string): string[] {
  const options = help.slice(help.indexOf(after));
  return [...options.matchAll(/^ {2}(--[a-z-]+)/gm)].map((m) => m[1]!).filter((flag) => flag !== '--help');
}

describe('docs/CONFIGURATION.md', () => {
  const committed = readFileSync(script.referenceFile, 'utf8');

  it('is what the option schemas generate', () => {
    expect(
      committed === script.configurationMarkdown(),
      'docs/CONFIGURATION.md differs from the option schemas: run `pnpm config-reference` and commit it',
    ).toBe(true);
  });

  it.each([
    ['ipwarden-collector', join(repoRoot, 'collector', 'bin', 'ipwarden-collector.js'), ['--help'], 'options'],
    ['ipwarden-agent run', agentBin, ['run', '--help'], 'run options'],
    ['ipwarden', join(repoRoot, 'client', 'bin', 'ipwarden.js'), ['--help'], 'options, anywhere'],
  ])('has a row for every option %s --help lists, and no other', (title, bin, args, after) => {
    const run = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
    expect(run.status).toBe(0);
    const flags = helpFlags(run.stdout, after);
    expect(flags.length).toBeGreaterThan(3);
    const rows = [...section(committed, title).matchAll(/^\| `(--[a-z-]+)/gm)].map((m) => m[1]);
    expect(rows).toEqual(flags);
  });
});
