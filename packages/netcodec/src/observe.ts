/**
 * From a captured frame to what it tells about who uses which address: the observation rules
 * of DESIGN.md ("The agent", point 2), one function per protocol.
 */
import { ArpOperation, type ArpPacket, ArpStatement, arpHostDetail, arpStatement, decodeArp } from './arp.js';
import { DHCP_MESSAGE_TYPE_NAMES, DhcpMessageType, decodeDhcp } from './dhcp.js';
import { decodeDns } from './dns.js';
import { decodeIpv4, decodeIpv6, decodeUdp, IpProtocol, type Ipv4Packet, type Ipv6Packet, ipv4Source } from './ip.js';
import { decodeLink, EtherType, type LinkFrame } from './link-layer.js';
import { Malformed } from './malformed.js';
import { decodeNdp, NdpType } from './ndp.js';

export type ObservationSource = 'arp' | 'ndp' | 'mdns' | 'dhcp';

/**
 * - `host`: the IP is in use by the MAC (ARP sender, NDP source or target, mDNS address record).
 * - `probe`: the MAC is checking whether the IP is free (RFC 5227 ARP probe, RFC 4862 DAD).
 * - `router`: the MAC advertises itself as an IPv6 router from the IP (RA).
 * - `dhcp-server`: a DHCP server (IP from option 54) answered an OFFER/ACK from the MAC.
 * - `dhcp-lease`: a DHCP OFFER/ACK gave the IP (yiaddr) to the client MAC (chaddr).
 * - `dhcp-client`: a DISCOVER/REQUEST from the client MAC, with the IP it asks for, if any.
 */
export type ObservationKind = 'host' | 'probe' | 'router' | 'dhcp-server' | 'dhcp-lease' | 'dhcp-client';

export interface Observation {
  source: ObservationSource;
  kind: ObservationKind;
  /** Absent only for a `dhcp-client` that asks for no particular address. */
  ip?: string;
  mac: string;
  vlan: number;
  outerVlan?: number;
  hostname?: string;
  detail?: Record<string, unknown>;
}

const NONE: readonly Observation[] = Object.freeze([]);

const MDNS_PORT = 5353; // RFC 6762
const DHCP_SERVER_PORT = 67; // RFC 2131 4.1
const DHCP_CLIENT_PORT = 68;

function base(
  link: LinkFrame,
  source: ObservationSource,
  kind: ObservationKind,
  ip: string | undefined,
  mac: string,
): Observation {
  const observation: Observation =
    ip === undefined ? { source, kind, mac, vlan: link.vlan } : { source, kind, ip, mac, vlan: link.vlan };
  if (link.outerVlan !== undefined) observation.outerVlan = link.outerVlan;
  return observation;
}

/** One observation, or none when the frame names no MAC (or no IP) to tie it to. */
function one(
  link: LinkFrame,
  source: ObservationSource,
  kind: ObservationKind,
  ip: string | undefined,
  mac: string | undefined,
  detail: Record<string, unknown>,
): readonly Observation[] {
  if (ip === undefined || mac === undefined) return NONE;
  const observation = base(link, source, kind, ip, mac);
  observation.detail = detail;
  return [observation];
}

/**
 * ARP (RFC 826, RFC 5227): the sender, unless its IP is 0.0.0.0 — then the frame is a probe
 * for the target IP; for replies also the target. Gratuitous ARP (sender IP = target IP) and
 * RFC 5227 announcements (gratuitous requests) are flagged.
 */
export function observeArp(link: LinkFrame, arp: ArpPacket): readonly Observation[] {
  const gratuitous = arp.senderIp === arp.targetIp;
  const statement = arpStatement(
    arp.operation,
    arp.senderIpZero,
    arp.targetIpZero,
    gratuitous,
    arp.senderMacInvalid,
    arp.targetMacInvalid,
  );
  if (statement === ArpStatement.NOTHING) return NONE;
  const op = arp.operation === ArpOperation.REQUEST ? 'request' : 'reply';
  if (statement === ArpStatement.PROBE) return one(link, 'arp', 'probe', arp.targetIp, arp.senderMac, { op });
  const sender = base(link, 'arp', 'host', arp.senderIp, arp.senderMac);
  sender.detail = arpHostDetail(arp.operation, gratuitous, false);
  if (statement === ArpStatement.SENDER) return [sender];
  const target = base(link, 'arp', 'host', arp.targetIp, arp.targetMac);
  target.detail = arpHostDetail(arp.operation, gratuitous, true);
  return [sender, target];
}

function observeIpv6(
  link: LinkFrame,
  bytes: Uint8Array,
  offset: number,
  end: number,
): readonly Observation[] | Malformed {
  const ipv6 = decodeIpv6(bytes, offset, end);
  if (ipv6 instanceof Malformed) return ipv6;
  if (ipv6.fragment) return NONE;
  if (ipv6.nextHeader === IpProtocol.UDP)
    return observeUdp(link, bytes, ipv6.payloadOffset, ipv6.payloadEnd, undefined);
  if (ipv6.nextHeader !== IpProtocol.ICMPV6) return NONE;
  return observeNdp(link, bytes, ipv6);
}

/** True for a multicast IPv6 address in text form (ff00::/8). */
function isMulticastIpv6(address: string): boolean {
  return address.startsWith('ff');
}

/** True for a link-local unicast IPv6 address in text form (fe80::/10). */
function isLinkLocalIpv6(address: string): boolean {
  return /^fe[89ab]/.test(address);
}

function observeNdp(link: LinkFrame, bytes: Uint8Array, ipv6: Ipv6Packet): readonly Observation[] | Malformed {
  const at = ipv6.payloadOffset;
  if (ipv6.payloadEnd - at < 2) return NONE;
  const type = bytes[at]!;
  if (type < NdpType.ROUTER_SOLICITATION || type > NdpType.REDIRECT) return NONE;
  // RFC 4861 6.1 and 7.1: hosts silently discard ND messages whose hop limit is not 255 (they
  // were forwarded by a router, so they could come from anywhere) or whose code is not 0 —
  // before reading their options, so a forwarded message is never counted as malformed.
  if (ipv6.hopLimit !== 255 || bytes[at + 1] !== 0) return NONE;
  const ndp = decodeNdp(bytes, at, ipv6.payloadEnd);
  if (ndp === undefined) return NONE;
  if (ndp instanceof Malformed) return ndp;
  // RFC 4861 7.1.1, 7.1.2: the target of a solicitation or advertisement is never multicast.
  if (ndp.target !== undefined && isMulticastIpv6(ndp.target)) return NONE;

  switch (ndp.type) {
    case NdpType.NEIGHBOR_SOLICITATION:
      // RFC 4862 5.4.3: a solicitation from :: is Duplicate Address Detection for the target.
      return ipv6.srcUnspecified
        ? one(link, 'ndp', 'probe', ndp.target, link.src, { type: 'ns', dad: true })
        : one(link, 'ndp', 'host', ipv6.src, ndp.sourceLinkLayer ?? link.src, { type: 'ns', target: ndp.target });
    case NdpType.NEIGHBOR_ADVERTISEMENT:
      return one(link, 'ndp', 'host', ndp.target, ndp.targetLinkLayer ?? link.src, {
        type: 'na',
        router: ndp.router,
        solicited: ndp.solicited,
        override: ndp.override,
      });
    case NdpType.ROUTER_SOLICITATION:
      if (ipv6.srcUnspecified) return NONE;
      return one(link, 'ndp', 'host', ipv6.src, ndp.sourceLinkLayer ?? link.src, { type: 'rs' });
    case NdpType.ROUTER_ADVERTISEMENT: {
      // RFC 4861 6.1.2: a valid advertisement comes from the router's link-local address.
      if (!isLinkLocalIpv6(ipv6.src)) return NONE;
      const detail: Record<string, unknown> = { type: 'ra', routerLifetime: ndp.routerLifetime };
      if (ndp.prefixes) detail.prefixes = ndp.prefixes;
      return one(link, 'ndp', 'router', ipv6.src, ndp.sourceLinkLayer ?? link.src, detail);
    }
    default:
      return NONE; // Redirect: says nothing about who holds an address
  }
}

/** UDP over IPv4 or IPv6: mDNS on port 5353; DHCPv4 on ports 67/68 (IPv4 only: `ipv4` given). */
function observeUdp(
  link: LinkFrame,
  bytes: Uint8Array,
  offset: number,
  end: number,
  ipv4: Ipv4Packet | undefined,
): readonly Observation[] | Malformed {
  const udp = decodeUdp(bytes, offset, end);
  if (udp instanceof Malformed) return udp;
  if (udp.srcPort === MDNS_PORT || udp.dstPort === MDNS_PORT)
    return observeMdns(link, bytes, udp.payloadOffset, udp.payloadEnd);
  const dhcpPorts =
    (udp.srcPort === DHCP_SERVER_PORT || udp.srcPort === DHCP_CLIENT_PORT) &&
    (udp.dstPort === DHCP_SERVER_PORT || udp.dstPort === DHCP_CLIENT_PORT);
  if (ipv4 === undefined || !dhcpPorts) return NONE;
  return observeDhcp(link, bytes, udp.payloadOffset, udp.payloadEnd, udp.dstPort === DHCP_CLIENT_PORT, ipv4);
}

/** mDNS (RFC 6762): every A/AAAA record in the answers and additionals of a response. */
function observeMdns(
  link: LinkFrame,
  bytes: Uint8Array,
  offset: number,
  end: number,
): readonly Observation[] | Malformed {
  const mac = link.src;
  if (mac === undefined) return NONE;
  const dns = decodeDns(bytes, offset, end);
  if (dns instanceof Malformed) return dns;
  // RFC 6762 18.3, 18.11: messages with another opcode or a non-zero rcode are silently ignored.
  if (!dns.response || dns.opcode !== 0 || dns.rcode !== 0) return NONE;
  const out: Observation[] = [];
  for (const record of dns.addresses) {
    // RFC 6762 10.1: a record with TTL 0 is a goodbye: the host is giving the address up.
    if (record.section === 'authority' || record.ttl === 0) continue;
    const observation = base(link, 'mdns', 'host', record.address, mac);
    const hostname = hostnameOf(mdnsHostname(record.name));
    if (hostname !== '') observation.hostname = hostname;
    observation.detail = { name: record.name, ttl: record.ttl };
    out.push(observation);
  }
  return out;
}

/** RFC 1035 2.3.4: no name is longer than 255 octets; option 12 split over several (RFC 3396) can be. */
const MAX_HOSTNAME = 255;

/** A hostname as reported: NUL bytes (which no name may hold, and no database can store) removed, at most 255 characters. */
function hostnameOf(text: string): string {
  const clean = text.includes('\0') ? text.replaceAll('\0', '') : text;
  return clean.length > MAX_HOSTNAME ? clean.slice(0, MAX_HOSTNAME) : clean;
}

/** `printer.local` → `printer`; a name outside `.local` is kept whole. */
export function mdnsHostname(name: string): string {
  return name.toLowerCase().endsWith('.local') ? name.slice(0, -'.local'.length) : name;
}

/**
 * DHCPv4 (RFC 2131): OFFER and ACK name the server (option 54, from the Ethernet source) and
 * the lease (yiaddr → chaddr); DISCOVER and REQUEST carry the client's hostname (12),
 * requested address (50), vendor class (60) and parameter request list (55).
 */
function observeDhcp(
  link: LinkFrame,
  bytes: Uint8Array,
  offset: number,
  end: number,
  toClient: boolean,
  ipv4: Ipv4Packet,
): readonly Observation[] | Malformed {
  const dhcp = decodeDhcp(bytes, offset, end);
  if (dhcp instanceof Malformed) return dhcp;
  const type = dhcp.messageType;
  if (type === undefined) return NONE;
  // RFC 2131 3.1: servers answer with BOOTREPLY, clients ask with BOOTREQUEST.
  const reply = type === DhcpMessageType.OFFER || type === DhcpMessageType.ACK;
  if (dhcp.op !== (reply ? 2 : 1)) return NONE;
  const messageType = DHCP_MESSAGE_TYPE_NAMES[type];
  const out: Observation[] = [];

  if (type === DhcpMessageType.OFFER || type === DhcpMessageType.ACK) {
    if (link.src !== undefined) {
      const server = base(link, 'dhcp', 'dhcp-server', dhcp.serverId ?? ipv4Source(bytes, ipv4), link.src);
      server.detail = dhcp.relayIp ? { messageType, relay: dhcp.relayIp } : { messageType };
      out.push(server);
    }
    // Only the leg to the client (port 68) is on the client's link; a relayed answer on its way
    // from the server to the relay (port 67) leases an address on another subnet (RFC 2131 4.1).
    if (toClient && dhcp.chaddr !== undefined && dhcp.yourIp !== undefined) {
      const lease = base(link, 'dhcp', 'dhcp-lease', dhcp.yourIp, dhcp.chaddr);
      const hostname = dhcp.hostname === undefined ? '' : hostnameOf(dhcp.hostname);
      if (hostname !== '') lease.hostname = hostname;
      lease.detail = { messageType, server: dhcp.serverId };
      out.push(lease);
    }
  } else if (type === DhcpMessageType.DISCOVER || type === DhcpMessageType.REQUEST) {
    if (dhcp.chaddr === undefined) return NONE;
    const client = base(link, 'dhcp', 'dhcp-client', dhcp.requestedIp ?? dhcp.clientIp, dhcp.chaddr);
    const hostname = dhcp.hostname === undefined ? '' : hostnameOf(dhcp.hostname);
    if (hostname !== '') client.hostname = hostname;
    const detail: Record<string, unknown> = { messageType };
    if (dhcp.vendorClass !== undefined) detail.vendorClass = dhcp.vendorClass;
    if (dhcp.parameterRequestList !== undefined) detail.parameterRequestList = dhcp.parameterRequestList;
    client.detail = detail;
    out.push(client);
  }
  return out;
}

function observeIpv4(
  link: LinkFrame,
  bytes: Uint8Array,
  offset: number,
  end: number,
): readonly Observation[] | Malformed {
  const ipv4 = decodeIpv4(bytes, offset, end);
  if (ipv4 instanceof Malformed) return ipv4;
  if (ipv4.protocol !== IpProtocol.UDP || ipv4.fragment) return NONE;
  return observeUdp(link, bytes, ipv4.payloadOffset, ipv4.payloadEnd, ipv4);
}

/**
 * Everything one frame tells, per DESIGN.md. Frames of no interest give an empty list; frames
 * that cannot be read at the layer that matters give a {@link Malformed}. Never throws.
 */
export function observeFrame(
  linkType: number,
  bytes: Uint8Array,
  offset: number,
  end: number,
): readonly Observation[] | Malformed {
  const link = decodeLink(linkType, bytes, offset, end);
  if (link instanceof Malformed) return link;
  switch (link.etherType) {
    case EtherType.ARP: {
      const arp = decodeArp(bytes, link.payloadOffset, end);
      if (arp === undefined) return NONE;
      if (arp instanceof Malformed) return arp;
      return observeArp(link, arp);
    }
    case EtherType.IPV4:
      return observeIpv4(link, bytes, link.payloadOffset, end);
    case EtherType.IPV6:
      return observeIpv6(link, bytes, link.payloadOffset, end);
    default:
      return NONE;
  }
}
