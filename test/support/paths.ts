import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The capture corpus beside the project (`../shared/corpus/tcpdump-tests`), or IPWARDEN_CORPUS. */
export function corpusDir(): string {
  const dir = process.env.IPWARDEN_CORPUS ?? resolve(repoRoot, '..', 'shared', 'corpus', 'tcpdump-tests');
  if (!existsSync(dir)) {
    throw new Error(
      `capture corpus not found at ${dir}: these tests need ../shared/corpus/tcpdump-tests beside the project (or IPWARDEN_CORPUS)`,
    );
  }
  return dir;
}

export const agentBin = resolve(repoRoot, 'agent', 'bin', 'ipwarden-agent.js');
