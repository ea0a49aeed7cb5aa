import { LinkType, Malformed, observeFrame } from '@ipwarden/netcodec';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BindingTable, type Sighting } from './binding-table.js';
import { FramePipeline } from './frame-pipeline.js';

/** An Ethernet ARP frame (RFC 826): op 1 request, 2 reply; optional 802.1Q tag. */
function arp(op: number, mac: number, ip: number, targetMac: number, targetIp: number, vlan = 0): Uint8Array {
  const macBytes = (n: number) => [0x02, 0, 0, 0, 0, n];
  const ipBytes = (n: number) => [10, 99, 0, n];
  // vlan > 100: QinQ, an 802.1ad service tag (vlan - 100) around an 802.1Q customer tag 7.
  const tag = vlan > 100 ? [0x88, 0xa8, 0, vlan - 100, 0x81, 0x00, 0, 7] : vlan ? [0x81, 0x00, 0, vlan] : [];
  return Uint8Array.from([
    ...(op === 1 ? [0xff, 0xff, 0xff, 0xff, 0xff, 0xff] : macBytes(targetMac)),
    ...macBytes(mac),
    ...tag,
    0x08,
    0x06,
    0,
    1,
    8,
    0,
    6,
    4,
    0,
    op,
    ...macBytes(mac),
    ...ipBytes(ip),
    ...(op === 1 ? [0, 0, 0, 0, 0, 0] : macBytes(targetMac)),
    ...ipBytes(targetIp),
  ]);
}

/** An IPv4 UDP frame from `mac` (10.99.0.`ip`), checksums left at 0 (ignored by the decoders). */
function udpFrame(
  mac: number,
  ip: number,
  dst: number[],
  srcPort: number,
  dstPort: number,
  payload: number[],
): Uint8Array {
  const length = 28 + payload.length;
  return Uint8Array.from([
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
    0x02,
    0,
    0,
    0,
    0,
    mac,
    0x08,
    0x00,
    0x45,
    0,
    length >> 8,
    length & 0xff,
    0,
    0,
    0,
    0,
    255,
    17,
    0,
    0,
    10,
    99,
    0,
    ip,
    ...dst,
    srcPort >> 8,
    srcPort & 0xff,
    dstPort >> 8,
    dstPort & 0xff,
    (length - 20) >> 8,
    (length - 20) & 0xff,
    0,
    0,
    ...payload,
  ]);
}

/** An mDNS response (RFC 6762) from `mac` announcing `<name>.local` A 10.99.0.`ip` for each of `ips`. */
function mdns(mac: number, ips: number[], name: string): Uint8Array {
  const label = [...name].map((c) => c.charCodeAt(0));
  const header = [0, 0, 0x84, 0, 0, 0, 0, ips.length, 0, 0, 0, 0];
  const owner = [label.length, ...label, 5, ...[...'local'].map((c) => c.charCodeAt(0)), 0];
  // The first record spells the name out; the others point back at it (RFC 1035 4.1.4).
  const records = ips.flatMap((ip, i) => [
    ...(i === 0 ? owner : [0xc0, 12]),
    0,
    1,
    0x80,
    1,
    0,
    0,
    0,
    120,
    0,
    4,
    10,
    99,
    0,
    ip,
  ]);
  return udpFrame(mac, ips[0]!, [224, 0, 0, 251], 5353, 5353, [...header, ...records]);
}

/** A DHCPDISCOVER (RFC 2131) from `mac` with host name option 12 (RFC 2132). */
function dhcpDiscover(mac: number, hostname: string): Uint8Array {
  const bootp = new Array(236).fill(0);
  bootp.splice(0, 3, 1, 1, 6);
  bootp.splice(28, 6, 0x02, 0, 0, 0, 0, mac);
  const name = [...hostname].map((c) => c.charCodeAt(0));
  return udpFrame(mac, 0, [255, 255, 255, 255], 68, 67, [
    ...bootp,
    99,
    130,
    83,
    99,
    53,
    1,
    1,
    12,
    name.length,
    ...name,
    255,
  ]);
}

/** The same stream through the decoders and the binding table alone, with no repeat filter. */
function reference(
  frames: Array<{ frame: Uint8Array; at: number }>,
  maxEntries: number,
  refreshMs: number,
): Sighting[] {
  const table = new BindingTable({ maxEntries, refreshMs });
  const out: Sighting[] = [];
  for (const { frame, at } of frames) {
    const result = observeFrame(LinkType.ETHERNET, frame, 0, frame.length);
    if (result instanceof Malformed) continue;
    for (const observation of result) {
      const sighting = table.observe(observation, at);
      if (sighting) out.push(sighting);
    }
  }
  return out;
}

const frameStream = fc.array(
  fc.record({
    kind: fc.constantFrom('arp', 'arp', 'arp', 'mdns', 'dhcp'),
    op: fc.constantFrom(1, 2),
    mac: fc.integer({ min: 1, max: 6 }),
    ip: fc.integer({ min: 1, max: 6 }),
    targetMac: fc.integer({ min: 1, max: 6 }),
    targetIp: fc.integer({ min: 0, max: 6 }),
    vlan: fc.constantFrom(0, 0, 0, 7, 105),
    ip2: fc.integer({ min: 1, max: 6 }),
    name: fc.constantFrom('alpha', 'beta'),
    // Time mostly moves on; now and then it steps back (merged captures, clock steps).
    step: fc.constantFrom(0, 1, 10, 400, 1000, 5000, 40_000, -700),
  }),
  { maxLength: 300 },
);

function frameOf(s: {
  kind: string;
  op: number;
  mac: number;
  ip: number;
  targetMac: number;
  targetIp: number;
  vlan: number;
  name: string;
  ip2: number;
}): Uint8Array {
  if (s.kind === 'mdns') return mdns(s.mac, s.ip === s.ip2 ? [s.ip] : [s.ip, s.ip2], s.name);
  if (s.kind === 'dhcp') return dhcpDiscover(s.mac, s.name);
  return arp(s.op, s.mac, s.ip, s.targetMac, s.targetIp, s.vlan);
}

describe('FramePipeline', () => {
  it('reports exactly what the decoders and binding table report without the repeat filter', () => {
    fc.assert(
      fc.property(
        frameStream,
        fc.constantFrom(1, 2, 3, 5, 20),
        fc.constantFrom(100, 3000, 60_000),
        (steps, maxEntries, refreshMs) => {
          let at = 0;
          const frames = steps.map((s) => {
            at += s.step;
            return { frame: frameOf(s), at };
          });
          const got: Sighting[] = [];
          const pipeline = new FramePipeline((sighting) => got.push(sighting), { maxEntries, refreshMs });
          for (const { frame, at } of frames) pipeline.push(LinkType.ETHERNET, frame, 0, frame.length, at);
          expect(got).toEqual(reference(frames, maxEntries, refreshMs));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('skips the repeats of a flood without decoding them, and counts their observations', () => {
    const got: Sighting[] = [];
    const pipeline = new FramePipeline((sighting) => got.push(sighting));
    const frame = arp(2, 1, 1, 2, 2);
    for (let i = 0; i < 1000; i++) pipeline.push(LinkType.ETHERNET, frame, 0, frame.length, i);
    expect(got.map((s) => `${s.event} ${s.ip}`)).toEqual(['new 10.99.0.1', 'new 10.99.0.2']);
    expect(pipeline.stats).toMatchObject({ frames: 1000, observations: 2000, sightings: 2, repeats: 999 });
  });

  it('skips the repeats of mDNS announcements too, names and all; long DHCP frames take the full path', () => {
    const got: Sighting[] = [];
    const pipeline = new FramePipeline((sighting) => got.push(sighting));
    const announce = mdns(3, [3], 'printer');
    const discover = dhcpDiscover(4, 'node-4');
    for (let i = 0; i < 100; i++) {
      pipeline.push(LinkType.ETHERNET, announce, 0, announce.length, i);
      pipeline.push(LinkType.ETHERNET, discover, 0, discover.length, i);
    }
    expect(got.map((s) => `${s.event} ${s.source} ${s.ip ?? '-'} ${s.hostname}`)).toEqual([
      'new mdns 10.99.0.3 printer',
    ]);
    expect(pipeline.stats).toMatchObject({ frames: 200, observations: 200, repeats: 99 });
  });

  it('does not take a frame for a repeat when its own later records evicted an earlier one', () => {
    const run = (withFilter: boolean) => {
      const got: string[] = [];
      const frames = [mdns(1, [1], 'a'), mdns(1, [3], 'a'), mdns(1, [1, 2], 'a'), mdns(1, [1, 2], 'a')];
      if (withFilter) {
        const pipeline = new FramePipeline((s) => got.push(`${s.at} ${s.event} ${s.ip}`), { maxEntries: 2 });
        for (const [at, frame] of frames.entries()) pipeline.push(LinkType.ETHERNET, frame, 0, frame.length, at);
      } else {
        const sightings = reference(
          frames.map((frame, at) => ({ frame, at })),
          2,
          600_000,
        );
        for (const s of sightings) got.push(`${s.at} ${s.event} ${s.ip}`);
      }
      return got;
    };
    expect(run(true)).toEqual(run(false));
    expect(run(true)).toContain('3 new 10.99.0.1');
  });

  it('counts frames of link types it does not decode, and malformed frames by layer', () => {
    const pipeline = new FramePipeline(() => {});
    const frame = arp(1, 1, 1, 0, 2);
    pipeline.push(105, frame, 0, frame.length, 0); // IEEE 802.11
    pipeline.push(LinkType.ETHERNET, frame, 0, 20, 0);
    expect(pipeline.stats).toMatchObject({
      frames: 2,
      skippedLinkTypes: { 105: 1 },
      malformed: 1,
      malformedByLayer: { arp: 1 },
    });
  });
});
