/**
 * Every message of the agent <-> collector protocol (DESIGN.md, "The wire protocol"): JSON text
 * frames over one WebSocket at /agent/v1, each an object with a `type`. This file is the one home
 * of their schemas; both sides validate what they receive against them (see codec.ts), and the
 * TypeScript types are derived from the same definitions.
 */
import { type Static, Type } from '@sinclair/typebox';
import { MAC_PATTERN } from './formats.js';

const Mac = Type.String({ pattern: MAC_PATTERN, description: 'lowercase, colon-separated' });
const Ip = Type.String({ format: 'ip', maxLength: 45, description: 'IPv4, or IPv6 in RFC 5952 form' });
const Vlan = Type.Integer({ minimum: 0, maximum: 4095, description: 'VLAN ID; 0 for untagged frames' });
/** Up to the end of year 9999: past it, timestamps do not survive ISO 8601 text on their way into PostgreSQL. */
const Millis = Type.Integer({
  minimum: 0,
  maximum: Date.UTC(9999, 11, 31, 23, 59, 59, 999),
  description: 'milliseconds since the epoch',
});
const Seq = Type.Integer({
  minimum: 1,
  maximum: Number.MAX_SAFE_INTEGER,
  description: "the agent's batch number, rising (with gaps where batches were dropped)",
});
const Version = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'DHCP map version' });
/** Text PostgreSQL can hold (formats.ts, isWellFormedText). */
const Name = (maxLength: number, description?: string) =>
  Type.String({ minLength: 1, maxLength, format: 'text', ...(description !== undefined && { description }) });
const Detail = Type.Record(Type.String(), Type.Unknown(), { description: 'what the frame said besides' });

export const DhcpBackend = Type.Union([
  Type.Literal('none'),
  Type.Literal('file'),
  Type.Literal('dnsmasq'),
  Type.Literal('kea'),
]);

/** One binding change seen by the agent's binding table. */
export const Sighting = Type.Object(
  {
    at: Millis,
    source: Type.Union([Type.Literal('arp'), Type.Literal('ndp'), Type.Literal('mdns'), Type.Literal('dhcp')]),
    kind: Type.Union([
      Type.Literal('host'),
      Type.Literal('probe'),
      Type.Literal('router'),
      Type.Literal('dhcp-server'),
      Type.Literal('dhcp-lease'),
      Type.Literal('dhcp-client'),
    ]),
    ip: Ip,
    mac: Mac,
    vlan: Vlan,
    outerVlan: Type.Optional(Vlan),
    event: Type.Union([Type.Literal('new'), Type.Literal('moved'), Type.Literal('refresh')]),
    previousMac: Type.Optional(Mac),
    hostname: Type.Optional(Name(255)),
    detail: Type.Optional(Detail),
  },
  { additionalProperties: false },
);

/** A sighting as sent: with the interface it was captured on. */
export const SightingItem = Type.Composite([Sighting, Type.Object({ interface: Name(64) })], {
  additionalProperties: false,
});

export const MAX_BATCH_ITEMS = 10_000;

// Agent → collector

export const Hello = Type.Object(
  {
    type: Type.Literal('hello'),
    protocol: Type.Integer({ minimum: 1 }),
    agentId: Type.Optional(Name(64)),
    instance: Type.String({
      pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$',
      description: "this installation's random id, kept in its state directory: who may enroll again under its name",
    }),
    hostname: Name(255),
    version: Name(64),
    interfaces: Type.Array(
      Type.Object(
        {
          name: Name(64),
          mac: Type.Optional(Mac),
          vlans: Type.Array(Vlan, { maxItems: 4096 }),
          addresses: Type.Array(Type.String({ maxLength: 49 }), { maxItems: 1024 }),
        },
        { additionalProperties: false },
      ),
      { maxItems: 256 },
    ),
    lastSeq: Type.Integer({ minimum: 0, description: 'the highest seq the agent has given out' }),
    dhcp: Type.Object(
      { backend: DhcpBackend, appliedVersion: Type.Union([Version, Type.Null()]) },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export const Sightings = Type.Object(
  {
    type: Type.Literal('sightings'),
    seq: Seq,
    items: Type.Array(SightingItem, { minItems: 1, maxItems: MAX_BATCH_ITEMS }),
  },
  { additionalProperties: false },
);

export const DhcpApplied = Type.Object(
  { type: Type.Literal('dhcpApplied'), version: Version },
  { additionalProperties: false },
);

export const DhcpFailed = Type.Object(
  {
    type: Type.Literal('dhcpFailed'),
    version: Version,
    error: Name(4096),
    /** The agent does not hold the map a change was made for: it needs the whole map. */
    behind: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

const Count = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });

/**
 * What the agent read back from its DHCP server differs from the map it applied (someone edited
 * the server's hosts behind it): sent once per finding, before the agent applies the map whole
 * again.
 */
export const DhcpDrift = Type.Object(
  {
    type: Type.Literal('dhcpDrift'),
    version: Version,
    /** Hosts of the map the server does not serve as mapped. */
    missing: Count,
    /** Hosts the server serves that the map does not hold. */
    unexpected: Count,
    /** A few of them, in words. */
    detail: Name(4096),
  },
  { additionalProperties: false },
);

export const Stats = Type.Object(
  {
    type: Type.Literal('stats'),
    captured: Count,
    kernelDrops: Count,
    decodeErrors: Count,
    outboxDepth: Count,
    outboxDropped: Count,
  },
  { additionalProperties: false },
);

export const AgentMessage = Type.Union([Hello, Sightings, DhcpApplied, DhcpFailed, DhcpDrift, Stats]);

// Collector → agent

/** Addresses watched at once, at most: every open conflict of a busy segment, with room to spare. */
export const MAX_WATCHED = 4096;

/**
 * Addresses under conflict, which the agent reports at `refreshSeconds` (shorter than its usual
 * refresh interval) while they are on the wire: a steady binding is otherwise reported once per
 * refresh interval, and the collector could not tell an offender still there from one gone
 * (DESIGN.md, "Conflicts"). Each entry covers every binding and event (probe, DHCP server) of
 * that IP on that segment. Sent whole: a new list replaces the last.
 */
export const Watch = Type.Object(
  {
    refreshSeconds: Type.Integer({ minimum: 1, maximum: 86_400 }),
    addresses: Type.Array(
      Type.Object({ vlan: Vlan, outerVlan: Type.Optional(Vlan), ip: Ip }, { additionalProperties: false }),
      { maxItems: MAX_WATCHED },
    ),
  },
  { additionalProperties: false },
);

export const AgentConfig = Type.Object(
  {
    discovery: Type.Boolean({ description: 'capture on or off' }),
    interfaces: Type.Optional(Type.Array(Name(64), { maxItems: 256 })),
    refreshSeconds: Type.Integer({ minimum: 1, maximum: 86_400 }),
    watch: Type.Optional(Watch),
  },
  { additionalProperties: false },
);

export const Welcome = Type.Object(
  {
    type: Type.Literal('welcome'),
    protocol: Type.Integer({ minimum: 1 }),
    agentId: Name(64),
    lastSeq: Type.Integer({ minimum: 0, description: 'the highest seq already stored for this agent' }),
    token: Type.Optional(Name(256)),
    config: AgentConfig,
  },
  { additionalProperties: false },
);

export const Ack = Type.Object({ type: Type.Literal('ack'), seq: Seq }, { additionalProperties: false });

/** Hosts in one map at most: a rack's every address, and the map within MAX_MESSAGE_BYTES (about 90 bytes a host). */
export const MAX_DHCP_HOSTS = 50_000;

/** One reservation: this MAC gets this address (and name) in this subnet. */
export const DhcpHost = Type.Object(
  { mac: Mac, ip: Ip, hostname: Type.Optional(Name(255)), subnet: Name(64, "the subnet's CIDR") },
  { additionalProperties: false },
);

/** A subnet the agent serves, with the options its DHCP server hands out there. */
export const DhcpSubnet = Type.Object(
  {
    cidr: Name(64),
    vlan: Type.Optional(Vlan),
    gateway: Type.Optional(Ip),
    dnsServers: Type.Optional(Type.Array(Ip, { maxItems: 16 })),
    ntpServers: Type.Optional(Type.Array(Ip, { maxItems: 16 })),
    domain: Type.Optional(Name(253)),
    leaseSeconds: Type.Optional(Type.Integer({ minimum: 60 })),
    nextServer: Type.Optional(Ip),
    bootFile: Type.Optional(Name(255)),
    /** Addresses the server hands to clients it has no reservation for. */
    dynamicRanges: Type.Optional(
      Type.Array(Type.Object({ start: Ip, end: Ip }, { additionalProperties: false }), { maxItems: 256 }),
    ),
  },
  { additionalProperties: false },
);

/** The whole map for this agent: sent on (re)connect, and when the agent is behind. */
export const DhcpMap = Type.Object(
  {
    type: Type.Literal('dhcpMap'),
    version: Version,
    hosts: Type.Array(DhcpHost, { maxItems: MAX_DHCP_HOSTS }),
    subnets: Type.Array(DhcpSubnet, { maxItems: 4096 }),
  },
  { additionalProperties: false },
);

/**
 * What changed since `base`, the version of the map or change sent before it on this
 * connection: `hosts` replace the hosts of the same subnet and MAC (or join the map), `removed`
 * leave it, and `subnets`, when present, replace the subnets. An agent that does not hold `base`
 * waits for the whole map instead (it comes on its next connection).
 */
export const DhcpMapChange = Type.Object(
  {
    type: Type.Literal('dhcpMapChange'),
    version: Version,
    base: Version,
    hosts: Type.Array(DhcpHost, { maxItems: MAX_DHCP_HOSTS }),
    removed: Type.Array(Type.Object({ subnet: Name(64), mac: Mac }, { additionalProperties: false }), {
      maxItems: MAX_DHCP_HOSTS,
    }),
    subnets: Type.Optional(Type.Array(DhcpSubnet, { maxItems: 4096 })),
  },
  { additionalProperties: false },
);

export const ConfigChange = Type.Object(
  { type: Type.Literal('config'), config: Type.Partial(AgentConfig) },
  { additionalProperties: false },
);

export const ErrorMessage = Type.Object(
  { type: Type.Literal('error'), code: Name(64), message: Type.String({ maxLength: 4096 }) },
  { additionalProperties: false },
);

export const CollectorMessage = Type.Union([Welcome, Ack, DhcpMap, DhcpMapChange, ConfigChange, ErrorMessage]);

export type Sighting = Static<typeof Sighting>;
export type SightingItem = Static<typeof SightingItem>;
export type Hello = Static<typeof Hello>;
export type Sightings = Static<typeof Sightings>;
export type DhcpApplied = Static<typeof DhcpApplied>;
export type DhcpFailed = Static<typeof DhcpFailed>;
export type DhcpDrift = Static<typeof DhcpDrift>;
export type Stats = Static<typeof Stats>;
export type AgentMessage = Static<typeof AgentMessage>;
export type AgentConfig = Static<typeof AgentConfig>;
export type Watch = Static<typeof Watch>;
export type Welcome = Static<typeof Welcome>;
export type Ack = Static<typeof Ack>;
export type DhcpHost = Static<typeof DhcpHost>;
export type DhcpSubnet = Static<typeof DhcpSubnet>;
export type DhcpMap = Static<typeof DhcpMap>;
export type DhcpMapChange = Static<typeof DhcpMapChange>;
export type ConfigChange = Static<typeof ConfigChange>;
export type ErrorMessage = Static<typeof ErrorMessage>;
export type CollectorMessage = Static<typeof CollectorMessage>;
