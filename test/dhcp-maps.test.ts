/**
 * DHCP maps end to end with real processes: `ipwarden-collector` (the embedded database) in the
 * main namespace and `ipwarden-agent run --dhcp-backend file` in the netns lab's bridge
 * namespace, whose br0 sits in the lab subnet — so the agent serves it by the rule, not by being
 * told. An address with a MAC made through the API answers `applied` once the agent's file holds
 * it; changes and releases follow; an agent away when the change is made is named `pending`,
 * and gets the map when it comes back; an apply that fails is reported with the reason, and the
 * map applied last keeps being served, also across a restart with the collector down.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, CollectorProcess, startLabAgent, until } from './support/collector-process.js';
import { NetnsLab, UPLINK_COLLECTOR_IP } from './support/netns-lab.js';
import { type PostgresServer, startPostgres } from './support/postgres-server.js';
import { stopAll, type TestProcess } from './support/processes.js';

interface Dhcp {
  state: string;
  version: number | null;
  agents: { id: string; name: string; state: string; error?: string }[];
}
interface AgentRow {
  id: string;
  name: string;
  connected: boolean;
  dhcp: {
    backend: string;
    appliedVersion: number | null;
    wantedVersion: number | null;
    inStep: boolean;
    serves: string[];
    failure: { version: number; error: string } | null;
    lastDrift: { version: number; missing: number; unexpected: number; detail: string } | null;
  };
}
interface MapFile {
  version: number;
  hosts: { mac: string; ip: string; hostname?: string; subnet: string }[];
  subnets: { cidr: string; gateway?: string; dnsServers?: string[] }[];
}

describe('DHCP maps, collector to agent, with the file backend', () => {
  const lab: { current?: NetnsLab } = {};
  const dir = mkdtempSync(join(tmpdir(), 'ipwarden-dhcp-maps-'));
  const collector = new CollectorProcess(UPLINK_COLLECTOR_IP, undefined);
  const stateDir = join(dir, 'agent-state');
  const mapFile = join(dir, 'dhcp-map.json');
  let agent: TestProcess | undefined;
  let subnetId = '';

  const readMap = (): MapFile | undefined =>
    existsSync(mapFile) ? JSON.parse(readFileSync(mapFile, 'utf8')) : undefined;
  const agentRow = async () =>
    (await collector.api<{ items: AgentRow[] }>('/agents')).body.items.find((a) => a.name === 'rack-1');

  /** The event log from its start, as `GET /events` replays it (Last-Event-ID 0), for a second. */
  async function eventsSoFar(): Promise<string> {
    const abort = new AbortController();
    const response = await fetch(`${collector.url}/api/v1/events`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, accept: 'text/event-stream', 'last-event-id': '0' },
      signal: abort.signal,
    });
    const timer = setTimeout(() => abort.abort(), 1_000);
    let text = '';
    try {
      for await (const chunk of response.body!) text += Buffer.from(chunk).toString();
    } catch {
      // aborted: what came is what there is
    }
    clearTimeout(timer);
    return text;
  }

  async function startAgent(file = mapFile): Promise<void> {
    agent = startLabAgent(
      lab.current!,
      collector.url,
      'rack-1',
      stateDir,
      [],
      // Read back every second: drift is found within the test's patience.
      ['--dhcp-backend', 'file', '--dhcp-file', file, '--dhcp-check', '1'],
    );
  }

  beforeAll(async () => {
    lab.current = await NetnsLab.create(`iw-${process.pid}-dm-`, 1);
    // The agent's interface in the lab subnet: it serves 10.99.0.0/24 because it sits in it.
    await lab.current.exec(lab.current.bridge, 'ip', 'addr', 'add', '10.99.0.2/24', 'dev', 'br0');
    mkdirSync(stateDir, { recursive: true });
    await collector.start();
    const subnet = await collector.api<{ id: string }>('/subnets', {
      method: 'POST',
      body: JSON.stringify({
        cidr: '10.99.0.0/24',
        gateway: '10.99.0.1',
        dnsServers: ['10.99.0.53'],
        leaseSeconds: 600,
      }),
    });
    expect(subnet.status).toBe(201);
    subnetId = subnet.body.id;
    await collector.api(`/subnets/${subnetId}/ranges`, {
      method: 'POST',
      body: JSON.stringify({ start: '10.99.0.100', end: '10.99.0.199', purpose: 'dynamic' }),
    });
    await startAgent();
    await until(
      async () => ((await agentRow())?.dhcp.inStep && readMap() !== undefined) || undefined,
      30_000,
      'the first map',
    );
  }, 90_000);

  afterAll(async () => {
    await stopAll();
    await collector.stop();
    await lab.current?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the subnet its interface sits in, and writes that subnet with its options', async () => {
    const row = (await agentRow())!;
    expect(row.dhcp).toMatchObject({ backend: 'file', serves: [subnetId], inStep: true, failure: null });
    expect(row.dhcp.appliedVersion).toBe(row.dhcp.wantedVersion);
    expect(readMap()!.subnets).toEqual([
      {
        cidr: '10.99.0.0/24',
        vlan: 0,
        gateway: '10.99.0.1',
        dnsServers: ['10.99.0.53'],
        leaseSeconds: 600,
        dynamicRanges: [{ start: '10.99.0.100', end: '10.99.0.199' }],
      },
    ]);
  });

  it('answers a new device address once the agent applied it, and the file holds it then', async () => {
    const created = await collector.api<{ ip: string; dhcp: Dhcp }>('/addresses', {
      method: 'POST',
      body: JSON.stringify({
        subnet: subnetId,
        kind: 'device',
        ip: '10.99.0.20',
        mac: '02:99:00:00:00:20',
        hostname: 'printer',
      }),
    });
    expect(created.status).toBe(201);
    expect(created.body.dhcp).toMatchObject({ state: 'applied', agents: [{ name: 'rack-1', state: 'applied' }] });
    // The answer came after the apply: the file holds the host already.
    expect(readMap()!.hosts).toContainEqual({
      mac: '02:99:00:00:00:20',
      ip: '10.99.0.20',
      hostname: 'printer',
      subnet: '10.99.0.0/24',
    });
    const map = await collector.api<MapFile>(`/agents/${(await agentRow())!.id}/dhcp-map`);
    expect(map.body.hosts).toContainEqual({
      mac: '02:99:00:00:00:20',
      ip: '10.99.0.20',
      hostname: 'printer',
      subnet: '10.99.0.0/24',
    });
  });

  it('follows a new MAC and a release, each applied before the answer', async () => {
    const changed = await collector.api<{ dhcp: Dhcp }>('/addresses/10.99.0.20', {
      method: 'PATCH',
      body: JSON.stringify({ mac: '02:99:00:00:00:21' }),
    });
    expect(changed.body.dhcp.state).toBe('applied');
    expect(
      readMap()!
        .hosts.filter((h) => h.ip === '10.99.0.20')
        .map((h) => h.mac),
    ).toEqual(['02:99:00:00:00:21']);
    const released = await collector.api<{ dhcp: Dhcp }>('/addresses/10.99.0.20', { method: 'DELETE' });
    expect(released.status).toBe(200);
    expect(released.body.dhcp.state).toBe('applied');
    expect(readMap()!.hosts.some((h) => h.ip === '10.99.0.20')).toBe(false);
  });

  it('says nothing is waited for when the address is in no map (a reservation)', async () => {
    const reserved = await collector.api<{ dhcp: Dhcp }>(`/subnets/${subnetId}/reserve`, {
      method: 'POST',
      body: JSON.stringify({ ip: '10.99.0.30', mac: '02:99:00:00:00:30' }),
    });
    expect(reserved.body.dhcp).toEqual({ state: 'none', version: null, agents: [] });
  });

  it('names an agent that is away as pending after the wait, and brings it in step when it is back', async () => {
    await agent!.stop();
    const started = performance.now();
    const created = await collector.api<{ dhcp: Dhcp }>('/addresses?wait=500', {
      method: 'POST',
      body: JSON.stringify({ subnet: subnetId, kind: 'device', ip: '10.99.0.40', mac: '02:99:00:00:00:40' }),
    });
    expect(performance.now() - started).toBeGreaterThanOrEqual(450);
    expect(created.body.dhcp).toMatchObject({ state: 'pending', agents: [{ name: 'rack-1', state: 'pending' }] });
    const away = (await agentRow())!;
    expect(away.dhcp.inStep).toBe(false);
    expect(away.dhcp.wantedVersion).toBeGreaterThan(away.dhcp.appliedVersion!);
    // What the "DHCP maps behind" alert reads.
    const behind = async () =>
      /^ipwarden_dhcp_agents_behind (\d+)$/m.exec(await (await fetch(`${collector.url}/metrics`)).text())?.[1];
    expect(await behind()).toBe('1');
    await startAgent();
    await until(async () => ((await agentRow())?.dhcp.inStep ? true : undefined), 30_000, 'in step again');
    expect(await behind()).toBe('0');
    expect(readMap()!.hosts.map((h) => h.ip)).toContain('10.99.0.40');
    const back = (await agentRow())!;
    expect(back.dhcp.appliedVersion).toBe(back.dhcp.wantedVersion);
  });

  it('keeps serving the last applied map across an agent restart while the collector is down', async () => {
    await agent!.stop();
    await collector.stop();
    rmSync(mapFile);
    await startAgent();
    await until(async () => readMap(), 20_000, 'the map written again from the state directory');
    expect(readMap()!.hosts.map((h) => h.ip)).toContain('10.99.0.40');
    await collector.start();
    await until(async () => ((await agentRow())?.connected ? true : undefined), 30_000, 'reconnected');
  });

  it('reports a map edited behind its back as drift, in GET /agents and a dhcp.drift event, and puts it back', async () => {
    // In step first: a map on its way would be written over the edit.
    await until(
      async () => {
        const row = await agentRow();
        return row?.dhcp.inStep && readMap()?.version === row.dhcp.appliedVersion ? true : undefined;
      },
      20_000,
      'in step',
    );
    const gone = readMap()!.hosts.find((h) => h.ip === '10.99.0.40')!;
    // The map as it is on disk, without that host: the drift is reported against its version.
    let held = readMap()!;
    const tamper = () => {
      held = readMap()!;
      writeFileSync(mapFile, JSON.stringify({ ...held, hosts: held.hosts.filter((h) => h.mac !== gone.mac) }));
    };
    tamper();
    const { value: drift } = await until(
      async () => {
        const found = (await agentRow())?.dhcp.lastDrift ?? undefined;
        // A whole map the collector sent meanwhile (a reconnection's) writes the file anew: edit it again.
        if (found === undefined && readMap()?.hosts.some((h) => h.mac === gone.mac)) tamper();
        return found;
      },
      20_000,
      'the drift in GET /agents',
    );
    expect(drift).toMatchObject({ version: held.version, missing: 1, unexpected: 0 });
    expect(drift.detail).toContain(`not served: ${gone.mac} → 10.99.0.40`);
    expect(await eventsSoFar()).toMatch(/event: dhcp\.drift\n/);
    await until(
      async () => (readMap()?.hosts.some((h) => h.ip === '10.99.0.40') ? true : undefined),
      10_000,
      'put back',
    );
    expect((await agentRow())!.dhcp.inStep).toBe(true);
  });

  it('reports a failed apply with the reason, keeps the map it had, and never crashes', async () => {
    await agent!.stop();
    // Root writes anywhere a mode allows it not to: a path under a regular file cannot be written by anyone.
    const unwritable = join(mapFile, 'cannot-be-a-directory.json');
    await startAgent(unwritable);
    const created = await collector.api<{ dhcp: Dhcp }>('/addresses?wait=3000', {
      method: 'POST',
      body: JSON.stringify({ subnet: subnetId, kind: 'device', ip: '10.99.0.50', mac: '02:99:00:00:00:50' }),
    });
    expect(created.body.dhcp.state).toBe('pending');
    expect(created.body.dhcp.agents[0]).toMatchObject({ name: 'rack-1', state: 'failed' });
    expect(created.body.dhcp.agents[0]!.error).toMatch(/cannot write .*cannot-be-a-directory\.json: ENOTDIR/);
    const row = (await agentRow())!;
    expect(row.connected).toBe(true);
    expect(row.dhcp.failure?.error).toMatch(/ENOTDIR/);
    expect(await eventsSoFar()).toMatch(/event: dhcp\.failed\n(.|\n)*ENOTDIR/);
    // The good file is untouched: it still holds what was applied before.
    expect(readMap()!.hosts.map((h) => h.ip)).not.toContain('10.99.0.50');
  });
});

describe('DHCP maps across two collector replicas on one PostgreSQL', () => {
  const lab: { current?: NetnsLab } = {};
  const dir = mkdtempSync(join(tmpdir(), 'ipwarden-dhcp-replicas-'));
  const mapFile = join(dir, 'dhcp-map.json');
  let postgres: PostgresServer | undefined;
  let a: CollectorProcess;
  let b: CollectorProcess;
  let subnetId = '';

  beforeAll(async () => {
    lab.current = await NetnsLab.create(`iw-${process.pid}-dr-`, 1);
    await lab.current.exec(lab.current.bridge, 'ip', 'addr', 'add', '10.99.0.2/24', 'dev', 'br0');
    postgres = startPostgres();
    a = new CollectorProcess(UPLINK_COLLECTOR_IP, postgres.url);
    b = new CollectorProcess(UPLINK_COLLECTOR_IP, postgres.url);
    await a.start();
    await b.start();
    const subnet = await b.api<{ id: string }>('/subnets', {
      method: 'POST',
      body: JSON.stringify({ cidr: '10.99.0.0/24', gateway: '10.99.0.1' }),
    });
    subnetId = subnet.body.id;
    // Connected to A only.
    startLabAgent(
      lab.current,
      a.url,
      'rack-r',
      join(dir, 'state'),
      [],
      ['--dhcp-backend', 'file', '--dhcp-file', mapFile],
    );
    await until(
      async () => {
        const { body } = await b.api<{ items: AgentRow[] }>('/agents');
        const row = body.items.find((r) => r.name === 'rack-r');
        return row?.dhcp.inStep && row.dhcp.serves.includes(subnetId) && existsSync(mapFile) ? row : undefined;
      },
      30_000,
      'rack-r in step, seen from B',
    );
  }, 120_000);

  afterAll(async () => {
    await stopAll();
    await a?.stop();
    await b?.stop();
    await lab.current?.destroy();
    postgres?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('applies a change made through B on the agent connected to A, and B answers applied', async () => {
    const created = await b.api<{ dhcp: Dhcp }>('/addresses', {
      method: 'POST',
      body: JSON.stringify({ subnet: subnetId, kind: 'device', ip: '10.99.0.60', mac: '02:99:00:00:00:60' }),
    });
    expect(created.status).toBe(201);
    expect(created.body.dhcp).toMatchObject({ state: 'applied', agents: [{ name: 'rack-r', state: 'applied' }] });
    const map = JSON.parse(readFileSync(mapFile, 'utf8')) as MapFile;
    expect(map.hosts).toContainEqual({ mac: '02:99:00:00:00:60', ip: '10.99.0.60', subnet: '10.99.0.0/24' });
  });

  it('sends the agent a new map when an admin sets what it serves through B', async () => {
    const other = await b.api<{ id: string }>('/subnets', {
      method: 'POST',
      body: JSON.stringify({ cidr: '10.98.0.0/24', vlan: 98 }),
    });
    const agentId = (await b.api<{ items: AgentRow[] }>('/agents')).body.items.find((r) => r.name === 'rack-r')!.id;
    const patched = await b.api<AgentRow>(`/agents/${agentId}`, {
      method: 'PATCH',
      body: JSON.stringify({ serves: ['10.98.0.0/24'] }),
    });
    expect(patched.body.dhcp).toMatchObject({ serves: [other.body.id], servesSetBy: 'admin' });
    await until(
      async () => {
        const map = JSON.parse(readFileSync(mapFile, 'utf8')) as MapFile;
        return map.subnets.map((s) => s.cidr).join() === '10.98.0.0/24' ? map : undefined;
      },
      10_000,
      'the map of the subnet it was given',
    );
    const bad = await b.api(`/agents/${agentId}`, {
      method: 'PATCH',
      body: JSON.stringify({ serves: ['10.97.0.0/24'] }),
    });
    expect(bad.status).toBe(404);
  });
});
