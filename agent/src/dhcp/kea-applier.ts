/**
 * The `kea` backend (BACKENDS.md has what Kea 2.2 was measured to do): the agent runs its own
 * `kea-dhcp4` on its interfaces, with
 *
 * - every reservation in Kea's PostgreSQL hosts database (kea-hosts-database.ts), which Kea reads
 *   per query: a change of hosts is one transaction, served from the next packet on, with no
 *   reload and nothing dropped, whatever the size of the map;
 * - the subnets, pools and options in its configuration file (kea-config.ts): a change of those
 *   is `config-test` first (Kea's own words when it refuses), then `config-reload` over the
 *   control socket, during which Kea answers nothing for as long as the reload takes (rare: a
 *   subnet's options changed).
 *
 * A failed apply leaves Kea on what it served: the configuration is tested before Kea sees it,
 * the hosts change in one transaction, and should a reload that passed its test fail after all
 * (Kea 2.2 then serves nothing), the configuration and the hosts before are put back and Kea is
 * started again on them.
 */
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { DhcpMapChange, DhcpMapContent } from '@ipwarden/protocol';
import { writeFileAtomic } from '../atomic-file.js';
import type { Logger } from '../run-command.js';
import type { DhcpApplier } from './applier.js';
import { type KeaConfigPlaces, type KeaSubnetIds, keaConfig, keaProblems, keaSubnetIds } from './kea-config.js';
import { KeaHostsDatabase, parseHostsDatabase } from './kea-hosts-database.js';
import { SupervisedServer } from './supervised-server.js';

const run = promisify(execFile);
const COMMAND_TIMEOUT_MS = 10_000; // 10 s

export interface KeaApplierOptions {
  /** Where the configuration, leases, control socket, pid and lock files live. */
  dir: string;
  /** The interfaces Kea listens on. */
  interfaces: readonly string[];
  /** Kea's hosts database: postgres://user:password@host:port/name (or ?host=/socket/dir). */
  hostsDatabase: string;
  binary?: string;
  /** Kea's schema script, run when the hosts database is empty (Debian's kea-admin has it). */
  schemaScript?: string;
  log: Logger;
}

/** One command over Kea's control socket; its `text` as the error when it fails. */
async function keaCommand(socket: string, command: string, args?: object): Promise<string> {
  const answer = await new Promise<string>((resolve, reject) => {
    const connection = createConnection(socket);
    let said = '';
    connection.setTimeout(COMMAND_TIMEOUT_MS, () =>
      connection.destroy(new Error(`no answer to ${command} within 10 s`)),
    );
    connection.on('connect', () => connection.end(JSON.stringify({ command, ...(args && { arguments: args }) })));
    connection.on('data', (chunk) => (said += chunk.toString()));
    connection.on('end', () => resolve(said));
    connection.on('error', (error) => reject(new Error(`Kea's control socket ${socket}: ${error.message}`)));
  });
  let reply: { result: number; text?: string };
  try {
    reply = JSON.parse(answer) as { result: number; text?: string };
  } catch {
    throw new Error(`Kea answered ${command} with something not JSON: ${answer.slice(0, 200)}`);
  }
  if (reply.result !== 0) throw new Error(`Kea refused ${command}: ${reply.text ?? `result ${reply.result}`}`);
  return reply.text ?? '';
}

export class KeaApplier implements DhcpApplier {
  readonly backend = 'kea';
  private readonly hosts: KeaHostsDatabase;
  private readonly server: SupervisedServer;
  private readonly places: KeaConfigPlaces;
  private readonly configFile: string;
  /** The configuration Kea runs with ('' when it runs none). */
  private running = '';
  /** The subnet ids of the map applied last: the rows the agent owns. */
  private ids: KeaSubnetIds = new Map();
  /** The map applied last, with its configuration: what a failed reload goes back to. */
  private last: { map: DhcpMapContent; config: string } | undefined;

  constructor(private readonly settings: KeaApplierOptions) {
    mkdirSync(settings.dir, { recursive: true });
    const database = parseHostsDatabase(settings.hostsDatabase);
    this.hosts = new KeaHostsDatabase(database, settings.schemaScript);
    this.configFile = join(settings.dir, 'kea-dhcp4.conf');
    this.places = {
      interfaces: settings.interfaces,
      controlSocket: join(settings.dir, 'kea.sock'),
      leaseFile: join(settings.dir, 'leases4.csv'),
      database,
    };
    this.server = new SupervisedServer('kea-dhcp4', settings.log, async () => {
      if (this.last !== undefined) await this.start(this.last.config);
    });
  }

  async apply(map: DhcpMapContent, change: DhcpMapChange | undefined): Promise<void> {
    const problems = keaProblems(map);
    if (problems.length > 0) throw new Error(problems.slice(0, 5).join('; '));
    const ids = keaSubnetIds(map.subnets);
    const config = map.subnets.length === 0 ? '' : `${JSON.stringify(keaConfig(map.subnets, this.places), null, 1)}\n`;
    const reconfigure = config !== this.running || (config !== '' && !this.server.running);
    if (reconfigure && config !== '') await this.test(config);
    const owned = [...new Set([...this.ids.values(), ...ids.values()])];
    // A whole map when Kea starts afresh: the rows are made to be the map, whatever they held.
    await this.hosts.write(map, this.last === undefined ? undefined : change, ids, owned);
    const before = this.last;
    try {
      if (config === '') await this.server.stop();
      else if (reconfigure && this.server.running) await this.reload(config);
      else if (reconfigure) await this.start(config);
    } catch (error) {
      await this.restore(before, map, owned);
      throw error;
    }
    this.running = config;
    this.ids = ids;
    this.last = { map, config };
  }

  /** Kea's verdict on a configuration before it serves it: the running server's, else `kea-dhcp4 -t`'s. */
  private async test(config: string): Promise<void> {
    if (this.server.running) {
      await keaCommand(this.places.controlSocket, 'config-test', JSON.parse(config) as object);
      return;
    }
    const file = join(this.settings.dir, 'kea-dhcp4.test.conf');
    writeFileAtomic(file, config, 0o600);
    try {
      await run(this.settings.binary ?? 'kea-dhcp4', ['-t', file], { env: this.env() });
    } catch (error) {
      const e = error as { stdout?: string; stderr?: string; message: string };
      const said = `${e.stdout ?? ''}${e.stderr ?? ''}`
        .split('\n')
        .filter((line) => /ERROR|error|failed/.test(line))
        .slice(-2)
        .join(' ')
        .trim();
      throw new Error(`Kea refused its configuration: ${said || e.message}`);
    }
  }

  private async reload(config: string): Promise<void> {
    writeFileAtomic(this.configFile, config, 0o600);
    await keaCommand(this.places.controlSocket, 'config-reload');
  }

  private async start(config: string): Promise<void> {
    writeFileAtomic(this.configFile, config, 0o600);
    await this.server.stop();
    await this.server.start({
      binary: this.settings.binary ?? 'kea-dhcp4',
      args: ['-c', this.configFile],
      env: this.env(),
      ready: /DHCP4_STARTED/,
      // Kea names its pid file after the configuration file: kea-dhcp4.kea-dhcp4.pid.
      leftOver: { pidFile: join(this.settings.dir, 'kea-dhcp4.kea-dhcp4.pid'), marker: this.configFile },
    });
  }

  /** A reload or start that passed its test failed after all: Kea back on the map before. */
  private async restore(before: typeof this.last, failed: DhcpMapContent, owned: number[]): Promise<void> {
    this.running = '';
    if (before === undefined) return;
    try {
      await this.hosts.write(before.map, undefined, this.ids, owned);
      await this.start(before.config);
      this.running = before.config;
    } catch (error) {
      this.settings.log(
        `Kea could not be put back on map version ${before.map.version} after version ${failed.version} failed: ${(error as Error).message}`,
      );
    }
  }

  /** Kea 2.2 would write its pid and lock files under /run/kea, which an agent need not own. */
  private env(): NodeJS.ProcessEnv {
    return { ...process.env, KEA_PIDFILE_DIR: this.settings.dir, KEA_LOCKFILE_DIR: this.settings.dir };
  }

  async served(): Promise<DhcpMapContent['hosts'] | undefined> {
    if (this.last === undefined) return undefined;
    return this.hosts.read(this.ids, [...this.ids.values()]);
  }

  async close(): Promise<void> {
    await this.server.close();
    await this.hosts.close();
  }
}
