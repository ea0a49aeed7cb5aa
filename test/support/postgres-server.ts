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
  /** The same server by its Unix socket, which reaches it from any network namespace (libpq's ?host= form). */
  socketUrl: string;
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
const PORT_BASE = 20_000;
const PORTS = 12_000; // 20000–31999

export function startPostgres(): PostgresServer {
  const dir = mkdtempSync(join(tmpdir(), 'ipwarden-pg-'));
  const { uid, gid } = postgresUid();
  chownSync(dir, uid, gid);
  const data = join(dir, 'data');
  const as = (command: string, ...args: string[]) =>
    execFileSync('runuser', ['-u', 'postgres', '--', join(BIN, command), ...args], { stdio: 'pipe' });
  try {
    as('initdb', '-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync');
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(
      `could not make a PostgreSQL cluster: ${(error as { stderr?: Buffer }).stderr?.toString() ?? error}`,
    );
  }
  // Ports of its own per test process, below Linux's ephemeral range (32768 up), where a client
  // socket of the busy suite could hold the one chosen; one taken after all (another process's
  // server) is tried again on another.
  let port = 0;
  let options = '';
  for (let attempt = 0; ; attempt++) {
    port = PORT_BASE + ((process.pid * 4 + (started++ % 4) + attempt * 1009) % PORTS);
    options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off`;
    try {
      as('pg_ctl', '-D', data, '-o', options, '-l', join(dir, 'log'), '-w', 'start');
      break;
    } catch (error) {
      try {
        as('pg_ctl', '-D', data, '-m', 'immediate', 'stop');
      } catch {
        // it did not start
      }
      if (attempt < 4) continue;
      rmSync(dir, { recursive: true, force: true });
      throw new Error(
        `could not start a PostgreSQL server: ${(error as { stderr?: Buffer }).stderr?.toString() ?? error}`,
      );
    }
  }
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    socketUrl: `postgres://postgres@localhost/postgres?host=${dir}&port=${port}`,
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
