/**
 * Passive discovery end to end, with real processes in the netns lab: `ipwarden-collector` in
 * the main namespace, `ipwarden-agent run` capturing on the lab bridge, and real hosts making
 * real traffic — kernel ARP and NDP from ping, fake and gratuitous hosts from arping, an
 * avahi-daemon announcing its name, udhcpc getting a lease from dnsmasq, a host on VLAN 42.
 * Each must show up in GET /discoveries within 2 s with the right IP, MAC, VLAN, hostname and
 * source. The same suite runs on the embedded database and on a PostgreSQL server it starts.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  agentConnected,
  CollectorProcess,
  type DiscoveryRow,
  startLabAgent,
  until,
} from './support/collector-process.js';
import { NetnsLab, UPLINK_COLLECTOR_IP } from './support/netns-lab.js';
import { repoRoot } from './support/paths.js';
import { type PostgresServer, startPostgres } from './support/postgres-server.js';
import { stopAll, type TestProcess } from './support/processes.js';

const injectFrames = join(repoRoot, 'test', 'support', 'inject-frames.mjs');

/** A gratuitous ARP request (RFC 5227 2.4) as hex, behind the given (TPID, VID) tags. */
function gratuitousArp(mac: string, ip: string, tags: number[]): string {
  const macHex = mac.replaceAll(':', '');
  const ipHex = ip
    .split('.')
    .map((octet) => Number(octet).toString(16).padStart(2, '0'))
    .join('');
  const tagHex = tags.map((word) => word.toString(16).padStart(4, '0')).join('');
  return `ffffffffffff${macHex}${tagHex}08060001080006040001${macHex}${ipHex}000000000000${ipHex}`;
}

/** The bound: a host is in the API this long after its frame crossed the wire. */
const WITHIN_MS = 2_000;

describe.each([
  ['the embedded database', 'a', false],
  ['PostgreSQL', 'b', true],
])('discovery on %s', (_, tag, postgres) => {
  let pg: PostgresServer | undefined;
  let lab: NetnsLab;
  let collector: CollectorProcess;
  let agent: TestProcess;
  const [h1, h2, h3, h4, h5, h6] = ['h1', 'h2', 'h3', 'h4', 'h5', 'h6'].map((h) => `iwd-${process.pid}${tag}-${h}`);

  /** The discovery of `ip` (and `mac`, if given) once it is there, and how long that took. */
  async function appears(ip: string, test: (row: DiscoveryRow) => boolean = () => true) {
    return until(
      async () => {
        const { body } = await collector.api<{ items: DiscoveryRow[] }>(`/discoveries?ip=${encodeURIComponent(ip)}`);
        return body.items.find(test);
      },
      WITHIN_MS,
      `${ip} in GET /discoveries`,
    );
  }

  beforeAll(async () => {
    if (postgres) pg = startPostgres();
    lab = await NetnsLab.create(`iwd-${process.pid}${tag}-`, 6);
    collector = new CollectorProcess(UPLINK_COLLECTOR_IP, pg?.url);
    await collector.start();
    const stateDir = mkdtempSync(join(tmpdir(), 'ipwarden-agent-'));
    agent = startLabAgent(lab, collector.url, 'lab-agent', stateDir);
    await agentConnected(collector, 'lab-agent');
    await agent.waitFor(/capture opened on br0/);
    for (const [i, ns] of [h1, h2, h3, h4].entries()) await lab.addIpv4(ns!, `10.99.0.${i + 1}/24`);
  }, 120_000);

  afterAll(async () => {
    await lab?.destroy();
    await collector?.stop();
    await stopAll();
    pg?.stop();
  }, 60_000);

  it('sees kernel ARP between two hosts that ping', async () => {
    await lab.exec(h1!, 'ping', '-n', '-c', '1', '-W', '2', '10.99.0.2');
    const [mac1, mac2] = [await lab.macOf(h1!), await lab.macOf(h2!)];
    const pinger = await appears('10.99.0.1');
    const pinged = await appears('10.99.0.2');
    expect(pinger.value).toMatchObject({ mac: mac1, vlan: 0, sources: ['arp'], agent: 'lab-agent', interface: 'br0' });
    expect(pinged.value).toMatchObject({ mac: mac2, vlan: 0, sources: ['arp'] });
    expect(pinger.value.vendor).toBeNull(); // veth MACs are locally administered
  });

  it('sees a fake host that only arping claims', async () => {
    await lab.arping(h1!, { ip: '10.99.0.50', mac: '02:00:00:00:00:50', target: '10.99.0.2' });
    const { value } = await appears('10.99.0.50');
    expect(value).toMatchObject({ mac: '02:00:00:00:00:50', vlan: 0, sources: ['arp'] });
  });

  it('sees kernel NDP between two IPv6 hosts', async () => {
    await lab.enableIpv6(h1!, 'fd99::1/64');
    await lab.enableIpv6(h2!, 'fd99::2/64');
    await lab.exec(h1!, 'ping', '-n', '-6', '-c', '1', '-W', '2', 'fd99::2');
    const { value } = await appears('fd99::1');
    expect(value).toMatchObject({ mac: await lab.macOf(h1!), vlan: 0, sources: ['ndp'] });
    expect((await appears('fd99::2')).value.mac).toBe(await lab.macOf(h2!));
  });

  it('sees the name avahi-daemon announces over mDNS', async () => {
    const work = mkdtempSync(join(tmpdir(), 'ipwarden-avahi-'));
    writeFileSync(
      join(work, 'avahi.conf'),
      '[server]\nhost-name=labhost-mdns\nuse-ipv4=yes\nuse-ipv6=no\nallow-interfaces=lab0\nenable-dbus=no\n' +
        '[wide-area]\nenable-wide-area=no\n[publish]\npublish-workstation=no\n',
    );
    // Its own mount and UTS namespaces: avahi's pid file and socket go to a private /run.
    const avahi = lab.spawn(h3!, 'avahi', 'unshare', [
      '-m',
      '-u',
      'sh',
      '-c',
      'mount -t tmpfs -o mode=0755 tmpfs /run && mkdir /run/avahi-daemon && hostname labhost-mdns && exec avahi-daemon -f "$1" --no-drop-root --no-chroot --no-rlimits',
      'avahi',
      join(work, 'avahi.conf'),
    ]);
    await avahi.waitFor(/Server startup complete/, 15_000);
    const { value } = await appears('10.99.0.3', (row) => row.sources.includes('mdns'));
    expect(value).toMatchObject({ mac: await lab.macOf(h3!), vlan: 0 });
    expect(value.hostnames).toContain('labhost-mdns');
    await avahi.stop();
  });

  it('sees the lease dnsmasq gives udhcpc, with the name the client sent', async () => {
    const work = mkdtempSync(join(tmpdir(), 'ipwarden-dhcp-'));
    const clientMac = await lab.macOf(h5!);
    const dnsmasq = await lab.dnsmasq(h4!, 'dnsmasq', work, {
      range: '10.99.0.100,10.99.0.150',
      hosts: `${clientMac},10.99.0.123\n`,
      extra: ['--log-dhcp'],
    });
    await lab.exec(
      h5!,
      'udhcpc',
      '-i',
      'lab0',
      '-n',
      '-q',
      '-f',
      '-t',
      '3',
      '-T',
      '1',
      '-x',
      'hostname:labhost-dhcp',
      '-s',
      '/bin/true',
    );
    const { value } = await appears('10.99.0.123', (row) => row.sources.includes('dhcp'));
    expect(value).toMatchObject({ mac: clientMac, vlan: 0 });
    expect(value.hostnames).toContain('labhost-dhcp');
    await dnsmasq.stop();
  });

  it('sees hosts behind an 802.1Q tag and behind QinQ tags, with their VLANs', async () => {
    await lab.exec(
      h6!,
      process.execPath,
      injectFrames,
      'lab0',
      gratuitousArp('02:00:00:00:42:06', '10.99.42.6', [0x8100, 42]),
      gratuitousArp('02:00:00:00:42:07', '10.99.42.7', [0x88a8, 100, 0x8100, 42]),
    );
    expect((await appears('10.99.42.6')).value).toMatchObject({ mac: '02:00:00:00:42:06', vlan: 42, sources: ['arp'] });
    expect((await appears('10.99.42.7')).value).toMatchObject({ mac: '02:00:00:00:42:07', vlan: 42, outerVlan: 100 });
  });

  it('stops and starts capturing when an admin switches discovery off and on, without a restart', async () => {
    const setDiscovery = (enabled: boolean) =>
      collector.api('/settings', { method: 'PUT', body: JSON.stringify({ discovery: { enabled } }) });
    expect((await setDiscovery(false)).status).toBe(200);
    await agent.waitFor(/capture closed on br0/);
    await lab.arping(h1!, { ip: '10.99.0.90', mac: '02:00:00:00:00:90' });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect((await collector.api<{ items: DiscoveryRow[] }>('/discoveries?ip=10.99.0.90')).body.items).toEqual([]);

    const opened = agent.lines.filter((line) => /capture opened on br0/.test(line)).length;
    expect((await setDiscovery(true)).status).toBe(200);
    await until(
      async () => (agent.lines.filter((line) => /capture opened on br0/.test(line)).length > opened ? true : undefined),
      5_000,
      'capture opened again',
    );
    await lab.arping(h1!, { ip: '10.99.0.91', mac: '02:00:00:00:00:91' });
    expect((await appears('10.99.0.91')).value.mac).toBe('02:00:00:00:00:91');
    expect(agent.child.exitCode).toBeNull();
  });

  it('records a host that changes its MAC as moved in the history', async () => {
    const announce = (mac: string) => lab.arping(h1!, { ip: '10.99.0.60', mac });
    await announce('02:00:00:00:00:60');
    await appears('10.99.0.60', (row) => row.mac === '02:00:00:00:00:60');
    await announce('02:00:00:00:00:61');
    await appears('10.99.0.60', (row) => row.mac === '02:00:00:00:00:61');
    const { body } = await collector.api<{ items: { event: string; mac: string; previousMac?: string }[] }>(
      '/discoveries/history?ip=10.99.0.60',
    );
    expect(body.items.map(({ event, mac, previousMac }) => ({ event, mac, previousMac }))).toEqual([
      { event: 'new', mac: '02:00:00:00:00:60', previousMac: undefined },
      { event: 'moved', mac: '02:00:00:00:00:61', previousMac: '02:00:00:00:00:60' },
    ]);
  });
});
