/**
 * Synthetic captures for the benchmarks: realistic frames, deterministic content, written with
 * netcodec's own pcap writer.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { LinkType, pcapFileHeader, writePcapRecord } from '@ipwarden/netcodec';

/** Bumped whenever what the writers below produce changes. */
export const CAPTURES_VERSION = 3;

const BROADCAST = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];

/** A locally administered MAC for host number n. */
function hostMac(n) {
  return [0x02, 0x42, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}

/** 10.x.y.z for host number n (n < 2^24 - 2). */
function hostIp(n) {
  const v = n + 1;
  return [10, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
}

function ethernet(dst, src, etherType, payload) {
  const frame = new Uint8Array(14 + payload.length);
  frame.set(dst, 0);
  frame.set(src, 6);
  frame[12] = etherType >> 8;
  frame[13] = etherType & 0xff;
  frame.set(payload, 14);
  return frame;
}

export function arpFrame(op, senderMac, senderIp, targetMac, targetIp) {
  const arp = new Uint8Array(28);
  arp.set([0, 1, 8, 0, 6, 4, 0, op], 0);
  arp.set(senderMac, 8);
  arp.set(senderIp, 14);
  arp.set(targetMac, 18);
  arp.set(targetIp, 24);
  return ethernet(op === 1 ? BROADCAST : targetMac, senderMac, 0x0806, arp);
}

function ipv6Bytes(n) {
  // fd99::<n> with the host number in the low 32 bits
  const b = new Uint8Array(16);
  b[0] = 0xfd;
  b[1] = 0x99;
  b[12] = (n >>> 24) & 0xff;
  b[13] = (n >>> 16) & 0xff;
  b[14] = (n >>> 8) & 0xff;
  b[15] = n & 0xff;
  return b;
}

function neighborAdvertisement(n) {
  const icmp = new Uint8Array(32);
  icmp[0] = 136; // NA
  icmp[4] = 0x60; // solicited + override
  icmp.set(ipv6Bytes(n), 8);
  icmp.set([2, 1, ...hostMac(n)], 24); // target link-layer address option
  const ip = new Uint8Array(40 + icmp.length);
  ip[0] = 0x60;
  ip[4] = 0;
  ip[5] = icmp.length;
  ip[6] = 58;
  ip[7] = 255;
  ip.set(ipv6Bytes(n), 8);
  ip.set(ipv6Bytes(0xffff), 24);
  ip.set(icmp, 40);
  return ethernet([0x33, 0x33, 0, 0, 0, 1], hostMac(n), 0x86dd, ip);
}

function udp4(srcIp, dstIp, srcPort, dstPort, payload) {
  const ip = new Uint8Array(28 + payload.length);
  ip[0] = 0x45;
  ip[2] = ip.length >> 8;
  ip[3] = ip.length & 0xff;
  ip[8] = 255;
  ip[9] = 17;
  ip.set(srcIp, 12);
  ip.set(dstIp, 16);
  ip[20] = srcPort >> 8;
  ip[21] = srcPort & 0xff;
  ip[22] = dstPort >> 8;
  ip[23] = dstPort & 0xff;
  ip[24] = (payload.length + 8) >> 8;
  ip[25] = (payload.length + 8) & 0xff;
  ip.set(payload, 28);
  return ip;
}

function mdnsResponse(n) {
  const name = [
    4,
    ...Buffer.from('host'),
    8,
    ...Buffer.from(String(n).padStart(8, '0')),
    5,
    ...Buffer.from('local'),
    0,
  ];
  const dns = [0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, ...name, 0, 1, 0x80, 1, 0, 0, 0, 120, 0, 4, ...hostIp(n)];
  const ip = udp4(hostIp(n), [224, 0, 0, 251], 5353, 5353, Uint8Array.from(dns));
  return ethernet([0x01, 0x00, 0x5e, 0, 0, 0xfb], hostMac(n), 0x0800, ip);
}

function dhcpRequest(n) {
  const bootp = new Uint8Array(240);
  bootp.set([1, 1, 6, 0], 0);
  bootp.set([0, 0, n >> 8, n & 0xff], 4);
  bootp.set(hostMac(n), 28);
  bootp.set([99, 130, 83, 99], 236);
  const hostname = Buffer.from(`node-${n}`);
  const options = Uint8Array.from([
    53,
    1,
    3,
    50,
    4,
    ...hostIp(n),
    12,
    hostname.length,
    ...hostname,
    55,
    4,
    1,
    3,
    6,
    15,
    255,
  ]);
  const payload = new Uint8Array(bootp.length + options.length);
  payload.set(bootp);
  payload.set(options, bootp.length);
  const ip = udp4([0, 0, 0, 0], [255, 255, 255, 255], 68, 67, payload);
  return ethernet(BROADCAST, hostMac(n), 0x0800, ip);
}

/**
 * A saturated gigabit link carries a minimum-size frame every 672 ns (64 bytes + 8 preamble
 * + 12 inter-frame gap = 84 bytes = 672 bits): 1.49M frames/s, the rate the decoder must beat.
 */
export const LINE_RATE_GAP_MS = 672e-6;

/**
 * Writes `frames` frames to `path`, spaced `gapMs` apart (line rate by default): hosts
 * 0..hosts-1 take turns in a fixed pseudo-random order. `pick(i, host)` gives frame i of `host`.
 */
function writeCapture(path, frames, hosts, pick, gapMs = LINE_RATE_GAP_MS) {
  const fd = openSync(path, 'w');
  const chunk = new Uint8Array(4 << 20);
  chunk.set(pcapFileHeader({ linkType: LinkType.ETHERNET }), 0);
  let at = 24;
  const start = Date.UTC(2026, 0, 1);
  let seed = 0x2545f491;
  for (let i = 0; i < frames; i++) {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    const host = (seed >>> 0) % hosts;
    const frame = pick(i, host);
    if (at + 16 + frame.length > chunk.length) {
      writeSync(fd, chunk, 0, at);
      at = 0;
    }
    at = writePcapRecord(chunk, at, start + i * gapMs, frame);
  }
  writeSync(fd, chunk, 0, at);
  closeSync(fd);
}

/** ARP capture: each host asks for the gateway; every fourth frame is the gateway's answer. */
export function writeArpCapture(path, frames, hosts, gapMs) {
  const gatewayMac = hostMac(0xffffff);
  const gatewayIp = [10, 255, 255, 254];
  const requests = Array.from({ length: hosts }, (_, h) =>
    arpFrame(1, hostMac(h), hostIp(h), [0, 0, 0, 0, 0, 0], gatewayIp),
  );
  const replies = Array.from({ length: hosts }, (_, h) => arpFrame(2, gatewayMac, gatewayIp, hostMac(h), hostIp(h)));
  writeCapture(path, frames, hosts, (i, host) => (i % 4 === 3 ? replies[host] : requests[host]), gapMs);
}

/** ARP, NDP, mDNS and DHCP in the proportions a busy rack segment shows. */
export function writeMixedCapture(path, frames, hosts, gapMs) {
  const gatewayIp = [10, 255, 255, 254];
  const kinds = [
    (h) => arpFrame(1, hostMac(h), hostIp(h), [0, 0, 0, 0, 0, 0], gatewayIp),
    (h) => neighborAdvertisement(h),
    (h) => mdnsResponse(h),
    (h) => dhcpRequest(h),
  ];
  const cache = kinds.map(() => new Map());
  writeCapture(
    path,
    frames,
    hosts,
    (i, host) => {
      const kind = i % 10 < 5 ? 0 : i % 10 < 8 ? 1 : i % 10 < 9 ? 2 : 3;
      let frame = cache[kind].get(host);
      if (frame === undefined) {
        frame = kinds[kind](host);
        cache[kind].set(host, frame);
      }
      return frame;
    },
    gapMs,
  );
}

/**
 * A segment as an agent sees it for an hour: `hosts` hosts each asking for the gateway now and
 * then, every fourth frame the gateway's answer, and `contested` addresses that two hosts each
 * claim, their MACs speaking in turn (A, B, A, B…) — a duplicate the collector must see. The
 * frames arrive at random (exponential gaps, as independent hosts' frames do) over `spanMs`,
 * so that the refresh interval falls due for every host several times over; a contested
 * address says a `share` of all frames between them.
 */
export function writeSegmentCapture(path, frames, hosts, { spanMs = 3_600_000, contested = 8, share = 0.02 } = {}) {
  const gatewayMac = hostMac(0xffffff);
  const gatewayIp = [10, 255, 255, 254];
  const requests = Array.from({ length: hosts }, (_, h) =>
    arpFrame(1, hostMac(h), hostIp(h), [0, 0, 0, 0, 0, 0], gatewayIp),
  );
  const replies = Array.from({ length: hosts }, (_, h) => arpFrame(2, gatewayMac, gatewayIp, hostMac(h), hostIp(h)));
  // Contested address c is host c's; its rival has a MAC of its own, outside the hosts' range.
  const rivals = Array.from({ length: contested }, (_, c) =>
    arpFrame(1, hostMac(0x800000 + c), hostIp(c), [0, 0, 0, 0, 0, 0], gatewayIp),
  );
  const turns = new Uint32Array(contested);
  const fd = openSync(path, 'w');
  const chunk = new Uint8Array(4 << 20);
  chunk.set(pcapFileHeader({ linkType: LinkType.ETHERNET }), 0);
  let offset = 24;
  let at = Date.UTC(2026, 0, 1);
  const meanGapMs = spanMs / frames;
  let seed = 0x2545f491;
  const next = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed >>> 0;
  };
  for (let i = 0; i < frames; i++) {
    at += -Math.log((next() + 1) / 4294967297) * meanGapMs;
    const draw = next();
    let frame;
    if (contested > 0 && draw / 4294967296 < share) {
      const c = next() % contested;
      frame = turns[c]++ % 2 === 0 ? requests[c] : rivals[c];
    } else {
      const host = next() % hosts;
      frame = i % 4 === 3 ? replies[host] : requests[host];
    }
    if (offset + 16 + frame.length > chunk.length) {
      writeSync(fd, chunk, 0, offset);
      offset = 0;
    }
    offset = writePcapRecord(chunk, offset, at, frame);
  }
  writeSync(fd, chunk, 0, offset);
  closeSync(fd);
}
