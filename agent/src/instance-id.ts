/**
 * This installation's identity: a random UUID made at the first start and kept in the state
 * directory. The collector lets a name enroll again only for the instance that holds it, so a
 * second machine that happens to share a hostname (a cloned image) cannot take the first one's
 * place — and its seqs — by presenting the enrollment secret.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic-file.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function instanceId(stateDir: string): string {
  const path = join(stateDir, 'instance');
  try {
    const stored = readFileSync(path, 'utf8').trim();
    if (UUID.test(stored)) return stored;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const id = randomUUID();
  writeFileAtomic(path, `${id}\n`);
  return id;
}
