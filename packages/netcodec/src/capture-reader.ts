/**
 * Reads capture files: classic pcap (both byte orders, micro- and nanosecond timestamps) and
 * pcapng (sections of either byte order, several interfaces with their own link types and
 * timestamp resolutions). Pure and incremental: the caller feeds bytes as it reads them and
 * gets each record through a callback, so a file of any size is read in bounded memory.
 *
 * Formats: https://www.ietf.org/archive/id/draft-ietf-opsawg-pcap-04.html (pcap) and
 * draft-ietf-opsawg-pcapng (pcapng).
 */

export type CaptureFormat = 'pcap' | 'pcapng';

/**
 * One captured frame. The reader reuses this object: `bytes` is the caller's buffer and the
 * record is valid only during the callback, like libpcap's packet buffer. Copy what you keep.
 */
export interface CaptureRecord {
  /** pcapng interface index; 0 in pcap files. */
  interfaceId: number;
  linkType: number;
  /**
   * Capture time, milliseconds since the epoch (with the sub-millisecond fraction). A record
   * from a pcapng Simple Packet Block, which has none, keeps the time of the record before it.
   */
  timestampMs: number;
  bytes: Uint8Array;
  offset: number;
  /** Captured length: how many bytes of the frame are at `offset`. */
  length: number;
  /** Length of the frame on the wire; more than `length` when the snapshot length cut it. */
  originalLength: number;
}

/** Largest record or block accepted; beyond it the file is taken as corrupt (libpcap's limits). */
export const MAX_RECORD_LENGTH = 256 * 1024; // 256 KiB, libpcap's MAXIMUM_SNAPLEN
export const MAX_BLOCK_LENGTH = 16 * 1024 * 1024; // 16 MiB, libpcap's pcapng block limit

const MAX_TIME_MS = 8.64e15;
const PCAP_HEADER_LENGTH = 24;
const PCAP_RECORD_HEADER_LENGTH = 16;
const PCAP_MAGIC_MICRO = 0xa1b2c3d4;
const PCAP_MAGIC_NANO = 0xa1b23c4d;
const PCAPNG_SHB = 0x0a0d0d0a;
const PCAPNG_BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const PCAPNG_IDB = 1;
const PCAPNG_PB = 2; // obsolete Packet Block, still found in old files
const PCAPNG_SPB = 3;
const PCAPNG_EPB = 6;
const IF_TSRESOL = 9;
const IF_TSOFFSET = 14;

interface PcapngInterface {
  linkType: number;
  snapLength: number;
  /** Timestamp units per millisecond. */
  unitsPerMs: number;
  /** if_tsoffset, in milliseconds. */
  offsetMs: number;
}

function u16(bytes: Uint8Array, at: number, little: boolean): number {
  return little ? bytes[at]! | (bytes[at + 1]! << 8) : (bytes[at]! << 8) | bytes[at + 1]!;
}

function u32(bytes: Uint8Array, at: number, little: boolean): number {
  return little
    ? (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0
    : ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;
}

export interface CaptureSummary {
  format: CaptureFormat | undefined;
  records: number;
  /** Records or blocks that were skipped because they could not be read (the rest of the file was). */
  badRecords: number;
  /** A problem that ended reading early; everything before it was delivered. */
  error: string | undefined;
}

export class CaptureReader {
  format: CaptureFormat | undefined;
  records = 0;
  badRecords = 0;
  /** Set once a problem stops reading: everything before it has been delivered. */
  error: string | undefined;

  /** Absolute position in the input of the next unconsumed byte. */
  private position = 0;
  private little = true;
  private unitsPerMs = 1000;
  private linkType = 0;
  private interfaces: PcapngInterface[] = [];
  private readonly record: CaptureRecord = {
    interfaceId: 0,
    linkType: 0,
    timestampMs: 0,
    bytes: new Uint8Array(0),
    offset: 0,
    length: 0,
    originalLength: 0,
  };

  /**
   * Reads the whole records in bytes[offset, end), which continue the input where the last call
   * stopped. Returns how many bytes were consumed; the caller passes the rest again, followed
   * by more input. Stops at the first unrecoverable problem, which is then in {@link error}.
   */
  feed(bytes: Uint8Array, offset: number, end: number, onRecord: (record: CaptureRecord) => void): number {
    if (this.error !== undefined) return 0;
    let at = offset;
    if (this.format === undefined) {
      if (end - at < 4) return 0;
      const magic = u32(bytes, at, false);
      if (magic === PCAPNG_SHB) this.format = 'pcapng';
      else if (
        magic === PCAP_MAGIC_MICRO ||
        magic === PCAP_MAGIC_NANO ||
        u32(bytes, at, true) === PCAP_MAGIC_MICRO ||
        u32(bytes, at, true) === PCAP_MAGIC_NANO
      ) {
        if (end - at < PCAP_HEADER_LENGTH) return 0;
        this.readPcapHeader(bytes, at);
        this.format = 'pcap';
        at += PCAP_HEADER_LENGTH;
      } else {
        this.error = 'not a capture file (no pcap or pcapng magic number)';
        return 0;
      }
    }
    // Where bytes[0] would sit in the input, so that error messages give positions in the input.
    const origin = this.position - offset;
    at =
      this.format === 'pcap'
        ? this.feedPcap(bytes, at, end, origin, onRecord)
        : this.feedPcapng(bytes, at, end, origin, onRecord);
    this.position += at - offset;
    return at - offset;
  }

  /**
   * Ends the input; `leftover` is how many bytes the last {@link feed} left unconsumed.
   * Returns the summary, whose `error` says what was wrong with the end of the file, if anything.
   */
  finish(leftover: number): CaptureSummary {
    if (this.error === undefined) {
      if (this.format === undefined) {
        this.error =
          leftover === 0
            ? 'empty file: not a capture'
            : `truncated file: ${leftover} bytes, too short for a capture file header`;
      } else if (leftover > 0) {
        this.error = `truncated file: the last record at byte ${this.position} is incomplete (${leftover} bytes)`;
      }
    }
    return { format: this.format, records: this.records, badRecords: this.badRecords, error: this.error };
  }

  private readPcapHeader(bytes: Uint8Array, at: number): void {
    const big = u32(bytes, at, false);
    this.little = !(big === PCAP_MAGIC_MICRO || big === PCAP_MAGIC_NANO);
    const magic = u32(bytes, at, this.little);
    this.unitsPerMs = magic === PCAP_MAGIC_NANO ? 1_000_000 : 1000;
    // The link type is the low 16 bits; the upper 16 carry FCS information (draft-ietf-opsawg-pcap 4).
    this.linkType = u32(bytes, at + 20, this.little) & 0xffff;
  }

  private feedPcap(
    bytes: Uint8Array,
    at: number,
    end: number,
    origin: number,
    onRecord: (record: CaptureRecord) => void,
  ): number {
    const little = this.little;
    const record = this.record;
    record.bytes = bytes;
    record.linkType = this.linkType;
    record.interfaceId = 0;
    const unitsPerMs = this.unitsPerMs;
    while (end - at >= PCAP_RECORD_HEADER_LENGTH) {
      const length = u32(bytes, at + 8, little);
      if (length > MAX_RECORD_LENGTH) {
        this.error = `corrupt record at byte ${origin + at}: captured length ${length} exceeds ${MAX_RECORD_LENGTH}`;
        break;
      }
      if (end - at < PCAP_RECORD_HEADER_LENGTH + length) break;
      record.timestampMs = u32(bytes, at, little) * 1000 + u32(bytes, at + 4, little) / unitsPerMs;
      record.offset = at + PCAP_RECORD_HEADER_LENGTH;
      record.length = length;
      record.originalLength = u32(bytes, at + 12, little);
      this.records++;
      onRecord(record);
      at += PCAP_RECORD_HEADER_LENGTH + length;
    }
    return at;
  }

  private feedPcapng(
    bytes: Uint8Array,
    at: number,
    end: number,
    origin: number,
    onRecord: (record: CaptureRecord) => void,
  ): number {
    while (end - at >= 12) {
      const where = origin + at;
      let type = u32(bytes, at, this.little);
      if (type === PCAPNG_SHB) {
        // Each section states its own byte order (pcapng 4.1).
        const order = u32(bytes, at + 8, false);
        if (order === PCAPNG_BYTE_ORDER_MAGIC) this.little = false;
        else if (u32(bytes, at + 8, true) === PCAPNG_BYTE_ORDER_MAGIC) this.little = true;
        else {
          this.error = `corrupt section header at byte ${where}: bad byte-order magic`;
          break;
        }
        type = PCAPNG_SHB;
      }
      const length = u32(bytes, at + 4, this.little);
      if (length < 12 || length % 4 !== 0 || length > MAX_BLOCK_LENGTH) {
        this.error = `corrupt block at byte ${where}: length ${length}`;
        break;
      }
      if (end - at < length) break;
      if (u32(bytes, at + length - 4, this.little) !== length) {
        this.error = `corrupt block at byte ${where}: trailing length differs from ${length}`;
        break;
      }
      this.readBlock(type, bytes, at, length, onRecord);
      at += length;
    }
    return at;
  }

  private readBlock(
    type: number,
    bytes: Uint8Array,
    at: number,
    length: number,
    onRecord: (record: CaptureRecord) => void,
  ): void {
    const little = this.little;
    switch (type) {
      case PCAPNG_SHB:
        this.interfaces = [];
        return;
      case PCAPNG_IDB: {
        if (length < 20) {
          this.badRecords++;
          this.interfaces.push({ linkType: -1, snapLength: 0, unitsPerMs: 1000, offsetMs: 0 });
          return;
        }
        const iface: PcapngInterface = {
          linkType: u16(bytes, at + 8, little),
          snapLength: u32(bytes, at + 12, little),
          unitsPerMs: 1000,
          offsetMs: 0,
        };
        this.readInterfaceOptions(iface, bytes, at + 16, at + length - 4);
        this.interfaces.push(iface);
        return;
      }
      case PCAPNG_EPB:
      case PCAPNG_PB: {
        if (length < 32) {
          this.badRecords++;
          return;
        }
        const interfaceId = type === PCAPNG_EPB ? u32(bytes, at + 8, little) : u16(bytes, at + 8, little);
        const captured = u32(bytes, at + 20, little);
        const iface = this.interfaces[interfaceId];
        if (iface === undefined || iface.linkType < 0 || captured > length - 32) {
          this.badRecords++;
          return;
        }
        const units = u32(bytes, at + 12, little) * 0x1_0000_0000 + u32(bytes, at + 16, little);
        this.deliver(onRecord, bytes, interfaceId, iface, units, at + 28, captured, u32(bytes, at + 24, little));
        return;
      }
      case PCAPNG_SPB: {
        const iface = this.interfaces[0];
        if (length < 16 || iface === undefined || iface.linkType < 0) {
          this.badRecords++;
          return;
        }
        const original = u32(bytes, at + 8, little);
        let captured = Math.min(original, length - 16);
        if (iface.snapLength > 0) captured = Math.min(captured, iface.snapLength);
        // A Simple Packet Block has no timestamp (pcapng 4.4): it keeps the time of the record
        // before it, which is as close as the file can say (0 when it is the first).
        this.deliver(onRecord, bytes, 0, iface, Number.NaN, at + 12, captured, original);
        return;
      }
      default:
        return; // name resolution, statistics, custom blocks: nothing ipwarden needs
    }
  }

  private deliver(
    onRecord: (record: CaptureRecord) => void,
    bytes: Uint8Array,
    interfaceId: number,
    iface: PcapngInterface,
    units: number,
    offset: number,
    length: number,
    originalLength: number,
  ): void {
    const record = this.record;
    record.bytes = bytes;
    record.interfaceId = interfaceId;
    record.linkType = iface.linkType;
    if (!Number.isNaN(units)) {
      const timestampMs = units / iface.unitsPerMs + iface.offsetMs;
      // Beyond ±100 million days no clock reads (ECMAScript's Date range): a corrupt timestamp.
      if (!(Math.abs(timestampMs) <= MAX_TIME_MS)) {
        this.badRecords++;
        return;
      }
      record.timestampMs = timestampMs;
    }
    record.offset = offset;
    record.length = length;
    record.originalLength = originalLength;
    this.records++;
    onRecord(record);
  }

  private readInterfaceOptions(iface: PcapngInterface, bytes: Uint8Array, at: number, end: number): void {
    const little = this.little;
    while (end - at >= 4) {
      const code = u16(bytes, at, little);
      const length = u16(bytes, at + 2, little);
      if (code === 0 || at + 4 + length > end) return; // opt_endofopt, or a bad option: stop reading options
      if (code === IF_TSRESOL && length >= 1) {
        const resolution = bytes[at + 4]!;
        // Most significant bit set: a negative power of two; else of ten (pcapng 4.2).
        const perSecond = resolution & 0x80 ? 2 ** (resolution & 0x7f) : 10 ** resolution;
        iface.unitsPerMs = perSecond / 1000;
      } else if (code === IF_TSOFFSET && length >= 8) {
        const high = u32(bytes, at + 4 + (little ? 4 : 0), little) | 0; // signed seconds
        const low = u32(bytes, at + 4 + (little ? 0 : 4), little);
        iface.offsetMs = (high * 0x1_0000_0000 + low) * 1000;
      }
      at += 4 + ((length + 3) & ~3);
    }
  }
}

/** Reads a whole capture held in memory; for tests and small files. */
export function readCapture(bytes: Uint8Array, onRecord: (record: CaptureRecord) => void): CaptureSummary {
  const reader = new CaptureReader();
  const consumed = reader.feed(bytes, 0, bytes.length, onRecord);
  return reader.finish(bytes.length - consumed);
}
