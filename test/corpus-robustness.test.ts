/**
 * Robustness: every file of tcpdump's test corpus (830 captures, many deliberately broken by
 * fuzzers) is read to its end — or to the point where it stops being a capture, which is then
 * reported — without an exception, a hang, or memory that grows with what it reads.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readCommand } from '@ipwarden/agent';
import { describe, expect, it } from 'vitest';
import { ourFrames } from './support/our-frames.js';
import { corpusDir } from './support/paths.js';

const dir = corpusDir();
const files = readdirSync(dir).filter((f) => statSync(join(dir, f)).isFile());

describe('the capture corpus', () => {
  it('holds the 830 captures the tests expect', () => {
    expect(files.filter((f) => /\.(pcap|pcapng)$/.test(f)).length).toBeGreaterThanOrEqual(830);
  });

  it('is read to the end, file after file, with no exception and bounded memory', () => {
    const rssBefore = process.memoryUsage().rss;
    let peakGrowth = 0;
    const outcomes = { clean: 0, reported: 0 };
    for (const file of files) {
      const { summary } = ourFrames(join(dir, file));
      if (summary.error === undefined) outcomes.clean++;
      else {
        expect(summary.error, file).toMatch(/^(not a capture|empty file|truncated file|corrupt)/);
        outcomes.reported++;
      }
      peakGrowth = Math.max(peakGrowth, process.memoryUsage().rss - rssBefore);
    }
    // The reader holds one 1 MiB chunk and at most one block at a time, whatever the file claims.
    expect(peakGrowth).toBeLessThan(100 * 1024 * 1024);
    expect(outcomes.clean).toBeGreaterThan(700);
  });

  it('gives every frame of every file to the decoders, which never throw', () => {
    let frames = 0;
    for (const file of files) {
      const stats = readCommand({ file: join(dir, file), format: 'ndjson', all: true }, () => {});
      frames += stats.frames;
      expect(stats.frames, file).toBeGreaterThanOrEqual(stats.malformed);
    }
    expect(frames).toBeGreaterThan(10_000);
  });
});
