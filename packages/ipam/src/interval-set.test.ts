import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IntervalSet } from './interval-set.js';

describe('IntervalSet', () => {
  it('merges touching intervals into one', () => {
    expect(new IntervalSet().add(1n, 2n).add(3n, 4n).intervals()).toEqual([[1n, 4n]]);
  });

  it('keeps intervals with a gap between them apart', () => {
    expect(new IntervalSet().add(4n, 5n).add(1n, 2n).intervals()).toEqual([
      [1n, 2n],
      [4n, 5n],
    ]);
  });

  it('merges every interval an added one bridges', () => {
    const set = new IntervalSet([
      [1n, 2n],
      [5n, 6n],
      [9n, 10n],
    ]).add(3n, 8n);
    expect(set.intervals()).toEqual([[1n, 10n]]);
    expect(set.size).toBe(10n);
  });

  it('builds from unsorted, overlapping intervals', () => {
    const set = new IntervalSet([
      [10n, 12n],
      [0n, 3n],
      [2n, 5n],
      [6n, 6n],
    ]);
    expect(set.intervals()).toEqual([
      [0n, 6n],
      [10n, 12n],
    ]);
    expect(set.size).toBe(10n);
  });

  it('splits an interval when a value inside it is removed', () => {
    const set = new IntervalSet([[0n, 9n]]).remove(4n, 5n);
    expect(set.intervals()).toEqual([
      [0n, 3n],
      [6n, 9n],
    ]);
    expect(set.size).toBe(8n);
  });

  it('spans the whole IPv6 space without enumerating it', () => {
    const all = 2n ** 128n;
    const set = new IntervalSet([[0n, all - 1n]]).remove(all / 2n, all / 2n);
    expect(set.size).toBe(all - 1n);
    expect(set.nth(all - 2n)).toBe(all - 1n);
    expect(set.nth(all / 2n)).toBe(all / 2n + 1n);
    expect(set.has(all / 2n)).toBe(false);
    expect(set.firstAtOrAfter(all / 2n)).toBe(all / 2n + 1n);
    expect(set.complementWithin(0n, all - 1n).intervals()).toEqual([[all / 2n, all / 2n]]);
  });

  it('gives a copy of its intervals, so changing it changes nothing', () => {
    const set = new IntervalSet([[1n, 2n]]);
    const copy = set.intervals();
    copy[0]![1] = 100n;
    copy.push([200n, 300n]);
    expect(set.intervals()).toEqual([[1n, 2n]]);
  });

  it('clones into an independent set', () => {
    const set = new IntervalSet([[1n, 5n]]);
    const clone = set.clone().remove(1n, 5n);
    expect(clone.isEmpty).toBe(true);
    expect(set.size).toBe(5n);
  });

  it.each([
    ['add', (set: IntervalSet) => set.add(2n, 1n)],
    ['remove', (set: IntervalSet) => set.remove(2n, 1n)],
    ['overlaps', (set: IntervalSet) => set.overlaps(2n, 1n)],
    ['covers', (set: IntervalSet) => set.covers(2n, 1n)],
    ['complementWithin', (set: IntervalSet) => set.complementWithin(2n, 1n)],
    ['the constructor', () => new IntervalSet([[2n, 1n]])],
  ])('refuses an interval whose start is past its end in %s', (_name, call) => {
    expect(() => call(new IntervalSet())).toThrow(RangeError);
  });

  it.each([
    ['a negative index', -1n],
    ['the size', 3n],
    ['past the size', 10n],
  ])('refuses nth at %s', (_name, index) => {
    expect(() => new IntervalSet([[5n, 7n]]).nth(index)).toThrow(RangeError);
  });

  it('has nothing, and no first value, when empty', () => {
    const set = new IntervalSet();
    expect(set.isEmpty).toBe(true);
    expect(set.size).toBe(0n);
    expect(set.first()).toBeUndefined();
    expect(set.firstAtOrAfter(0n)).toBeUndefined();
    expect(set.complementWithin(3n, 7n).intervals()).toEqual([[3n, 7n]]);
  });
});

// --- the same operations on a naive Set<bigint> over a small universe ---

const UNIVERSE = 48n;
const value = fc.bigInt({ min: 0n, max: UNIVERSE - 1n });
const interval = fc.tuple(value, value).map(([a, b]): [bigint, bigint] => (a <= b ? [a, b] : [b, a]));
const operations = fc.array(fc.tuple(fc.constantFrom('add', 'remove'), interval), { maxLength: 30 });

/** Applies the operations to an IntervalSet and to a Set<bigint>, which must then agree. */
function build(steps: ['add' | 'remove', [bigint, bigint]][]): { set: IntervalSet; model: Set<bigint> } {
  const set = new IntervalSet();
  const model = new Set<bigint>();
  for (const [op, [lo, hi]] of steps) {
    set[op](lo, hi);
    for (let v = lo; v <= hi; v++) {
      if (op === 'add') model.add(v);
      else model.delete(v);
    }
  }
  return { set, model };
}

function sorted(values: Iterable<bigint>): bigint[] {
  return [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function valuesOf(set: IntervalSet): bigint[] {
  return set.intervals().flatMap(([lo, hi]) => Array.from({ length: Number(hi - lo + 1n) }, (_, i) => lo + BigInt(i)));
}

describe('IntervalSet against a Set<bigint>', () => {
  it('keeps its intervals sorted, disjoint and apart after any adds and removes', () => {
    fc.assert(
      fc.property(operations, (steps) => {
        const intervals = build(steps).set.intervals();
        for (const [i, [lo, hi]] of intervals.entries()) {
          expect(lo).toBeLessThanOrEqual(hi);
          if (i > 0) expect(lo).toBeGreaterThan(intervals[i - 1]![1] + 1n);
        }
      }),
    );
  });

  it('holds the same values, and as many', () => {
    fc.assert(
      fc.property(operations, (steps) => {
        const { set, model } = build(steps);
        for (let v = -2n; v < UNIVERSE + 2n; v++) expect(set.has(v)).toBe(model.has(v));
        expect(set.size).toBe(BigInt(model.size));
        expect(set.isEmpty).toBe(model.size === 0);
        expect(valuesOf(set)).toEqual(sorted(model));
      }),
    );
  });

  it('finds the index-th value and the first value at or after any value', () => {
    fc.assert(
      fc.property(operations, (steps) => {
        const { set, model } = build(steps);
        const values = sorted(model);
        for (const [i, v] of values.entries()) expect(set.nth(BigInt(i))).toBe(v);
        expect(set.first()).toBe(values[0]);
        for (let v = -2n; v < UNIVERSE + 2n; v++) expect(set.firstAtOrAfter(v)).toBe(values.find((w) => w >= v));
      }),
    );
  });

  it('tells whether an interval overlaps it', () => {
    fc.assert(
      fc.property(operations, interval, (steps, [lo, hi]) => {
        const { set, model } = build(steps);
        expect(set.overlaps(lo, hi)).toBe([...model].some((v) => v >= lo && v <= hi));
      }),
    );
  });

  it('tells whether it covers an interval, and which of its intervals holds a value', () => {
    fc.assert(
      fc.property(operations, interval, (steps, [lo, hi]) => {
        const { set, model } = build(steps);
        const inside: bigint[] = [];
        for (let v = lo; v <= hi; v++) inside.push(v);
        expect(set.covers(lo, hi)).toBe(inside.every((v) => model.has(v)));
        for (let v = -2n; v < UNIVERSE + 2n; v++) {
          const span = set.spanAt(v);
          if (!model.has(v)) expect(span).toBeUndefined();
          else {
            // The whole run of values around v, and nothing past it.
            const [a, b] = span!;
            for (let w = a; w <= b; w++) expect(model.has(w)).toBe(true);
            expect(model.has(a - 1n) || model.has(b + 1n)).toBe(false);
          }
        }
      }),
    );
  });

  it('gives the complement within any interval', () => {
    fc.assert(
      fc.property(operations, interval, (steps, [lo, hi]) => {
        const { set, model } = build(steps);
        const expected = [];
        for (let v = lo; v <= hi; v++) if (!model.has(v)) expected.push(v);
        expect(valuesOf(set.complementWithin(lo, hi))).toEqual(expected);
      }),
    );
  });

  it('subtracts another set', () => {
    fc.assert(
      fc.property(operations, operations, (a, b) => {
        const left = build(a);
        const right = build(b);
        const difference = left.set.minus(right.set);
        expect(valuesOf(difference)).toEqual(sorted([...left.model].filter((v) => !right.model.has(v))));
        expect(difference.size).toBe(BigInt(valuesOf(difference).length));
      }),
    );
  });

  it('builds from a list of intervals what adding them one by one builds', () => {
    fc.assert(
      fc.property(fc.array(interval, { maxLength: 20 }), (intervals) => {
        const added = new IntervalSet();
        for (const [lo, hi] of intervals) added.add(lo, hi);
        const built = new IntervalSet(intervals);
        expect(built.intervals()).toEqual(added.intervals());
        expect(built.size).toBe(added.size);
      }),
    );
  });
});
