import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { lockStateDirectory } from './state-lock.js';

const dir = mkdtempSync(join(tmpdir(), 'ipwarden-lock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('lockStateDirectory', () => {
  it('lets one agent at a time use a state directory', () => {
    // A live process that is not this one holds the lock.
    const other = spawn('sleep', ['30']);
    try {
      writeFileSync(join(dir, 'agent.lock'), `${other.pid}\n`);
      expect(() => lockStateDirectory(dir)).toThrow(/another agent \(pid \d+\) uses the state directory/);
    } finally {
      other.kill();
    }
  });

  it('takes over a lock whose agent is gone, and releases it', () => {
    const gone = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    writeFileSync(join(dir, 'agent.lock'), `${Number(gone.stdout)}\n`); // that process has exited
    const release = lockStateDirectory(dir);
    expect(existsSync(join(dir, 'agent.lock'))).toBe(true);
    release();
    expect(existsSync(join(dir, 'agent.lock'))).toBe(false);
  });
});
