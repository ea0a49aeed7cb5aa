/**
 * Conflicts end to end, with real processes in the netns lab: `ipwarden-collector` in the main
 * namespace, `ipwarden-agent run` capturing on the lab bridge, and real hosts misbehaving —
 * kernel ARP and NDP, arping announcing what it should not, a second dnsmasq answering a
 * udhcpc client as a rogue server. For each kind: the conflict is in the API within 1 s of the
 * offending frame, a webhook receiver on loopback gets a correctly signed `conflict.opened`,
 * `GET /events` carries it, and once the offender stops it resolves after the (short) quiet
 * period, with `conflict.resolved` delivered; an offender that keeps going keeps its conflict
 * open. What networks do on purpose opens nothing.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, agentConnected, CollectorProcess, startLabAgent, until } from './support/collector-process.js';
import { EventStreamClient } from './support/event-stream-client.js';
import { NetnsLab, UPLINK_COLLECTOR_IP } from './support/netns-lab.js';
import { stopAll, type TestProcess } from './support/processes.js';
import { type Received, verifyIpwardenSignature, WebhookReceiver } from './support/webhook-receiver.js';

/** The bound: a conflict is in the API this long after its offending frame. */
const WITHIN_MS = 1_000;
/** Short, for the test: a conflict resolves once its condition has been absent this long. */
const QUIET_S = 3;
const SECRET = 'lab-webhook-secret-0123456789';

interface Conflict {
  id: string;
  kind: string;
  ip: string;
  macs: string[];
  status: string;
  resolvedBy: string | null;
  evidence: { agent: string; interface: string; source: string; kind: string; mac: string }[];
}

describe('conflicts in the lab', () => {
  let lab: NetnsLab;
  let collector: CollectorProcess;
  let agent: TestProcess;
  let receiver: WebhookReceiver;
  let stream: EventStreamClient<Conflict>;
  const [h1, h2, h3, h4, h5, h6] = ['h1', 'h2', 'h3', 'h4', 'h5', 'h6'].map((h) => `iwc-${process.pid}-${h}`) as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const macs: Record<string, string> = {};

  const api = <T = unknown>(path: string, method = 'GET', body?: unknown) =>
    collector.api<T>(path, { method, ...(body !== undefined && { body: JSON.stringify(body) }) });
  const post = async (path: string, body: unknown) => {
    const response = await api(path, 'POST', body);
    expect(response.status, JSON.stringify(response.body)).toBeLessThan(300);
    return response.body;
  };
  const live = async (ip: string) =>
    (await api<{ items: Conflict[] }>(`/conflicts?ip=${encodeURIComponent(ip)}`)).body.items.filter(
      (c) => c.status !== 'resolved',
    );

  /** The conflict of `kind` on `ip` once it is in the API, and how long after `sent` it came. */
  async function opens(ip: string, kind: string, sent: number): Promise<Conflict> {
    const { value } = await until(
      async () => (await live(ip)).find((c) => c.kind === kind),
      10_000,
      `${kind} on ${ip}`,
    );
    expect(performance.now() - sent, `${kind} on ${ip} in the API`).toBeLessThan(WITHIN_MS + 100);
    return value;
  }

  /** The webhook and the event stream both carried `type` for the conflict. */
  async function announced(conflict: Conflict, type: string): Promise<Received> {
    const matches = (r: Received) => {
      const body = JSON.parse(r.body);
      return body.type === type && body.data.id === conflict.id;
    };
    await receiver.until((received) => received.some(matches), 15_000);
    const delivery = receiver.received.find(matches)!;
    expect(verifyIpwardenSignature(SECRET, delivery)).toBe(true);
    expect(delivery.headers['x-ipwarden-event']).toBe(type);
    await until(
      async () => stream.events.find((e) => e.type === type && e.data.data.id === conflict.id),
      5_000,
      `${type} on /events`,
    );
    return delivery;
  }

  /** The conflict resolves by itself, the offender gone, and the webhook hears of it. */
  async function resolvesQuietly(conflict: Conflict): Promise<void> {
    const { value } = await until(
      async () => {
        const { body } = await api<Conflict>(`/conflicts/${conflict.id}`);
        return body.status === 'resolved' ? body : undefined;
      },
      (QUIET_S + 5) * 1000,
      `${conflict.kind} resolved`,
    );
    expect(value.resolvedBy).toBe('quiet');
    await announced(conflict, 'conflict.resolved');
  }

  /** Sends one frame (a command in a namespace) and returns when, in performance.now() time. */
  const frame = async (send: () => Promise<unknown>) => {
    const sent = performance.now();
    await send();
    return sent;
  };

  beforeAll(async () => {
    lab = await NetnsLab.create(`iwc-${process.pid}-`, 6);
    for (const ns of [h1, h2, h3, h4, h5, h6]) macs[ns] = await lab.macOf(ns);
    // The agent's own address on the watched segment: its rack controller's.
    await lab.addIpv4(lab.bridge, '10.99.0.2/24', 'br0');
    receiver = await WebhookReceiver.start();
    collector = new CollectorProcess(UPLINK_COLLECTOR_IP, undefined);
    await collector.start();
    expect((await api('/settings', 'PUT', { conflictQuietSeconds: QUIET_S })).status).toBe(200);
    await post('/subnets', {
      cidr: '10.99.0.0/24',
      gateway: '10.99.0.1',
      dnsServers: ['10.99.0.3'],
      dhcpServers: ['10.99.0.4'],
    });
    await post('/subnets/10.99.0.0%2F24/ranges', { start: '10.99.0.100', end: '10.99.0.149', purpose: 'dynamic' });
    await post('/subnets/10.99.0.0%2F24/ranges', { start: '10.99.0.200', end: '10.99.0.209', purpose: 'reserved' });
    await post('/subnets', { cidr: 'fd99::/64' });
    await post('/webhooks', { url: receiver.url, events: ['*'], secret: SECRET });
    stream = await EventStreamClient.open<Conflict>(collector.url, ADMIN_TOKEN);
    agent = startLabAgent(lab, collector.url, 'lab-agent', mkdtempSync(join(tmpdir(), 'ipwarden-agent-')));
    await agentConnected(collector, 'lab-agent');
    await agent.waitFor(/capture opened on br0/);
  }, 120_000);

  afterAll(async () => {
    stream?.close();
    await lab?.destroy();
    await collector?.stop();
    await receiver?.stop();
    await stopAll();
  }, 60_000);

  it('opens unallocated-in-use for a host nothing allocates, and resolves it once the host is quiet', async () => {
    await lab.addIpv4(h1, '10.99.0.50/24');
    const sent = await frame(() => lab.arping(h1, { ip: '10.99.0.50' }));
    const conflict = await opens('10.99.0.50', 'unallocated-in-use', sent);
    expect(conflict.macs).toEqual([macs[h1]]);
    expect(conflict.evidence[0]).toMatchObject({ agent: 'lab-agent', interface: 'br0', source: 'arp', kind: 'host' });
    const delivery = await announced(conflict, 'conflict.opened');
    expect(JSON.parse(delivery.body).data).toMatchObject({ kind: 'unallocated-in-use', ip: '10.99.0.50' });
    await resolvesQuietly(conflict);
  }, 30_000);

  it('opens mac-mismatch for another host on an allocated address', async () => {
    await post('/addresses', { subnet: '10.99.0.0/24', kind: 'device', ip: '10.99.0.60', mac: '02:00:00:00:60:60' });
    const sent = await frame(() => lab.arping(h2, { ip: '10.99.0.60' }));
    const conflict = await opens('10.99.0.60', 'mac-mismatch', sent);
    expect(conflict.macs).toEqual([macs[h2]]);
    await announced(conflict, 'conflict.opened');
    await resolvesQuietly(conflict);
  }, 30_000);

  it('opens reserved-range-in-use and foreign-subnet', async () => {
    const reserved = await frame(() => lab.arping(h3, { ip: '10.99.0.205' }));
    const inReserved = await opens('10.99.0.205', 'reserved-range-in-use', reserved);
    const foreign = await frame(() => lab.arping(h3, { ip: '10.97.0.5' }));
    const outside = await opens('10.97.0.5', 'foreign-subnet', foreign);
    await announced(inReserved, 'conflict.opened');
    await announced(outside, 'conflict.opened');
    await resolvesQuietly(inReserved);
    await resolvesQuietly(outside);
  }, 40_000);

  it('opens duplicate-ip for two hosts announcing one address in turn (A, B, A), and keeps it open while they go on', async () => {
    const ip = '10.99.0.70';
    await lab.arping(h3, { ip });
    await lab.arping(h4, { ip });
    const sent = await frame(() => lab.arping(h3, { ip }));
    const conflict = await opens(ip, 'duplicate-ip', sent);
    expect([...conflict.macs].sort()).toEqual([macs[h3], macs[h4]].sort());
    await announced(conflict, 'conflict.opened');
    // They go on fighting for twice the quiet period: the agent reports the watched address often
    // enough that the conflict stays open.
    const until = performance.now() + 2 * QUIET_S * 1000;
    for (let turn = 0; performance.now() < until; turn++) {
      await lab.arping(turn % 2 === 0 ? h4 : h3, { ip });
      await new Promise((resolve) => setTimeout(resolve, 400));
    }
    expect((await api<Conflict>(`/conflicts/${conflict.id}`)).body.status).toBe('open');
    await resolvesQuietly(conflict);
  }, 40_000);

  it('opens duplicate-ip when the kernel answers another host’s IPv6 duplicate address detection', async () => {
    await lab.enableIpv6(h5, 'fd99::70/64');
    await lab.exec(h6, 'sysctl', '-qw', 'net.ipv6.conf.lab0.disable_ipv6=0');
    // h6 runs DAD (RFC 4862 5.4) for an address h5 holds; h5's kernel answers with an NA.
    const sent = await frame(() => lab.exec(h6, 'ip', '-6', 'addr', 'add', 'fd99::70/64', 'dev', 'lab0'));
    const conflict = await opens('fd99::70', 'duplicate-ip', sent + 1_000);
    expect([...conflict.macs].sort()).toEqual([macs[h5], macs[h6]].sort());
    await announced(conflict, 'conflict.opened');
    await lab.exec(h6, 'ip', '-6', 'addr', 'del', 'fd99::70/64', 'dev', 'lab0');
    await lab.exec(h5, 'ip', '-6', 'addr', 'del', 'fd99::70/64', 'dev', 'lab0');
    await resolvesQuietly(conflict);
  }, 40_000);

  it('opens rogue-dhcp-server when an unknown dnsmasq answers a client, and not for the known one', async () => {
    const work = mkdtempSync(join(tmpdir(), 'ipwarden-dhcp-'));
    // dnsmasq pings an address for up to 3 s before offering it; the OFFER is what is timed here.
    const dnsmasq = (ns: string, name: string, range: string) =>
      lab.dnsmasq(ns, name, work, { range, extra: ['--no-ping'] });
    const udhcpc = (ns: string) =>
      lab
        .exec(ns, 'udhcpc', '-i', 'lab0', '-n', '-q', '-f', '-t', '3', '-T', '1', '-s', '/bin/true')
        .catch(() => undefined);

    await lab.addIpv4(h4, '10.99.0.4/24');
    const known = await dnsmasq(h4, 'known', '10.99.0.100,10.99.0.149');
    await udhcpc(h6);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(await live('10.99.0.4')).toEqual([]);
    await known.stop();

    await lab.addIpv4(h5, '10.99.0.66/24');
    const rogue = await dnsmasq(h5, 'rogue', '10.99.0.150,10.99.0.160');
    const sent = performance.now();
    await udhcpc(h6);
    const conflict = await opens('10.99.0.66', 'rogue-dhcp-server', sent);
    expect(conflict.macs).toEqual([macs[h5]]);
    await announced(conflict, 'conflict.opened');
    await rogue.stop();
    await resolvesQuietly(conflict);
  }, 60_000);

  it('opens nothing for what networks do on purpose', async () => {
    const quietIps = [
      '10.99.0.1',
      '10.99.0.3',
      '10.99.0.2',
      '10.99.0.10',
      '10.99.0.11',
      '10.99.0.12',
      '10.99.0.77',
      '10.99.0.61',
    ];
    // The gateway (h1 is the router) and, from the router's MAC, addresses behind it (proxy ARP).
    await lab.arping(h1, { ip: '10.99.0.1' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await lab.arping(h1, { ip: '10.99.0.77' });
    // A DNS server, and the agent's own address.
    await lab.arping(h2, { ip: '10.99.0.3' });
    await lab.arping(lab.bridge, { ip: '10.99.0.2', ifname: 'br0' });
    // A VRRP virtual router, failing over from one box to another (same virtual MAC, another port).
    await lab.arping(h2, { ip: '10.99.0.10', mac: '00:00:5e:00:01:0a' });
    await lab.arping(h3, { ip: '10.99.0.10', mac: '00:00:5e:00:01:0a' });
    // The same with HSRP's virtual MAC (group 1), and GLBP's two forwarders of one group taking
    // turns at answering for its address (each forwarder its own virtual MAC).
    await lab.arping(h2, { ip: '10.99.0.11', mac: '00:00:0c:07:ac:01' });
    await lab.arping(h3, { ip: '10.99.0.11', mac: '00:00:0c:07:ac:01' });
    await lab.arping(h2, { ip: '10.99.0.12', mac: '00:07:b4:00:01:01' });
    await lab.arping(h3, { ip: '10.99.0.12', mac: '00:07:b4:00:01:02' });
    await lab.arping(h2, { ip: '10.99.0.12', mac: '00:07:b4:00:01:01' });
    // A NIC swap made through the API: the new NIC announces, the old one says its last word.
    await post('/addresses', { subnet: '10.99.0.0/24', kind: 'device', ip: '10.99.0.61', mac: macs[h5] });
    await lab.arping(h5, { ip: '10.99.0.61' });
    expect((await api('/addresses/10.99.0.61', 'PATCH', { mac: macs[h6] })).status).toBe(200);
    await lab.arping(h6, { ip: '10.99.0.61' });
    await lab.arping(h5, { ip: '10.99.0.61' });
    // A DHCP client in the dynamic range, served by the subnet's known server: the rogue test's
    // client got 10.99.0.1xx from it above.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    for (const ip of quietIps) {
      // Seen, and judged, and nothing raised.
      const seen = await api<{ items: unknown[] }>(`/discoveries?ip=${ip}`);
      expect(seen.body.items.length, `${ip} discovered`).toBeGreaterThan(0);
      expect(await live(ip), ip).toEqual([]);
    }
    // Each rule says what it kept quiet.
    const metrics = await (await fetch(`${collector.url}/metrics`)).text();
    for (const rule of ['gateway', 'dns-server', 'agent-address', 'virtual-router', 'proxy-arp', 'mac-change']) {
      expect(metrics, rule).toMatch(
        new RegExp(`ipwarden_conflicts_quieted_total\\{rule="${rule}",kind="[a-z-]+"\\} [1-9]`),
      );
    }
    expect(metrics).toMatch(/ipwarden_conflicts_quieted_total\{rule="dynamic-range",kind="unallocated-in-use"\} [1-9]/);
    const dynamic = (await api<{ items: Conflict[] }>('/conflicts?status=open')).body.items.filter((c) =>
      /^10\.99\.0\.1[0-4]\d$/.test(c.ip),
    );
    expect(dynamic).toEqual([]);
  }, 30_000);
});
