/**
 * One conformance suite for every DHCP backend: the same tests, run against the agent's DHCP
 * service with each applier, asking the server itself what it hands out — the file backend's
 * file, and for dnsmasq and Kea a real busybox udhcpc in a network namespace of the test's,
 * asking the real server the applier runs in another (Kea with its hosts database on a real
 * PostgreSQL the suite starts, reached by its Unix socket). Needs root (namespaces), as the rest
 * of the suite.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { DhcpApplied, DhcpDrift, DhcpFailed, DhcpHost, DhcpMap, DhcpSubnet } from '@ipwarden/protocol';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PostgresServer, startPostgres } from '../../../test/support/postgres-server.js';
import type { DhcpApplier } from './applier.js';
import { DhcpService } from './dhcp-service.js';
import { DnsmasqApplier } from './dnsmasq-applier.js';
import { FileApplier } from './file-applier.js';
import { KeaApplier } from './kea-applier.js';
import { keaSubnetId } from './kea-config.js';

const run = promisify(execFile);
const SERVER_NS = `iwa-${process.pid}-srv`;
const CLIENT_NS = `iwa-${process.pid}-cli`;
const work = mkdtempSync(join(tmpdir(), 'ipwarden-appliers-'));

const subnet: DhcpSubnet = { cidr: '10.99.0.0/24', gateway: '10.99.0.1', dnsServers: ['10.99.0.53'] };
/** Kea's hosts database, started by the suite. */
let keaHosts: PostgresServer | undefined;
const host = (n: number, ip = n): DhcpHost => ({
  mac: `02:99:00:00:01:${n.toString(16).padStart(2, '0')}`,
  ip: `10.99.0.${ip}`,
  subnet: subnet.cidr,
});
const map = (version: number, hosts: DhcpHost[]): DhcpMap => ({ type: 'dhcpMap', version, hosts, subnets: [subnet] });

/** What each backend's server hands a MAC now: the address, or undefined. */
interface Backend {
  name: string;
  applier(dir: string): DhcpApplier;
  /** An applier whose server cannot take a map, and the words its failure carries. */
  broken(dir: string): { applier: DhcpApplier; reason: RegExp };
  served(dir: string, mac: string): Promise<string | undefined>;
  /** Edits what the server serves behind the applier's back: host(10) gone, host(19) there (backends that can be read back). */
  tamper?(dir: string): Promise<void>;
  /** Options of a subnet that pass every check but the server's own, and the words it refuses them in. */
  refused?: { subnet: Partial<DhcpSubnet>; reason: RegExp };
}

async function inNs(ns: string, ...command: string[]): Promise<string> {
  return (await run('ip', ['netns', 'exec', ns, ...command], { timeout: 20_000 })).stdout;
}

const leaseScript = join(work, 'udhcpc.sh');
const leaseOut = join(work, 'lease');

/** What the server in the server namespace hands `mac`: udhcpc asks from the client namespace. */
async function askServer(mac: string): Promise<string | undefined> {
  rmSync(leaseOut, { force: true });
  await inNs(CLIENT_NS, 'ip', 'link', 'set', 'dcli0', 'down');
  await inNs(CLIENT_NS, 'ip', 'link', 'set', 'dcli0', 'address', mac);
  await inNs(CLIENT_NS, 'ip', 'link', 'set', 'dcli0', 'up');
  try {
    await inNs(CLIENT_NS, 'udhcpc', '-i', 'dcli0', '-n', '-q', '-f', '-t', '4', '-T', '1', '-s', leaseScript);
  } catch {
    return undefined; // no answer
  }
  return readFileSync(leaseOut, 'utf8').trim() || undefined;
}

const backends: Backend[] = [
  {
    name: 'file',
    applier: (dir) => new FileApplier(join(dir, 'map.json')),
    broken: () => ({
      // A path under a regular file: no one, root included, can write it.
      applier: new FileApplier(join(leaseScript, 'map.json')),
      reason: /cannot write .*map\.json: ENOTDIR/,
    }),
    async served(dir, mac) {
      try {
        const hosts = (JSON.parse(readFileSync(join(dir, 'map.json'), 'utf8')) as DhcpMap).hosts;
        return hosts.find((h) => h.mac === mac)?.ip;
      } catch {
        return undefined;
      }
    },
    async tamper(dir) {
      const file = join(dir, 'map.json');
      const held = JSON.parse(readFileSync(file, 'utf8')) as DhcpMap;
      held.hosts = [...held.hosts.filter((h) => h.mac !== host(10).mac), host(19)];
      writeFileSync(file, JSON.stringify(held));
    },
  },
  {
    name: 'dnsmasq',
    // The agent's own dnsmasq, started in the server namespace (`ip netns exec` execs: the pid is dnsmasq's).
    applier: (dir) =>
      new DnsmasqApplier({ dir, interfaces: ['dsrv0'], binary: join(work, 'dnsmasq-in-ns'), log: () => {} }),
    broken: (dir) => {
      writeFileSync(join(dir, 'gone.pid'), '999999999\n');
      return {
        applier: new DnsmasqApplier({ dir, interfaces: [], pidFile: join(dir, 'gone.pid'), log: () => {} }),
        reason: /dnsmasq is not running: no process 999999999/,
      };
    },
    served: (_dir, mac) => askServer(mac),
  },
  {
    name: 'kea',
    applier: (dir) =>
      new KeaApplier({
        dir,
        interfaces: ['dsrv0'],
        hostsDatabase: keaHosts!.socketUrl,
        binary: join(work, 'kea-in-ns'),
        log: () => {},
      }),
    broken: (dir) => ({
      // Nothing listens on port 1: the reservations cannot be written, and Kea is not started on them.
      applier: new KeaApplier({
        dir: join(dir, 'broken'),
        interfaces: ['dsrv0'],
        hostsDatabase: 'postgres://kea@127.0.0.1:1/kea',
        binary: join(work, 'kea-in-ns'),
        log: () => {},
      }),
      reason: /Kea's hosts database \(kea@127\.0\.0\.1:1\/kea\): .*ECONNREFUSED/,
    }),
    served: (_dir, mac) => askServer(mac),
    async tamper() {
      const sql = postgres(keaHosts!.url, { max: 1, onnotice: () => {} });
      try {
        await sql`DELETE FROM hosts WHERE dhcp_identifier = ${Buffer.from(host(10).mac.replaceAll(':', ''), 'hex')}`;
        await sql`INSERT INTO hosts (dhcp_identifier, dhcp_identifier_type, dhcp4_subnet_id, ipv4_address)
                  VALUES (${Buffer.from(host(19).mac.replaceAll(':', ''), 'hex')}, 0, ${keaSubnetId(subnet.cidr)}, ${(10 << 24) + (99 << 16) + 19})`;
      } finally {
        await sql.end();
      }
    },
    // RFC 2131's `file` field holds 128 octets: Kea refuses a longer boot file name, which the API allows.
    refused: { subnet: { bootFile: 'b'.repeat(200) }, reason: /boot-file-name must be at most 127 bytes long/ },
  },
];

beforeAll(async () => {
  if (process.getuid?.() !== 0)
    throw new Error('the appliers’ suite needs root (network namespaces): run it as root, as CI does');
  keaHosts = startPostgres();
  for (const ns of [SERVER_NS, CLIENT_NS]) await run('ip', ['netns', 'add', ns]);
  await inNs(SERVER_NS, 'ip', 'link', 'add', 'dsrv0', 'type', 'veth', 'peer', 'name', 'dcli0', 'netns', CLIENT_NS);
  await inNs(SERVER_NS, 'ip', 'addr', 'add', '10.99.0.2/24', 'dev', 'dsrv0');
  for (const [ns, link] of [
    [SERVER_NS, 'dsrv0'],
    [SERVER_NS, 'lo'],
    [CLIENT_NS, 'dcli0'],
    [CLIENT_NS, 'lo'],
  ] as const) {
    await inNs(ns, 'ip', 'link', 'set', link, 'up');
  }
  writeFileSync(join(work, 'dnsmasq-in-ns'), `#!/bin/sh\nexec ip netns exec ${SERVER_NS} dnsmasq "$@"\n`, {
    mode: 0o755,
  });
  writeFileSync(join(work, 'kea-in-ns'), `#!/bin/sh\nexec ip netns exec ${SERVER_NS} kea-dhcp4 "$@"\n`, {
    mode: 0o755,
  });
  writeFileSync(leaseScript, `#!/bin/sh\n[ "$1" = bound ] && echo "$ip" > ${leaseOut}\nexit 0\n`, { mode: 0o755 });
}, 30_000);

afterAll(async () => {
  for (const ns of [SERVER_NS, CLIENT_NS]) await run('ip', ['netns', 'del', ns]).catch(() => undefined);
  keaHosts?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe.each(backends)('the $name backend', (backend) => {
  const dir = mkdtempSync(join(work, `${backend.name}-`));
  const reports: (DhcpApplied | DhcpFailed | DhcpDrift)[] = [];
  const service = (applier = backend.applier(dir)) =>
    new DhcpService({
      stateDir: dir,
      applier,
      report: (m) => reports.push(m) > 0,
      log: () => {},
      retryFirstMs: 60_000,
      checkMs: 0, // the tests read back when they mean to
    });
  let current: DhcpService;

  beforeAll(async () => {
    current = service();
    await current.start();
  });

  afterAll(async () => current.close());

  it('serves every host of the map it applied, and says so', async () => {
    current.received(map(1, [host(10), host(11)]));
    await current.idle();
    expect(reports.at(-1)).toEqual({ type: 'dhcpApplied', version: 1 });
    expect(await backend.served(dir, host(10).mac)).toBe('10.99.0.10');
    expect(await backend.served(dir, host(11).mac)).toBe('10.99.0.11');
  }, 30_000);

  it('takes changes: a host added, one moved to another address, applied together', async () => {
    current.received({
      type: 'dhcpMapChange',
      version: 2,
      base: 1,
      hosts: [host(12)],
      removed: [],
    });
    current.received({ type: 'dhcpMapChange', version: 3, base: 2, hosts: [host(11, 21)], removed: [] });
    await current.idle();
    expect(reports.at(-1)).toEqual({ type: 'dhcpApplied', version: 3 });
    expect(await backend.served(dir, host(12).mac)).toBe('10.99.0.12');
    expect(await backend.served(dir, host(11).mac)).toBe('10.99.0.21');
  }, 30_000);

  it('refuses a map DHCP cannot serve — a name it cannot carry, an address twice — and keeps the one before', async () => {
    current.received(map(4, [host(10), { ...host(13), hostname: 'not_a_name' }, host(14, 10)]));
    await current.idle();
    const failed = reports.at(-1) as DhcpFailed;
    expect(failed).toMatchObject({ type: 'dhcpFailed', version: 4 });
    expect(failed.error).toMatch(/"not_a_name" is not a name DHCP can carry/);
    expect(failed.error).toMatch(/10\.99\.0\.10 is reserved twice/);
    expect(await backend.served(dir, host(12).mac)).toBe('10.99.0.12');
  }, 30_000);

  it('asks for the whole map when a change is not for the map it holds', async () => {
    current.received(map(5, [host(10), host(11, 21), host(12)]));
    await current.idle();
    current.received({ type: 'dhcpMapChange', version: 7, base: 6, hosts: [host(15)], removed: [] });
    expect(reports.at(-1)).toMatchObject({ type: 'dhcpFailed', version: 7, behind: true });
  }, 30_000);

  it('keeps the map it applied across a restart, and serves it before any collector is heard', async () => {
    await current.close();
    current = service();
    await current.start();
    expect(current.appliedVersion).toBe(5);
    expect(await backend.served(dir, host(12).mac)).toBe('10.99.0.12');
  }, 30_000);

  it('reports what the server says when it cannot take a map, and never throws', async () => {
    const { applier, reason } = backend.broken(dir);
    const broken = service(applier);
    broken.received(map(8, [host(16)]));
    await broken.idle();
    const failed = reports.at(-1) as DhcpFailed;
    expect(failed).toMatchObject({ type: 'dhcpFailed', version: 8 });
    expect(failed.error).toMatch(reason);
    await broken.close();
  }, 30_000);

  if (backend.tamper !== undefined) {
    const tamper = backend.tamper;
    it('reads the server back, reports drift from the applied map, and puts the map back', async () => {
      await current.idle();
      const version = current.appliedVersion!;
      expect(await current.checkDrift()).toBe(false);
      expect(await backend.served(dir, host(10).mac)).toBe('10.99.0.10');
      await tamper(dir);
      expect(await current.checkDrift()).toBe(true);
      await current.idle();
      expect(reports.at(-2)).toMatchObject({ type: 'dhcpDrift', version, missing: 1, unexpected: 1 });
      expect((reports.at(-2) as DhcpDrift).detail).toMatch(/not served: 02:99:00:00:01:0a → 10\.99\.0\.10/);
      expect(reports.at(-1)).toEqual({ type: 'dhcpApplied', version });
      expect(await backend.served(dir, host(10).mac)).toBe('10.99.0.10');
      expect(await backend.served(dir, host(19).mac)).toBeUndefined();
      expect(await current.checkDrift()).toBe(false);
    }, 30_000);
  }
  if (backend.refused !== undefined) {
    const { subnet: options, reason } = backend.refused;
    it('reports the server’s own words when it refuses a configuration, and keeps serving the map before', async () => {
      const before = current.appliedVersion!;
      current.received({ type: 'dhcpMap', version: 9, hosts: [host(17)], subnets: [{ ...subnet, ...options }] });
      await current.idle();
      const failed = reports.at(-1) as DhcpFailed;
      expect(failed).toMatchObject({ type: 'dhcpFailed', version: 9 });
      expect(failed.error).toMatch(reason);
      expect(current.appliedVersion).toBe(before);
      expect(await backend.served(dir, host(12).mac)).toBe('10.99.0.12');
      expect(await backend.served(dir, host(17).mac)).not.toBe('10.99.0.17');
    }, 30_000);
  }
});
