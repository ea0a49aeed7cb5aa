/**
 * The BPF filter of the live capture (DESIGN.md, "The agent"): ARP, mDNS, DHCP and NDP, untagged
 * or behind one or two 802.1Q/802.1ad tags. libpcap's `vlan` keyword shifts the offsets of
 * everything after it, across `or` too, so the tagged forms are nested inside it rather than
 * listed beside it.
 */

/** What ipwarden decodes, at a given depth of tags. NDP: ICMPv6 types 133–137 (RFC 4861). */
const PROTOCOLS =
  'arp or (udp port 5353) or (udp port 67 or udp port 68) or (icmp6 and ip6[40] >= 133 and ip6[40] <= 137)';

export const CAPTURE_FILTER = `${PROTOCOLS} or (vlan and (${PROTOCOLS} or (vlan and (${PROTOCOLS}))))`;
