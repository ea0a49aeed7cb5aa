/**
 * Properties every decoder keeps on hostile input: random bytes, every truncation of a valid
 * frame and mutations of valid frames never make it throw; it returns a value or a Malformed
 * with a reason; and it reads nothing outside [offset, end): the result for a window of a larger
 * buffer is the result for a copy of just that window, whatever surrounds it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeArp } from './arp.js';
import { CaptureReader } from './capture-reader.js';
import { decodeDhcp } from './dhcp.js';
import { decodeDns } from './dns.js';
import { decodeIpv4, decodeIpv6, decodeUdp } from './ip.js';
import { decodeEthernet, decodeLinuxSll, decodeLinuxSll2 } from './link-layer.js';
import { Malformed } from './malformed.js';
import { decodeNdp } from './ndp.js';
import { observeFrame } from './observe.js';
import { pcapFile } from './pcap-writer.js';
import { bootp, concat, ethernet, hex, ipv4, ipv6, udp } from './test-bytes.js';

const RUNS = { numRuns: 150 };

// --- valid inputs, layer by layer ---

const ARP_REQUEST = hex('0001 0800 0604 0001 0011 2233 4455 c000 0201 0000 0000 0000 c000 02fe');
const ARP_REPLY = hex('0001 0800 0604 0002 6677 8899 aabb c000 02fe 0011 2233 4455 c000 0201');
const ARP_PROBE = hex('0001 0800 0604 0001 0011 2233 4455 0000 0000 0000 0000 0000 c000 0264');
const ARP_OTHER = hex('0001 0800 0804 0001 0011 2233 4455 6677 c000 0201 0000 0000 0000 0000 c000 02fe');

const TARGET = 'fe80 0000 0000 0000 0266 77ff fe88 99aa';
const PREFIX = '0304 40c0 0027 8d00 0009 3a80 0000 0000 2001 0db8 0001 0000 0000 0000 0000 0000';
const NDP = [
  hex(`8700 0000 0000 0000 ${TARGET} 0101 0011 2233 4455`),
  hex(`8800 0000 6000 0000 ${TARGET} 0201 6677 8899 aabb`),
  hex('8500 0000 0000 0000 0101 0011 2233 4455'),
  hex(`8600 0000 4000 0708 0000 0000 0000 0000 0101 6677 8899 aabb 0501 0000 0000 05dc ${PREFIX} ${PREFIX}`),
  hex(`8900 0000 0000 0000 ${TARGET} ${TARGET} 0201 6677 8899 aabb`),
];

const PRINTER_LOCAL = '07 7072 696e 7465 72 05 6c6f 6361 6c 00';
const A = '0001 8001 0000 0078 0004 c0a8 0105';
const AAAA = '001c 8001 0000 0078 0010 fe80 0000 0000 0000 0211 22ff fe33 4455';
const DNS = [
  hex(`0000 8400 0000 0001 0001 0001 ${PRINTER_LOCAL} ${A} c00c ${A} c00c ${AAAA}`),
  hex(
    [
      '0000 8400 0000 0001 0000 0004 045f 6970 7004 5f74 6370 056c 6f63 616c 00',
      '000c 0001 0000 1194 000a 07 7072 696e 7465 72 c00c',
      'c027 0021 8001 0000 0078 0010 0000 0000 0277 07 7072 696e 7465 72 c016',
      `c027 0010 8001 0000 1194 0001 00 c043 ${A} c043 ${AAAA}`,
    ].join(' '),
  ),
  hex(`0000 0000 0001 0001 0000 0000 ${PRINTER_LOCAL} 00ff 8001 c00c ${A}`),
  hex(`0000 8400 0000 0002 0000 0000 00 000a 0001 0000 0000 0004 c019 c017 c017 ${A}`), // pointer loop
  hex(`0000 8400 0000 0002 0000 0000 c01c ${A} ${PRINTER_LOCAL} ${A}`), // forward pointer
  hex(`0000 8400 0000 0001 0000 0000 c01c ${A} ${PRINTER_LOCAL}`), // forward pointer past the records
];

const CLIENT_HEAD =
  '0101 0600 3903 f326 0000 8000 0000 0000 0000 0000 0000 0000 0000 0000 0011 2233 4455 0000 0000 0000 0000 0000';
const SERVER_HEAD =
  '0201 0600 3903 f326 0000 8000 0000 0000 c000 0264 c000 0201 0a00 0001 0011 2233 4455 0000 0000 0000 0000 0000';
const DHCP = [
  bootp(CLIENT_HEAD, '3501 01 3204 c000 0264 0c07 7072 696e 7465 72 3c08 4d53 4654 2035 2e30 3704 0103 060f ff'),
  bootp(SERVER_HEAD, '3501 02 3604 c000 0201 3304 0000 0e10 0104 ffff ff00 ff'),
  bootp(CLIENT_HEAD, '3501 01 3401 03 0c02 7072 ff', { file: '0c03 696e 74 ff', sname: '0c02 6572 ff' }),
  bootp(CLIENT_HEAD, '', { cookie: false }),
];

const HOST = '00:11:22:33:44:55';
const QINQ = [
  { tpid: 0x88a8, vid: 200 },
  { tpid: 0x8100, vid: 100 },
];

/** Network-layer packets: what follows the link header. */
const IPV4 = [
  ipv4('192.168.1.5', '224.0.0.251', 17, udp(5353, 5353, DNS[0]!), { ttl: 255 }),
  ipv4('0.0.0.0', '255.255.255.255', 17, udp(68, 67, DHCP[0]!)),
  ipv4('192.0.2.1', '192.0.2.100', 17, udp(67, 68, DHCP[1]!)),
  hex('4600 0020 0000 0000 0102 0000 c000 0201 e000 0001 9404 0000 1164 0000 0000 0000'),
  ipv4('0.0.0.0', '255.255.255.255', 17, udp(68, 67, DHCP[0]!), { flagsFragment: 0x2000 }),
];
const LL = 'fe80::211:22ff:fe33:4455';
const IPV6 = [
  ...NDP.map((icmp) => ipv6(LL, 'ff02::1', 58, icmp)),
  ipv6('::', 'ff02::1:ff88:99aa', 58, NDP[0]!.subarray(0, 24)),
  ipv6(LL, 'ff02::fb', 17, udp(5353, 5353, DNS[1]!)),
  ipv6(LL, 'ff02::2', 0, concat(hex('3a00 0100 0000 0000'), NDP[2]!)),
  ipv6(
    LL,
    'ff02::2',
    0,
    concat(hex('3c00 0100 0000 0000 1101 0106 0000 0000 0000 0000 0000 0000'), udp(5353, 5353, DNS[0]!)),
  ),
  ipv6(LL, 'ff02::2', 44, concat(hex('1100 0001 1234 5678'), udp(5353, 5353, DNS[0]!))),
];

const ETHERNET = [
  ethernet('ff:ff:ff:ff:ff:ff', HOST, 0x0806, ARP_REQUEST),
  ethernet('ff:ff:ff:ff:ff:ff', HOST, 0x0806, ARP_REPLY, QINQ),
  ethernet('ff:ff:ff:ff:ff:ff', HOST, 0x0806, ARP_PROBE, [{ tpid: 0x8100, vid: 7 }]),
  ethernet('ff:ff:ff:ff:ff:ff', HOST, 0x0806, ARP_OTHER),
  ...IPV4.map((ip) => ethernet('01:00:5e:00:00:fb', HOST, 0x0800, ip)),
  ...IPV6.map((ip) => ethernet('33:33:00:00:00:01', HOST, 0x86dd, ip, QINQ)),
  ethernet(
    'ff:ff:ff:ff:ff:ff',
    HOST,
    0x0800,
    IPV4[0]!,
    [1, 2, 3, 4, 5].map((vid) => ({ tpid: 0x8100, vid })),
  ),
];
const SLL = [...IPV4, ...IPV6, ARP_REQUEST].map((payload) => {
  const type = payload.length === 28 ? '0806' : payload[0]! >> 4 === 4 ? '0800' : '86dd';
  return concat(hex(`0000 0001 0006 0011 2233 4455 0000 ${type}`), payload);
});
const SLL2 = [...IPV4, ...IPV6, ARP_REPLY].map((payload) => {
  const type = payload.length === 28 ? '0806' : payload[0]! >> 4 === 4 ? '0800' : '86dd';
  return concat(hex(`${type} 0000 0000 0002 0001 00 06 0011 2233 4455 0000`), payload);
});

const CAPTURES = [
  pcapFile(
    1,
    ETHERNET.slice(0, 4).map((frame, i) => ({ timestampMs: 1_700_000_000_000 + i, frame })),
  ),
  hex(`
    0a0d0d0a 1c000000 4d3c2b1a 0100 0000 ffffffff ffffffff 1c000000
    01000000 14000000 0100 0000 ffff0000 14000000
    01000000 20000000 7100 0000 00000400 0900 0100 09000000 0000 0000 20000000
    06000000 24000000 00000000 240a0600 00401e18 01000000 3c000000 42000000 24000000
    06000000 24000000 01000000 240a0600 00401e18 04000000 04000000 deadbeef 24000000
    03000000 14000000 04000000 cafebabe 14000000
    05000000 18000000 00000000 00000000 00000000 18000000`),
  hex(`
    0a0d0d0a 0000001c 1a2b3c4d 0001 0000 ffffffff ffffffff 0000001c
    00000001 00000014 0114 0000 00040000 00000014
    00000006 00000024 00000000 00060a24 181e4000 00000001 0000003c 42000000 00000024`),
];

// --- what a decoder may return ---

/** Result fields that are positions in the buffer: shifted when a window moves, bounded by it. */
const POSITIONS = ['srcOffset', 'payloadOffset', 'payloadEnd'] as const;

function expectWellFormed(result: unknown, offset: number, end: number, mayBeUndefined: boolean): void {
  if (result instanceof Malformed) {
    expect(result.layer).not.toBe('');
    expect(typeof result.reason).toBe('string');
    expect(result.reason).not.toBe('');
    return;
  }
  if (result === undefined) {
    expect(mayBeUndefined).toBe(true);
    return;
  }
  expect(typeof result).toBe('object');
  expect(result).not.toBeNull();
  const fields = result as Record<string, unknown>;
  for (const key of POSITIONS) {
    const value = fields[key];
    if (typeof value === 'number') {
      expect(value).toBeGreaterThanOrEqual(offset);
      expect(value).toBeLessThanOrEqual(end);
    }
  }
  if (typeof fields.payloadOffset === 'number' && typeof fields.payloadEnd === 'number') {
    expect(fields.payloadOffset).toBeLessThanOrEqual(fields.payloadEnd);
  }
}

/** The result with its buffer positions made relative to `offset`, and a Malformed as plain data. */
function relative(result: unknown, offset: number): unknown {
  if (result instanceof Malformed) return { layer: result.layer, reason: result.reason };
  if (result === null || typeof result !== 'object' || Array.isArray(result)) return result;
  const copy: Record<string, unknown> = { ...(result as Record<string, unknown>) };
  for (const key of POSITIONS) if (typeof copy[key] === 'number') copy[key] = (copy[key] as number) - offset;
  return copy;
}

// --- inputs ---

function truncations(samples: Uint8Array[]): fc.Arbitrary<Uint8Array> {
  return fc
    .constantFrom(...samples)
    .chain((sample) => fc.integer({ min: 0, max: sample.length }).map((n) => sample.subarray(0, n)));
}

function mutations(samples: Uint8Array[]): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(
      fc.constantFrom(...samples),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
    )
    .map(([sample, changes]) => {
      const copy = Uint8Array.from(sample);
      if (copy.length > 0) for (const [at, value] of changes) copy[at % copy.length] = value;
      return copy;
    });
}

function inputs(samples: Uint8Array[]): fc.Arbitrary<Uint8Array> {
  return fc.oneof(fc.uint8Array({ maxLength: 400 }), truncations(samples), mutations(samples));
}

/** Bytes around a window: random, or a poison pattern that decodes as something if read. */
const surround = fc.oneof(
  fc.uint8Array({ maxLength: 32 }),
  fc
    .tuple(fc.constantFrom(0x00, 0xff, 0xc0, 0x81, 0x35), fc.integer({ min: 1, max: 32 }))
    .map(([byte, length]) => new Uint8Array(length).fill(byte)),
);

// --- the properties, for each decoder ---

interface Subject {
  name: string;
  decode: (bytes: Uint8Array, offset: number, end: number) => unknown;
  samples: Uint8Array[];
  /** ARP and NDP answer `undefined` for what they do not track. */
  mayBeUndefined?: boolean;
}

const subjects: Subject[] = [
  { name: 'decodeEthernet', decode: decodeEthernet, samples: ETHERNET },
  { name: 'decodeLinuxSll', decode: decodeLinuxSll, samples: SLL },
  { name: 'decodeLinuxSll2', decode: decodeLinuxSll2, samples: SLL2 },
  {
    name: 'decodeArp',
    decode: decodeArp,
    samples: [ARP_REQUEST, ARP_REPLY, ARP_PROBE, ARP_OTHER],
    mayBeUndefined: true,
  },
  { name: 'decodeIpv4', decode: decodeIpv4, samples: IPV4 },
  { name: 'decodeIpv6', decode: decodeIpv6, samples: IPV6 },
  { name: 'decodeUdp', decode: decodeUdp, samples: [udp(5353, 5353, DNS[0]!), udp(68, 67, DHCP[0]!)] },
  { name: 'decodeNdp', decode: decodeNdp, samples: NDP, mayBeUndefined: true },
  { name: 'decodeDns', decode: decodeDns, samples: DNS },
  { name: 'decodeDhcp', decode: decodeDhcp, samples: DHCP },
  { name: 'observeFrame on Ethernet', decode: (b, o, e) => observeFrame(1, b, o, e), samples: ETHERNET },
  { name: 'observeFrame on Linux SLL', decode: (b, o, e) => observeFrame(113, b, o, e), samples: SLL },
  { name: 'observeFrame on Linux SLL2', decode: (b, o, e) => observeFrame(276, b, o, e), samples: SLL2 },
];

describe.each(subjects)('$name', ({ decode, samples, mayBeUndefined = false }) => {
  it('never throws on random, truncated or mutated input, and returns a value or a Malformed with a reason', () => {
    fc.assert(
      fc.property(inputs(samples), (bytes) => {
        expectWellFormed(decode(bytes, 0, bytes.length), 0, bytes.length, mayBeUndefined);
      }),
      RUNS,
    );
  });

  it('never throws for any offset and end within the buffer, in either order', () => {
    fc.assert(
      fc.property(
        inputs(samples).chain((bytes) =>
          fc.tuple(fc.constant(bytes), fc.nat({ max: bytes.length }), fc.nat({ max: bytes.length })),
        ),
        ([bytes, offset, end]) => {
          const result = decode(bytes, offset, end);
          if (end >= offset) expectWellFormed(result, offset, end, mayBeUndefined);
          else expect(result === undefined || typeof result === 'object').toBe(true);
        },
      ),
      RUNS,
    );
  });

  it('reads nothing outside [offset, end): a window decodes as a copy of itself', () => {
    fc.assert(
      fc.property(inputs(samples), surround, surround, (window, before, after) => {
        const buffer = concat(before, window, after);
        const inPlace = decode(buffer, before.length, before.length + window.length);
        const alone = decode(Uint8Array.from(window), 0, window.length);
        expect(relative(inPlace, before.length)).toEqual(relative(alone, 0));
      }),
      RUNS,
    );
  });

  it('decodes every prefix of its valid inputs the same inside the whole input as on its own', () => {
    for (const sample of samples) {
      for (let n = 0; n <= sample.length; n++) {
        const alone = relative(decode(sample.slice(0, n), 0, n), 0);
        // The rest of the frame after `end`, as a capture buffer holds it; then a poison pattern.
        expect(relative(decode(sample, 0, n), 0), `${n} of ${sample.length} bytes`).toEqual(alone);
        const poisoned = concat(new Uint8Array(3).fill(0xc0), sample.subarray(0, n), new Uint8Array(8).fill(0xff));
        expect(relative(decode(poisoned, 3, 3 + n), 3), `${n} of ${sample.length} bytes, poisoned`).toEqual(alone);
        expectWellFormed(decode(sample, 0, n), 0, n, mayBeUndefined);
      }
    }
  });
});

describe('observeFrame on other link types', () => {
  it('reports a malformed link layer and never throws', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -1, max: 70_000 }).filter((t) => t !== 1 && t !== 113 && t !== 276),
        inputs(ETHERNET),
        (linkType, bytes) => {
          const result = observeFrame(linkType, bytes, 0, bytes.length);
          expect(result).toEqual(new Malformed('link', `unsupported link type ${linkType}`));
        },
      ),
      RUNS,
    );
  });
});

// --- the capture reader ---

interface Reading {
  records: Array<{
    interfaceId: number;
    linkType: number;
    timestampMs: number;
    frame: number[];
    originalLength: number;
  }>;
  summary: unknown;
}

/** Feeds bytes[offset, end) in pieces ending at `cuts` (relative to offset), as one input. */
function readWindow(bytes: Uint8Array, offset: number, end: number, cuts: number[] = []): Reading {
  const records: Reading['records'] = [];
  const reader = new CaptureReader();
  let consumed = offset;
  for (const cut of [...cuts.map((c) => offset + c), end]) {
    consumed += reader.feed(bytes, consumed, Math.max(consumed, cut), (r) => {
      // Every record lies inside the window it was read from.
      expect(r.bytes).toBe(bytes);
      expect(r.offset).toBeGreaterThanOrEqual(offset);
      expect(r.length).toBeGreaterThanOrEqual(0);
      expect(r.offset + r.length).toBeLessThanOrEqual(end);
      records.push({
        interfaceId: r.interfaceId,
        linkType: r.linkType,
        timestampMs: r.timestampMs,
        frame: Array.from(bytes.subarray(r.offset, r.offset + r.length)),
        originalLength: r.originalLength,
      });
    });
  }
  const summary = reader.finish(end - consumed);
  expect(summary.records).toBe(records.length);
  if (summary.error !== undefined) expect(summary.error).not.toBe('');
  return { records, summary };
}

const captureInputs = fc.oneof(
  inputs(CAPTURES),
  // Headers followed by noise, so that the noise is read as records and blocks.
  fc.uint8Array({ maxLength: 300 }).map((noise) => concat(CAPTURES[0]!.subarray(0, 24), noise)),
  fc.uint8Array({ maxLength: 300 }).map((noise) => concat(CAPTURES[1]!.subarray(0, 80), noise)),
);

describe('CaptureReader.feed and finish', () => {
  it('never throw on random, truncated or mutated files, and keep every record inside the input', () => {
    fc.assert(
      fc.property(captureInputs, (bytes) => {
        readWindow(bytes, 0, bytes.length);
      }),
      RUNS,
    );
  });

  it('read nothing outside [offset, end): a window reads as a copy of itself', () => {
    fc.assert(
      fc.property(captureInputs, surround, surround, (window, before, after) => {
        const inPlace = readWindow(concat(before, window, after), before.length, before.length + window.length);
        expect(inPlace).toEqual(readWindow(Uint8Array.from(window), 0, window.length));
      }),
      RUNS,
    );
  });

  it('read the same records and end the same whichever pieces the input comes in', () => {
    fc.assert(
      fc.property(
        captureInputs.chain((bytes) =>
          fc.tuple(
            fc.constant(bytes),
            fc.uniqueArray(fc.nat({ max: bytes.length }), { maxLength: 6 }).map((cuts) => cuts.sort((a, b) => a - b)),
          ),
        ),
        ([bytes, cuts]) => {
          expect(readWindow(bytes, 0, bytes.length, cuts)).toEqual(readWindow(bytes, 0, bytes.length));
        },
      ),
      RUNS,
    );
  });
});
