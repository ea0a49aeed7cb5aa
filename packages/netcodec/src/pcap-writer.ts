/**
 * Writes classic pcap (microsecond timestamps, little-endian), the format every tool reads.
 * Pure: it returns bytes, and the caller decides where they go.
 */

const PCAP_MAGIC_MICRO = 0xa1b2c3d4;

export interface PcapHeaderOptions {
  linkType: number;
  /** Snapshot length recorded in the header, in bytes. */
  snapLength?: number;
}

/** The 24-byte file header. */
export function pcapFileHeader({ linkType, snapLength = 262144 }: PcapHeaderOptions): Uint8Array {
  const header = new Uint8Array(24);
  const view = new DataView(header.buffer);
  view.setUint32(0, PCAP_MAGIC_MICRO, true);
  view.setUint16(4, 2, true); // version 2.4
  view.setUint16(6, 4, true);
  view.setInt32(8, 0, true); // thiszone
  view.setUint32(12, 0, true); // sigfigs
  view.setUint32(16, snapLength, true);
  view.setUint32(20, linkType, true);
  return header;
}

/** Writes one record (16-byte header + frame) into `out` at `offset`; returns the offset after it. */
export function writePcapRecord(
  out: Uint8Array,
  offset: number,
  timestampMs: number,
  frame: Uint8Array,
  originalLength: number = frame.length,
): number {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  // Whole microseconds first, so that rounding up to the next second carries into the seconds.
  const totalMicros = Math.round(timestampMs * 1000);
  const seconds = Math.floor(totalMicros / 1_000_000);
  view.setUint32(offset, seconds, true);
  view.setUint32(offset + 4, totalMicros - seconds * 1_000_000, true);
  view.setUint32(offset + 8, frame.length, true);
  view.setUint32(offset + 12, originalLength, true);
  out.set(frame, offset + 16);
  return offset + 16 + frame.length;
}

/** One record as its own byte array. */
export function pcapRecord(timestampMs: number, frame: Uint8Array, originalLength: number = frame.length): Uint8Array {
  const out = new Uint8Array(16 + frame.length);
  writePcapRecord(out, 0, timestampMs, frame, originalLength);
  return out;
}

/** A whole capture file in memory: header and records. */
export function pcapFile(linkType: number, records: Array<{ timestampMs: number; frame: Uint8Array }>): Uint8Array {
  const size = 24 + records.reduce((n, r) => n + 16 + r.frame.length, 0);
  const out = new Uint8Array(size);
  out.set(pcapFileHeader({ linkType }), 0);
  let at = 24;
  for (const record of records) at = writePcapRecord(out, at, record.timestampMs, record.frame);
  return out;
}
