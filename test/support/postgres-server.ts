/**
 * A throwaway PostgreSQL 15 cluster for tests: its own data directory, port and socket directory,
 * started and stopped by the test that needs it (no systemd here; initdb refuses root, so the
 * cluster runs as the `postgres` user).
 */
import { execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = '/usr/lib/postgresql/15/bin';

export interface PostgresServer {
  url: string;
  /** Stops the server, keeping its data, as an outage would. */
  halt(): void;
  /** Starts it again after halt(). */
  resume(): void;
  stop(): void;
}

function postgresUid(): { uid: number; gid: number } {
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

let started = 0;

export function startPostgres(): PostgresServer {
  const dir = mkdtempSync(join(tmpdir(), 'ipwarden-pg-'));
  const { uid, gid } = postgresUid();
  chownSync(dir, uid, gid);
  const data = join(dir, 'data');
  // Ports of its own per test process (four, for tests that start more than one server); a
  // clash fails the start, loudly.
  const port = 20000 + (process.pid % 5000) * 4 + (started++ % 4);
  const as = (command: string, ...args: string[]) =>
    execFileSync('runuser', ['-u', 'postgres', '--', join(BIN, command), ...args], { stdio: 'pipe' });
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off`;
  try {
    as('initdb', '-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync');
    as('pg_ctl', '-D', data, '-o', options, '-l', join(dir, 'log'), '-w', 'start');
  } catch (error) {
    try {
      as('pg_ctl', '-D', data, '-m', 'immediate', 'stop');
    } catch {
      // it did not start
    }
    rmSync(dir, { recursive: true, force: true });
    throw new Error(
      `could not start a PostgreSQL server: ${(error as { stderr?: Buffer }).stderr?.toString() ?? error}`,
    );
  }
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    halt() {
      as('pg_ctl', '-D', data, '-m', 'fast', '-w', 'stop');
    },
    resume() {
      as('pg_ctl', '-D', data, '-o', options, '-l', join(dir, 'log'), '-w', 'start');
    },
    stop() {
      try {
        as('pg_ctl', '-D', data, '-m', 'immediate', '-w', 'stop');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
