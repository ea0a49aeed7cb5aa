/**
 * Subnets and ranges through the API (API.md, "Subnets and ranges"), one suite on both
 * databases: canonical forms, overlaps refused on one VLAN and allowed across VLANs, subnets
 * named by id or CIDR, ranges inside their subnet and never overlapping, the role matrix, and
 * bad input answered with its code while nothing changes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, startTestCollector, TARGETS, type TestCollector } from './support/collector.js';

const path = (cidr: string) => `/subnets/${encodeURIComponent(cidr)}`;

describe.each(TARGETS)('subnets and ranges on %s', (target) => {
  let c: TestCollector;
  let viewer: string;
  let user: string;

  beforeAll(async () => {
    c = await startTestCollector(target);
    viewer = (await c.api('POST', '/users', { json: { name: 'sam-viewer', role: 'viewer' } })).body.token;
    user = (await c.api('POST', '/users', { json: { name: 'sam-user', role: 'user' } })).body.token;
  }, 60_000);

  afterAll(async () => c?.close());

  it('creates an IPv4 subnet with its defaults: VLAN 0, managed, lowest-first allocation', async () => {
    const { status, body } = await c.api('POST', '/subnets', {
      json: { cidr: '10.99.0.0/24', name: 'rack-1', gateway: '10.99.0.1', dnsServers: ['10.99.0.2', 'FD99::0002'] },
    });
    expect(status).toBe(201);
    expect(body).toMatchObject({
      cidr: '10.99.0.0/24',
      vlan: 0,
      name: 'rack-1',
      gateway: '10.99.0.1',
      dnsServers: ['10.99.0.2', 'fd99::2'],
      ntpServers: [],
      managed: true,
      allocation: 'lowest',
    });
  });

  it('creates an IPv6 subnet in RFC 5952 form, allocating at random by default', async () => {
    const { status, body } = await c.api('POST', '/subnets', { json: { cidr: 'FD99:0:0:0::/64', vlan: 10 } });
    expect(status).toBe(201);
    expect(body).toMatchObject({ cidr: 'fd99::/64', vlan: 10, allocation: 'random' });
  });

  it('refuses a prefix with host bits set, saying which prefix was meant', async () => {
    const response = await c.api('POST', '/subnets', { json: { cidr: '10.99.1.7/24' } });
    expectProblem(response, 400, 'invalid-cidr', 'cidr');
    expect(response.body.detail).toContain('10.99.1.0/24');
  });

  it('refuses a subnet overlapping another on its VLAN (409), and allows it on another VLAN', async () => {
    expectProblem(await c.api('POST', '/subnets', { json: { cidr: '10.99.0.128/25' } }), 409, 'subnet-overlaps');
    expectProblem(await c.api('POST', '/subnets', { json: { cidr: '10.0.0.0/8' } }), 409, 'subnet-overlaps');
    expect((await c.api('POST', '/subnets', { json: { cidr: '10.99.0.0/24', vlan: 42 } })).status).toBe(201);
  });

  it('names a subnet by id or CIDR, and asks for the id when a CIDR is on two VLANs', async () => {
    const { body: created } = await c.api('POST', '/subnets', { json: { cidr: '192.0.2.0/24' } });
    expect((await c.api('GET', path('192.0.2.0/24'))).body).toEqual(created);
    expect((await c.api('GET', `/subnets/${created.id}`)).body).toEqual(created);
    expectProblem(await c.api('GET', path('10.99.0.0/24')), 409, 'ambiguous-subnet');
    expectProblem(await c.api('GET', path('198.51.100.0/24')), 404, 'not-found');
    expectProblem(await c.api('GET', path('198.51.100.0/33')), 400, 'invalid-cidr');
  });

  it('changes what may change, and not the prefix', async () => {
    const { body } = await c.api('PATCH', path('192.0.2.0/24'), { json: { name: 'docs', gateway: '192.0.2.254' } });
    expect(body).toMatchObject({ cidr: '192.0.2.0/24', name: 'docs', gateway: '192.0.2.254' });
    expectProblem(
      await c.api('PATCH', path('192.0.2.0/24'), { json: { cidr: '192.0.3.0/24' } }),
      400,
      'validation-failed',
    );
    expectProblem(
      await c.api('PATCH', path('192.0.2.0/24'), { json: { gateway: '192.0.3.1' } }),
      400,
      'ip-not-in-subnet',
      'gateway',
    );
    expect((await c.api('PATCH', path('192.0.2.0/24'), { json: { gateway: null } })).body.gateway).toBeNull();
  });

  it('answers bad subnets with their codes, changing nothing', async () => {
    const before = (await c.api('GET', '/subnets')).body;
    const cases: [unknown, number, string, string?][] = [
      [{ cidr: 'not-a-prefix' }, 400, 'invalid-cidr', 'cidr'],
      [{ cidr: '10.98.0.0' }, 400, 'invalid-cidr', 'cidr'],
      [{ cidr: '10.98.0.0/24', gateway: '10.98.0.300' }, 400, 'invalid-ip', 'gateway'],
      [{ cidr: '10.98.0.0/24', gateway: '10.97.0.1' }, 400, 'ip-not-in-subnet', 'gateway'],
      [{ cidr: '10.98.0.0/24', gateway: 'fd98::1' }, 400, 'invalid-ip', 'gateway'],
      [{ cidr: '10.98.0.0/24', dnsServers: ['10.98.0.2', 'dns.example'] }, 400, 'invalid-ip', 'dnsServers[1]'],
      [{ cidr: '10.98.0.0/24', colour: 'red' }, 400, 'validation-failed'],
      [{ cidr: '10.98.0.0/24', vlan: '42' }, 400, 'validation-failed', 'vlan'],
      [{ cidr: '10.98.0.0/24', vlan: 4096 }, 400, 'validation-failed', 'vlan'],
      [{ cidr: '10.98.0.0/24', allocation: 'fastest' }, 400, 'validation-failed', 'allocation'],
      [{ cidr: 42 }, 400, 'validation-failed', 'cidr'],
      [[], 400, 'validation-failed'],
    ];
    for (const [json, status, code, field] of cases)
      expectProblem(await c.api('POST', '/subnets', { json }), status, code, field);
    expect((await c.api('GET', '/subnets')).body).toEqual(before);
  });

  it('keeps the ranges of a subnet inside it and apart from each other', async () => {
    const subnet = (await c.api('GET', '/subnets?vlan=0')).body.items.find(
      (s: { cidr: string }) => s.cidr === '10.99.0.0/24',
    );
    const ranges = `/subnets/${subnet.id}/ranges`;
    const dynamic = await c.api('POST', ranges, {
      json: { start: '10.99.0.100', end: '10.99.0.150', purpose: 'dynamic', comment: 'dnsmasq' },
    });
    expect(dynamic.status).toBe(201);
    expect(dynamic.body).toMatchObject({
      start: '10.99.0.100',
      end: '10.99.0.150',
      purpose: 'dynamic',
      comment: 'dnsmasq',
    });
    expect(dynamic.body.subnet).toBe(subnet.id);
    expect(
      (await c.api('POST', ranges, { json: { start: '10.99.0.10', end: '10.99.0.19', purpose: 'reserved' } })).status,
    ).toBe(201);
    const before = (await c.api('GET', ranges)).body;
    expect(before.items.map((r: { start: string }) => r.start)).toEqual(['10.99.0.10', '10.99.0.100']);

    const bad: [unknown, number, string, string?][] = [
      [{ start: '10.99.0.150', end: '10.99.0.160', purpose: 'reserved' }, 409, 'range-overlaps'],
      [{ start: '10.99.0.5', end: '10.99.0.200', purpose: 'reserved' }, 409, 'range-overlaps'],
      [{ start: '10.99.0.200', end: '10.99.1.5', purpose: 'reserved' }, 400, 'ip-not-in-subnet', 'end'],
      [{ start: '10.99.0.210', end: '10.99.0.200', purpose: 'reserved' }, 400, 'validation-failed', 'end'],
      [{ start: 'fd99::1', end: 'fd99::2', purpose: 'reserved' }, 400, 'invalid-ip', 'start'],
      [{ start: '10.99.0.200', end: '10.99.0.210', purpose: 'static' }, 400, 'validation-failed', 'purpose'],
      [{ start: '10.99.0.200', end: '10.99.0.210' }, 400, 'validation-failed', 'purpose'],
    ];
    for (const [json, status, code, field] of bad)
      expectProblem(await c.api('POST', ranges, { json }), status, code, field);
    expect((await c.api('GET', ranges)).body).toEqual(before);

    const id = before.items[0].id;
    expect((await c.api('DELETE', `/ranges/${id}`)).status).toBe(204);
    expectProblem(await c.api('DELETE', `/ranges/${id}`), 404, 'not-found');
  });

  it('lets every role read subnets and only an admin change them', async () => {
    for (const token of [viewer, user]) {
      expect((await c.api('GET', '/subnets', { token })).status).toBe(200);
      expectProblem(await c.api('POST', '/subnets', { json: { cidr: '203.0.113.0/24' }, token }), 403, 'forbidden');
      expectProblem(await c.api('PATCH', path('192.0.2.0/24'), { json: { name: 'x' }, token }), 403, 'forbidden');
      expectProblem(await c.api('DELETE', path('192.0.2.0/24'), { token }), 403, 'forbidden');
    }
    expectProblem(await c.api('GET', '/subnets', { token: null }), 401, 'unauthorized');
  });

  it('creates exactly one of many overlapping subnets sent at once', async () => {
    const answers = await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        c.api('POST', '/subnets', { json: { cidr: i % 2 ? '172.16.0.0/16' : '172.16.0.0/12' } }),
      ),
    );
    expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 409)).toHaveLength(15);
  });

  it('deletes a subnet with its ranges', async () => {
    expect((await c.api('DELETE', path('192.0.2.0/24'))).status).toBe(204);
    expectProblem(await c.api('GET', path('192.0.2.0/24')), 404, 'not-found');
  });
});
