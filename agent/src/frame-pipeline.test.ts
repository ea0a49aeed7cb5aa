import { LinkType, Malformed, observeFrame } from '@ipwarden/netcodec';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BindingTable, type Sighting } from './binding-table.js';
import { FramePipeline } from './frame-pipeline.js';

/** An Ethernet ARP frame (RFC 826): op 1 request, 2 reply; optional 802.1Q tag. */
function arp(op: number, mac: number, ip: number, targetMac: number, targetIp: number, vlan = 0): Uint8Array {
  const macBytes = (n: number) => [0x02, 0, 0, 0, 0, n];
  const ipBytes = (n: number) => [10, 99, 0, n];
  const tag = vlan ? [0x81, 0x00, 0, vlan] : [];
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
    op: fc.constantFrom(1, 2),
    mac: fc.integer({ min: 1, max: 6 }),
    ip: fc.integer({ min: 1, max: 6 }),
    targetMac: fc.integer({ min: 1, max: 6 }),
    targetIp: fc.integer({ min: 0, max: 6 }),
    vlan: fc.constantFrom(0, 0, 0, 7),
    step: fc.constantFrom(0, 1, 10, 400, 1000, 5000),
  }),
  { maxLength: 300 },
);

describe('FramePipeline', () => {
  it('reports exactly what the decoders and binding table report without the repeat filter', () => {
    fc.assert(
      fc.property(
        frameStream,
        fc.integer({ min: 1, max: 20 }),
        fc.constantFrom(100, 1000, 3000),
        (steps, maxEntries, refreshMs) => {
          let at = 0;
          const frames = steps.map((s) => {
            at += s.step;
            return { frame: arp(s.op, s.mac, s.ip, s.targetMac, s.targetIp, s.vlan), at };
          });
          const got: Sighting[] = [];
          const pipeline = new FramePipeline((sighting) => got.push(sighting), { maxEntries, refreshMs });
          for (const { frame, at } of frames) pipeline.push(LinkType.ETHERNET, frame, 0, frame.length, at);
          expect(got).toEqual(reference(frames, maxEntries, refreshMs));
        },
      ),
      { numRuns: 300 },
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
