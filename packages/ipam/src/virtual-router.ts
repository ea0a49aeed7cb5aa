/**
 * MAC addresses that first-hop redundancy protocols answer with: one virtual router, several
 * physical boxes, and a failover that must not look like a host stealing the gateway's address
 * (DESIGN.md, "Conflicts").
 */

/** Lowercase, colon-separated prefixes, longest first where one contains another. */
const VIRTUAL_ROUTER_PREFIXES: readonly { prefix: string; protocol: string }[] = [
  // VRRP for IPv4 and IPv6: 00-00-5E-00-01-{VRID} and 00-00-5E-00-02-{VRID} (RFC 5798 7.3).
  { prefix: '00:00:5e:00:01:', protocol: 'vrrp' },
  { prefix: '00:00:5e:00:02:', protocol: 'vrrp' },
  // HSRP version 1: 0000.0c07.ac{group} (RFC 2281 5); version 2: 0000.0c9f.f{group}.
  { prefix: '00:00:0c:07:ac:', protocol: 'hsrp' },
  { prefix: '00:00:0c:9f:f', protocol: 'hsrp' },
  // GLBP: 0007.b4xx.xxxx, one virtual MAC per forwarder, several per gateway by design.
  { prefix: '00:07:b4:', protocol: 'glbp' },
];

/** The redundancy protocol whose virtual MAC this is, or undefined for any other MAC. */
export function virtualRouterProtocol(mac: string): string | undefined {
  for (const { prefix, protocol } of VIRTUAL_ROUTER_PREFIXES) if (mac.startsWith(prefix)) return protocol;
  return undefined;
}

export function isVirtualRouterMac(mac: string): boolean {
  return virtualRouterProtocol(mac) !== undefined;
}
