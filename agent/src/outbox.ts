/**
 * The durable outbox (DESIGN.md, "The agent", point 4). Sightings are appended to a log on disk
 * before they are sent, each batch under the agent's next `seq`, and leave it only when the
 * collector acknowledges that seq as stored. A collector outage or an agent restart loses
 * nothing; what was sent but not acknowledged is sent again, and the collector drops replays by
 * (agent, seq). Bounded: when full, the oldest `refresh` sightings go first, then the oldest
 * batches, and every sighting lost is counted — never silently.
 *
 * Files in the directory: `outbox.log`, one JSON line per batch (`{"seq":N,"items":[...]}`) and
 * per acknowledgement (`{"ack":N}`), rewritten without the acknowledged ones from time to time;
 * `outbox.seq`, the highest seq ever given out, so that seqs keep rising after everything was
 * acknowledged and the log emptied.
 */
import { closeSync, fdatasyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic-file.js';
import type { Sighting } from './binding-table.js';

export interface OutboxOptions {
  /** Directory of the outbox files (the agent's state directory). */
  dir: string;
  /** Most bytes of unacknowledged batches kept on disk (default 64 MiB). */
  maxBytes?: number;
  /** Flush every append to disk before it is sent (default true); off only for tests and benchmarks. */
  sync?: boolean;
}

export interface OutboxBatch {
  seq: number;
  items: Sighting[];
}

export interface OutboxStats {
  /** Sightings waiting for an acknowledgement. */
  depth: number;
  /** Bytes of the log holding them. */
  bytes: number;
  /** Sightings dropped because the outbox was full. */
  dropped: number;
  /** Lines of the log that could not be read back after a crash (a torn last write, damage). */
  unreadable: number;
}

export const DEFAULT_OUTBOX_BYTES = 64 * 1024 * 1024; // 64 MiB

interface Pending extends OutboxBatch {
  bytes: number;
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
  /** Bytes of acknowledged batches still in the log file, reclaimed by compaction. */
  private garbage = 0;
  private dropped = 0;
  private unreadable = 0;

  constructor(options: OutboxOptions) {
    mkdirSync(options.dir, { recursive: true, mode: 0o700 });
    this.logPath = join(options.dir, 'outbox.log');
    this.seqPath = join(options.dir, 'outbox.seq');
    this.maxBytes = options.maxBytes ?? DEFAULT_OUTBOX_BYTES;
    this.sync = options.sync ?? true;
    this.recover();
    if (this.fd < 0) this.fd = openSync(this.logPath, 'a', 0o600);
  }

  /** The highest seq given out so far (0 before the first batch). */
  get lastSeq(): number {
    return this.seq;
  }

  get stats(): OutboxStats {
    const depth = this.pendingBatches.reduce((n, batch) => n + batch.items.length, 0);
    return { depth, bytes: this.bytes, dropped: this.dropped, unreadable: this.unreadable };
  }

  /** Batches not yet acknowledged, oldest first: what to send (again) after connecting. */
  pending(): readonly OutboxBatch[] {
    return this.pendingBatches;
  }

  /** Writes `items` to disk as the next batch and returns it, ready to send. */
  append(items: Sighting[]): OutboxBatch {
    const batch: Pending = { seq: this.seq + 1, items, bytes: 0 };
    const line = `${JSON.stringify({ seq: batch.seq, items })}\n`;
    batch.bytes = Buffer.byteLength(line);
    if (this.bytes + batch.bytes > this.maxBytes) this.makeRoom(batch.bytes);
    writeSync(this.fd, line);
    if (this.sync) fdatasyncSync(this.fd);
    this.seq = batch.seq;
    this.bytes += batch.bytes;
    this.pendingBatches.push(batch);
    return batch;
  }

  /** The collector has stored every batch up to `seq`: they leave the outbox. */
  ack(seq: number): void {
    if (this.pendingBatches.length === 0 || this.pendingBatches[0]!.seq > seq) return;
    while (this.pendingBatches.length > 0 && this.pendingBatches[0]!.seq <= seq) {
      const batch = this.pendingBatches.shift()!;
      this.bytes -= batch.bytes;
      this.garbage += batch.bytes;
    }
    // Noted in the log, unflushed: should the note be lost in a crash, the batches are sent
    // again and the collector, which has them, drops them as replays.
    const note = `{"ack":${seq}}\n`;
    writeSync(this.fd, note);
    this.garbage += note.length;
    // Rewrite the log once most of it is acknowledged: cheap, and the file stays small.
    if (this.garbage > 1024 * 1024 && this.garbage > this.bytes) this.compact();
  }

  close(): void {
    closeSync(this.fd);
  }

  /** Frees `needed` bytes: refresh sightings first, oldest batches first; counts the loss. */
  private makeRoom(needed: number): void {
    const limit = this.maxBytes - needed;
    for (const batch of this.pendingBatches) {
      if (this.bytes <= limit) break;
      const kept = batch.items.filter((item) => item.event !== 'refresh');
      if (kept.length === batch.items.length) continue;
      this.dropped += batch.items.length - kept.length;
      batch.items = kept;
      this.resize(batch);
    }
    while (this.bytes > limit && this.pendingBatches.length > 0) {
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
    this.compact();
  }

  private resize(batch: Pending): void {
    const bytes = Buffer.byteLength(`${JSON.stringify({ seq: batch.seq, items: batch.items })}\n`);
    this.bytes += bytes - batch.bytes;
    batch.bytes = bytes;
  }

  /** Rewrites the log with only the pending batches, atomically, and records the seq. */
  private compact(): void {
    writeFileAtomic(this.seqPath, `${this.seq}\n`);
    const lines = this.pendingBatches.map((batch) => `${JSON.stringify({ seq: batch.seq, items: batch.items })}\n`);
    writeFileAtomic(this.logPath, lines.join(''));
    if (this.fd >= 0) closeSync(this.fd);
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
    return { seq: value.seq as number, items: value.items as Sighting[] };
  } catch {
    return undefined;
  }
}
