/**
 * A live network lab for end-to-end tests: a bridge (br0) in a namespace of its own, host
 * namespaces on it, and one veth from the main namespace into the bridge's namespace, so that a
 * collector in the main namespace (where the test's PostgreSQL runs) and an agent capturing on
 * br0 talk over 10.99.254.0/30. All traffic stays in 10.99.0.0/16 and fd99::/64 on interfaces
 * this lab made; nothing is routed to the machine's own interfaces. `destroy()` stops what the
 * lab started, by PID, and deletes every namespace and link it made — call it in `finally`.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { TestProcess } from './processes.js';

const run = promisify(execFile);

/** The collector's side of the uplink veth, in the main namespace. */
export const UPLINK_COLLECTOR_IP = '10.99.254.1';
const UPLINK_AGENT_IP = '10.99.254.2';

export class NetnsLab {
  readonly bridge: string;
  readonly hosts: string[];
  /** The main-namespace end of the uplink veth (≤ 15 characters). */
  private readonly uplink: string;
  private readonly created: string[] = [];
  private readonly processes: TestProcess[] = [];

  private constructor(
    readonly prefix: string,
    hostCount: number,
  ) {
    this.bridge = `${prefix}br`;
    this.hosts = Array.from({ length: hostCount }, (_, i) => `${prefix}h${i + 1}`);
    this.uplink = `iwu${process.pid % 100_000}`;
  }

  /** Builds the lab: namespaces up to `hostCount` hosts, each with lab0 on the bridge, IPv6 off until asked for. */
  static async create(prefix: string, hostCount: number): Promise<NetnsLab> {
    if (!/^iw[a-z]?-[A-Za-z0-9-]+$/.test(prefix)) throw new Error(`lab prefix ${prefix} must start with iw`);
    if (process.getuid?.() !== 0) throw new Error('the netns lab needs root: run this suite as root, as CI does');
    const lab = new NetnsLab(prefix, hostCount);
    try {
      await lab.build();
    } catch (error) {
      await lab.destroy();
      throw error;
    }
    return lab;
  }

  private async build(): Promise<void> {
    for (const ns of [this.bridge, ...this.hosts]) {
      await run('ip', ['netns', 'add', ns]);
      this.created.push(ns);
      await this.exec(ns, 'sysctl', '-qw', 'net.ipv6.conf.default.disable_ipv6=1');
      await this.exec(ns, 'ip', 'link', 'set', 'lo', 'up');
    }
    await this.exec(this.bridge, 'ip', 'link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0', 'stp_state', '0');
    await this.exec(this.bridge, 'ip', 'link', 'set', 'br0', 'up');
    for (const [i, ns] of this.hosts.entries()) {
      await this.exec(
        this.bridge,
        'ip',
        'link',
        'add',
        `p${i + 1}`,
        'type',
        'veth',
        'peer',
        'name',
        'lab0',
        'netns',
        ns,
      );
      await this.exec(this.bridge, 'ip', 'link', 'set', `p${i + 1}`, 'master', 'br0');
      await this.exec(this.bridge, 'ip', 'link', 'set', `p${i + 1}`, 'up');
      await this.exec(ns, 'ip', 'link', 'set', 'lab0', 'up');
    }
    // The uplink: its main-namespace end carries only the /30, so no route leads elsewhere.
    await run('ip', ['link', 'add', this.uplink, 'type', 'veth', 'peer', 'name', 'up0', 'netns', this.bridge]);
    this.created.push(`link:${this.uplink}`);
    await run('ip', ['addr', 'add', `${UPLINK_COLLECTOR_IP}/30`, 'dev', this.uplink]);
    await run('ip', ['link', 'set', this.uplink, 'up']);
    await this.exec(this.bridge, 'ip', 'addr', 'add', `${UPLINK_AGENT_IP}/30`, 'dev', 'up0');
    await this.exec(this.bridge, 'ip', 'link', 'set', 'up0', 'up');
  }

  /** Runs a command inside namespace `ns` and returns its output. */
  async exec(ns: string, command: string, ...args: string[]): Promise<string> {
    const { stdout } = await run('ip', ['netns', 'exec', ns, command, ...args], { timeout: 30_000 });
    return stdout;
  }

  /** Starts a long-running process inside `ns` (`ip netns exec` execs, so its PID is the command's). */
  spawn(ns: string, label: string, command: string, args: string[], env: Record<string, string> = {}): TestProcess {
    const child = new TestProcess(label, 'ip', ['netns', 'exec', ns, command, ...args], env);
    this.processes.push(child);
    return child;
  }

  /**
   * A dnsmasq DHCP server on lab0 of `ns` (no DNS, its own files under `dir`, named `name`),
   * handing out `range` ("first,last") and the MAC → IP lines of `hosts`; started once it says so.
   */
  async dnsmasq(
    ns: string,
    name: string,
    dir: string,
    options: { range: string; hosts?: string; extra?: string[] },
  ): Promise<TestProcess> {
    writeFileSync(join(dir, `${name}.hosts`), options.hosts ?? '');
    const server = this.spawn(ns, name, 'dnsmasq', [
      '--keep-in-foreground',
      '--port=0',
      '--conf-file=/dev/null',
      '--no-hosts',
      '--user=root',
      '--group=root',
      '--bind-interfaces',
      '--interface=lab0',
      `--dhcp-range=${options.range},12h`,
      `--dhcp-hostsfile=${join(dir, `${name}.hosts`)}`,
      `--dhcp-leasefile=${join(dir, `${name}.leases`)}`,
      `--pid-file=${join(dir, `${name}.pid`)}`,
      '--log-facility=-',
      ...(options.extra ?? []),
    ]);
    await server.waitFor(/DHCP, IP range/, 10_000);
    return server;
  }

  async macOf(ns: string, ifname = 'lab0'): Promise<string> {
    const out = await this.exec(ns, 'ip', '-o', 'link', 'show', 'dev', ifname);
    return /link\/ether ([0-9a-f:]{17})/.exec(out)![1]!;
  }

  async addIpv4(ns: string, cidr: string, ifname = 'lab0'): Promise<void> {
    await this.exec(ns, 'ip', 'addr', 'add', cidr, 'dev', ifname);
  }

  async enableIpv6(ns: string, cidr: string, ifname = 'lab0'): Promise<void> {
    await this.exec(ns, 'sysctl', '-qw', `net.ipv6.conf.${ifname}.disable_ipv6=0`);
    await this.exec(ns, 'ip', '-6', 'addr', 'add', cidr, 'dev', ifname, 'nodad');
  }

  /** A tagged sub-interface lab0.VID in `ns`: its frames cross the bridge with an 802.1Q tag. */
  async addVlan(ns: string, vid: number, cidr: string): Promise<string> {
    const name = `lab0.${vid}`;
    await this.exec(ns, 'ip', 'link', 'add', 'link', 'lab0', 'name', name, 'type', 'vlan', 'id', String(vid));
    await this.exec(ns, 'ip', 'addr', 'add', cidr, 'dev', name);
    await this.exec(ns, 'ip', 'link', 'set', name, 'up');
    return name;
  }

  /**
   * One ARP frame from `ns` claiming `ip` (with `mac`, if given, instead of the interface's):
   * a gratuitous announcement (RFC 5227 3) unless `target` names a host to ask. No reply is
   * awaited for long: the frame on the wire is what the tests are after.
   */
  async arping(ns: string, claim: { ip: string; mac?: string; target?: string; ifname?: string }): Promise<void> {
    const args = ['-q', '-c', '1', '-w', claim.target === undefined ? '0.2' : '0.5', '-i', claim.ifname ?? 'lab0'];
    if (claim.target === undefined) args.push('-U');
    args.push('-S', claim.ip);
    if (claim.mac !== undefined) args.push('-s', claim.mac);
    // arping exits 1 when no reply came, which is the normal case here.
    await this.exec(ns, 'arping', ...args, claim.target ?? claim.ip).catch(() => undefined);
  }

  async destroy(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.stop('SIGKILL')));
    for (const name of this.created.reverse()) {
      const args = name.startsWith('link:') ? ['link', 'del', name.slice(5)] : ['netns', 'del', name];
      await run('ip', args).catch(() => undefined);
    }
  }
}
