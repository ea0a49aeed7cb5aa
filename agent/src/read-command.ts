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

/**
 * JSON with the field order of the documented output (at, source, kind, ip, mac, vlan, ...).
 * Written by hand: sightings are printed by the hundred thousand, and only the hostname and
 * the detail can hold text that needs escaping, which JSON.stringify then does.
 */
function jsonLine(row: Row): string {
  let line = `{"at":${row.at}`;
  if ('frame' in row) line += `,"frame":${row.frame}`;
  line += `,"source":"${row.source}","kind":"${row.kind}"`;
  if (row.ip !== undefined) line += `,"ip":"${row.ip}"`;
  line += `,"mac":"${row.mac}","vlan":${row.vlan}`;
  if (row.outerVlan !== undefined) line += `,"outerVlan":${row.outerVlan}`;
  if (row.event !== undefined) line += `,"event":"${row.event}"`;
  if (row.previousMac !== undefined) line += `,"previousMac":"${row.previousMac}"`;
  if (row.hostname !== undefined) line += `,"hostname":${JSON.stringify(row.hostname)}`;
  if (row.detail !== undefined) line += `,"detail":${JSON.stringify(row.detail)}`;
  return `${line}}`;
}

/** Buffers output lines and writes them in large pieces; stdout writes are synchronous on Linux. */
class LineWriter {
  private lines: string[] = [];
  private bytes = 0;
  constructor(private readonly write: (text: string) => void) {}
  push(line: string): void {
    this.lines.push(line);
    this.bytes += line.length + 1;
    if (this.bytes >= 1 << 16) this.flush();
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
export function readCommand(options: ReadOptions, write: (text: string) => void): ReadStats {
  const out = new LineWriter(write);
  const format = options.format === 'table' ? tableLine : jsonLine;
  if (options.format === 'table') out.push(tableLine(TABLE_HEADER));
  const pipeline = new FramePipeline((sighting) => out.push(format(sighting)), { refreshMs: options.refreshMs });
  const stats = pipeline.stats;

  // --all: every observation of every frame, straight from the decoders.
  const everything = (record: CaptureRecord) => {
    const at = Math.floor(record.timestampMs);
    const frame = stats.frames + 1;
    pipeline.pushAll(record.linkType, record.bytes, record.offset, record.length, (observation) =>
      out.push(format({ ...observation, at, frame })),
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
