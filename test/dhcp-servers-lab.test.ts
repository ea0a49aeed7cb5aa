/**
 * From the API call to a real DHCP client's address, with real processes in the netns lab, once
 * for each real DHCP server: `ipwarden-collector` in the main namespace; `ipwarden-agent run
 * --dhcp-backend dnsmasq` (or `kea`, with Kea's hosts database on a real PostgreSQL reached by
 * its Unix socket) in the bridge namespace, running its own server on br0 (which sits in the lab
 * subnet, so the agent serves it by the rule); busybox udhcpc in a host namespace asking for an
 * address.
 *
 * A device address made for the client's MAC answers `applied`, and the client started then gets
 * exactly that address with the subnet's gateway and DNS; moved, the client renews onto the new
 * one; released, it falls back into the dynamic range. A node deployed (MAAS) gets its `auto`
 * address with next-server and boot file. With the collector down, the client still gets its
 * address. The server's own refusal of a subnet's options (Kea's of a boot file name longer
 * than RFC 2131's field) is a failed apply in GET /agents and a `dhcp.failed` event, with the map
 * before still served. A name DHCP cannot carry never reaches a map (what the agent does with one
 * it is sent anyway is the appliers' conformance suite's, agent/src/dhcp/appliers.test.ts).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, CollectorProcess, startLabAgent, until } from './support/collector-process.js';
import { EventStreamClient } from './support/event-stream-client.js';
import { NetnsLab, UPLINK_COLLECTOR_IP } from './support/netns-lab.js';
import { type PostgresServer, startPostgres } from './support/postgres-server.js';
import { stopAll, type TestProcess } from './support/processes.js';

interface Dhcp {
  state: string;
  agents: { name: string; state: string; error?: string }[];
}

interface Server {
  backend: 'dnsmasq' | 'kea';
  /** The agent's options for it, given the hosts database (Kea's) the suite started. */
  options(database: PostgresServer | undefined): string[];
  /** The pid file of the server the agent runs, in its state directory. */
  pidFile: string;
  /** A subnet option the API takes and the server refuses, with the words it refuses it in. */
  refused?: { patch: Record<string, unknown>; reason: RegExp };
}

const SERVERS: Server[] = [
  { backend: 'dnsmasq', options: () => ['--dhcp-backend', 'dnsmasq'], pidFile: 'dnsmasq/dnsmasq.pid' },
  {
    backend: 'kea',
    options: (database) => ['--dhcp-backend', 'kea', '--kea-hosts-database', database!.socketUrl],
    pidFile: 'kea/kea-dhcp4.kea-dhcp4.pid',
    refused: { patch: { bootFile: `boot/${'x'.repeat(150)}.0` }, reason: /boot-file-name must be at most 127 bytes/ },
  },
];

describe.each(SERVERS)('DHCP maps to a real $backend and a real client', (server) => {
  const lab: { current?: NetnsLab } = {};
  const dir = mkdtempSync(join(tmpdir(), `ipwarden-dhcp-${server.backend}-`));
  let database: PostgresServer | undefined;
  const collector = new CollectorProcess(UPLINK_COLLECTOR_IP, undefined);
  const leaseScript = join(dir, 'udhcpc.sh');
  const leaseOut = join(dir, 'lease.env');
  let client = '';
  let clientMac = '';
  let subnetId = '';
  let agent: TestProcess | undefined;

  /** One DHCP exchange by udhcpc in the client's namespace: what it was given (ip, router, dns, siaddr, boot_file). */
  async function lease(): Promise<Record<string, string>> {
    rmSync(leaseOut, { force: true });
    await lab.current!.exec(client, 'udhcpc', '-i', 'lab0', '-n', '-q', '-f', '-t', '5', '-T', '1', '-s', leaseScript);
    return Object.fromEntries(
      readFileSync(leaseOut, 'utf8')
        .trim()
        .split('\n')
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
  }

  const agentRow = async () =>
    (
      await collector.api<{ items: { name: string; dhcp: { inStep: boolean; failure: { error: string } | null } }[] }>(
        '/agents',
      )
    ).body.items.find((a) => a.name === 'rack-d');

  const leased = async (mac: string) =>
    (await collector.api<{ items: { ip: string; kind: string }[] }>(`/addresses?mac=${mac}`)).body.items.find(
      (a) => a.kind === 'auto',
    )!.ip;

  beforeAll(async () => {
    if (server.backend === 'kea') database = startPostgres();
    lab.current = await NetnsLab.create(`iw-${process.pid}-d${server.backend[0]}-`, 1);
    client = lab.current.hosts[0]!;
    clientMac = await lab.current.macOf(client);
    await lab.current.exec(lab.current.bridge, 'ip', 'addr', 'add', '10.99.0.2/24', 'dev', 'br0');
    writeFileSync(
      leaseScript,
      `#!/bin/sh\n[ "$1" = bound ] || exit 0\nprintf 'ip=%s\\nrouter=%s\\ndns=%s\\nsiaddr=%s\\nboot_file=%s\\n' "$ip" "$router" "$dns" "$siaddr" "$boot_file" > ${leaseOut}\n`,
      { mode: 0o755 },
    );
    await collector.start();
    const subnet = await collector.api<{ id: string }>('/subnets', {
      method: 'POST',
      body: JSON.stringify({
        cidr: '10.99.0.0/24',
        gateway: '10.99.0.1',
        dnsServers: ['10.99.0.53'],
        nextServer: '10.99.0.2',
        bootFile: 'pxelinux.0',
      }),
    });
    subnetId = subnet.body.id;
    await collector.api(`/subnets/${subnetId}/ranges`, {
      method: 'POST',
      body: JSON.stringify({ start: '10.99.0.100', end: '10.99.0.199', purpose: 'dynamic' }),
    });
    agent = startLabAgent(lab.current, collector.url, 'rack-d', join(dir, 'state'), [], server.options(database));
    await until(
      async () => ((await agentRow())?.dhcp.inStep ? true : undefined),
      30_000,
      `${server.backend} serving the map`,
    );
  }, 90_000);

  afterAll(async () => {
    // The agent stops its server on SIGTERM; stopAll's SIGKILL would leave it running.
    await agent?.stop('SIGTERM');
    await stopAll();
    await collector.stop();
    await lab.current?.destroy();
    database?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('hands the client the address made for its MAC, with the gateway and DNS, once the call says applied', async () => {
    const created = await collector.api<{ dhcp: Dhcp }>('/addresses', {
      method: 'POST',
      body: JSON.stringify({ subnet: subnetId, kind: 'device', ip: '10.99.0.20', mac: clientMac, hostname: 'client' }),
    });
    expect(created.body.dhcp).toMatchObject({ state: 'applied', agents: [{ name: 'rack-d', state: 'applied' }] });
    expect(await lease()).toMatchObject({ ip: '10.99.0.20', router: '10.99.0.1', dns: '10.99.0.53' });
  });

  it('moves the client to the address it is moved to, and back to the dynamic range once released', async () => {
    const released = await collector.api<{ dhcp: Dhcp }>('/addresses/10.99.0.20', { method: 'DELETE' });
    expect(released.body.dhcp.state).toBe('applied');
    const moved = await collector.api<{ dhcp: Dhcp }>('/addresses', {
      method: 'POST',
      body: JSON.stringify({ subnet: subnetId, kind: 'device', ip: '10.99.0.21', mac: clientMac }),
    });
    expect(moved.body.dhcp.state).toBe('applied');
    expect((await lease()).ip).toBe('10.99.0.21');
    expect((await collector.api<{ dhcp: Dhcp }>('/addresses/10.99.0.21', { method: 'DELETE' })).body.dhcp.state).toBe(
      'applied',
    );
    const dynamic = (await lease()).ip!;
    const last = Number(dynamic.split('.')[3]);
    expect(dynamic.startsWith('10.99.0.') && last >= 100 && last <= 199).toBe(true);
  });

  it('gives a deployed node its auto address with next-server and boot file (MAAS)', async () => {
    const node = await collector.api<{ id: string }>('/nodes', {
      method: 'POST',
      body: JSON.stringify({ hostname: 'node-7', interfaces: [{ mac: clientMac }] }),
    });
    const deployed = await collector.api<{ ip: string; kind: string; dhcp: Dhcp }>(`/nodes/${node.body.id}/deploy`, {
      method: 'POST',
      body: JSON.stringify({ subnet: subnetId }),
    });
    expect(deployed.body).toMatchObject({ kind: 'auto', dhcp: { state: 'applied' } });
    // The lowest free address but the agent's own (br0's 10.99.0.2, in use by the DHCP server itself).
    expect(deployed.body.ip).toBe('10.99.0.3');
    expect(await lease()).toMatchObject({ ip: deployed.body.ip, siaddr: '10.99.0.2', boot_file: 'pxelinux.0' });
  });

  it('never lets a name DHCP cannot carry reach a map: the API refuses it, and the agent stays in step', async () => {
    const bad = await collector.api<{ code: string }>('/addresses', {
      method: 'POST',
      body: JSON.stringify({
        subnet: subnetId,
        kind: 'device',
        ip: '10.99.0.30',
        mac: '02:99:00:00:00:30',
        hostname: 'bad_name',
      }),
    });
    expect([bad.status, bad.body.code]).toEqual([400, 'invalid-hostname']);
    expect((await agentRow())!.dhcp).toMatchObject({ inStep: true, failure: null });
  });

  it(`takes the agent’s own ${server.backend} for a known DHCP server: its answers opened no rogue-dhcp-server`, async () => {
    const conflicts = await collector.api<{ items: { kind: string }[] }>('/conflicts?kind=rogue-dhcp-server');
    expect(conflicts.body.items).toEqual([]);
  });

  it(`starts its ${server.backend} again when it dies, on the map it served`, async () => {
    const pidFile = join(dir, 'state', server.pidFile);
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    process.kill(pid, 'SIGKILL'); // the agent's own server, started by this test's agent
    await until(
      async () => {
        // The new server writes the file as it starts: absent or empty for a moment.
        let now = 0;
        try {
          now = Number(readFileSync(pidFile, 'utf8').trim());
        } catch {
          // not there yet
        }
        return now > 0 && now !== pid && existsSync(`/proc/${now}`) ? now : undefined;
      },
      10_000,
      `a new ${server.backend}`,
    );
    const auto = await leased(clientMac);
    // Started again a second after it died, and serving once it says so: the client may ask before.
    await until(async () => ((await lease().catch(() => undefined))?.ip === auto ? true : undefined), 15_000, 'served');
  });

  it('goes on serving with the collector down', async () => {
    const auto = await leased(clientMac);
    await collector.stop();
    try {
      expect((await lease()).ip).toBe(auto);
    } finally {
      await collector.start();
    }
  });

  if (server.refused !== undefined) {
    const { patch, reason } = server.refused;
    it(`reports ${server.backend}’s refusal of a subnet’s options as a failed apply, and serves the map before`, async () => {
      const auto = await leased(clientMac);
      const stream = await EventStreamClient.open<{ error?: string }>(collector.url, ADMIN_TOKEN);
      const patched = await collector.api<{ id: string }>(`/subnets/${subnetId}`, {
        method: 'PATCH',
        body: JSON.stringify(patch),
      });
      expect(patched.status).toBe(200);
      const { value: failure } = await until(
        async () => (await agentRow())?.dhcp.failure ?? undefined,
        20_000,
        'a failed apply',
      );
      expect(failure.error).toMatch(reason);
      const { value: event } = await until(
        async () => stream.events.find((e) => e.type === 'dhcp.failed'),
        10_000,
        'dhcp.failed on /events',
      );
      stream.close();
      expect(event.data.data.error).toMatch(reason);
      expect(await lease()).toMatchObject({ ip: auto, boot_file: 'pxelinux.0' });
      // Put right, the map is applied and the failure gone.
      await collector.api(`/subnets/${subnetId}`, {
        method: 'PATCH',
        body: JSON.stringify({ bootFile: 'pxelinux.0' }),
      });
      await until(async () => ((await agentRow())?.dhcp.inStep ? true : undefined), 20_000, 'in step again');
      expect((await agentRow())!.dhcp.failure).toBeNull();
    });
  }
});
