import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { randomBelowFrom } from './allocation.js';
import { IntervalSet } from './interval-set.js';
import { seededBytes } from './seeded-bytes.test-support.js';
import { BatchPicker, type Outcome, type Reads, SubnetView, type Want } from './subnet-view.js';

/** A subnet of 64 addresses, [0, 63], stored as its runs and sightings, read the way the collector reads. */
const FIRST = 0n;
const LAST = 63n;

interface Stored {
  runs: [bigint, bigint][];
  seen: Set<bigint>;
}

/** What the collector's two queries answer: at most `rows` rows from a window, or around one address. */
function read(view: SubnetView<string>, stored: Stored, reads: Reads, rows: number): void {
  const byHi = [...stored.runs].sort((a, b) => (a[1] < b[1] ? -1 : 1));
  const seen = [...stored.seen].sort((a, b) => (a < b ? -1 : 1));
  for (const v of reads.from) {
    const lo = v > FIRST ? v - 1n : v;
    const runs = byHi.filter(([, hi]) => hi >= lo).slice(0, rows);
    view.learnRuns(lo, runs.length === rows ? runs.at(-1)![1] : LAST, runs);
    const hits = seen.filter((s) => s >= v).slice(0, rows);
    view.learnSeen(
      v,
      hits.length === rows ? hits.at(-1)! : LAST,
      hits.map((s) => [s, `seen ${s}`]),
    );
  }
  for (const v of reads.around) {
    const [lo, hi] = [v > FIRST ? v - 1n : v, v < LAST ? v + 1n : v];
    view.learnRuns(
      lo,
      hi,
      byHi.filter(([a, b]) => b >= lo && a <= hi),
    );
    view.learnSeen(v, v, stored.seen.has(v) ? [[v, `seen ${v}`]] : []);
  }
}

/** Runs the picker to the end as the collector does; how many rounds of reads it took. */
function decide(
  stored: Stored,
  wants: Want[],
  rows: number,
  seed = 1,
  /** A view carried from earlier batches; a new one by default. */
  view = new SubnetView<string>(FIRST, LAST),
): { outcomes: Outcome<string>[]; view: SubnetView<string>; rounds: number } {
  const picker = new BatchPicker(view, wants, randomBelowFrom(seededBytes(seed)));
  let rounds = 0;
  for (;;) {
    const reads = picker.step();
    if (reads.from.length + reads.around.length === 0) break;
    read(view, stored, reads, rows);
    if (++rounds > 1000) throw new Error('the picker made no progress');
  }
  expect(picker.done).toBe(true);
  return { outcomes: picker.outcomes as Outcome<string>[], view, rounds };
}

const stored = (taken: Iterable<bigint>, seen: Iterable<bigint> = []): Stored => ({
  runs: new IntervalSet([...taken].map((v): [bigint, bigint] => [v, v])).intervals(),
  seen: new Set(seen),
});
const all = () => new IntervalSet([[FIRST, LAST]]);
const span = (lo: bigint, hi: bigint) => Array.from({ length: Number(hi - lo + 1n) }, (_, i) => lo + BigInt(i));

describe('BatchPicker', () => {
  it('gives a batch the lowest free addresses in order, stepping over runs and sightings', () => {
    const { outcomes, view } = decide(
      stored([...span(0n, 9n), 12n], [10n, 13n]),
      [
        { available: all(), policy: 'lowest' },
        { available: all(), policy: 'lowest' },
        { available: all(), policy: 'lowest' },
      ],
      2,
    );
    expect(outcomes).toEqual([
      { outcome: 'allocated', value: 11n },
      { outcome: 'allocated', value: 14n },
      { outcome: 'allocated', value: 15n },
    ]);
    // 11 joins the run of 12 (10, seen in use, keeps it apart from 0-9); 14 and 15 make a run.
    expect(view.runChanges()).toEqual({
      removed: [12n],
      added: [
        [11n, 12n],
        [14n, 15n],
      ],
    });
  });

  it('answers a wanted address with why it cannot be had, and forces past a sighting only when allowed', () => {
    const { outcomes } = decide(
      stored([5n], [7n]),
      [
        { available: all(), policy: 'lowest', wanted: 5n },
        { available: all(), policy: 'lowest', wanted: 7n },
        { available: all(), policy: 'lowest', wanted: 7n, acceptObserved: true },
        { available: all(), policy: 'lowest', wanted: 7n, acceptObserved: true },
        { available: new IntervalSet([[0n, 3n]]), policy: 'lowest', wanted: 9n },
      ],
      4,
    );
    expect(outcomes).toEqual([
      { outcome: 'taken' },
      { outcome: 'observed', seen: 'seen 7' },
      { outcome: 'allocated', value: 7n },
      { outcome: 'taken' }, // the request before it got it
      { outcome: 'unavailable' },
    ]);
  });

  it('reads a full subnet in windows, and says when nothing is left', () => {
    const full = stored(span(0n, 62n));
    const { outcomes, rounds } = decide(
      full,
      [
        { available: all(), policy: 'lowest' },
        { available: all(), policy: 'lowest' },
      ],
      2,
    );
    expect(outcomes).toEqual([{ outcome: 'allocated', value: 63n }, { outcome: 'exhausted' }]);
    expect(rounds).toBe(1); // one run, one window
  });

  it('draws at random, and falls back to the lowest free address when the draws keep missing', () => {
    const { outcomes } = decide(stored(span(0n, 62n)), [{ available: all(), policy: 'random' }], 3);
    expect(outcomes).toEqual([{ outcome: 'allocated', value: 63n }]);
    const sparse = decide(
      stored([1n, 2n]),
      Array.from({ length: 8 }, () => ({ available: all(), policy: 'random' as const })),
      3,
    );
    // Every draw is read around in one round; one that meets an earlier draw's address draws again.
    expect(sparse.rounds).toBeLessThanOrEqual(2);
    const got = sparse.outcomes.map((o) => (o.outcome === 'allocated' ? o.value : undefined));
    expect(new Set(got).size).toBe(8);
    expect(got.every((v) => v !== undefined && v !== 1n && v !== 2n)).toBe(true);
  });
});

describe('BatchPicker against one request after another', () => {
  const value = fc.bigInt({ min: FIRST, max: LAST });
  const values = fc.uniqueArray(value, { maxLength: 48 });
  const availability = fc
    .array(fc.tuple(value, value), { minLength: 1, maxLength: 3 })
    .map((pairs) => new IntervalSet(pairs.map(([a, b]): [bigint, bigint] => (a <= b ? [a, b] : [b, a]))));
  const want: fc.Arbitrary<Want> = fc.record(
    {
      available: availability,
      policy: fc.constantFrom('lowest' as const, 'random' as const),
      wanted: value,
      acceptObserved: fc.boolean(),
    },
    { requiredKeys: ['available', 'policy'] },
  );

  /** Each outcome is what the request would get alone, after the ones before it; adds what it got to `now`. */
  function expectInOrder(db: Stored, now: Set<bigint>, wants: Want[], outcomes: Outcome<string>[]): void {
    for (const [i, w] of wants.entries()) {
      const got = outcomes[i]!;
      const free = (v: bigint) => w.available.has(v) && !now.has(v) && !db.seen.has(v);
      if (w.wanted !== undefined) {
        const expected: Outcome<string> = !w.available.has(w.wanted)
          ? { outcome: 'unavailable' }
          : now.has(w.wanted)
            ? { outcome: 'taken' }
            : db.seen.has(w.wanted) && !w.acceptObserved
              ? { outcome: 'observed', seen: `seen ${w.wanted}` }
              : { outcome: 'allocated', value: w.wanted };
        expect(got).toEqual(expected);
      } else if (w.policy === 'lowest') {
        const lowest = span(FIRST, LAST).find(free);
        expect(got).toEqual(lowest === undefined ? { outcome: 'exhausted' } : { outcome: 'allocated', value: lowest });
      } else if (got.outcome === 'allocated') {
        expect(free(got.value)).toBe(true);
      } else {
        expect(got).toEqual({ outcome: 'exhausted' });
        expect(span(FIRST, LAST).some(free)).toBe(false);
      }
      if (got.outcome === 'allocated') now.add(got.value);
    }
  }

  /** The stored runs changed as runChanges says: they must be the coalesced runs of `now`. */
  function writeBack(db: Stored, view: SubnetView<string>, now: Set<bigint>): void {
    const { removed, added } = view.runChanges();
    const runs = new Map(db.runs.map(([lo, hi]) => [lo, hi]));
    for (const lo of removed) expect(runs.delete(lo)).toBe(true);
    for (const [lo, hi] of added) runs.set(lo, hi);
    db.runs = [...runs.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1));
    expect(db.runs).toEqual(new IntervalSet([...now].map((v): [bigint, bigint] => [v, v])).intervals());
  }

  it('decides each request as it would be decided alone, after the ones before it, and writes runs that hold exactly what is taken', () => {
    fc.assert(
      fc.property(
        values,
        values,
        fc.array(want, { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 2, max: 5 }),
        fc.integer(),
        (taken, seen, wants, rows, seed) => {
          const db = stored(taken, seen);
          const { outcomes, view } = decide(db, wants, rows, seed);
          const now = new Set(taken);
          expectInOrder(db, now, wants, outcomes);
          writeBack(db, view, now);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('decides batch after batch on one view carried between them (settled after each write) as one request after another', () => {
    fc.assert(
      fc.property(
        values,
        values,
        fc.array(fc.array(want, { minLength: 1, maxLength: 5 }), { minLength: 2, maxLength: 5 }),
        fc.integer({ min: 2, max: 5 }),
        fc.integer(),
        (taken, seen, batches, rows, seed) => {
          const db = stored(taken, seen);
          const now = new Set(taken);
          const view = new SubnetView<string>(FIRST, LAST);
          for (const [k, wants] of batches.entries()) {
            const { outcomes } = decide(db, wants, rows, seed + k, view);
            expectInOrder(db, now, wants, outcomes);
            writeBack(db, view, now);
            view.settle();
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('says which parts of a stretch have had their runs read', () => {
    const view = new SubnetView<string>(FIRST, LAST);
    expect(view.unreadRuns(4n, 8n)).toEqual([[4n, 8n]]);
    view.learnRuns(5n, 7n, [[6n, 6n]]);
    expect(view.unreadRuns(4n, 8n)).toEqual([
      [4n, 4n],
      [8n, 8n],
    ]);
    expect(view.unreadRuns(5n, 7n)).toEqual([]);
  });

  it('forgets what a batch chose when it is given up', () => {
    const db = stored(span(0n, 9n));
    const view = new SubnetView<string>(FIRST, LAST);
    const lowest: Want = { available: all(), policy: 'lowest' };
    expect(decide(db, [lowest, lowest], 4, 1, view).outcomes).toEqual([
      { outcome: 'allocated', value: 10n },
      { outcome: 'allocated', value: 11n },
    ]);
    view.discard();
    expect(view.runChanges()).toEqual({ removed: [], added: [] });
    expect(decide(db, [lowest], 4, 1, view).outcomes).toEqual([{ outcome: 'allocated', value: 10n }]);
  });
});
