#!/usr/bin/env -S node --max-semi-space-size=64
// A young generation of 64 MiB semi-spaces: a hundred agents' batches, parsed and alive until they
// are stored, outgrew Node's default and were promoted, to be collected again by the full
// collector on the other core — the collector's CPU a sighting in bench:ingest went from 14 µs to
// 6. Wherever the collector is started (deploy/, scripts/start.sh, bench/), it gets these flags;
// test/deploy-units.test.ts checks that it does.
import { main } from '../dist/cli.js';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`ipwarden-collector: ${error?.stack ?? error}\n`);
    process.exit(1);
  },
);
