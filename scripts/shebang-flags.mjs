/**
 * The Node flags a command's shebang (`#!/usr/bin/env -S node …`) gives it, which pnpm's shims
 * pass on too: how it runs wherever it is started. The benchmarks start the programs with them,
 * and test/deploy-units.test.ts checks that the units, images and start.sh do.
 */
import { readFileSync } from 'node:fs';

/** @param {string} bin the command's file @returns {string[]} */
export function shebangFlags(bin) {
  const first = readFileSync(bin, 'utf8').split('\n', 1)[0];
  return /^#!\/usr\/bin\/env -S node (.+)$/.exec(first)?.[1].split(' ') ?? [];
}
