/**
 * The durable outbox (DESIGN.md, "The agent", point 4). Sightings are appended to a log on disk
 * before they are sent, each batch under the agent's next `seq`, and leave it only when the
 * collector acknowledges that seq as stored. A collector outage or an agent restart loses
 * nothing; what was sent but not acknowledged is sent again, and the collector drops replays by
 * (agent, seq). Bounded: when full, refresh sightings go first (the incoming batch's too), then
 * the oldest batches, down to three quarters of the bound, and every sighting lost is counted.
 *
 * Files in the directory: `outbox.log`, one JSON line per batch (`{"seq":N,"items":[...]}`) and
 * per acknowledgement (`{"ack":N}`), rewritten without the acknowledged ones from time to time;
 * `outbox.seq`, the highest seq given out (or learnt from the collector), so that seqs keep
 * rising after everything was acknowledged and the log emptied.
 */
import {
  closeSync,
  fdatasyncSync,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import type { SightingItem } from '@ipwarden/protocol';
import { writeFileAtomic } from './atomic-file.js';

export interface OutboxOptions {
  /** Directory of the outbox files (the agent's state directory). */
  dir: string;
  /** Most bytes of unacknowledged batches kept on disk (default 64 MiB, at most 256 MiB). */
  maxBytes?: number;
  /** Flush every append to disk before it is sent (default true); off only for tests and benchmarks. */
  sync?: boolean;
}

export interface OutboxBatch {
  seq: number;
  items: SightingItem[];
}

export interface OutboxStats {
  /** Sightings waiting for an acknowledgement. */
  depth: number;
  /** Bytes of the log holding them. */
  bytes: number;
  /** Sightings dropped because the outbox was full (some may have been sent and stored before). */
  dropped: number;
  /** Lines of the log that could not be read back after a crash (a torn last write, damage). */
  unreadable: number;
}

export const DEFAULT_OUTBOX_BYTES = 64 * 1024 * 1024; // 64 MiB
/** The log is read back whole at start-up; past this a string would not hold it. */
export const MAX_OUTBOX_BYTES = 256 * 1024 * 1024; // 256 MiB
/** Acknowledged bytes that make the log worth rewriting. */
const COMPACT_AFTER_BYTES = 1024 * 1024; // 1 MiB

interface Pending extends OutboxBatch {
  bytes: number;
}

function batchLine(seq: number, items: readonly SightingItem[]): string {
  return `${JSON.stringify({ seq, items })}\n`;
}

/** Writes all of `text`, or throws; a short write is retried from where it stopped. */
function writeAll(fd: number, text: string): void {
  const bytes = Buffer.from(text);
  for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at);
}

export class Outbox {
  private readonly logPath: string;
  private readonly seqPath: string;
  private readonly maxBytes: number;
  private readonly sync: boolean;
  private fd = -1;
  private readonly pendingBatches: Pending[] = [];
  private seq = 0;
  private bytes = 0;
  /** Bytes of acknowledged batches and notes still in the log file, reclaimed by compaction. */
  private garbage = 0;
  private dropped = 0;
  private unreadable = 0;

  constructor(options: OutboxOptions) {
    mkdirSync(options.dir, { recursive: true, mode: 0o700 });
    this.logPath = join(options.dir, 'outbox.log');
    this.seqPath = join(options.dir, 'outbox.seq');
    this.maxBytes = Math.min(options.maxBytes ?? DEFAULT_OUTBOX_BYTES, MAX_OUTBOX_BYTES);
    this.sync = options.sync ?? true;
    this.recover();
  }

  /** The highest seq given out so far (0 before the first batch). */
  get lastSeq(): number {
    return this.seq;
  }

  get stats(): OutboxStats {
    const depth = this.pendingBatches.reduce((n, batch) => n + batch.items.length, 0);
    return { depth, bytes: this.bytes, dropped: this.dropped, unreadable: this.unreadable };
  }

  /** Batches not yet acknowledged, oldest first: what to send (again) after connecting. A copy. */
  pending(): OutboxBatch[] {
    return this.pendingBatches.map(({ seq, items }) => ({ seq, items }));
  }

  /**
   * The oldest unacknowledged batch above `afterSeq`, or undefined: how the uplink walks the
   * outbox while batches are in flight, without copying it. The batch is the outbox's own.
   */
  next(afterSeq: number): OutboxBatch | undefined {
    const batches = this.pendingBatches;
    let low = 0;
    let high = batches.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (batches[middle]!.seq <= afterSeq) low = middle + 1;
      else high = middle;
    }
    const batch = batches[low];
    return batch === undefined ? undefined : { seq: batch.seq, items: batch.items };
  }

  /**
   * Writes `items` to disk as the next batch and returns it, ready to send. A batch with no
   * items (none given, or a full outbox dropped every one of them) is neither written nor
   * numbered: the collector takes no empty batch. It comes back with `items` empty and the
   * seq of the last batch.
   */
  append(items: SightingItem[]): OutboxBatch {
    let kept = items;
    let line = batchLine(this.seq + 1, kept);
    if (this.bytes + Buffer.byteLength(line) > this.maxBytes) {
      kept = this.makeRoom(items);
      line = batchLine(this.seq + 1, kept);
    }
    if (kept.length === 0) return { seq: this.seq, items: kept };
    const batch: Pending = { seq: this.seq + 1, items: kept, bytes: Buffer.byteLength(line) };
    this.writeLine(line, this.sync);
    this.seq = batch.seq;
    this.bytes += batch.bytes;
    this.pendingBatches.push(batch);
    return { seq: batch.seq, items: batch.items };
  }

  /** The collector has stored every batch up to `seq`: they leave the outbox. */
  ack(seq: number): void {
    if (seq > this.seq) this.advanceTo(seq);
    if (this.pendingBatches.length === 0 || this.pendingBatches[0]!.seq > seq) return;
    while (this.pendingBatches.length > 0 && this.pendingBatches[0]!.seq <= seq) {
      const batch = this.pendingBatches.shift()!;
      this.bytes -= batch.bytes;
      this.garbage += batch.bytes;
    }
    // Noted in the log, unflushed: should the note be lost in a crash, the batches are sent
    // again and the collector, which has them, drops them as replays.
    const note = `{"ack":${seq}}\n`;
    this.writeLine(note, false);
    this.garbage += note.length;
    if (this.garbage > COMPACT_AFTER_BYTES && this.garbage > this.bytes) this.compact();
  }

  /**
   * The collector has stored batches up to `seq` (its `welcome` says so): seqs given out from
   * now on are above it, so that no new batch is taken for a replay — as after a lost state
   * directory.
   */
  advanceTo(seq: number): void {
    if (seq <= this.seq) return;
    this.seq = seq;
    writeFileAtomic(this.seqPath, `${this.seq}\n`);
  }

  /**
   * The collector has stored batches up to `seq` that this outbox did not give out (its state
   * directory was lost or restored from an old copy): sent under their own seqs, the pending
   * batches would be taken for replays and dropped. They are numbered anew above `seq`, in
   * order. Should the collector in fact hold some of them, it gets them twice, which costs a
   * repeated sighting; keeping their seqs would lose them.
   */
  rebase(seq: number): void {
    let next = seq;
    this.bytes = 0;
    for (const batch of this.pendingBatches) {
      batch.seq = ++next;
      batch.bytes = Buffer.byteLength(batchLine(batch.seq, batch.items));
      this.bytes += batch.bytes;
    }
    this.seq = Math.max(this.seq, next);
    this.compact();
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  /** Appends a line whole or not at all: on any failure the log is cut back to where it was. */
  private writeLine(line: string, flush: boolean): void {
    const length = fstatSync(this.fd).size;
    try {
      writeAll(this.fd, line);
      if (flush) fdatasyncSync(this.fd);
    } catch (error) {
      try {
        ftruncateSync(this.fd, length);
      } catch {
        // the original error says what went wrong
      }
      throw error;
    }
  }

  /**
   * Frees room for `incoming`, down to three quarters of the bound so that a full outbox is not
   * rewritten on every append: refresh sightings first (the incoming ones, then the oldest
   * batches'), then the oldest batches. Returns what is kept of `incoming`; counts the loss.
   */
  private makeRoom(incoming: SightingItem[]): SightingItem[] {
    const target = Math.floor(this.maxBytes * 0.75);
    let kept = incoming.filter((item) => item.event !== 'refresh');
    this.dropped += incoming.length - kept.length;
    const needed = () => Buffer.byteLength(batchLine(this.seq + 1, kept));
    for (const batch of this.pendingBatches) {
      if (this.bytes + needed() <= target) break;
      const remaining = batch.items.filter((item) => item.event !== 'refresh');
      if (remaining.length === batch.items.length) continue;
      this.dropped += batch.items.length - remaining.length;
      batch.items = remaining;
      const bytes = Buffer.byteLength(batchLine(batch.seq, batch.items));
      this.bytes += bytes - batch.bytes;
      batch.bytes = bytes;
    }
    while (this.bytes + needed() > target && this.pendingBatches.length > 0) {
      const batch = this.pendingBatches.shift()!;
      this.dropped += batch.items.length;
      this.bytes -= batch.bytes;
    }
    for (let i = this.pendingBatches.length - 1; i >= 0; i--) {
      if (this.pendingBatches[i]!.items.length === 0) {
        this.bytes -= this.pendingBatches[i]!.bytes;
        this.pendingBatches.splice(i, 1);
      }
    }
    // A batch larger than the whole bound keeps its newest sightings.
    while (kept.length > 1 && needed() > this.maxBytes) kept = kept.slice(Math.ceil(kept.length / 2));
    this.compact();
    return kept;
  }

  /** Rewrites the log with only the pending batches, atomically, and records the seq. */
  private compact(): void {
    // The log first: after a crash between the two, recovery takes the higher of the seq file
    // and the log's last seq, whereas a seq file ahead of a log not yet renumbered by rebase()
    // would let the next welcome acknowledge batches the collector never saw.
    writeFileAtomic(this.logPath, this.pendingBatches.map((batch) => batchLine(batch.seq, batch.items)).join(''));
    writeFileAtomic(this.seqPath, `${this.seq}\n`);
    this.close();
    this.fd = openSync(this.logPath, 'a', 0o600);
    this.garbage = 0;
  }

  /** Reads what an earlier run left: the seq, and every whole batch line of the log. */
  private recover(): void {
    let seq = 0;
    try {
      seq = Number.parseInt(readFileSync(this.seqPath, 'utf8'), 10) || 0;
    } catch {
      // first run: no seq yet
    }
    let text = '';
    try {
      text = readFileSync(this.logPath, 'utf8');
    } catch {
      // first run: no log yet
    }
    let offset = 0;
    let acknowledged = 0;
    while (offset < text.length) {
      const end = text.indexOf('\n', offset);
      // A last line without its newline is a write the crash cut short: it was never sent.
      if (end < 0) {
        this.unreadable++;
        break;
      }
      const line = text.slice(offset, end + 1);
      offset = end + 1;
      const acked = parseAck(line);
      if (acked !== undefined) {
        while (this.pendingBatches.length > 0 && this.pendingBatches[0]!.seq <= acked) {
          this.bytes -= this.pendingBatches.shift()!.bytes;
        }
        acknowledged = Math.max(acknowledged, acked);
        seq = Math.max(seq, acked);
        continue;
      }
      const batch = parseBatch(line);
      // Batches are written in seq order, after every batch they acknowledge.
      if (batch === undefined || batch.seq <= (this.pendingBatches.at(-1)?.seq ?? acknowledged)) {
        this.unreadable++;
        continue;
      }
      // Written by an outbox that still kept batches a full bound had emptied: nothing to send.
      if (batch.items.length === 0) {
        seq = Math.max(seq, batch.seq);
        continue;
      }
      this.pendingBatches.push({ ...batch, bytes: Buffer.byteLength(line) });
      this.bytes += Buffer.byteLength(line);
    }
    this.seq = Math.max(seq, this.pendingBatches.at(-1)?.seq ?? 0);
    // Leave only whole, unacknowledged batches in the log, appends starting on a fresh line.
    this.compact();
  }
}

function parseAck(line: string): number | undefined {
  if (!line.startsWith('{"ack":')) return undefined;
  try {
    const value = JSON.parse(line) as { ack?: unknown };
    return Number.isSafeInteger(value.ack) ? (value.ack as number) : undefined;
  } catch {
    return undefined;
  }
}

function parseBatch(line: string): OutboxBatch | undefined {
  try {
    const value = JSON.parse(line) as { seq?: unknown; items?: unknown };
    if (!Number.isSafeInteger(value.seq) || (value.seq as number) < 1 || !Array.isArray(value.items)) return undefined;
    return { seq: value.seq as number, items: value.items as SightingItem[] };
  } catch {
    return undefined;
  }
}
