/**
 * Generated files are committed and checked (STYLE.md 11): drizzle-kit, run against a copy of
 * the committed migrations, finds nothing in the schema they do not already say.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const collector = resolve(fileURLToPath(import.meta.url), '..', '..', '..');

it('has migrations that match the schema', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'ipwarden-drizzle-'));
  try {
    cpSync(join(collector, 'drizzle'), scratch, { recursive: true });
    const before = readdirSync(scratch).sort();
    const output = execFileSync(
      join(collector, 'node_modules', '.bin', 'drizzle-kit'),
      ['generate', '--config', 'drizzle.config.ts'],
      {
        cwd: collector,
        // drizzle-kit takes `out` as relative to the config, even when it is absolute.
        env: { ...process.env, DRIZZLE_OUT: relative(collector, scratch) },
        encoding: 'utf8',
      },
    );
    expect(output).toContain('No schema changes');
    expect(readdirSync(scratch).sort()).toEqual(before);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}, 60_000);
