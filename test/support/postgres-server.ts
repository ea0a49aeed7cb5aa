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
  stop(): void;
}

function postgresUid(): { uid: number; gid: number } {
  const [uid, gid] = execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim().split(' ');
  const group = execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim();
  return { uid: Number(uid), gid: Number(gid ?? group) };
}

export function startPostgres(): PostgresServer {
  const dir = mkdtempSync(join(tmpdir(), 'ipwarden-pg-'));
  const { uid, gid } = postgresUid();
  chownSync(dir, uid, gid);
  const data = join(dir, 'data');
  const port = 20000 + (process.pid % 20000);
  const as = (command: string, ...args: string[]) =>
    execFileSync('runuser', ['-u', 'postgres', '--', join(BIN, command), ...args], { stdio: 'pipe' });
  as('initdb', '-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync');
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off`;
  as('pg_ctl', '-D', data, '-o', options, '-l', join(dir, 'log'), '-w', 'start');
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop() {
      try {
        as('pg_ctl', '-D', data, '-m', 'immediate', '-w', 'stop');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
