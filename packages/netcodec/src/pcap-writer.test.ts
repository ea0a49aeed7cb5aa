import { describe, expect, it } from 'vitest';
import { type CaptureRecord, readCapture } from './capture-reader.js';
import { pcapFile, pcapFileHeader, pcapRecord, writePcapRecord } from './pcap-writer.js';
import { concat, hex } from './test-bytes.js';

const FRAME = hex('ffff ffff ffff 0011 2233 4455 0806');

describe('pcapFileHeader', () => {
  it('writes the little-endian microsecond header, version 2.4, with a 256 KiB snapshot length by default', () => {
    // magic a1b2c3d4, 2.4, thiszone 0, sigfigs 0, snaplen 262144, link type 1 (draft-ietf-opsawg-pcap 4).
    expect(pcapFileHeader({ linkType: 1 })).toEqual(hex('d4c3b2a1 0200 0400 00000000 00000000 00000400 01000000'));
  });

  it('writes the snapshot length and link type it is given', () => {
    expect(pcapFileHeader({ linkType: 276, snapLength: 65535 })).toEqual(
      hex('d4c3b2a1 0200 0400 00000000 00000000 ffff0000 14010000'),
    );
  });
});

describe('pcapRecord', () => {
  it.each([
    ['a whole millisecond', 1_700_000_000_000, '00f15365 00000000'],
    ['microseconds', 1_700_000_000_123.456, '00f15365 40e20100'],
    ['the last microsecond of a second', 1_700_000_000_999.999, '00f15365 3f420f00'],
    ['a fraction that rounds up to a whole second, carried into the next', 1999.9999, '02000000 00000000'],
  ])('writes the seconds and microseconds of %s', (_name, timestampMs, time) => {
    expect(pcapRecord(timestampMs, FRAME).subarray(0, 8)).toEqual(hex(time));
  });

  it('writes the captured and original lengths, then the frame', () => {
    expect(pcapRecord(0, FRAME)).toEqual(concat(hex('00000000 00000000 0e000000 0e000000'), FRAME));
    expect(pcapRecord(0, FRAME, 1514).subarray(8, 16)).toEqual(hex('0e000000 ea050000'));
  });
});

describe('writePcapRecord', () => {
  it('writes at the offset it is given and returns the offset after the record', () => {
    const out = new Uint8Array(3 + 16 + FRAME.length + 2).fill(0xee);
    expect(writePcapRecord(out, 3, 1_700_000_000_000, FRAME)).toBe(3 + 16 + FRAME.length);
    expect(out.subarray(3, 3 + 16 + FRAME.length)).toEqual(pcapRecord(1_700_000_000_000, FRAME));
    expect([out[0], out[1], out[2], out[out.length - 1]]).toEqual([0xee, 0xee, 0xee, 0xee]);
  });

  it('writes into a view that starts inside a larger buffer', () => {
    const backing = new Uint8Array(64).fill(0xee);
    const view = backing.subarray(5, 5 + 16 + FRAME.length);
    writePcapRecord(view, 0, 1_700_000_000_000, FRAME);
    expect(backing.subarray(5, 5 + 16 + FRAME.length)).toEqual(pcapRecord(1_700_000_000_000, FRAME));
    expect(backing[4]).toBe(0xee);
  });
});

describe('pcapFile', () => {
  it('writes a file that the capture reader reads back', () => {
    const frames = [FRAME, hex('42'), new Uint8Array(0)];
    const file = pcapFile(
      113,
      frames.map((frame, i) => ({ timestampMs: 1_700_000_000_000 + i * 1.5, frame })),
    );
    expect(file.length).toBe(24 + 3 * 16 + FRAME.length + 1);
    const got: Array<Pick<CaptureRecord, 'linkType' | 'timestampMs' | 'length'>> = [];
    const summary = readCapture(file, (r) =>
      got.push({ linkType: r.linkType, timestampMs: r.timestampMs, length: r.length }),
    );
    expect(summary).toEqual({ format: 'pcap', records: 3, badRecords: 0, error: undefined });
    expect(got).toEqual([
      { linkType: 113, timestampMs: 1_700_000_000_000, length: FRAME.length },
      { linkType: 113, timestampMs: 1_700_000_000_001.5, length: 1 },
      { linkType: 113, timestampMs: 1_700_000_000_003, length: 0 },
    ]);
  });
});
