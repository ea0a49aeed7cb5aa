import { LinkType, Malformed, observeFrame } from '@ipwarden/netcodec';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BindingTable, type Sighting, type WatchedAddress } from './binding-table.js';
import { FramePipeline } from './frame-pipeline.js';

/**
 * An Ethernet ARP frame (RFC 826): op 1 request, 2 reply; optional 802.1Q tag. Sender IP -1 is
 * 0.0.0.0: an RFC 5227 probe; MAC -1 is the broadcast address (a target that is no host).
 */
function arp(op: number, mac: number, ip: number, targetMac: number, targetIp: number, vlan = 0): Uint8Array {
  const macBytes = (n: number) => (n < 0 ? [0xff, 0xff, 0xff, 0xff, 0xff, 0xff] : [0x02, 0, 0, 0, 0, n]);
  const ipBytes = (n: number) => (n < 0 ? [0, 0, 0, 0] : [10, 99, 0, n]);
  // vlan ≥ 100: QinQ, an 802.1ad service tag (vlan - 100) around an 802.1Q customer tag 7 —
  // with 100, outer VLAN 0: the same binding as tag 7 alone, though its sightings say outerVlan 0.
  const tag = vlan >= 100 ? [0x88, 0xa8, 0, vlan - 100, 0x81, 0x00, 0, 7] : vlan ? [0x81, 0x00, 0, vlan] : [];
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

/** A frame at a time, or a new watch list (the collector's `config.watch`). */
type Step = { frame: Uint8Array; at: number } | { watch: { refreshMs: number; addresses: WatchedAddress[] } };

/** The same stream through the decoders and the binding table alone, with no repeat filter. */
function reference(steps: Step[], maxEntries: number, refreshMs: number): Sighting[] {
  const table = new BindingTable({ maxEntries, refreshMs });
  const out: Sighting[] = [];
  for (const step of steps) {
    if ('watch' in step) {
      table.setWatch(step.watch.refreshMs, step.watch.addresses);
      continue;
    }
    const { frame, at } = step;
    const result = observeFrame(LinkType.ETHERNET, frame, 0, frame.length);
    if (result instanceof Malformed) continue;
    for (const observation of result) {
      const sighting = table.observe(observation, at);
      if (sighting) out.push(sighting);
    }
  }
  return out;
}

function throughPipeline(steps: Step[], maxEntries: number, refreshMs: number): Sighting[] {
  const got: Sighting[] = [];
  const pipeline = new FramePipeline((sighting) => got.push(sighting), { maxEntries, refreshMs });
  for (const step of steps) {
    if ('watch' in step) pipeline.table.setWatch(step.watch.refreshMs, step.watch.addresses);
    else pipeline.push(LinkType.ETHERNET, step.frame, 0, step.frame.length, step.at);
  }
  return got;
}

const frameStream = fc.array(
  fc.record({
    // 'flap': two MACs answering for one address in turn; 'probe': an RFC 5227 probe;
    // 'watch': the collector's watch list changes; 'again': a frame sent `back` frames before,
    // so that the caches have repeats to hold quiet.
    kind: fc.constantFrom('arp', 'arp', 'arp', 'mdns', 'dhcp', 'flap', 'probe', 'watch', 'again', 'again'),
    back: fc.nat(8),
    op: fc.constantFrom(1, 2),
    mac: fc.integer({ min: 1, max: 6 }),
    ip: fc.integer({ min: 1, max: 6 }),
    // 0: a broadcast target MAC in 'arp' frames (a reply that states its sender only).
    targetMac: fc.integer({ min: 0, max: 6 }),
    targetIp: fc.integer({ min: 0, max: 6 }),
    vlan: fc.constantFrom(0, 0, 0, 7, 100, 105),
    ip2: fc.integer({ min: 1, max: 6 }),
    name: fc.constantFrom('alpha', 'beta'),
    // Time mostly moves on; now and then it steps back (merged captures, clock steps).
    step: fc.constantFrom(0, 1, 10, 400, 1000, 5000, 40_000, -700),
    watched: fc.subarray([1, 2, 3, 4]),
    watchMs: fc.constantFrom(50, 1000, 20_000),
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
  if (s.kind === 'probe') return arp(1, s.mac, -1, 0, s.ip, s.vlan);
  // Two MACs per address (1 and 4, 2 and 5, 3 and 6), the target's turn deciding which.
  if (s.kind === 'flap')
    return arp(2, ((s.ip - 1) % 3) + 1 + (s.targetMac % 2) * 3, s.ip, s.targetMac, s.targetIp, s.vlan);
  return arp(s.op, s.mac, s.ip, s.targetMac === 0 ? -1 : s.targetMac, s.targetIp, s.vlan);
}

describe('FramePipeline', () => {
  it('reports exactly what the decoders and binding table report without the caches', () => {
    fc.assert(
      fc.property(
        frameStream,
        fc.constantFrom(1, 2, 3, 5, 20),
        fc.constantFrom(100, 3000, 60_000),
        (draws, maxEntries, refreshMs) => {
          let at = 0;
          const frames: Uint8Array[] = [];
          const steps: Step[] = draws.map((s) => {
            at += s.step;
            if (s.kind === 'watch') {
              const addresses = s.watched.map((n) => ({ vlan: n === 4 ? 7 : 0, ip: `10.99.0.${n}` }));
              return { watch: { refreshMs: s.watchMs, addresses } };
            }
            const frame =
              s.kind === 'again' && frames.length > 0 ? frames[Math.max(0, frames.length - 1 - s.back)]! : frameOf(s);
            frames.push(frame);
            return { frame, at };
          });
          expect(throughPipeline(steps, maxEntries, refreshMs)).toEqual(reference(steps, maxEntries, refreshMs));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('reports the refreshes and moves of known bindings without decoding, as the decoders would', () => {
    // Hosts 1–5 ask for the gateway, the gateway answers; 10.99.0.200 is fought over by two
    // MACs; hostnames from mDNS, a QinQ tag with service VLAN 0 and a gratuitous reply too.
    const steps: Step[] = [];
    for (let i = 0; i < 400; i++) {
      const at = i * 100;
      const host = (i % 5) + 1;
      steps.push({ frame: arp(1, host, host, 0, 254), at });
      steps.push({ frame: arp(2, 30, 254, host, host, i % 3 === 0 ? 7 : 0), at });
      steps.push({ frame: arp(1, i % 2 ? 210 : 211, 200, 0, 254, i % 4 === 0 ? 100 : 7), at });
      if (i % 50 === 0) steps.push({ frame: mdns(1, [1], 'alpha'), at });
      if (i % 70 === 0) steps.push({ frame: arp(2, 4, 4, -1, 4), at });
    }
    const got: Sighting[] = [];
    const pipeline = new FramePipeline((sighting) => got.push(sighting), { refreshMs: 2000 });
    let observed = 0;
    const observe = pipeline.table.observe.bind(pipeline.table);
    pipeline.table.observe = (...args) => {
      observed++;
      return observe(...args);
    };
    for (const step of steps)
      if ('frame' in step) pipeline.push(LinkType.ETHERNET, step.frame, 0, step.frame.length, step.at);
    expect(got).toEqual(reference(steps, 100_000, 2000));
    expect(got.filter((s) => s.event === 'refresh').length).toBeGreaterThan(100);
    expect(got.some((s) => s.event === 'refresh' && s.hostname === 'alpha' && s.source === 'arp')).toBe(true);
    expect(got.some((s) => s.event === 'moved' && s.outerVlan === 0)).toBe(true);
    // Only what the table had not seen before went through the decoders: the first frame of each
    // binding (hosts, the gateway on two VLANs, each fighter's first claim) and the mDNS frames.
    const mdnsFrames = steps.filter((s) => 'frame' in s && s.frame[12] === 0x08 && s.frame[13] === 0x00).length;
    expect(observed).toBeLessThan(mdnsFrames + 20);
  });

  it('keeps every other host quiet while two MACs fight over one address', () => {
    const steps: Step[] = [];
    for (let i = 0; i < 4000; i++) {
      const at = i * 10;
      // Host i % 50 asks for the gateway; every other frame, the fought-over 10.99.0.200 speaks.
      steps.push({ frame: arp(1, (i % 50) + 1, (i % 50) + 1, 0, 254), at });
      steps.push({ frame: arp(1, i % 2 ? 210 : 211, 200, 0, 254), at });
    }
    const pipeline = new FramePipeline(() => {}, { refreshMs: 600_000 });
    for (const step of steps)
      if ('frame' in step) pipeline.push(LinkType.ETHERNET, step.frame, 0, step.frame.length, step.at);
    // The 50 hosts' frames after their first are all repeats; the fought-over address's are none.
    expect(pipeline.stats.repeats).toBe(4000 - 50);
    expect(throughPipeline(steps, 100_000, 600_000)).toEqual(reference(steps, 100_000, 600_000));
  });

  it('lets through the answer to a probe that the ARP index held quiet', () => {
    const steps: Step[] = [
      { frame: arp(2, 2, 9, 1, 1), at: 0 },
      { frame: arp(2, 2, 9, 1, 1), at: 10 },
      { frame: arp(1, 3, -1, 0, 9), at: 20 },
      { frame: arp(2, 2, 9, 1, 1), at: 30 },
      { frame: arp(2, 2, 9, 1, 1), at: 40 },
    ];
    const got = throughPipeline(steps, 100, 600_000);
    expect(got).toEqual(reference(steps, 100, 600_000));
    expect(
      got.map((s) => `${s.at} ${s.event} ${s.kind} ${s.ip}${s.detail?.answersProbe ? ' answersProbe' : ''}`),
    ).toEqual([
      '0 new host 10.99.0.9',
      '0 new host 10.99.0.1',
      '20 new probe 10.99.0.9',
      '30 refresh host 10.99.0.9 answersProbe',
    ]);
  });

  it('reports a newly watched address at the watch interval, though the ARP index held it quiet', () => {
    const steps: Step[] = [
      { frame: arp(1, 2, 9, 0, 1), at: 0 },
      { frame: arp(1, 2, 9, 0, 1), at: 1500 },
      { watch: { refreshMs: 1000, addresses: [{ vlan: 0, ip: '10.99.0.9' }] } },
      { frame: arp(1, 2, 9, 0, 1), at: 1600 },
      { frame: arp(1, 2, 9, 0, 1), at: 2000 },
      { frame: arp(1, 2, 9, 0, 1), at: 2700 },
      { watch: { refreshMs: 1000, addresses: [] } },
      { frame: arp(1, 2, 9, 0, 1), at: 3700 },
    ];
    const got = throughPipeline(steps, 100, 600_000);
    expect(got).toEqual(reference(steps, 100, 600_000));
    expect(got.map((s) => `${s.at} ${s.event}`)).toEqual(['0 new', '1600 refresh', '2700 refresh']);
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
