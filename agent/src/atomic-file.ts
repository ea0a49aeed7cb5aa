/**
 * Writes that must not tear (STYLE.md 9): the new content goes to a temporary file beside the
 * target, is flushed to disk, and replaces the target by rename, which POSIX makes atomic; the
 * directory is flushed too, so the rename itself survives a power cut.
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

/** `mode` defaults to the owner only (tokens, the outbox); files other programs read ask for more. */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): void {
  const temporary = `${path}.${process.pid}.tmp`;
  const fd = openSync(temporary, 'w', mode);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(temporary, { force: true });
    throw error;
  }
  closeSync(fd);
  renameSync(temporary, path);
  syncDirectory(dirname(path));
}

export function syncDirectory(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

let written = 0;

/**
 * writeFileAtomic without holding the event loop while the disk works (a DHCP map of 10,000
 * hosts is a megabyte, and its fsync the most of an apply's time); each call has a temporary
 * file of its own, so two may be under way at once — the one to finish last wins.
 */
export async function writeFileAtomicAsync(path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const temporary = `${path}.${process.pid}.${written++}.tmp`;
  const file = await open(temporary, 'w', mode);
  try {
    await file.writeFile(typeof data === 'string' ? Buffer.from(data) : data);
    await file.sync();
  } catch (error) {
    await file.close();
    await rm(temporary, { force: true });
    throw error;
  }
  await file.close();
  await rename(temporary, path);
  const directory = await open(dirname(path), 'r');
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}
