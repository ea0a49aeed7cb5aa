/**
 * The decoding oracle: runs tshark on a capture and derives, from the fields it decodes, the
 * observations DESIGN.md's rules give for each frame. Tests compare these with ipwarden's own.
 *
 * Only frames where the protocol sits directly on a link type ipwarden decodes (Ethernet or
 * Linux cooked, with VLAN tags) are derived; frames tunnelled inside VXLAN/ERSPAN or on other
 * link types (ARCNET, InfiniBand, 802.11) must yield nothing from ipwarden.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mdnsHostname, type Observation } from '@ipwarden/netcodec';

const run = promisify(execFile);

export const RELEVANT_FILTER = 'arp || (icmpv6.type >= 133 && icmpv6.type <= 137) || mdns || dhcp';

const FIELDS = [
  'frame.number',
  'frame.protocols',
  'eth.src',
  'sll.src.eth',
  'vlan.id',
  'ieee8021ad.id',
  'arp.opcode',
  'arp.hw.type',
  'arp.proto.type',
  'arp.src.hw_mac',
  'arp.src.proto_ipv4',
  'arp.dst.hw_mac',
  'arp.dst.proto_ipv4',
  'ip.src',
  'ipv6.src',
  'ipv6.hlim',
  'icmpv6.code',
  'icmpv6.type',
  'icmpv6.nd.ns.target_address',
  'icmpv6.nd.na.target_address',
  'icmpv6.nd.na.flag.r',
  'icmpv6.nd.na.flag.s',
  'icmpv6.nd.na.flag.o',
  'icmpv6.nd.ra.router_lifetime',
  'icmpv6.opt.type',
  'icmpv6.opt.src_linkaddr',
  'icmpv6.opt.target_linkaddr',
  'icmpv6.opt.prefix',
  'icmpv6.opt.prefix.length',
  'dns.flags.response',
  'dns.flags.opcode',
  'dns.flags.rcode',
  'dns.count.answers',
  'dns.count.auth_rr',
  'dns.resp.name',
  'dns.resp.type',
  'dns.resp.ttl',
  'dns.a',
  'dns.aaaa',
  'udp.dstport',
  'dhcp.type',
  'dhcp.option.dhcp',
  'dhcp.hw.mac_addr',
  'dhcp.ip.client',
  'dhcp.ip.your',
  'dhcp.ip.relay',
  'dhcp.option.dhcp_server_id',
  'dhcp.option.hostname',
  'dhcp.option.requested_ip_address',
  'dhcp.option.vendor_class_id',
  'dhcp.option.request_list_item',
  '_ws.malformed',
  '_ws.expert.severity',
] as const;

type Field = (typeof FIELDS)[number];
const AGGREGATOR = '\u001e';
const EXPERT_ERROR = 8388608; // PI_ERROR in epan/proto.h

export interface OracleFrame {
  frame: number;
  protocols: string;
  /** The relevant protocol sits directly on a decoded link type: `expected` applies. */
  direct: boolean;
  /** tshark calls the frame malformed or raises an expert error on it. */
  malformed: boolean;
  expected: Observation[];
}

/** Link header, any VLAN/QinQ tags, then the protocol ipwarden reads. */
const DIRECT =
  /^(eth|sll):ethertype(:(vlan|ieee8021ad):ethertype)*:(arp|ip:udp:(dhcp|mdns)|ipv6(:ipv6\.(hopopts|routing|dstopts))*:(icmpv6|udp:mdns))(:|$)/;

class Row {
  constructor(private readonly values: Map<Field, string>) {}
  one(field: Field): string | undefined {
    const value = this.values.get(field);
    return value === undefined || value === '' ? undefined : value.split(AGGREGATOR)[0];
  }
  all(field: Field): string[] {
    const value = this.values.get(field);
    return value === undefined || value === '' ? [] : value.split(AGGREGATOR);
  }
}

function vlans(row: Row): { vlan: number; outerVlan?: number } {
  const q = row.all('vlan.id').map(Number);
  const ad = row.all('ieee8021ad.id').map(Number);
  const tags: number[] = [];
  for (const layer of row.one('frame.protocols')?.split(':') ?? []) {
    if (layer === 'vlan') tags.push(q.shift() ?? Number.NaN);
    else if (layer === 'ieee8021ad') tags.push(ad.shift() ?? Number.NaN);
    else if (layer === 'arp' || layer === 'ip' || layer === 'ipv6') break;
  }
  if (tags.length === 0) return { vlan: 0 };
  if (tags.length === 1) return { vlan: tags[0]! };
  return { vlan: tags[tags.length - 1]!, outerVlan: tags[0]! };
}

function observation(
  row: Row,
  source: Observation['source'],
  kind: Observation['kind'],
  ip: string | undefined,
  mac: string,
  detail: Record<string, unknown>,
  hostname?: string,
): Observation {
  const out: Observation = { source, kind, mac, ...vlans(row) };
  if (ip !== undefined) out.ip = ip;
  if (hostname !== undefined) out.hostname = hostname;
  out.detail = detail;
  return out;
}

const isGroupOrZero = (mac: string) => mac === '00:00:00:00:00:00' || (Number.parseInt(mac.slice(0, 2), 16) & 1) === 1;

function deriveArp(row: Row, layers: string[]): Observation[] {
  if (Number(row.one('arp.hw.type')) !== 1 || Number(row.one('arp.proto.type')) !== 0x0800) return [];
  const op = Number(row.one('arp.opcode'));
  const senderMac = row.one('arp.src.hw_mac');
  const senderIp = row.one('arp.src.proto_ipv4');
  const targetMac = row.one('arp.dst.hw_mac');
  const targetIp = row.one('arp.dst.proto_ipv4');
  if (layers.filter((l) => l === 'arp').length > 1) return []; // tshark's ARP-inside-ARP trailer quirk
  if (senderMac === undefined || senderIp === undefined || targetMac === undefined || targetIp === undefined) return [];
  if ((op !== 1 && op !== 2) || isGroupOrZero(senderMac)) return [];
  const opName = op === 1 ? 'request' : 'reply';
  if (senderIp === '0.0.0.0') {
    return targetIp === '0.0.0.0' ? [] : [observation(row, 'arp', 'probe', targetIp, senderMac, { op: opName })];
  }
  const gratuitous = senderIp === targetIp;
  const sender = observation(
    row,
    'arp',
    'host',
    senderIp,
    senderMac,
    gratuitous ? { op: opName, gratuitous, announcement: op === 1 } : { op: opName },
  );
  if (op === 1 || gratuitous || targetIp === '0.0.0.0' || isGroupOrZero(targetMac)) return [sender];
  return [sender, observation(row, 'arp', 'host', targetIp, targetMac, { op: opName, target: true })];
}

function deriveNdp(row: Row, linkSrc: string | undefined): Observation[] {
  // RFC 4861 6.1, 7.1: only hop limit 255 and code 0 make a valid ND message.
  if (row.one('ipv6.hlim') !== '255' || row.one('icmpv6.code') !== '0') return [];
  const type = Number(row.one('icmpv6.type'));
  const src = row.one('ipv6.src');
  const sourceLinkLayer = row.one('icmpv6.opt.src_linkaddr');
  const targetLinkLayer = row.one('icmpv6.opt.target_linkaddr');
  switch (type) {
    case 135: {
      const target = row.one('icmpv6.nd.ns.target_address');
      if (target?.startsWith('ff')) return []; // RFC 4861 7.1.1: never a multicast target
      if (src === '::') {
        return linkSrc && target ? [observation(row, 'ndp', 'probe', target, linkSrc, { type: 'ns', dad: true })] : [];
      }
      const mac = sourceLinkLayer ?? linkSrc;
      return mac ? [observation(row, 'ndp', 'host', src, mac, { type: 'ns', target })] : [];
    }
    case 136: {
      const target = row.one('icmpv6.nd.na.target_address');
      if (target?.startsWith('ff')) return []; // RFC 4861 7.1.2
      const mac = targetLinkLayer ?? linkSrc;
      const flag = (name: Field) => row.one(name) === '1' || row.one(name) === 'True';
      return mac && target
        ? [
            observation(row, 'ndp', 'host', target, mac, {
              type: 'na',
              router: flag('icmpv6.nd.na.flag.r'),
              solicited: flag('icmpv6.nd.na.flag.s'),
              override: flag('icmpv6.nd.na.flag.o'),
            }),
          ]
        : [];
    }
    case 133: {
      const mac = sourceLinkLayer ?? linkSrc;
      return src !== '::' && mac ? [observation(row, 'ndp', 'host', src, mac, { type: 'rs' })] : [];
    }
    case 134: {
      if (!/^fe[89ab]/.test(src ?? '')) return []; // RFC 4861 6.1.2: from a link-local address
      const mac = sourceLinkLayer ?? linkSrc;
      if (!mac) return [];
      // tshark's prefix fields also hold Route Information options (type 24, RFC 4191):
      // walk the option types to keep only Prefix Information (type 3).
      const prefixes = row.all('icmpv6.opt.prefix');
      const lengths = row.all('icmpv6.opt.prefix.length');
      const onLink: string[] = [];
      let next = 0;
      for (const type of row.all('icmpv6.opt.type').map(Number)) {
        if (type !== 3 && type !== 24) continue;
        if (type === 3) onLink.push(`${prefixes[next]}/${lengths[next]}`);
        next++;
      }
      const detail: Record<string, unknown> = {
        type: 'ra',
        routerLifetime: Number(row.one('icmpv6.nd.ra.router_lifetime')),
      };
      if (onLink.length > 0) detail.prefixes = onLink;
      return [observation(row, 'ndp', 'router', src, mac, detail)];
    }
    default:
      return [];
  }
}

function deriveMdns(row: Row, linkSrc: string | undefined): Observation[] {
  if (!linkSrc || !['1', 'True'].includes(row.one('dns.flags.response') ?? '')) return [];
  // RFC 6762 18.3, 18.11: other opcodes and non-zero rcodes are ignored.
  if (Number(row.one('dns.flags.opcode')) !== 0 || Number(row.one('dns.flags.rcode')) !== 0) return [];
  const answers = Number(row.one('dns.count.answers') ?? 0);
  const authority = Number(row.one('dns.count.auth_rr') ?? 0);
  const names = row.all('dns.resp.name');
  const types = row.all('dns.resp.type').map(Number);
  const ttls = row.all('dns.resp.ttl').map(Number);
  const a = row.all('dns.a');
  const aaaa = row.all('dns.aaaa');
  const out: Observation[] = [];
  types.forEach((type, i) => {
    if (type !== 1 && type !== 28) return;
    const address = type === 1 ? a.shift() : aaaa.shift();
    // Authority records are not claims; TTL 0 is a goodbye (RFC 6762 10.1).
    if ((i >= answers && i < answers + authority) || ttls[i] === 0) return;
    const name = names[i]!;
    out.push(
      observation(row, 'mdns', 'host', address, linkSrc, { name, ttl: ttls[i] }, mdnsHostname(name) || undefined),
    );
  });
  return out;
}

const DHCP_TYPES: Record<number, string> = { 1: 'discover', 2: 'offer', 3: 'request', 5: 'ack' };

function deriveDhcp(row: Row, linkSrc: string | undefined): Observation[] {
  const type = Number(row.one('dhcp.option.dhcp'));
  const messageType = DHCP_TYPES[type];
  if (messageType === undefined) return [];
  // RFC 2131 3.1: OFFER/ACK are BOOTREPLYs (op 2), DISCOVER/REQUEST BOOTREQUESTs (op 1).
  if (Number(row.one('dhcp.type')) !== (type === 2 || type === 5 ? 2 : 1)) return [];
  const chaddr = row.one('dhcp.hw.mac_addr');
  const nonZero = (ip: string | undefined) => (ip === '0.0.0.0' ? undefined : ip);
  const hostname = row.one('dhcp.option.hostname')?.replaceAll('\0', '').slice(0, 255); // RFC 1035 2.3.4
  const out: Observation[] = [];
  if (type === 2 || type === 5) {
    const serverId = row.one('dhcp.option.dhcp_server_id');
    const relay = nonZero(row.one('dhcp.ip.relay'));
    if (linkSrc) {
      out.push(
        observation(
          row,
          'dhcp',
          'dhcp-server',
          serverId ?? row.one('ip.src'),
          linkSrc,
          relay ? { messageType, relay } : { messageType },
        ),
      );
    }
    const yiaddr = nonZero(row.one('dhcp.ip.your'));
    // Only the leg to the client (UDP port 68) is on the client's link.
    const toClient = row.all('udp.dstport').at(-1) === '68';
    if (toClient && chaddr && yiaddr)
      out.push(
        observation(
          row,
          'dhcp',
          'dhcp-lease',
          yiaddr,
          chaddr,
          { messageType, server: serverId },
          hostname || undefined,
        ),
      );
  } else if (chaddr) {
    const detail: Record<string, unknown> = { messageType };
    const vendorClass = row.one('dhcp.option.vendor_class_id');
    if (vendorClass !== undefined) detail.vendorClass = vendorClass;
    const prl = row.all('dhcp.option.request_list_item');
    if (prl.length > 0) detail.parameterRequestList = prl.map(Number);
    const ip = row.one('dhcp.option.requested_ip_address') ?? nonZero(row.one('dhcp.ip.client'));
    out.push(observation(row, 'dhcp', 'dhcp-client', ip, chaddr, detail, hostname || undefined));
  }
  return out;
}

/** Runs tshark on `file` and derives the expected observations of every relevant frame. */
export async function tsharkFrames(file: string): Promise<OracleFrame[]> {
  const args = [
    '-n',
    '-r',
    file,
    '-Y',
    RELEVANT_FILTER,
    '-T',
    'fields',
    '-E',
    'occurrence=a',
    '-E',
    `aggregator=${AGGREGATOR}`,
  ];
  for (const field of FIELDS) args.push('-e', field);
  // tshark exits non-zero on files it finds cut short; what it printed before that still counts.
  const { stdout } = await run('tshark', args, { maxBuffer: 256 * 1024 * 1024 }).catch(
    (error: { stdout?: string }) => ({
      stdout: error.stdout ?? '',
    }),
  );
  const frames: OracleFrame[] = [];
  for (const line of stdout.split('\n')) {
    if (line === '') continue;
    const cells = line.split('\t');
    const row = new Row(new Map(FIELDS.map((field, i) => [field, cells[i] ?? ''])));
    const protocols = row.one('frame.protocols') ?? '';
    const layers = protocols.split(':');
    const direct = DIRECT.test(protocols);
    const malformed =
      row.one('_ws.malformed') !== undefined || row.all('_ws.expert.severity').some((s) => Number(s) >= EXPERT_ERROR);
    const linkSrc = row.one('eth.src') ?? row.one('sll.src.eth');
    let expected: Observation[] = [];
    if (direct) {
      const top = layers.find((l) => l === 'arp' || l === 'icmpv6' || l === 'mdns' || l === 'dhcp');
      if (top === 'arp') expected = deriveArp(row, layers);
      else if (top === 'icmpv6') expected = deriveNdp(row, linkSrc);
      else if (top === 'mdns') expected = deriveMdns(row, linkSrc);
      else if (top === 'dhcp') expected = deriveDhcp(row, linkSrc);
    }
    frames.push({ frame: Number(row.one('frame.number')), protocols, direct, malformed, expected });
  }
  return frames;
}

/** A stable text form of an observation, for comparing lists regardless of order. */
export function observationKey(o: Observation): string {
  const detail = o.detail
    ? Object.fromEntries(
        Object.entries(o.detail)
          .filter(([, v]) => v !== undefined)
          .sort(),
      )
    : undefined;
  return JSON.stringify([
    o.source,
    o.kind,
    o.ip ?? null,
    o.mac,
    o.vlan,
    o.outerVlan ?? null,
    o.hostname ?? null,
    detail ?? null,
  ]);
}
