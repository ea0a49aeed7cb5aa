/**
 * One agent per state directory: two would hand out the same seqs from one outbox and lose
 * each other's writes. The lock is a file holding the owner's PID, created exclusively; a lock
 * whose process is gone (the agent was killed) is taken over.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { HostError } from './errors.js';

export class StateDirectoryLocked extends HostError {
  override readonly name = 'StateDirectoryLocked';
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0); // signal 0: only asks whether the process exists
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the lock of `dir` for this process; returns the function that releases it. */
export function lockStateDirectory(dir: string): () => void {
  const path = join(dir, 'agent.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number.parseInt(readFileSync(path, 'utf8'), 10);
      if (Number.isSafeInteger(owner) && owner !== process.pid && alive(owner)) {
        throw new StateDirectoryLocked(`another agent (pid ${owner}) uses the state directory ${dir}`);
      }
      rmSync(path, { force: true }); // left by an agent that is gone
    }
  }
  throw new StateDirectoryLocked(`cannot lock the state directory ${dir}`);
}
