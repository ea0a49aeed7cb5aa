import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeAgentMessage, decodeCollectorMessage, encodeMessage, MAX_MESSAGE_BYTES } from './codec.js';
import type { AgentMessage, CollectorMessage } from './messages.js';

const sighting = {
  at: 1_763_726_400_000,
  interface: 'eth0',
  source: 'arp',
  kind: 'host',
  ip: '10.99.0.7',
  mac: '02:00:00:00:00:07',
  vlan: 0,
  event: 'new',
  detail: { op: 'request' },
} as const;

const agentMessages: AgentMessage[] = [
  {
    type: 'hello',
    protocol: 1,
    instance: '0f8e0c55-51d4-4c2a-9d3b-6a8e2f1c7a10',
    hostname: 'rack-7',
    version: '0.1.0',
    interfaces: [{ name: 'eth0', mac: '02:00:00:00:00:01', vlans: [0, 10], addresses: ['10.99.0.1/24', 'fd99::1/64'] }],
    lastSeq: 41,
    dhcp: { backend: 'dnsmasq', appliedVersion: null },
  },
  {
    type: 'sightings',
    seq: 42,
    items: [sighting, { ...sighting, ip: 'fd99::7', source: 'ndp', event: 'moved', previousMac: '02:00:00:00:00:08' }],
  },
  { type: 'dhcpApplied', version: 3 },
  { type: 'dhcpFailed', version: 4, error: 'dnsmasq: bad hosts file' },
  { type: 'stats', captured: 10, kernelDrops: 0, decodeErrors: 1, outboxDepth: 0, outboxDropped: 0 },
];

const collectorMessages: CollectorMessage[] = [
  {
    type: 'welcome',
    protocol: 1,
    agentId: 'a1',
    lastSeq: 40,
    token: 'secret-token',
    config: { discovery: true, refreshSeconds: 600 },
  },
  { type: 'ack', seq: 42 },
  {
    type: 'dhcpMap',
    version: 3,
    hosts: [{ mac: '02:00:00:00:00:07', ip: '10.99.0.7', hostname: 'node-7', subnet: '10.99.0.0/24' }],
    subnets: [{ cidr: '10.99.0.0/24', gateway: '10.99.0.1', dnsServers: ['10.99.0.2'], leaseSeconds: 3600 }],
  },
  {
    type: 'dhcpMapChange',
    version: 4,
    base: 3,
    hosts: [{ mac: '02:00:00:00:00:08', ip: '10.99.0.8', subnet: '10.99.0.0/24' }],
    removed: [{ subnet: '10.99.0.0/24', mac: '02:00:00:00:00:07' }],
    subnets: [{ cidr: '10.99.0.0/24', vlan: 7, dynamicRanges: [{ start: '10.99.0.100', end: '10.99.0.199' }] }],
  },
  { type: 'config', config: { discovery: false } },
  { type: 'error', code: 'unauthorized', message: 'token revoked' },
];

describe('the protocol codec', () => {
  it.each(agentMessages.map((m) => [m.type, m] as const))('reads back an agent %s message', (_, message) => {
    expect(decodeAgentMessage(encodeMessage(message))).toEqual({ ok: true, message });
  });

  it.each(collectorMessages.map((m) => [m.type, m] as const))('reads back a collector %s message', (_, message) => {
    expect(decodeCollectorMessage(encodeMessage(message))).toEqual({ ok: true, message });
  });

  it.each([
    ['text that is not JSON', '{"type":', 'malformed-message'],
    ['a JSON array', '[1,2]', 'malformed-message'],
    ['a JSON string', '"hello"', 'malformed-message'],
    ['an object without a type', '{"seq":1}', 'malformed-message'],
    ['a type the agent does not send', '{"type":"welcome"}', 'unexpected-message'],
    ['an unknown type', '{"type":"sniff"}', 'unexpected-message'],
    ['a type from the prototype', '{"type":"constructor"}', 'unexpected-message'],
    ['an empty batch', '{"type":"sightings","seq":1,"items":[]}', 'invalid-message'],
    ['seq 0', JSON.stringify({ type: 'sightings', seq: 0, items: [sighting] }), 'invalid-message'],
    [
      'an uppercase MAC',
      JSON.stringify({ type: 'sightings', seq: 1, items: [{ ...sighting, mac: '02:00:00:00:00:0A' }] }),
      'invalid-message',
    ],
    [
      'an IP that is not one',
      JSON.stringify({ type: 'sightings', seq: 1, items: [{ ...sighting, ip: '10.99.0.300' }] }),
      'invalid-message',
    ],
    [
      'VLAN 4096',
      JSON.stringify({ type: 'sightings', seq: 1, items: [{ ...sighting, vlan: 4096 }] }),
      'invalid-message',
    ],
    [
      'a field nobody knows',
      JSON.stringify({ type: 'sightings', seq: 1, items: [{ ...sighting, extra: 1 }] }),
      'invalid-message',
    ],
    [
      'a missing interface',
      JSON.stringify({ type: 'sightings', seq: 1, items: [{ ...sighting, interface: undefined }] }),
      'invalid-message',
    ],
    ['a string where a number goes', '{"type":"dhcpApplied","version":"3"}', 'invalid-message'],
  ])('refuses %s with its code', (_, text, error) => {
    const decoded = decodeAgentMessage(text);
    expect(decoded).toMatchObject({ ok: false, error });
    if (!decoded.ok) expect(decoded.detail.length).toBeGreaterThan(0);
  });

  it('names the field that is wrong', () => {
    const decoded = decodeAgentMessage(
      JSON.stringify({ type: 'sightings', seq: 1, items: [{ ...sighting, vlan: -1 }] }),
    );
    expect(decoded).toMatchObject({ ok: false, detail: expect.stringContaining('/items/0/vlan') });
  });

  it('refuses a message over the size limit before parsing it', () => {
    const text = `{"type":"stats","pad":"${'x'.repeat(MAX_MESSAGE_BYTES)}"}`;
    expect(decodeAgentMessage(text)).toMatchObject({ ok: false, error: 'message-too-large' });
  });

  it('never throws, whatever it is given', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc.jsonValue().map((v) => JSON.stringify({ type: 'sightings', v })),
        ),
        (text) => {
          const agent = decodeAgentMessage(text);
          const collector = decodeCollectorMessage(text);
          expect(typeof agent.ok).toBe('boolean');
          expect(typeof collector.ok).toBe('boolean');
        },
      ),
      { numRuns: 500 },
    );
  });
});
