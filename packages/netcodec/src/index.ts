export {
  ArpOperation,
  type ArpPacket,
  ArpStatement,
  type ArpSummary,
  arpHostDetail,
  arpStatement,
  decodeArp,
  emptyArpSummary,
  summarizeArpFrame,
} from './arp.js';
export {
  type CaptureFormat,
  CaptureReader,
  type CaptureRecord,
  type CaptureSummary,
  MAX_BLOCK_LENGTH,
  MAX_RECORD_LENGTH,
  readCapture,
} from './capture-reader.js';
export { DHCP_MESSAGE_TYPE_NAMES, type DhcpMessage, DhcpMessageType, decodeDhcp } from './dhcp.js';
export { type DnsAddressRecord, type DnsMessage, DnsType, decodeDns } from './dns.js';
export { formatIpv4, formatIpv6, formatMac, ipv4Number } from './format.js';
export { mix32 } from './hash.js';
export {
  decodeIpv4,
  decodeIpv6,
  decodeUdp,
  IpProtocol,
  type Ipv4Packet,
  type Ipv6Packet,
  type UdpDatagram,
} from './ip.js';
export {
  decodeEthernet,
  decodeLink,
  decodeLinuxSll,
  decodeLinuxSll2,
  EtherType,
  isSupportedLinkType,
  type LinkFrame,
  LinkType,
  type TagWalk,
  walkTags,
} from './link-layer.js';
export { isMalformed, Malformed } from './malformed.js';
export { decodeNdp, type NdpMessage, NdpType } from './ndp.js';
export {
  mdnsHostname,
  type Observation,
  type ObservationKind,
  type ObservationSource,
  observeFrame,
} from './observe.js';
export { pcapFile, pcapFileHeader, pcapRecord, writePcapRecord } from './pcap-writer.js';
