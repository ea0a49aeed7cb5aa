/**
 * The `dnsmasq` backend (BACKENDS.md has what dnsmasq 2.90 was measured to do). dnsmasq cannot
 * change one host in constant time, so the applier does the least it can:
 *
 * - the whole map lives in `hosts` (`--dhcp-hostsfile`, which dnsmasq does not watch), the
 *   subnets' options in `options` (`--dhcp-optsfile`), both rewritten atomically;
 * - a change that only adds hosts, each a new MAC on an address no entry holds (not even a stale
 *   one), is one file renamed into `hosts.d` (`--dhcp-hostsdir`): dnsmasq reads it at once
 *   through inotify, one lease pass for the batch, no SIGHUP;
 * - anything else (a release, a move, a new name, new options) rewrites `hosts` and `options`,
 *   removes the files of `hosts.d` and sends SIGHUP: dnsmasq re-reads them all, in time that
 *   grows with the map (0.2 s at 10,000 hosts with no leases, about 3 s with 10,000 leases);
 * - ranges, lease times and PXE boot are dnsmasq's command line: a change of those restarts the
 *   dnsmasq the agent runs (`dnsmasq --test` first), or is refused for one it does not run.
 *
 * The agent runs its own dnsmasq on its capture interfaces unless given the pid file of one run
 * by someone else (`--dnsmasq-pid-file`), which must then read the files in `--dnsmasq-dir`.
 * Whatever fails, the files dnsmasq serves from are left as they were: checks come first.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  type DhcpHost,
  type DhcpMapChange,
  type DhcpMapContent,
  type DhcpSubnet,
  MAX_DHCP_HOSTS,
} from '@ipwarden/protocol';
import { writeFileAtomic } from '../atomic-file.js';
import type { Logger } from '../run-command.js';
import type { DhcpApplier } from './applier.js';
import { SupervisedServer } from './supervised-server.js';

const run = promisify(execFile);
/** Leases the agent's own dnsmasq holds at most: every host a map may hold, and dynamic clients beside them. */
const DHCP_LEASE_MAX = 4 * MAX_DHCP_HOSTS;
/** How long dnsmasq may take to read a hosts file (5.5 s at 50,000 hosts, measured: BACKENDS.md). */
const READ_TIMEOUT_MS = 60_000; // 1 min

export interface DnsmasqApplierOptions {
  /** Where the hosts, options and hosts.d live (and, for the agent's own dnsmasq, its leases and pid). */
  dir: string;
  /** The interfaces the agent's own dnsmasq listens on. */
  interfaces: readonly string[];
  /** A dnsmasq run by someone else: SIGHUP goes to the pid in this file; none is started. */
  pidFile?: string;
  binary?: string;
  log: Logger;
}

/** What dnsmasq cannot serve from a map beyond what unfits it for any server (mapProblems); empty when it can. */
export function dnsmasqProblems(map: DhcpMapContent): string[] {
  return map.subnets
    .filter((s) => s.cidr.includes(':'))
    .map((s) => `subnet ${s.cidr}: this backend serves DHCPv4 only`);
}

const hostLine = (h: DhcpHost) => `${h.mac},${h.ip}${h.hostname === undefined ? '' : `,${h.hostname}`}\n`;

/** IPv4 netmask of a prefix length. */
function netmask(bits: number): string {
  const value = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return [24, 16, 8, 0].map((s) => (value >>> s) & 255).join('.');
}

/** The command-line part of a map: one tagged range per subnet (static where it has no dynamic range), PXE boot. */
export function commandLine(subnets: readonly DhcpSubnet[]): string[] {
  const args: string[] = [];
  subnets.forEach((s, i) => {
    if (s.cidr.includes(':')) return;
    const [network, bits] = s.cidr.split('/');
    const mask = netmask(Number(bits));
    const lease = s.leaseSeconds === undefined ? '12h' : `${s.leaseSeconds}`;
    const ranges = s.dynamicRanges ?? [];
    if (ranges.length === 0) args.push(`--dhcp-range=set:s${i},${network},static,${mask},${lease}`);
    for (const r of ranges) args.push(`--dhcp-range=set:s${i},${r.start},${r.end},${mask},${lease}`);
    if (s.bootFile !== undefined || s.nextServer !== undefined) {
      args.push(`--dhcp-boot=tag:s${i},${s.bootFile ?? ''},,${s.nextServer ?? ''}`);
    }
  });
  return args;
}

/** `--dhcp-optsfile`: the options of each subnet, by its range's tag. */
export function optionsFile(subnets: readonly DhcpSubnet[]): string {
  const lines: string[] = [];
  subnets.forEach((s, i) => {
    const tag = `tag:s${i}`;
    if (s.gateway !== undefined) lines.push(`${tag},option:router,${s.gateway}`);
    if (s.dnsServers !== undefined) lines.push(`${tag},option:dns-server,${s.dnsServers.join(',')}`);
    if (s.ntpServers !== undefined) lines.push(`${tag},option:ntp-server,${s.ntpServers.join(',')}`);
    if (s.domain !== undefined) lines.push(`${tag},option:domain-name,${s.domain}`);
  });
  return lines.map((l) => `${l}\n`).join('');
}

export class DnsmasqApplier implements DhcpApplier {
  readonly backend = 'dnsmasq';
  private readonly hostsFile: string;
  private readonly hostsDir: string;
  private readonly optsFile: string;
  private readonly server: SupervisedServer;
  private childArgs = '';
  private options = '';
  /** Addresses and MACs any entry dnsmasq holds gives: live ones and those left by hosts.d files. */
  private heldIps = new Set<string>();
  private heldMacs = new Set<string>();
  private deltas = 0;
  /** The map applied last, with its command line and options: what a failed restart goes back to. */
  private last: { map: DhcpMapContent; args: string[]; options: string } | undefined;

  constructor(private readonly settings: DnsmasqApplierOptions) {
    this.hostsFile = join(settings.dir, 'hosts');
    this.hostsDir = join(settings.dir, 'hosts.d');
    this.optsFile = join(settings.dir, 'options');
    mkdirSync(this.hostsDir, { recursive: true });
    this.server = new SupervisedServer('dnsmasq', settings.log, async () => {
      const last = this.last;
      if (last !== undefined) await this.restart(last.map, last.args, last.options);
    });
  }

  async apply(map: DhcpMapContent, change: DhcpMapChange | undefined): Promise<void> {
    const problems = dnsmasqProblems(map);
    if (problems.length > 0) throw new Error(problems.slice(0, 5).join('; '));
    const args = commandLine(map.subnets);
    const options = optionsFile(map.subnets);
    await this.applyChecked(map, change, args, options);
    this.last = { map, args, options };
  }

  private async applyChecked(
    map: DhcpMapContent,
    change: DhcpMapChange | undefined,
    args: string[],
    options: string,
  ): Promise<void> {
    if (this.settings.pidFile === undefined) {
      if (!this.server.running || args.join(' ') !== this.childArgs) {
        await this.restart(map, args, options);
        return;
      }
    } else if (args.join(' ') !== this.childArgs && this.childArgs !== '') {
      throw new Error(
        `the subnets' ranges, lease times or boot options changed: restart the dnsmasq of ${this.settings.pidFile} with ${args.join(' ')}`,
      );
    } else {
      this.childArgs = args.join(' ');
    }
    const pid = this.serverPid();
    if (change !== undefined && options === this.options && this.onlyAdds(change)) {
      const file = join(this.hostsDir, `d${Date.now()}-${this.deltas++}`);
      const read = this.hasRead(file);
      this.addDelta(file, change.hosts);
      await read;
      return;
    }
    const read = this.hasRead(this.hostsFile);
    this.writeWhole(map, options);
    try {
      process.kill(pid, 'SIGHUP');
    } catch (error) {
      throw new Error(`dnsmasq (pid ${pid}) did not take SIGHUP: ${(error as Error).message}`);
    }
    await read;
  }

  /**
   * Resolves once the agent's own dnsmasq has read `file` (it says `read FILE`), so that
   * "applied" means dnsmasq holds the hosts: a client asking at once is not handed a dynamic
   * address. A dnsmasq run by someone else is not heard: the file written is all there is.
   */
  private hasRead(file: string): Promise<void> | undefined {
    if (this.settings.pidFile !== undefined) return undefined;
    const read = this.server.expect(`read ${file}`, READ_TIMEOUT_MS);
    read.catch(() => {}); // awaited by the caller, unless it threw first
    return read;
  }

  /** Adds only: each a MAC dnsmasq has no entry for, on an address none holds. */
  private onlyAdds(change: DhcpMapChange): boolean {
    if (change.removed.length > 0 || change.subnets !== undefined) return false;
    const ips = new Set<string>();
    for (const host of change.hosts) {
      if (this.heldIps.has(host.ip) || this.heldMacs.has(host.mac) || ips.has(host.ip)) return false;
      ips.add(host.ip);
    }
    return change.hosts.length > 0;
  }

  private addDelta(file: string, hosts: readonly DhcpHost[]): void {
    // A dotfile first (dnsmasq skips those), then one rename: one inotify event for the batch.
    writeFileAtomic(file, hosts.map(hostLine).join(''), 0o644);
    for (const host of hosts) {
      this.heldIps.add(host.ip);
      this.heldMacs.add(host.mac);
    }
  }

  private writeWhole(map: DhcpMapContent, options: string): void {
    writeFileAtomic(this.hostsFile, map.hosts.map(hostLine).join(''), 0o644);
    writeFileAtomic(this.optsFile, options, 0o644);
    for (const file of readdirSync(this.hostsDir)) rmSync(join(this.hostsDir, file), { force: true });
    this.options = options;
    this.heldIps = new Set(map.hosts.map((h) => h.ip));
    this.heldMacs = new Set(map.hosts.map((h) => h.mac));
  }

  /** The pid of the dnsmasq to signal: the agent's own, or the one of the pid file, if it runs. */
  private serverPid(): number {
    if (this.settings.pidFile === undefined) {
      const pid = this.server.pid;
      if (pid === undefined) throw new Error('dnsmasq is not running');
      return pid;
    }
    let pid: number;
    try {
      pid = Number(readFileSync(this.settings.pidFile, 'utf8').trim());
    } catch (error) {
      throw new Error(`dnsmasq is not running: cannot read ${this.settings.pidFile}: ${(error as Error).message}`);
    }
    try {
      process.kill(pid, 0);
    } catch {
      throw new Error(`dnsmasq is not running: no process ${pid} (${this.settings.pidFile})`);
    }
    return pid;
  }

  private fullArgs(args: readonly string[]): string[] {
    return [
      '--keep-in-foreground',
      '--port=0', // DHCP only: no DNS
      '--conf-file=/dev/null',
      '--no-hosts',
      '--bind-interfaces',
      ...this.settings.interfaces.map((i) => `--interface=${i}`),
      `--dhcp-hostsfile=${this.hostsFile}`,
      `--dhcp-hostsdir=${this.hostsDir}`,
      `--dhcp-optsfile=${this.optsFile}`,
      `--dhcp-leasefile=${join(this.settings.dir, 'leases')}`,
      // dnsmasq's default is 1,000 leases, and it will not even start on a lease file holding
      // more ("too many stored leases"): a rack's map alone may hold 50,000 hosts.
      `--dhcp-lease-max=${DHCP_LEASE_MAX}`,
      // Before offering a dynamic address dnsmasq pings it and handles no DHCP for up to 3 s
      // (delay_dhcp, PING_WAIT in its config.h); ipwarden sees addresses in use on the wire
      // itself (unallocated-in-use), and a rack cannot go deaf at each new client.
      '--no-ping',
      `--pid-file=${join(this.settings.dir, 'dnsmasq.pid')}`,
      '--log-facility=-',
      '--log-dhcp',
      ...(process.getuid?.() === 0 ? ['--user=root', '--group=root'] : []),
      ...args,
    ];
  }

  /** Starts the agent's own dnsmasq on `map` (again): checked first, the old one stopped only then. */
  private async restart(map: DhcpMapContent, args: string[], options: string): Promise<void> {
    const binary = this.settings.binary ?? 'dnsmasq';
    const full = this.fullArgs(args);
    if (map.subnets.length === 0) {
      await this.server.stop();
      this.writeWhole(map, options);
      this.childArgs = args.join(' ');
      return;
    }
    try {
      await run(binary, ['--test', ...full]);
    } catch (error) {
      const e = error as { stderr?: string; message: string };
      throw new Error(`dnsmasq refused its configuration: ${(e.stderr || e.message).trim()}`);
    }
    const before = this.last;
    await this.server.stop();
    this.writeWhole(map, options);
    try {
      await this.start(binary, full);
    } catch (error) {
      // The map it served before, served again: a failed apply leaves the server as it was.
      if (before !== undefined) {
        this.writeWhole(before.map, before.options);
        await this.start(binary, this.fullArgs(before.args)).catch((again: Error) =>
          this.settings.log(`dnsmasq could not be started again on the map before: ${again.message}`),
        );
      }
      throw error;
    }
    this.childArgs = args.join(' ');
  }

  private start(binary: string, full: string[]): Promise<void> {
    return this.server.start({
      binary,
      args: full,
      ready: /DHCP, (IP range|static leases)/,
      leftOver: { pidFile: join(this.settings.dir, 'dnsmasq.pid'), marker: `--dhcp-hostsfile=${this.hostsFile}` },
    });
  }

  async served(): Promise<DhcpMapContent['hosts'] | undefined> {
    return undefined;
  }

  async close(): Promise<void> {
    await this.server.close();
  }
}
