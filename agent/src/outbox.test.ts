import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SightingItem } from '@ipwarden/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { Outbox } from './outbox.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function stateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ipwarden-outbox-'));
  dirs.push(dir);
  return dir;
}

function sighting(n: number, event: SightingItem['event'] = 'new'): SightingItem {
  return {
    at: n,
    interface: 'eth0',
    source: 'arp',
    kind: 'host',
    ip: `10.99.0.${n % 250}`,
    mac: '02:00:00:00:00:01',
    vlan: 0,
    event,
  };
}

describe('Outbox', () => {
  it('numbers batches from 1 and keeps them until acknowledged', () => {
    const outbox = new Outbox({ dir: stateDir() });
    expect(outbox.append([sighting(1)]).seq).toBe(1);
    expect(outbox.append([sighting(2), sighting(3)]).seq).toBe(2);
    expect(outbox.pending().map((b) => b.seq)).toEqual([1, 2]);
    outbox.ack(1);
    expect(outbox.pending().map((b) => b.seq)).toEqual([2]);
    expect(outbox.stats).toMatchObject({ depth: 2, dropped: 0 });
    outbox.close();
  });

  it('gives back every unacknowledged batch after a restart, and goes on with the next seq', () => {
    const dir = stateDir();
    const first = new Outbox({ dir });
    first.append([sighting(1)]);
    first.append([sighting(2)]);
    first.ack(1);
    first.close(); // or killed: every append was on disk before it returned
    const second = new Outbox({ dir });
    expect(second.pending()).toEqual([{ seq: 2, items: [sighting(2)] }]);
    expect(second.append([sighting(3)]).seq).toBe(3);
    second.close();
  });

  it('keeps seqs rising after everything was acknowledged and the log rewritten', () => {
    const dir = stateDir();
    const outbox = new Outbox({ dir });
    const big = Array.from({ length: 2000 }, (_, i) => sighting(i));
    for (let i = 0; i < 10; i++) outbox.append(big); // over 1 MiB, so acks compact the log
    outbox.ack(10);
    outbox.close();
    expect(readFileSync(join(dir, 'outbox.log'), 'utf8')).toBe('');
    const reopened = new Outbox({ dir });
    expect(reopened.pending()).toEqual([]);
    expect(reopened.append([sighting(1)]).seq).toBe(11);
    reopened.close();
  });

  it('drops a batch torn by a crash mid-write, counts it, and appends cleanly after it', () => {
    const dir = stateDir();
    const outbox = new Outbox({ dir });
    outbox.append([sighting(1)]);
    outbox.close();
    appendFileSync(join(dir, 'outbox.log'), '{"seq":2,"items":[{"at":2,"sour'); // the torn write
    const reopened = new Outbox({ dir });
    expect(reopened.pending().map((b) => b.seq)).toEqual([1]);
    expect(reopened.stats.unreadable).toBe(1);
    expect(reopened.append([sighting(3)]).seq).toBe(2);
    reopened.close();
    expect(new Outbox({ dir }).pending().map((b) => b.seq)).toEqual([1, 2]);
  });

  it('skips damaged lines it cannot read, counting them', () => {
    const dir = stateDir();
    writeFileSync(
      join(dir, 'outbox.log'),
      `${JSON.stringify({ seq: 1, items: [sighting(1)] })}\nnot json\n{"seq":"x"}\n`,
    );
    const outbox = new Outbox({ dir });
    expect(outbox.pending().map((b) => b.seq)).toEqual([1]);
    expect(outbox.stats.unreadable).toBe(2);
    outbox.close();
  });

  it('when full, drops the oldest refresh sightings first and counts every loss', () => {
    const outbox = new Outbox({ dir: stateDir(), maxBytes: 1500, sync: false });
    outbox.append([sighting(1, 'refresh'), sighting(2, 'new'), sighting(3, 'refresh')]);
    for (let i = 0; i < 10; i++) outbox.append([sighting(10 + i, 'new')]);
    outbox.append(Array.from({ length: 10 }, (_, i) => sighting(100 + i, 'new')));
    const kept = outbox.pending().flatMap((b) => b.items);
    expect(kept.some((s) => s.event === 'refresh')).toBe(false);
    expect(outbox.stats.bytes).toBeLessThanOrEqual(1500);
    const written = 3 + 10 + 10;
    expect(outbox.stats.depth + outbox.stats.dropped).toBe(written);
    expect(kept.at(-1)).toEqual(sighting(109, 'new')); // the newest is always kept
    outbox.close();
  });

  it('drops the refresh sightings of the incoming batch before anything that is news', () => {
    const outbox = new Outbox({ dir: stateDir(), maxBytes: 1500, sync: false });
    outbox.append(Array.from({ length: 6 }, (_, i) => sighting(i, 'new')));
    outbox.append(Array.from({ length: 4 }, (_, i) => sighting(50 + i, 'refresh')));
    const batch = outbox.append([sighting(100, 'refresh'), sighting(101, 'new'), sighting(102, 'refresh')]);
    expect(batch.items).toEqual([sighting(101, 'new')]);
    const kept = outbox.pending().flatMap((b) => b.items);
    expect(kept).toEqual([...Array.from({ length: 6 }, (_, i) => sighting(i, 'new')), sighting(101, 'new')]);
    expect(outbox.stats.dropped).toBe(6);
    outbox.close();
  });

  it('neither writes nor numbers a batch left empty, when a full outbox drops every item of it', () => {
    const outbox = new Outbox({ dir: stateDir(), maxBytes: 1500, sync: false });
    outbox.append(Array.from({ length: 8 }, (_, i) => sighting(i, 'new')));
    const before = outbox.stats.bytes;
    const batch = outbox.append(Array.from({ length: 4 }, (_, i) => sighting(50 + i, 'refresh')));
    expect(batch).toEqual({ seq: 1, items: [] });
    expect(outbox.append([]).seq).toBe(1);
    expect(outbox.pending().map((b) => b.seq)).toEqual([1]);
    expect(outbox.stats).toMatchObject({ bytes: before, dropped: 4 });
    expect(outbox.append([sighting(9)]).seq).toBe(2);
    outbox.close();
  });

  it('walks the pending batches in seq order with next(), skipping acknowledged ones', () => {
    const outbox = new Outbox({ dir: stateDir(), sync: false });
    for (let i = 1; i <= 5; i++) outbox.append([sighting(i)]);
    outbox.ack(2);
    expect(outbox.next(0)?.seq).toBe(3);
    expect(outbox.next(3)).toEqual({ seq: 4, items: [sighting(4)] });
    expect(outbox.next(5)).toBeUndefined();
    outbox.advanceTo(9);
    outbox.append([sighting(6)]);
    expect(outbox.next(5)?.seq).toBe(10);
    outbox.close();
  });

  it('numbers its pending batches anew above a seq the collector holds from another outbox', () => {
    const dir = stateDir();
    const outbox = new Outbox({ dir, sync: false });
    for (let i = 1; i <= 3; i++) outbox.append([sighting(i)]);
    outbox.ack(1);
    outbox.rebase(50);
    expect(outbox.pending()).toEqual([
      { seq: 51, items: [sighting(2)] },
      { seq: 52, items: [sighting(3)] },
    ]);
    expect(outbox.append([sighting(4)]).seq).toBe(53);
    outbox.close();
    const reopened = new Outbox({ dir });
    expect(reopened.pending().map((b) => b.seq)).toEqual([51, 52, 53]);
    reopened.close();
  });

  it('skips empty batches an older outbox left in its log, keeping seqs rising past them', () => {
    const dir = stateDir();
    writeFileSync(
      join(dir, 'outbox.log'),
      `${JSON.stringify({ seq: 1, items: [sighting(1)] })}\n{"seq":2,"items":[]}\n`,
    );
    const outbox = new Outbox({ dir });
    expect(outbox.pending().map((b) => b.seq)).toEqual([1]);
    expect(outbox.append([sighting(2)]).seq).toBe(3);
    outbox.close();
  });

  it('gives out seqs above what the collector says it has stored, also after a restart', () => {
    const dir = stateDir();
    const outbox = new Outbox({ dir });
    outbox.append([sighting(1)]);
    outbox.advanceTo(40); // welcome: the collector has batches up to 40 (a lost state directory)
    expect(outbox.append([sighting(2)]).seq).toBe(41);
    outbox.ack(50); // an ack past what was given out moves the seq on too
    expect(outbox.append([sighting(3)]).seq).toBe(51);
    outbox.close();
    expect(new Outbox({ dir }).append([sighting(4)]).seq).toBe(52);
  });

  it('returns copies from pending(), which acks do not disturb', () => {
    const outbox = new Outbox({ dir: stateDir() });
    outbox.append([sighting(1)]);
    outbox.append([sighting(2)]);
    const pending = outbox.pending();
    outbox.ack(1);
    expect(pending.map((b) => b.seq)).toEqual([1, 2]);
    expect(Object.keys(pending[0]!)).toEqual(['seq', 'items']);
    outbox.close();
  });
});

describe('Outbox under SIGKILL', () => {
  it('keeps every batch it confirmed, in order, when the process is killed mid-stream', async () => {
    const dir = stateDir();
    const dist = resolve(fileURLToPath(import.meta.url), '..', '..', 'dist', 'outbox.js');
    // A writer that appends and acknowledges as fast as it can, printing each seq once appended.
    const script = `
      const { Outbox } = await import(${JSON.stringify(dist)});
      const outbox = new Outbox({ dir: ${JSON.stringify(dir)} });
      for (let n = 1; ; n++) {
        const batch = outbox.append([{ at: n, interface: 'eth0', source: 'arp', kind: 'host', ip: '10.99.0.1', mac: '02:00:00:00:00:01', vlan: 0, event: 'new' }]);
        // Printed before the ack, so no ack ever covers a batch the test did not see confirmed.
        process.stdout.write(batch.seq + '\\n');
        if (n % 7 === 0) outbox.ack(batch.seq - 3);
      }`;
    const writer = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let printed = '';
    writer.stdout.on('data', (chunk) => {
      printed += chunk;
    });
    await new Promise((r) => setTimeout(r, 400));
    writer.kill('SIGKILL');
    // 'close', not 'exit': what it printed before it died may still be in the pipe at exit.
    await new Promise((r) => writer.once('close', r));
    const confirmed = printed.trim().split('\n').map(Number);
    const last = confirmed.at(-1)!;
    expect(last).toBeGreaterThan(20);

    const outbox = new Outbox({ dir });
    const seqs = outbox.pending().map((b) => b.seq);
    // Every confirmed batch is either acknowledged (≤ the last ack) or still pending; none twice.
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    const lastAck = Math.floor(last / 7) * 7 - 3;
    for (let seq = Math.max(1, lastAck + 1); seq <= last; seq++) expect(seqs).toContain(seq);
    expect(outbox.append([sighting(1)]).seq).toBeGreaterThan(last);
    outbox.close();
  });
});
