/**
 * Conflicts end to end over the agent WebSocket and the API, on both databases: each kind opens
 * from the sightings that are its evidence, once, with evidence; what networks do on purpose
 * opens nothing; allocation changes resolve what they remove at once; the quiet period resolves
 * what stopped and not what goes on; two collectors on one server open one conflict.
 */
import { schema } from '@ipwarden/collector';
import type { SightingItem } from '@ipwarden/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentSocket } from './support/agent-socket.js';
import {
  AGENT_SECRET,
  eventually,
  expectProblem,
  startTestCollector,
  TARGETS,
  type TestCollector,
} from './support/collector.js';
import { hello } from './support/sightings.js';

const A = '02:00:00:00:0a:0a';
const B = '02:00:00:00:0b:0b';
const C = '02:00:00:00:0c:0c';
const D = '02:00:00:00:0d:0d';

function seen(ip: string, mac: string, more: Partial<SightingItem> = {}): SightingItem {
  return { at: Date.now(), interface: 'eth0', source: 'arp', kind: 'host', ip, mac, vlan: 0, event: 'new', ...more };
}

describe.each(TARGETS)('conflicts on %s', (target) => {
  let c: TestCollector;
  let agent: AgentSocket;
  let seq = 0;
  const send = (...items: SightingItem[]) => agent.sightings(++seq, items);
  const conflictsOf = async (query: string) => (await c.api('GET', `/conflicts?${query}`)).body.items;
  const openOn = (ip: string) => conflictsOf(`ip=${ip}&status=open`);
  const waitOpen = async (ip: string, kind: string) => {
    await eventually(async () => (await openOn(ip)).some((x: { kind: string }) => x.kind === kind), 2_000);
    return (await openOn(ip)).find((x: { kind: string }) => x.kind === kind);
  };
  /** Sends the items, waits until the collector has judged them, and returns what is open for `ip`. */
  const judged = async (ip: string, ...items: SightingItem[]) => {
    await send(...items);
    await c.collector.reconciler.idle();
    return openOn(ip);
  };

  beforeAll(async () => {
    c = await startTestCollector(target);
    agent = await AgentSocket.welcomed(c.agentUrl, AGENT_SECRET, {
      agentId: `rack-${target.toLowerCase()}`,
      interfaces: [{ name: 'eth0', mac: '02:00:00:00:ff:01', vlans: [0], addresses: ['10.99.0.2/24'] }],
    });
    const subnet = await c.api('POST', '/subnets', {
      json: { cidr: '10.99.0.0/24', gateway: '10.99.0.1', dnsServers: ['10.99.0.3'], dhcpServers: ['10.99.0.4'] },
    });
    expect(subnet.status).toBe(201);
    expect(subnet.body.dhcpServers).toEqual(['10.99.0.4']);
    for (const range of [
      { start: '10.99.0.100', end: '10.99.0.149', purpose: 'dynamic' },
      { start: '10.99.0.200', end: '10.99.0.209', purpose: 'reserved' },
    ]) {
      expect((await c.api('POST', '/subnets/10.99.0.0%2F24/ranges', { json: range })).status).toBe(201);
    }
    expect((await c.api('POST', '/subnets', { json: { cidr: '10.98.0.0/24', managed: false } })).status).toBe(201);
  }, 60_000);

  afterAll(async () => {
    await agent?.close();
    await c?.close();
  });

  it('opens unallocated-in-use once, with evidence, and resolves it when the address is allocated to that MAC', async () => {
    const ip = '10.99.0.50';
    await send(seen(ip, A));
    const conflict = await waitOpen(ip, 'unallocated-in-use');
    expect(conflict).toMatchObject({ ip, macs: [A], vlan: 0, outerVlan: 0, status: 'open' });
    // The event says what the API says: the row as the opening statement returned it.
    const events = await c.collector.database.db.select().from(schema.events).orderBy(schema.events.id);
    const opened = events.find((e) => e.type === 'conflict.opened' && (e.data as { id: string }).id === conflict.id);
    expect(opened?.data).toEqual((await c.api('GET', `/conflicts/${conflict.id}`)).body);
    expect(conflict.evidence[0]).toMatchObject({
      agent: `rack-${target.toLowerCase()}`,
      interface: 'eth0',
      vlan: 0,
      source: 'arp',
      kind: 'host',
      mac: A,
    });
    await send(seen(ip, A, { event: 'refresh' }));
    await c.collector.reconciler.idle();
    expect(await openOn(ip)).toHaveLength(1);
    expect((await c.api('GET', `/conflicts/${conflict.id}`)).body.evidence).toHaveLength(2);

    // Seen in use, so only an admin's force hands it out (API.md, "Addresses").
    const address = await c.api('POST', '/addresses', {
      json: { subnet: '10.99.0.0/24', kind: 'device', ip, mac: A, force: true },
    });
    expect(address.status).toBe(201);
    const resolved = (await c.api('GET', `/conflicts/${conflict.id}`)).body;
    expect(resolved).toMatchObject({ status: 'resolved', resolvedBy: 'allocation' });
    expect(await openOn(ip)).toEqual([]);
  });

  it('opens mac-mismatch for another MAC on an allocated address, and resolves it when the MAC is changed to it', async () => {
    // MACs of their own: A already has an address in the subnet's DHCP map (one per MAC).
    const ip = '10.99.0.60';
    expect(
      (await c.api('POST', '/addresses', { json: { subnet: '10.99.0.0/24', kind: 'device', ip, mac: C } })).status,
    ).toBe(201);
    expect(await judged(ip, seen(ip, C))).toEqual([]);
    await send(seen(ip, D, { event: 'moved', previousMac: C }));
    const conflict = await waitOpen(ip, 'mac-mismatch');
    expect(conflict.macs).toEqual([D]);
    const changed = await c.api('PATCH', `/addresses/${ip}`, { json: { mac: D } });
    expect(changed.status).toBe(200);
    expect((await c.api('GET', `/conflicts/${conflict.id}`)).body).toMatchObject({
      status: 'resolved',
      resolvedBy: 'allocation',
    });
    // The old NIC's last words, just after the change, are not a conflict.
    expect(await judged(ip, seen(ip, C, { event: 'moved', previousMac: D }))).toEqual([]);
  });

  it('keeps quiet what networks do on purpose', async () => {
    const quiet = [
      seen('10.99.0.1', '02:00:00:00:00:01'), // the gateway
      seen('10.99.0.3', '02:00:00:00:00:03'), // a DNS server
      seen('10.99.0.120', A, { source: 'dhcp', kind: 'dhcp-lease', detail: { messageType: 'ack' } }), // dynamic
      seen('10.99.0.2', '02:00:00:00:ff:01'), // the agent's own address
      seen('10.99.0.70', '00:00:5e:00:01:07'), // a VRRP virtual router
      seen('10.98.0.9', A), // an unmanaged subnet
      seen('10.99.0.71', '02:00:00:00:00:01'), // the gateway's MAC answering for another (proxy ARP)
      seen('fe80::1', A, { source: 'ndp' }), // link-local, and no IPv6 subnet on the segment
    ];
    await send(...quiet);
    await c.collector.reconciler.idle();
    for (const item of quiet) expect(await openOn(item.ip), item.ip).toEqual([]);
  });

  it('opens reserved-range-in-use and foreign-subnet, and ends foreign-subnet when a subnet is created', async () => {
    await send(seen('10.99.0.205', A), seen('10.97.0.5', B));
    await waitOpen('10.99.0.205', 'reserved-range-in-use');
    const foreign = await waitOpen('10.97.0.5', 'foreign-subnet');
    expect((await c.api('POST', '/subnets', { json: { cidr: '10.97.0.0/24', managed: false } })).status).toBe(201);
    expect((await c.api('GET', `/conflicts/${foreign.id}`)).body).toMatchObject({ status: 'resolved' });
  });

  it('takes A, B, A for a duplicate and A then B for a move', async () => {
    const moved = '10.98.0.20';
    expect(await judged(moved, seen(moved, A), seen(moved, B, { event: 'moved', previousMac: A }))).toEqual([]);
    const dup = '10.98.0.21';
    await send(seen(dup, A));
    await send(seen(dup, B, { event: 'moved', previousMac: A }));
    await send(seen(dup, A, { event: 'moved', previousMac: B }));
    const conflict = await waitOpen(dup, 'duplicate-ip');
    expect([...conflict.macs].sort()).toEqual([A, B]);
    expect(conflict.evidence[0].note).toBe('moved back');
  });

  it('takes an answer to another MAC’s probe for a duplicate', async () => {
    const ip = '10.98.0.30';
    await send(seen(ip, B, { kind: 'probe' }));
    await send(seen(ip, A, { event: 'refresh', detail: { answersProbe: true } }));
    const conflict = await waitOpen(ip, 'duplicate-ip');
    expect(conflict.evidence[0].note).toBe('answers a probe');
  });

  it('opens rogue-dhcp-server for an unknown server only, and resolves it when the server is declared', async () => {
    const offer = (ip: string, mac: string) =>
      seen(ip, mac, { source: 'dhcp', kind: 'dhcp-server', detail: { messageType: 'offer' } });
    expect(await judged('10.99.0.4', offer('10.99.0.4', '02:00:00:00:00:04'))).toEqual([]);
    await send(offer('10.99.0.66', '02:00:00:00:00:66'));
    const rogue = await waitOpen('10.99.0.66', 'rogue-dhcp-server');
    expect(rogue.macs).toEqual(['02:00:00:00:00:66']);
    const declared = await c.api('POST', '/dhcp-servers', { json: { vlan: 0, mac: '02:00:00:00:00:66' } });
    expect(declared.status).toBe(201);
    expect((await c.api('GET', `/conflicts/${rogue.id}`)).body.status).toBe('resolved');
  });

  it('resolves what an exemption covers, and opens nothing for it after', async () => {
    const ip = '10.99.0.80';
    await send(seen(ip, A));
    const conflict = await waitOpen(ip, 'unallocated-in-use');
    const exemption = await c.api('POST', '/conflict-exemptions', { json: { ip, macs: [A], comment: 'anycast' } });
    expect(exemption.status).toBe(201);
    expect((await c.api('GET', `/conflicts/${conflict.id}`)).body).toMatchObject({
      status: 'resolved',
      resolvedBy: 'exemption',
    });
    expect(await judged(ip, seen(ip, A, { event: 'refresh' }))).toEqual([]);
  });

  it('tells agents which addresses to watch, resolves a conflict gone quiet, and keeps one whose offender goes on', async () => {
    expect((await c.api('PUT', '/settings', { json: { conflictQuietSeconds: 2 } })).status).toBe(200);
    const gone = '10.99.0.90';
    const stays = '10.99.0.91';
    await send(seen(gone, A), seen(stays, B));
    const goneConflict = await waitOpen(gone, 'unallocated-in-use');
    const staysConflict = await waitOpen(stays, 'unallocated-in-use');
    await eventually(async () =>
      agent.received.some(
        (m) =>
          m.type === 'config' &&
          m.config.watch?.refreshSeconds === 1 &&
          m.config.watch.addresses.some((a) => a.ip === stays),
      ),
    );
    for (let i = 0; i < 8; i++) {
      await send(seen(stays, B, { event: 'refresh' }));
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect((await c.api('GET', `/conflicts/${goneConflict.id}`)).body).toMatchObject({
      status: 'resolved',
      resolvedBy: 'quiet',
    });
    expect((await c.api('GET', `/conflicts/${staysConflict.id}`)).body.status).toBe('open');
    expect((await c.api('PUT', '/settings', { json: { conflictQuietSeconds: 3600 } })).status).toBe(200);
  }, 20_000);

  it('lets an admin acknowledge and resolve, and no one else', async () => {
    const ip = '10.99.0.95';
    await send(seen(ip, A));
    const conflict = await waitOpen(ip, 'unallocated-in-use');
    const viewer = await c.api('POST', '/users', { json: { name: `viewer-${target}`, role: 'viewer' } });
    expectProblem(
      await c.api('POST', `/conflicts/${conflict.id}/acknowledge`, { token: viewer.body.token }),
      403,
      'forbidden',
    );
    expectProblem(await c.api('POST', `/conflicts/${conflict.id}/acknowledge`, { token: null }), 401, 'unauthorized');
    expectProblem(await c.api('POST', '/conflicts/not-a-uuid/acknowledge'), 400, 'validation-failed');
    expectProblem(await c.api('POST', '/conflicts/00000000-0000-4000-8000-000000000000/resolve'), 404, 'not-found');
    expect((await c.api('GET', `/conflicts/${conflict.id}`)).body.status).toBe('open');
    const acked = await c.api('POST', `/conflicts/${conflict.id}/acknowledge`, { json: { comment: 'known' } });
    expect(acked.body).toMatchObject({ status: 'acknowledged', acknowledgedBy: 'admin' });
    // The gauge tells acknowledged from open, so an alert on open ones goes quiet once a person knows.
    const acknowledged = /ipwarden_conflicts_open\{kind="unallocated-in-use",status="acknowledged"\} ([0-9]+)/;
    await eventually(async () => {
      const match = acknowledged.exec((await c.api('GET', '/metrics')).body);
      return match !== null && Number(match[1]) >= 1;
    });
    const resolved = await c.api('POST', `/conflicts/${conflict.id}/resolve`);
    expect(resolved.body).toMatchObject({ status: 'resolved', resolvedBy: 'admin' });
  });

  it('writes every change to the event log', async () => {
    const rows = await c.collector.database.db.select().from(schema.events).orderBy(schema.events.id);
    const types = new Set(rows.map((row) => row.type));
    for (const type of [
      'agent.connected',
      'address.created',
      'address.changed',
      'conflict.opened',
      'conflict.acknowledged',
      'conflict.resolved',
    ]) {
      expect(types, type).toContain(type);
    }
    const opened = rows.find((row) => row.type === 'conflict.opened')!;
    expect(opened.data).toMatchObject({ id: expect.any(String), kind: expect.any(String), status: 'open' });
  });

  it('refuses bad exemptions and DHCP servers with a problem, changing nothing', async () => {
    const before = (await c.api('GET', '/conflict-exemptions')).body.items.length;
    for (const json of [
      { comment: 'neither ip nor cidr' },
      { ip: '10.99.0.1', cidr: '10.99.0.0/24', comment: 'both' },
      { ip: '10.99.0.256', comment: 'bad ip' },
      { cidr: '10.99.0.1/24', comment: 'host bits' },
      { ip: '10.99.0.1', macs: ['zz'], comment: 'bad mac' },
      { ip: '10.99.0.1', kinds: ['nonsense'], comment: 'bad kind' },
      { ip: '10.99.0.1' },
    ]) {
      const response = await c.api('POST', '/conflict-exemptions', { json });
      expect(response.status, JSON.stringify(json)).toBe(400);
    }
    expect((await c.api('GET', '/conflict-exemptions')).body.items).toHaveLength(before);
    expect((await c.api('POST', '/dhcp-servers', { json: { vlan: 0 } })).status).toBe(400);
    expect((await c.api('POST', '/dhcp-servers', { json: { vlan: 5000, ip: '10.99.0.4' } })).status).toBe(400);
    expectProblem(await c.api('GET', '/conflicts?status=maybe'), 400, 'validation-failed');
    expectProblem(await c.api('GET', '/conflicts?cursor=bm9wZQ'), 400, 'validation-failed');
  });
});

describe('conflicts with two collectors on one PostgreSQL server', () => {
  let first: TestCollector;
  let second: TestCollector;

  beforeAll(async () => {
    first = await startTestCollector('PostgreSQL');
    second = await startTestCollector('PostgreSQL', { databaseUrl: first.postgres!.url });
    expect((await first.api('POST', '/subnets', { json: { cidr: '10.99.0.0/24' } })).status).toBe(201);
  }, 60_000);

  afterAll(async () => {
    await second?.close();
    await first?.close();
  });

  it('opens one conflict when agents of both see the same offender', async () => {
    const one = await AgentSocket.welcomed(first.agentUrl, AGENT_SECRET, hello({ agentId: 'rack-a' }));
    const two = await AgentSocket.welcomed(second.agentUrl, AGENT_SECRET, {
      agentId: 'rack-b',
      instance: '1f8e0c55-51d4-4c2a-9d3b-6a8e2f1c7a11',
    });
    const ip = '10.99.0.44';
    await Promise.all([one.sightings(1, [seen(ip, A)]), two.sightings(1, [seen(ip, A)])]);
    await eventually(async () => (await first.api('GET', `/conflicts?ip=${ip}`)).body.items.length > 0);
    await Promise.all([first.collector.reconciler.idle(), second.collector.reconciler.idle()]);
    const items = (await second.api('GET', `/conflicts?ip=${ip}`)).body.items;
    expect(items).toHaveLength(1);
    await one.close();
    await two.close();
    const { db } = first.collector.database;
    await eventually(async () => {
      const rows = await db.select().from(schema.events);
      return rows.filter((row) => row.type === 'agent.disconnected').length === 2;
    });
    const opened = (await db.select().from(schema.events)).filter((row) => row.type === 'conflict.opened');
    expect(opened.map((row) => (row.data as { ip: string }).ip)).toEqual([ip]);
  });

  it('judges by what the other collector allocated since, though it holds the subnet’s allocations in memory', async () => {
    const agent = await AgentSocket.welcomed(first.agentUrl, AGENT_SECRET, {
      agentId: 'rack-c',
      instance: '2f8e0c55-51d4-4c2a-9d3b-6a8e2f1c7a12',
    });
    const ip = '10.99.0.45';
    await agent.sightings(1, [seen(ip, B)]);
    await eventually(async () => (await first.api('GET', `/conflicts?ip=${ip}&status=open`)).body.items.length === 1);
    // The first collector has read the subnet's allocations by now; the second allocates the address.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const address = await second.api('POST', '/addresses', {
      json: { subnet: '10.99.0.0/24', kind: 'device', ip, mac: B, force: true },
    });
    expect(address.status).toBe(201);
    expect((await first.api('GET', `/conflicts?ip=${ip}&status=open`)).body.items).toEqual([]);
    await agent.sightings(2, [seen(ip, B, { event: 'refresh' })]);
    await first.collector.reconciler.idle();
    expect((await first.api('GET', `/conflicts?ip=${ip}&status=open`)).body.items).toEqual([]);
    await agent.sightings(3, [seen(ip, A, { event: 'moved', previousMac: B })]);
    await first.collector.reconciler.idle();
    const open = (await first.api('GET', `/conflicts?ip=${ip}&status=open`)).body.items;
    expect(open.map((c: { kind: string }) => c.kind)).toEqual(['mac-mismatch']);
    await agent.close();
  });
});
