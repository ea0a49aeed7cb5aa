import { describe, expect, it } from 'vitest';
import {
  CaptureReader,
  type CaptureRecord,
  type CaptureSummary,
  MAX_BLOCK_LENGTH,
  MAX_RECORD_LENGTH,
  readCapture,
} from './capture-reader.js';
import { pcapFile, pcapRecord } from './pcap-writer.js';
import { ascii, concat, hex } from './test-bytes.js';

// Three small frames: an ARP request (42 bytes), the same padded to 60, and a 1-byte runt.
const ARP = hex(
  'ffff ffff ffff 0011 2233 4455 0806 0001 0800 0604 0001 0011 2233 4455 c000 0201 0000 0000 0000 c000 02fe',
);
const ARP_PADDED = concat(ARP, new Uint8Array(18));
const RUNT = hex('42');
const T0 = 1_700_000_000_000; // 2023-11-14T22:13:20Z, in ms

interface Seen {
  interfaceId: number;
  linkType: number;
  timestampMs: number;
  frame: string;
  originalLength: number;
}

function seen(record: CaptureRecord): Seen {
  const frame = record.bytes.subarray(record.offset, record.offset + record.length);
  return {
    interfaceId: record.interfaceId,
    linkType: record.linkType,
    timestampMs: record.timestampMs,
    frame: Array.from(frame, (b) => b.toString(16).padStart(2, '0')).join(''),
    originalLength: record.originalLength,
  };
}

function frameHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function read(file: Uint8Array): { records: Seen[]; summary: CaptureSummary } {
  const records: Seen[] = [];
  const summary = readCapture(file, (r) => records.push(seen(r)));
  return { records, summary };
}

/** Feeds `file` in pieces ending at `cuts`, as a caller that keeps its unconsumed bytes would. */
function readCarryingLeftovers(file: Uint8Array, cuts: number[]): { records: Seen[]; summary: CaptureSummary } {
  const records: Seen[] = [];
  const reader = new CaptureReader();
  let pending = new Uint8Array(0);
  let start = 0;
  for (const cut of [...cuts, file.length]) {
    const buffer = concat(pending, file.subarray(start, cut));
    start = cut;
    const consumed = reader.feed(buffer, 0, buffer.length, (r) => records.push(seen(r)));
    pending = buffer.slice(consumed);
  }
  return { records, summary: reader.finish(pending.length) };
}

/** Feeds windows of one buffer holding the whole file: offset = what was consumed, end = the cut. */
function readWindows(file: Uint8Array, cuts: number[]): { records: Seen[]; summary: CaptureSummary } {
  const records: Seen[] = [];
  const reader = new CaptureReader();
  let consumed = 0;
  for (const cut of [...cuts, file.length]) {
    consumed += reader.feed(file, consumed, Math.max(cut, consumed), (r) => records.push(seen(r)));
  }
  return { records, summary: reader.finish(file.length - consumed) };
}

// --- pcapng blocks, written field by field (draft-ietf-opsawg-pcapng) ---

class Pcapng {
  constructor(readonly little: boolean) {}

  u16(value: number): Uint8Array {
    return this.little ? Uint8Array.of(value & 0xff, value >>> 8) : Uint8Array.of(value >>> 8, value & 0xff);
  }

  u32(value: number): Uint8Array {
    const be = Uint8Array.of(value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff);
    return this.little ? be.reverse() : be;
  }

  /** A block: type, total length, body padded to 32 bits, total length again. */
  block(type: number, ...body: Uint8Array[]): Uint8Array {
    const content = padded(concat(...body));
    return concat(this.u32(type), this.u32(12 + content.length), content, this.u32(12 + content.length));
  }

  /** Section Header Block (4.1), version 1.0, section length unknown (-1). */
  shb(): Uint8Array {
    return this.block(0x0a0d0d0a, this.u32(0x1a2b3c4d), this.u16(1), this.u16(0), hex('ffff ffff ffff ffff'));
  }

  option(code: number, value: Uint8Array): Uint8Array {
    return concat(this.u16(code), this.u16(value.length), padded(value));
  }

  /** Interface Description Block (4.2); options end with opt_endofopt when there are any. */
  idb(linkType: number, snapLength: number, ...options: Uint8Array[]): Uint8Array {
    const opts = options.length === 0 ? [] : [...options, hex('0000 0000')];
    return this.block(1, this.u16(linkType), hex('0000'), this.u32(snapLength), ...opts);
  }

  /** Enhanced Packet Block (4.3). */
  epb(interfaceId: number, units: bigint, data: Uint8Array, originalLength = data.length, ...options: Uint8Array[]) {
    return this.block(
      6,
      this.u32(interfaceId),
      this.u32(Number(units >> 32n)),
      this.u32(Number(units & 0xffff_ffffn)),
      this.u32(data.length),
      this.u32(originalLength),
      padded(data),
      ...options,
    );
  }

  /** Simple Packet Block (4.4): no interface id, no timestamp. */
  spb(originalLength: number, data: Uint8Array): Uint8Array {
    return this.block(3, this.u32(originalLength), data);
  }

  /** Obsolete Packet Block (appendix): 16-bit interface id and drops count. */
  pb(interfaceId: number, units: bigint, data: Uint8Array): Uint8Array {
    return this.block(
      2,
      this.u16(interfaceId),
      this.u16(0),
      this.u32(Number(units >> 32n)),
      this.u32(Number(units & 0xffff_ffffn)),
      this.u32(data.length),
      this.u32(data.length),
      data,
    );
  }
}

function padded(bytes: Uint8Array): Uint8Array {
  return bytes.length % 4 === 0 ? bytes : concat(bytes, new Uint8Array(4 - (bytes.length % 4)));
}

const le = new Pcapng(true);
const be = new Pcapng(false);
const MICROS = BigInt(T0) * 1000n;

/** SHB, an Ethernet interface (µs), a Linux SLL interface (ns, if_tsresol 9), packets on each. */
const PCAPNG_TWO_INTERFACES = concat(
  le.shb(),
  le.idb(1, 65535),
  le.idb(113, 262144, le.option(9, Uint8Array.of(9))),
  le.epb(0, MICROS + 123_456n, ARP),
  le.epb(1, (MICROS + 250_000n) * 1000n + 789n, ARP_PADDED, 1514),
  le.epb(0, MICROS + 500_000n, RUNT),
);

const PCAP_THREE = pcapFile(1, [
  { timestampMs: T0 + 123.456, frame: ARP },
  { timestampMs: T0 + 250, frame: ARP_PADDED },
  { timestampMs: T0 + 500.001, frame: RUNT },
]);

describe('CaptureReader on pcap', () => {
  it('reads a little-endian microsecond file written by pcapFile', () => {
    const { records, summary } = read(PCAP_THREE);
    expect(summary).toEqual({ format: 'pcap', records: 3, badRecords: 0, error: undefined });
    expect(records.map((r) => r.frame)).toEqual([frameHex(ARP), frameHex(ARP_PADDED), '42']);
    expect(records.map((r) => [r.interfaceId, r.linkType, r.originalLength])).toEqual([
      [0, 1, 42],
      [0, 1, 60],
      [0, 1, 1],
    ]);
    expect(records[0]!.timestampMs).toBeCloseTo(T0 + 123.456, 3);
    expect(records[1]!.timestampMs).toBe(T0 + 250);
    expect(records[2]!.timestampMs).toBeCloseTo(T0 + 500.001, 3);
  });

  it.each([
    [
      'big-endian, microseconds',
      'a1b2c3d4 0002 0004 0000 0000 0000 0000 0004 0000 0000 0001',
      '6553 f100 0001 e23a 0000 002a 0000 05ea',
    ],
    [
      'little-endian, nanoseconds',
      '4d3c b2a1 0200 0400 0000 0000 0000 0000 0000 0400 0100 0000',
      '00f1 5365 90b2 5b07 2a00 0000 ea05 0000',
    ],
    [
      'big-endian, nanoseconds',
      'a1b2 3c4d 0002 0004 0000 0000 0000 0000 0004 0000 0000 0001',
      '6553 f100 075b b290 0000 002a 0000 05ea',
    ],
  ])('reads a %s file, timestamps in ms', (_name, header, recordHeader) => {
    const { records, summary } = read(concat(hex(header), hex(recordHeader), ARP));
    expect(summary).toEqual({ format: 'pcap', records: 1, badRecords: 0, error: undefined });
    // 123 450 µs = 123 450 000 ns: either way 123.45 ms past T0; the frame was cut from 1514 bytes.
    expect(records).toEqual([
      {
        interfaceId: 0,
        linkType: 1,
        timestampMs: expect.closeTo(T0 + 123.45, 6),
        frame: frameHex(ARP),
        originalLength: 1514,
      },
    ]);
  });

  it('takes the link type from the low 16 bits, not the FCS bits above them (draft-ietf-opsawg-pcap 4)', () => {
    // 0x44000001: FCS length 4, its P bit, link type 1 (as libpcap's LT_FCS_DATALINK_EXT writes it).
    const header = hex('d4c3 b2a1 0200 0400 0000 0000 0000 0000 0000 0400 0100 0044');
    const { records } = read(concat(header, pcapRecord(T0, ARP)));
    expect(records.map((r) => r.linkType)).toEqual([1]);
  });

  it('reads a file holding only a header: no records, no error', () => {
    expect(read(pcapFile(113, [])).summary).toEqual({ format: 'pcap', records: 0, badRecords: 0, error: undefined });
  });

  it('delivers the records before a truncated last record and says where it was cut', () => {
    // Records start at 24, 24 + 16 + 42 = 82 and 82 + 16 + 60 = 158; the last one is 17 bytes.
    const { records, summary } = read(PCAP_THREE.subarray(0, 170));
    expect(records.map((r) => r.frame)).toEqual([frameHex(ARP), frameHex(ARP_PADDED)]);
    expect(summary).toEqual({
      format: 'pcap',
      records: 2,
      badRecords: 0,
      error: 'truncated file: the last record at byte 158 is incomplete (12 bytes)',
    });
  });

  it('stops at a record longer than MAX_RECORD_LENGTH, after delivering the ones before it', () => {
    const huge = pcapRecord(T0, ARP);
    huge.set([0x01, 0x00, 0x04, 0x00], 8); // captured length 262145, little-endian
    expect(MAX_RECORD_LENGTH).toBe(262144);
    const { records, summary } = read(concat(pcapFile(1, [{ timestampMs: T0, frame: ARP }]), huge));
    expect(records).toHaveLength(1);
    expect(summary.error).toBe('corrupt record at byte 82: captured length 262145 exceeds 262144');
  });
});

describe('CaptureReader on pcapng', () => {
  it('reads packets on two interfaces of different link types and timestamp resolutions', () => {
    const { records, summary } = read(PCAPNG_TWO_INTERFACES);
    expect(summary).toEqual({ format: 'pcapng', records: 3, badRecords: 0, error: undefined });
    expect(records).toEqual([
      {
        interfaceId: 0,
        linkType: 1,
        timestampMs: expect.closeTo(T0 + 123.456, 3),
        frame: frameHex(ARP),
        originalLength: 42,
      },
      {
        interfaceId: 1,
        linkType: 113,
        timestampMs: expect.closeTo(T0 + 250.000789, 3),
        frame: frameHex(ARP_PADDED),
        originalLength: 1514,
      },
      { interfaceId: 0, linkType: 1, timestampMs: T0 + 500, frame: '42', originalLength: 1 },
    ]);
  });

  it('reads the same file written by hand, byte by byte', () => {
    const file = hex(`
      0a0d0d0a 1c000000 4d3c2b1a 0100 0000 ffffffff ffffffff 1c000000
      01000000 14000000 0100 0000 ffff0000 14000000
      06000000 24000000 00000000 240a0600 00401e18 01000000 3c000000 42000000 24000000`);
    expect(read(file).records).toEqual([
      { interfaceId: 0, linkType: 1, timestampMs: 1_700_000_000_000, frame: '42', originalLength: 60 },
    ]);
  });

  it.each<[string, Uint8Array, number]>([
    ['if_tsresol 6 (microseconds, the default stated)', Uint8Array.of(6), 1_000_000],
    ['if_tsresol 3 (milliseconds)', Uint8Array.of(3), 1000],
    ['if_tsresol 9 (nanoseconds)', Uint8Array.of(9), 1_000_000_000],
    ['if_tsresol 0x8a (2^-10 s: the power-of-two form)', Uint8Array.of(0x8a), 1024],
    ['if_tsresol 0x80 (2^0: whole seconds)', Uint8Array.of(0x80), 1],
  ])('honours %s', (_name, value, unitsPerSecond) => {
    // 1 700 000 000.5 s in these units (or .0 s when the unit is the second).
    const half = BigInt(Math.floor(unitsPerSecond / 2));
    const units = 1_700_000_000n * BigInt(unitsPerSecond) + half;
    const file = concat(le.shb(), le.idb(1, 0, le.option(9, value)), le.epb(0, units, ARP));
    expect(read(file).records[0]!.timestampMs).toBeCloseTo(T0 + (half > 0n ? 500 : 0), 3);
  });

  it('adds if_tsoffset (seconds, signed) to the timestamps', () => {
    const offset = (seconds: bigint) => {
      const bytes = new Uint8Array(8);
      new DataView(bytes.buffer).setBigInt64(0, seconds, true);
      return bytes;
    };
    const file = concat(
      le.shb(),
      le.idb(1, 0, le.option(14, offset(1_700_000_000n))),
      le.idb(1, 0, le.option(14, offset(-10n))),
      le.epb(0, 1_500_000n, RUNT),
      le.epb(1, MICROS, RUNT),
    );
    expect(read(file).records.map((r) => r.timestampMs)).toEqual([T0 + 1500, T0 - 10_000]);
  });

  it('reads options it does not know before if_tsresol, minding their padding', () => {
    const file = concat(
      le.shb(),
      le.idb(1, 0, le.option(1, ascii('eth0 uplink')), le.option(2, ascii('eth0')), le.option(9, Uint8Array.of(3))),
      le.epb(0, BigInt(T0), ARP),
    );
    expect(read(file).records[0]!.timestampMs).toBe(T0);
  });

  it('stops reading options at one that runs past the block, keeping the default resolution', () => {
    const broken = concat(le.u16(9), le.u16(200), hex('0300 0000'));
    const file = concat(le.shb(), le.block(1, le.u16(1), hex('0000'), le.u32(0), broken), le.epb(0, MICROS, ARP));
    expect(read(file).records[0]!.timestampMs).toBe(T0);
  });

  it('reads a big-endian section', () => {
    const file = concat(be.shb(), be.idb(276, 262144), be.epb(0, MICROS + 1000n, ARP, 1514));
    expect(read(file)).toEqual({
      records: [{ interfaceId: 0, linkType: 276, timestampMs: T0 + 1, frame: frameHex(ARP), originalLength: 1514 }],
      summary: { format: 'pcapng', records: 1, badRecords: 0, error: undefined },
    });
  });

  it('starts afresh at each section: its own byte order and interfaces', () => {
    const file = concat(
      le.shb(),
      le.idb(1, 0),
      le.idb(113, 0),
      le.epb(1, MICROS, RUNT),
      be.shb(),
      be.idb(276, 0),
      be.epb(0, MICROS, ARP),
      be.epb(1, MICROS, ARP), // interface 1 of the first section is gone
    );
    const { records, summary } = read(file);
    expect(records.map((r) => [r.interfaceId, r.linkType])).toEqual([
      [1, 113],
      [0, 276],
    ]);
    expect(summary).toMatchObject({ records: 2, badRecords: 1, error: undefined });
  });

  it('skips and counts a packet whose timestamp no clock can read', () => {
    const seconds = le.option(9, Uint8Array.of(0)); // if_tsresol 10^0: whole seconds
    const file = concat(
      le.shb(),
      le.idb(1, 0, seconds),
      le.epb(0, 0xffffffff_00000000n, ARP),
      le.epb(0, 1_700_000_000n, ARP),
    );
    const { records, summary } = read(file);
    expect(records.map((r) => r.timestampMs)).toEqual([1_700_000_000_000]);
    expect(summary).toMatchObject({ records: 1, badRecords: 1, error: undefined });
  });

  it('reads Simple Packet Blocks on interface 0, which have no timestamp (4.4), at the time of the record before', () => {
    const file = concat(le.shb(), le.idb(1, 42), le.spb(42, ARP), le.spb(1514, ARP_PADDED));
    const { records } = read(file);
    expect(records.map((r) => [r.interfaceId, r.frame, r.originalLength])).toEqual([
      [0, frameHex(ARP), 42],
      [0, frameHex(ARP), 1514], // cut to the interface's snapshot length
    ]);
    expect(records.map((r) => r.timestampMs)).toEqual([0, 0]);
    const afterEpb = read(concat(le.shb(), le.idb(1, 0), le.epb(0, MICROS + 123_456n, ARP), le.spb(42, ARP)));
    expect(afterEpb.records[1]!.timestampMs).toBe(afterEpb.records[0]!.timestampMs);
  });

  it('reads a Simple Packet Block without a snapshot length up to the block end', () => {
    const { records } = read(concat(le.shb(), le.idb(1, 0), le.spb(1, RUNT)));
    expect(records.map((r) => [r.frame, r.originalLength])).toEqual([['42', 1]]);
  });

  it('reads the obsolete Packet Block', () => {
    const { records } = read(concat(le.shb(), le.idb(1, 0), le.pb(0, MICROS + 7000n, ARP)));
    expect(records).toEqual([
      { interfaceId: 0, linkType: 1, timestampMs: T0 + 7, frame: frameHex(ARP), originalLength: 42 },
    ]);
  });

  it('finds the packet data of an EPB that carries options after it', () => {
    const comment = le.option(1, ascii('hello'));
    const file = concat(le.shb(), le.idb(1, 0), le.epb(0, MICROS, RUNT, 1, comment, hex('0000 0000')));
    expect(read(file).records.map((r) => r.frame)).toEqual(['42']);
  });

  it('skips blocks it has no use for: name resolution, statistics, custom', () => {
    const file = concat(
      le.shb(),
      le.idb(1, 0),
      le.block(4, hex('0000 0000')),
      le.block(5, le.u32(0), le.u32(0), le.u32(0)),
      le.block(0x00000bad, le.u32(32473), ascii('x')),
      le.epb(0, MICROS, RUNT),
    );
    expect(read(file).summary).toEqual({ format: 'pcapng', records: 1, badRecords: 0, error: undefined });
  });

  it.each<[string, Uint8Array, number]>([
    ['a packet on an interface not described', concat(le.shb(), le.idb(1, 0), le.epb(3, MICROS, RUNT)), 1],
    ['a packet before any interface', concat(le.shb(), le.epb(0, MICROS, RUNT)), 1],
    ['a simple packet before any interface', concat(le.shb(), le.spb(1, RUNT)), 1],
    [
      'a packet claiming more captured bytes than its block holds',
      concat(le.shb(), le.idb(1, 0), le.block(6, le.u32(0), le.u32(0), le.u32(0), le.u32(100), le.u32(100), RUNT)),
      1,
    ],
    ['an EPB too short for its fields', concat(le.shb(), le.idb(1, 0), le.block(6, le.u32(0), le.u32(0))), 1],
    [
      'an interface description too short to read, and a packet on it',
      concat(le.shb(), le.block(1), le.epb(0, MICROS, RUNT)),
      2,
    ],
  ])('counts %s as bad and reads on', (_name, blocks, bad) => {
    const { records, summary } = read(concat(blocks, le.shb(), le.idb(1, 0), le.epb(0, MICROS, RUNT)));
    expect(records.map((r) => r.frame)).toEqual(['42']);
    expect(summary).toEqual({ format: 'pcapng', records: 1, badRecords: bad, error: undefined });
  });

  it('delivers the records before a truncated last block and says where it was cut', () => {
    const file = PCAPNG_TWO_INTERFACES;
    const lastStart = file.length - le.epb(0, 0n, RUNT).length;
    const { records, summary } = read(file.subarray(0, file.length - 3));
    expect(records).toHaveLength(2);
    expect(summary.error).toBe(
      `truncated file: the last record at byte ${lastStart} is incomplete (${file.length - 3 - lastStart} bytes)`,
    );
  });

  it.each<[string, Uint8Array, string]>([
    [
      'a bad byte-order magic',
      concat(hex('0a0d0d0a 1c000000 1a2b3c4e'), new Uint8Array(16)),
      'corrupt section header at byte 0: bad byte-order magic',
    ],
    [
      'a block length under 12',
      concat(le.shb(), le.u32(1), le.u32(8), le.u32(8)),
      'corrupt block at byte 28: length 8',
    ],
    [
      'a block length not a multiple of 4',
      concat(le.shb(), le.u32(1), le.u32(22), new Uint8Array(14)),
      'corrupt block at byte 28: length 22',
    ],
    [
      'a block longer than MAX_BLOCK_LENGTH',
      concat(le.shb(), le.u32(6), le.u32(MAX_BLOCK_LENGTH + 4), new Uint8Array(8)),
      `corrupt block at byte 28: length ${MAX_BLOCK_LENGTH + 4}`,
    ],
    [
      'a trailing length that differs from the leading one',
      concat(le.shb(), le.u32(1), le.u32(20), le.u16(1), le.u16(0), le.u32(0), le.u32(24)),
      'corrupt block at byte 28: trailing length differs from 20',
    ],
  ])('stops at %s', (_name, file, error) => {
    expect(read(file).summary.error).toBe(error);
  });
});

describe('CaptureReader on anything else', () => {
  it.each<[string, Uint8Array, string]>([
    ['an empty file', new Uint8Array(0), 'empty file: not a capture'],
    [
      'a file too short for any magic number',
      hex('d4c3b2'),
      'truncated file: 3 bytes, too short for a capture file header',
    ],
    [
      'a pcap header cut at 20 bytes',
      pcapFile(1, []).subarray(0, 20),
      'truncated file: 20 bytes, too short for a capture file header',
    ],
    ['a GIF', ascii('GIF89a\x01\x00\x01\x00'), 'not a capture file (no pcap or pcapng magic number)'],
    [
      'a pcapng section header cut at 8 bytes',
      le.shb().subarray(0, 8),
      'truncated file: the last record at byte 0 is incomplete (8 bytes)',
    ],
  ])('reports %s', (_name, file, error) => {
    const { records, summary } = read(file);
    expect(records).toEqual([]);
    expect(summary.error).toBe(error);
  });

  it('reads nothing more once it has stopped at an error', () => {
    const reader = new CaptureReader();
    const garbage = ascii('not a capture file');
    expect(reader.feed(garbage, 0, garbage.length, () => {})).toBe(0);
    let delivered = 0;
    expect(reader.feed(PCAP_THREE, 0, PCAP_THREE.length, () => delivered++)).toBe(0);
    expect(delivered).toBe(0);
    expect(reader.finish(garbage.length).error).toBe('not a capture file (no pcap or pcapng magic number)');
  });
});

describe('CaptureReader fed in pieces', () => {
  const files: Array<[string, Uint8Array]> = [
    ['pcap', PCAP_THREE],
    ['pcapng', PCAPNG_TWO_INTERFACES],
    ['big-endian pcapng with an SPB', concat(be.shb(), be.idb(276, 0), be.epb(0, MICROS, ARP), be.spb(1, RUNT))],
  ];

  it.each(files)('reads the same records from a %s file split at every byte', (_name, file) => {
    const whole = read(file);
    for (let cut = 0; cut <= file.length; cut++) {
      expect(readCarryingLeftovers(file, [cut]), `split at ${cut}`).toEqual(whole);
      expect(readWindows(file, [cut]), `window split at ${cut}`).toEqual(whole);
    }
  });

  it.each(files)('reads the same records from a %s file fed one byte at a time', (_name, file) => {
    const cuts = Array.from({ length: file.length }, (_, i) => i);
    expect(readCarryingLeftovers(file, cuts)).toEqual(read(file));
    expect(readWindows(file, cuts)).toEqual(read(file));
  });

  it.each(files)(
    'delivers from every prefix of a %s file a prefix of its records, and an error unless it ends between records',
    (_name, file) => {
      const whole = read(file);
      const boundaries = new Set<number>();
      for (let n = 0; n <= file.length; n++) {
        const { records, summary } = read(file.subarray(0, n));
        expect(records, `${n} bytes`).toEqual(whole.records.slice(0, records.length));
        if (summary.error === undefined) boundaries.add(n);
      }
      expect(boundaries.has(file.length)).toBe(true);
      expect(boundaries.size).toBeGreaterThanOrEqual(whole.records.length);
    },
  );

  it('hands out records that point into the buffer it was fed', () => {
    const buffer = concat(new Uint8Array(7), PCAP_THREE);
    const reader = new CaptureReader();
    const offsets: number[] = [];
    reader.feed(buffer, 7, buffer.length, (r) => {
      expect(r.bytes).toBe(buffer);
      offsets.push(r.offset);
    });
    expect(offsets).toEqual([7 + 24 + 16, 7 + 24 + 16 + 42 + 16, 7 + 24 + 16 + 42 + 16 + 60 + 16]);
  });

  it('counts error positions from the start of the input, whatever offset it is fed at', () => {
    const huge = pcapRecord(T0, ARP);
    huge.set([0x01, 0x00, 0x04, 0x00], 8);
    const pcap = concat(PCAP_THREE, huge);
    const pcapng = concat(PCAPNG_TWO_INTERFACES, le.u32(1), le.u32(22), new Uint8Array(14));
    for (const file of [pcap, pcapng]) {
      const want = read(file).summary.error;
      expect(want).toMatch(/at byte \d+/);
      const buffer = concat(new Uint8Array(100), file);
      const reader = new CaptureReader();
      const consumed = reader.feed(buffer, 100, buffer.length, () => {});
      expect(reader.finish(file.length - consumed).error).toBe(want);
      // And fed in two windows of one buffer.
      expect(readWindows(file, [file.length >> 1]).summary.error).toBe(want);
    }
  });
});
