/**
 * `ipwarden-agent read FILE`: the sightings a capture file holds, as NDJSON or a table.
 * The same decoders and binding table as the live agent, so a capture taken anywhere shows
 * what an agent would have reported.
 */
import type { CaptureRecord, CaptureSummary, Observation } from '@ipwarden/netcodec';
import type { Sighting } from './binding-table.js';
import { CaptureFileError, readCaptureFile } from './capture-file.js';
import { UsageError } from './errors.js';
import { FramePipeline, type PipelineStats } from './frame-pipeline.js';

export type OutputFormat = 'ndjson' | 'table';

export interface ReadOptions {
  file: string;
  format: OutputFormat;
  /** Every observation of every frame, without the binding table. */
  all: boolean;
  refreshMs?: number;
}

export interface ReadStats extends PipelineStats {
  /** Records of the file that could not be read (the rest of the file was). */
  badRecords: number;
  /** What ended reading early, if anything; everything before it was read. */
  error: string | undefined;
  /** Time spent reading, decoding and printing, in ms (start-up not included). */
  elapsedMs: number;
}

/** A printed line: a sighting, or with --all an observation with its frame number. */
type Row = (Sighting | (Observation & { at: number; frame: number })) & { event?: string; previousMac?: string };

const TABLE_HEADER = ['TIME', 'SOURCE', 'KIND', 'EVENT', 'VLAN', 'IP', 'MAC', 'HOSTNAME'];
const TABLE_WIDTHS = [24, 6, 11, 7, 7, 39, 17, 0];

function tableCells(row: Row): string[] {
  return [
    Number.isFinite(row.at) ? new Date(row.at).toISOString() : String(row.at),
    row.source,
    row.kind,
    row.event ?? '-',
    row.outerVlan !== undefined ? `${row.outerVlan}.${row.vlan}` : String(row.vlan),
    row.ip ?? '-',
    row.previousMac ? `${row.mac} (was ${row.previousMac})` : row.mac,
    row.hostname ?? '',
  ];
}

/** Hostnames come off the wire: control characters are shown escaped, never sent to the terminal. */
function printable(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function tableLine(row: Row | string[]): string {
  const cells = (Array.isArray(row) ? row : tableCells(row)).map(printable);
  const widths = TABLE_WIDTHS;
  return cells
    .map((cell, i) => cell.padEnd(widths[i]!))
    .join(' ')
    .trimEnd();
}

/** Where the output goes: text or bytes (stdout writes are synchronous on Linux). */
export type Write = (chunk: string | Uint8Array) => void;

/** A sink for printed lines, flushed in large pieces. */
interface Lines {
  push(row: Row): void;
  flush(): void;
}

const OUTPUT_CHUNK = 1 << 16; // 64 KiB a write
/** Frozen details whose bytes are kept: the decoders have a handful. */
const MAX_FROZEN_DETAILS = 64;

/** The fixed pieces of a line, as bytes. */
const AT = asciiBytes('{"at":');
const FRAME = asciiBytes(',"frame":');
const SOURCE = asciiBytes(',"source":"');
const KIND = asciiBytes('","kind":"');
const IP = asciiBytes('","ip":"');
const MAC = asciiBytes('","mac":"');
const VLAN = asciiBytes('","vlan":');
const OUTER_VLAN = asciiBytes(',"outerVlan":');
const EVENT = asciiBytes(',"event":"');
const QUOTE = asciiBytes('"');
const PREVIOUS_MAC = asciiBytes(',"previousMac":"');

function asciiBytes(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

/**
 * NDJSON lines with the field order of the documented output (at, source, kind, ip, mac, vlan,
 * ...), encoded straight into a byte buffer: sightings are printed by the hundred thousand,
 * and building each line as a string, then joining and encoding them, cost as much as
 * decoding the frames. Only the hostname and the detail can hold text that needs escaping,
 * which JSON.stringify then does; every other field is ASCII by construction.
 */
class JsonLines implements Lines {
  private buffer = Buffer.allocUnsafe(OUTPUT_CHUNK);
  private length = 0;
  /** The bytes of frozen details written before, by identity. */
  private readonly frozen = new Map<object, Uint8Array>();
  constructor(private readonly write: Write) {}

  push(row: Row): void {
    // A line without hostname and detail is under 256 bytes; the others are sized below.
    if (this.length + 256 > this.buffer.length) this.flush();
    const buffer = this.buffer;
    // The fixed fields with a local position, the rest through the methods below.
    let at = copy(buffer, this.length, AT);
    at = this.integer(at, row.at);
    if ('frame' in row) {
      at = copy(buffer, at, FRAME);
      at = this.integer(at, row.frame);
    }
    at = copy(buffer, at, SOURCE);
    at = put(buffer, at, row.source);
    at = copy(buffer, at, KIND);
    at = put(buffer, at, row.kind);
    if (row.ip !== undefined) {
      at = copy(buffer, at, IP);
      at = put(buffer, at, row.ip);
    }
    at = copy(buffer, at, MAC);
    at = put(buffer, at, row.mac);
    at = copy(buffer, at, VLAN);
    at = this.integer(at, row.vlan);
    if (row.outerVlan !== undefined) {
      at = copy(buffer, at, OUTER_VLAN);
      at = this.integer(at, row.outerVlan);
    }
    if (row.event !== undefined) {
      at = copy(buffer, at, EVENT);
      at = put(buffer, at, row.event);
      at = copy(buffer, at, QUOTE);
    }
    if (row.previousMac !== undefined) {
      at = copy(buffer, at, PREVIOUS_MAC);
      at = put(buffer, at, row.previousMac);
      at = copy(buffer, at, QUOTE);
    }
    this.length = at;
    if (row.hostname !== undefined) {
      this.ascii(',"hostname":');
      this.text(JSON.stringify(row.hostname));
    }
    if (row.detail !== undefined) {
      this.ascii(',"detail":');
      this.detail(row.detail);
    }
    this.ascii('}\n');
  }

  flush(): void {
    if (this.length === 0) return;
    // A fresh buffer each time: the one written may still be queued (a pipe that is full).
    this.write(this.buffer.subarray(0, this.length));
    this.buffer = Buffer.allocUnsafe(OUTPUT_CHUNK);
    this.length = 0;
  }

  /**
   * A detail, as JSON.stringify writes it. A frozen one (the decoders share one per kind of ARP
   * observation) cannot change, so its bytes are made once and copied after.
   */
  private detail(detail: Readonly<Record<string, unknown>>): void {
    const known = this.frozen.get(detail);
    if (known !== undefined) {
      if (this.length + known.length + 64 > this.buffer.length) this.flush();
      this.buffer.set(known, this.length);
      this.length += known.length;
      return;
    }
    const start = this.length;
    const buffer = this.buffer;
    if (!this.flatDetail(detail)) this.text(JSON.stringify(detail));
    // Kept only when written whole into this buffer (a long one may have flushed it) and short.
    if (
      Object.isFrozen(detail) &&
      this.frozen.size < MAX_FROZEN_DETAILS &&
      this.buffer === buffer &&
      this.length - start <= 1024
    )
      this.frozen.set(detail, buffer.slice(start, this.length));
  }

  /**
   * The common detail — a few strings, numbers and booleans, as `{"op":"request"}` — written
   * as JSON.stringify would, without building the string; false, with nothing written, for any
   * other (nested values, text that needs escaping), which JSON.stringify then writes.
   */
  private flatDetail(detail: Readonly<Record<string, unknown>>): boolean {
    const start = this.length;
    let first = true;
    this.ascii('{');
    for (const key in detail) {
      if (!Object.hasOwn(detail, key)) continue;
      const value = detail[key];
      if (value === undefined) continue;
      if (!plainAscii(key) || this.length + key.length + 64 > this.buffer.length) return this.undo(start);
      this.ascii(first ? '"' : ',"');
      first = false;
      this.ascii(key);
      this.ascii('":');
      if (typeof value === 'string') {
        if (!plainAscii(value) || this.length + value.length + 64 > this.buffer.length) return this.undo(start);
        this.ascii('"');
        this.ascii(value);
        this.ascii('"');
      } else if (typeof value === 'boolean') {
        this.ascii(value ? 'true' : 'false');
      } else if (typeof value === 'number' && Number.isSafeInteger(value)) {
        this.ascii(String(value));
      } else {
        return this.undo(start);
      }
    }
    this.ascii('}');
    return true;
  }

  private undo(start: number): false {
    this.length = start;
    return false;
  }

  /** Text known to be ASCII. */
  private ascii(text: string): void {
    this.length = put(this.buffer, this.length, text);
  }

  /**
   * A non-negative safe integer in decimal (any other number as String() writes it) at `at`;
   * returns where it ends. Below 10^8 in 32-bit arithmetic, larger ones — a time in ms is 13
   * digits — as two such halves.
   */
  private integer(at: number, n: number): number {
    const buffer = this.buffer;
    if (n >= 0 && n < 1e8 && (n | 0) === n) return digits(buffer, at, n);
    if (n >= 1e8 && Number.isSafeInteger(n) && n < 2e17) {
      const high = Math.floor(n / 1e8);
      return eightDigits(buffer, digits(buffer, at, high), n - high * 1e8);
    }
    return put(buffer, at, String(n));
  }

  /**
   * Any text, as UTF-8; room is made for its longest encoding and the rest of the line (what
   * the buffer holds is written first, though it ends mid-line: the stream is the same).
   */
  private text(text: string): void {
    const room = text.length * 3 + 256;
    if (this.length + room > this.buffer.length) {
      this.flush();
      if (room > this.buffer.length) this.buffer = Buffer.allocUnsafe(room);
    }
    this.length += this.buffer.write(text, this.length, 'utf8');
  }
}

/** Bytes at `at`; returns where they end. */
function copy(buffer: Uint8Array, at: number, bytes: Uint8Array): number {
  const n = bytes.length;
  for (let i = 0; i < n; i++) buffer[at + i] = bytes[i]!;
  return at + n;
}

/** Text known to be ASCII, at `at`; returns where it ends. */
function put(buffer: Uint8Array, at: number, text: string): number {
  const n = text.length;
  for (let i = 0; i < n; i++) buffer[at + i] = text.charCodeAt(i);
  return at + n;
}

/** 0 ≤ n < 10^8, an integer, in decimal at `at`; returns where it ends. */
function digits(buffer: Uint8Array, at: number, n: number): number {
  let end = at + 1;
  for (let rest = n; rest >= 10; rest = (rest / 10) | 0) end++;
  let i = end;
  let rest = n;
  do {
    const next = (rest / 10) | 0;
    buffer[--i] = 48 + rest - next * 10;
    rest = next;
  } while (rest > 0);
  return end;
}

/** 0 ≤ n < 10^8, an integer, in exactly 8 digits at `at`; returns where it ends. */
function eightDigits(buffer: Uint8Array, at: number, n: number): number {
  let rest = n;
  for (let i = at + 7; i >= at; i--) {
    const next = (rest / 10) | 0;
    buffer[i] = 48 + rest - next * 10;
    rest = next;
  }
  return at + 8;
}

/** True for text JSON writes as it is: printable ASCII without quote or backslash. */
function plainAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return false;
  }
  return true;
}

/** Table lines, buffered and written in large pieces. */
class TableLines implements Lines {
  private lines: string[] = [tableLine(TABLE_HEADER)];
  private bytes = 0;
  constructor(private readonly write: Write) {}
  push(row: Row): void {
    const line = tableLine(row);
    this.lines.push(line);
    this.bytes += line.length + 1;
    if (this.bytes >= OUTPUT_CHUNK) this.flush();
  }
  flush(): void {
    if (this.lines.length === 0) return;
    this.write(`${this.lines.join('\n')}\n`);
    this.lines = [];
    this.bytes = 0;
  }
}

/**
 * Reads the capture and writes its lines through `write`. Throws a UsageError for a file that
 * cannot be opened; problems inside the file are in the returned stats' `error`.
 */
export function readCommand(options: ReadOptions, write: Write): ReadStats {
  const out: Lines = options.format === 'table' ? new TableLines(write) : new JsonLines(write);
  const pipeline = new FramePipeline((sighting) => out.push(sighting), { refreshMs: options.refreshMs });
  const stats = pipeline.stats;

  // --all: every observation of every frame, straight from the decoders.
  const everything = (record: CaptureRecord) => {
    const at = Math.floor(record.timestampMs);
    const frame = stats.frames + 1;
    pipeline.pushAll(record.linkType, record.bytes, record.offset, record.length, (observation) =>
      out.push({ ...observation, at, frame }),
    );
  };
  const sightings = (record: CaptureRecord) =>
    pipeline.push(record.linkType, record.bytes, record.offset, record.length, record.timestampMs);

  let summary: CaptureSummary;
  const started = performance.now();
  try {
    summary = readCaptureFile(options.file, options.all ? everything : sightings);
  } catch (error) {
    if (error instanceof CaptureFileError) throw new UsageError(error.message);
    throw error;
  }
  out.flush();
  const elapsedMs = performance.now() - started;
  return { ...stats, badRecords: summary.badRecords, error: summary.error, elapsedMs };
}

/** The one-line summary printed on stderr after reading. */
export function formatReadStats(stats: ReadStats): string {
  const parts = [
    `frames ${stats.frames}`,
    `observations ${stats.observations}`,
    `sightings ${stats.sightings}`,
    `malformed ${stats.malformed}`,
  ];
  const layers = Object.entries(stats.malformedByLayer);
  if (layers.length > 0) parts[3] += ` (${layers.map(([layer, n]) => `${layer} ${n}`).join(', ')})`;
  const skipped = Object.entries(stats.skippedLinkTypes);
  parts.push(
    skipped.length === 0
      ? 'skipped link types none'
      : `skipped link types ${skipped.map(([type, n]) => `${type}: ${n} frames`).join(', ')}`,
  );
  if (stats.badRecords > 0) parts.push(`unreadable records ${stats.badRecords}`);
  parts.push(`in ${Math.round(stats.elapsedMs)} ms`);
  return parts.join(', ');
}
