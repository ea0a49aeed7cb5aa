#!/usr/bin/env node
// `pnpm lab:fixtures`: runs the netns lab (test/lab/lab.sh, needs root) and keeps its captures and
// manifest as the committed fixtures in test/fixtures/lab. A failed run leaves the old ones alone.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = resolve(here, '..', 'fixtures', 'lab');
const FILES = ['arp.pcap', 'ndp.pcap', 'mdns.pcap', 'dhcp.pcap', 'manifest.json'];

if (process.getuid?.() !== 0) {
  console.error('lab:fixtures: the netns lab needs root (network namespaces, tcpdump)');
  process.exit(1);
}
const out = mkdtempSync(join(tmpdir(), 'ipwarden-lab-'));
try {
  const lab = spawnSync('bash', [join(here, 'lab.sh'), 'capture', out], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (lab.status !== 0) {
    console.error(`lab:fixtures: lab.sh failed (${lab.signal ?? `exit ${lab.status}`}); fixtures unchanged`);
    process.exit(1);
  }
  const made = readdirSync(out);
  for (const file of FILES) {
    if (!made.includes(file)) throw new Error(`lab.sh did not write ${file}`);
  }
  mkdirSync(fixtures, { recursive: true });
  for (const file of FILES) {
    copyFileSync(join(out, file), join(fixtures, file));
    console.log(`${join('test', 'fixtures', 'lab', file)}  ${statSync(join(fixtures, file)).size} bytes`);
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}
