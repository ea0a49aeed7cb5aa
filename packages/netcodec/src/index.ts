export { type ArpPacket, ArpOperation, decodeArp } from './arp.js';
export {
  type CaptureFormat,
  type CaptureRecord,
  type CaptureSummary,
  CaptureReader,
  MAX_BLOCK_LENGTH,
  MAX_RECORD_LENGTH,
  readCapture,
} from './capture-reader.js';
export { DHCP_MESSAGE_TYPE_NAMES, type DhcpMessage, DhcpMessageType, decodeDhcp } from './dhcp.js';
export { type DnsAddressRecord, type DnsMessage, DnsType, decodeDns } from './dns.js';
export { formatIpv4, formatIpv6, formatMac } from './format.js';
export { type Ipv4Packet, type Ipv6Packet, IpProtocol, type UdpDatagram, decodeIpv4, decodeIpv6, decodeUdp } from './ip.js';
export {
  EtherType,
  type LinkFrame,
  LinkType,
  decodeEthernet,
  decodeLink,
  decodeLinuxSll,
  decodeLinuxSll2,
  isSupportedLinkType,
} from './link-layer.js';
export { Malformed, isMalformed } from './malformed.js';
export { type NdpMessage, NdpType, decodeNdp } from './ndp.js';
export { type Observation, type ObservationKind, type ObservationSource, mdnsHostname, observeFrame } from './observe.js';
export { pcapFile, pcapFileHeader, pcapRecord, writePcapRecord } from './pcap-writer.js';
