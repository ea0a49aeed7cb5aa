/**
 * Nodes (API.md, "Nodes"), the MAAS flows on both databases: deploy gives the boot interface
 * its sticky address or an auto one; release frees auto and extra addresses and forgets virtual
 * interfaces while the sticky address stays; deleting the node frees everything it held.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, startTestCollector, TARGETS, type TestCollector } from './support/collector.js';

describe.each(TARGETS)('nodes on %s', (target) => {
  let c: TestCollector;
  let user: string;
  const subnet = '10.99.30.0/24';

  beforeAll(async () => {
    c = await startTestCollector(target);
    user = (await c.api('POST', '/users', { json: { name: 'uma', role: 'user' } })).body.token;
    await c.api('POST', '/subnets', { json: { cidr: subnet, gateway: '10.99.30.1' } });
  }, 60_000);

  afterAll(async () => c?.close());

  const node = async (hostname: string, interfaces: { mac: string; virtual?: boolean }[]) => {
    const { status, body } = await c.api('POST', '/nodes', { json: { hostname, interfaces } });
    expect(status, JSON.stringify(body)).toBe(201);
    return body;
  };
  const addressOf = async (ip: string) => (await c.api('GET', `/addresses/${ip}`)).status;

  it('keeps a sticky address through deploy and release, and frees it when the node is deleted', async () => {
    const n = await node('compute-1', [{ mac: '02:30:00:00:00:01' }, { mac: '02:30:00:00:00:02', virtual: true }]);
    const sticky = await c.api('POST', '/addresses', {
      json: { subnet, kind: 'sticky', mac: '02:30:00:00:00:01', ip: '10.99.30.50', node: n.id },
    });
    expect(sticky.status).toBe(201);
    const deployed = await c.api('POST', `/nodes/${n.id}/deploy`, { json: { subnet } });
    expect(deployed.body).toMatchObject({ ip: '10.99.30.50', kind: 'sticky', node: n.id });
    const released = await c.api('POST', `/nodes/${n.id}/release`);
    expect(released.body.addresses.map((a: { ip: string }) => a.ip)).toEqual(['10.99.30.50']);
    expect(released.body.interfaces).toEqual([{ mac: '02:30:00:00:00:01', name: null, virtual: false }]);
    expect((await c.api('POST', `/nodes/${n.id}/deploy`, { json: { subnet } })).body.ip).toBe('10.99.30.50');
    expect((await c.api('DELETE', `/nodes/${n.id}`)).status).toBe(204);
    expect(await addressOf('10.99.30.50')).toBe(404);
    expectProblem(await c.api('GET', `/nodes/${n.id}`), 404, 'not-found');
  });

  it('frees auto and extra addresses on release and forgets the virtual interfaces', async () => {
    const n = await node('compute-2', [
      { mac: '02:30:00:00:00:11' },
      { mac: '02:30:00:00:00:12' },
      { mac: '02:30:00:00:00:13', virtual: true },
    ]);
    const auto = (await c.api('POST', `/nodes/${n.id}/deploy`, { json: { subnet } })).body;
    expect(auto).toMatchObject({
      kind: 'auto',
      mac: '02:30:00:00:00:11',
      hostname: 'compute-2',
      node: n.id,
      ip: '10.99.30.2',
    });
    expect((await c.api('POST', `/nodes/${n.id}/deploy`, { json: { subnet } })).body.ip).toBe(auto.ip); // idempotent
    const extra = await c.api('POST', '/addresses', {
      json: { subnet, kind: 'extra', mac: '02:30:00:00:00:12', node: n.id },
    });
    expect(extra.body).toMatchObject({ kind: 'extra', ip: '10.99.30.3' });
    const released = (await c.api('POST', `/nodes/${n.id}/release`)).body;
    expect(released.addresses).toEqual([]);
    // Its auto and extra addresses left the DHCP maps; no agent serves the subnet to wait for.
    expect(released.dhcp).toMatchObject({ state: 'none', agents: [] });
    expect(released.interfaces.map((nic: { mac: string }) => nic.mac)).toEqual([
      '02:30:00:00:00:11',
      '02:30:00:00:00:12',
    ]);
    expect(await addressOf(auto.ip)).toBe(404);
    expect(await addressOf('10.99.30.3')).toBe(404);
    // Freed addresses are handed out again.
    expect((await c.api('POST', `/nodes/${n.id}/deploy`, { json: { subnet } })).body.ip).toBe('10.99.30.2');
  });

  it('refuses what is not a node’s to have, and leaves node changes to admins', async () => {
    expectProblem(
      await c.api('POST', '/nodes', { json: { hostname: 'compute-2', interfaces: [] } }),
      409,
      'name-taken',
    );
    expectProblem(
      await c.api('POST', '/nodes', { json: { hostname: 'compute-3', interfaces: [{ mac: '02:30:00:00:00:11' }] } }),
      409,
      'mac-in-use',
    );
    expectProblem(
      await c.api('POST', '/nodes', { json: { hostname: 'compute-3', interfaces: [{ mac: 'zz' }] } }),
      400,
      'invalid-mac',
    );
    expectProblem(
      await c.api('POST', '/nodes', { json: { hostname: 'not a name', interfaces: [] } }),
      400,
      'invalid-hostname',
    );
    expectProblem(
      await c.api('POST', '/nodes', { json: { hostname: 'compute-3', interfaces: [] }, token: user }),
      403,
      'forbidden',
    );
    const n = (await c.api('GET', '/nodes', { token: user })).body.items.find(
      (x: { hostname: string }) => x.hostname === 'compute-2',
    );
    expectProblem(await c.api('POST', `/nodes/${n.id}/release`, { token: user }), 403, 'forbidden');
    expectProblem(
      await c.api('POST', '/addresses', { json: { subnet, kind: 'extra', mac: '02:30:00:00:00:99', node: n.id } }),
      400,
      'validation-failed',
      'mac',
    );
    expectProblem(
      await c.api('POST', '/addresses', { json: { subnet, kind: 'auto', mac: '02:30:00:00:00:11' } }),
      400,
      'validation-failed',
      'kind',
    );
    expectProblem(
      await c.api('POST', `/nodes/${n.id}/deploy`, { json: { subnet: '10.99.31.0/24' } }),
      404,
      'not-found',
    );
  });
});
