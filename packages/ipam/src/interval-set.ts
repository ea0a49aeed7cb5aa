/**
 * A set of bigints kept as sorted, disjoint, coalesced closed intervals [lo, hi], so that a /8
 * with a million allocations or a whole /64 costs what its runs cost, never what its addresses do.
 *
 * Representation: one array of intervals sorted by lo, no two overlapping or touching (touching
 * ones are merged: [1, 2] and [3, 4] are kept as [1, 4]). With n intervals:
 * - has, spanAt, covers, overlaps, firstAtOrAfter: O(log n) by binary search; first, size, isEmpty: O(1).
 * - add, remove: O(log n) to find the place, O(n) worst case to splice the array.
 * - complementWithin: O(log n + the intervals inside [lo, hi]); nth, intervals, clone: O(n);
 *   a.minus(b): O(n + m), one pass over both.
 * - the constructor: O(n log n), sorting then merging in one pass.
 * A balanced tree would make add and remove O(log n) as well; the array is simpler and compact,
 * and the sets the allocator needs are built whole (constructor, minus) rather than edited.
 */
export class IntervalSet {
  #spans: [bigint, bigint][] = [];
  #size = 0n;

  constructor(intervals: Iterable<readonly [bigint, bigint]> = []) {
    const sorted = Array.from(intervals, ([lo, hi]): [bigint, bigint] => {
      checkInterval(lo, hi);
      return [lo, hi];
    }).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    for (const [lo, hi] of sorted) {
      const last = this.#spans.at(-1);
      if (last !== undefined && lo <= last[1] + 1n) {
        if (hi > last[1]) {
          this.#size += hi - last[1];
          last[1] = hi;
        }
      } else {
        this.#spans.push([lo, hi]);
        this.#size += hi - lo + 1n;
      }
    }
  }

  add(lo: bigint, hi: bigint): this {
    checkInterval(lo, hi);
    const spans = this.#spans;
    // Every interval overlapping or touching [lo, hi] merges into one.
    const start = this.#firstEndingAtOrAfter(lo - 1n);
    let end = start;
    let mergedLo = lo;
    let mergedHi = hi;
    for (; end < spans.length && spans[end]![0] <= hi + 1n; end++) {
      const [a, b] = spans[end]!;
      if (a < mergedLo) mergedLo = a;
      if (b > mergedHi) mergedHi = b;
      this.#size -= b - a + 1n;
    }
    spans.splice(start, end - start, [mergedLo, mergedHi]);
    this.#size += mergedHi - mergedLo + 1n;
    return this;
  }

  remove(lo: bigint, hi: bigint): this {
    checkInterval(lo, hi);
    const spans = this.#spans;
    const start = this.#firstEndingAtOrAfter(lo);
    let end = start;
    // Only the first and last overlapping intervals can stick out past [lo, hi].
    const kept: [bigint, bigint][] = [];
    for (; end < spans.length && spans[end]![0] <= hi; end++) {
      const [a, b] = spans[end]!;
      this.#size -= b - a + 1n;
      if (a < lo) kept.push([a, lo - 1n]);
      if (b > hi) kept.push([hi + 1n, b]);
    }
    for (const [a, b] of kept) this.#size += b - a + 1n;
    spans.splice(start, end - start, ...kept);
    return this;
  }

  has(value: bigint): boolean {
    const span = this.#spans[this.#firstEndingAtOrAfter(value)];
    return span !== undefined && span[0] <= value;
  }

  /** The interval holding `value`, if the set has it. */
  spanAt(value: bigint): [bigint, bigint] | undefined {
    const span = this.#spans[this.#firstEndingAtOrAfter(value)];
    return span !== undefined && span[0] <= value ? [span[0], span[1]] : undefined;
  }

  /** True when every value in [lo, hi] is in the set. */
  covers(lo: bigint, hi: bigint): boolean {
    checkInterval(lo, hi);
    const span = this.#spans[this.#firstEndingAtOrAfter(lo)];
    return span !== undefined && span[0] <= lo && hi <= span[1];
  }

  /** True when some value in [lo, hi] is in the set. */
  overlaps(lo: bigint, hi: bigint): boolean {
    checkInterval(lo, hi);
    const span = this.#spans[this.#firstEndingAtOrAfter(lo)];
    return span !== undefined && span[0] <= hi;
  }

  /** Number of values in the set. */
  get size(): bigint {
    return this.#size;
  }

  get isEmpty(): boolean {
    return this.#spans.length === 0;
  }

  /** A copy, ascending. */
  intervals(): [bigint, bigint][] {
    return this.#spans.map(([lo, hi]) => [lo, hi]);
  }

  first(): bigint | undefined {
    return this.#spans[0]?.[0];
  }

  /** The smallest value in the set that is not below `value`. */
  firstAtOrAfter(value: bigint): bigint | undefined {
    const span = this.#spans[this.#firstEndingAtOrAfter(value)];
    if (span === undefined) return undefined;
    return span[0] > value ? span[0] : value;
  }

  /** The index-th value (0-based) in ascending order; RangeError outside [0, size). */
  nth(index: bigint): bigint {
    if (index < 0n || index >= this.#size) throw new RangeError(`index ${index} is outside [0, ${this.#size})`);
    let rest = index;
    for (const [lo, hi] of this.#spans) {
      const width = hi - lo + 1n;
      if (rest < width) return lo + rest;
      rest -= width;
    }
    throw new Error('unreachable: size disagrees with the intervals');
  }

  /** [lo, hi] minus this set. */
  complementWithin(lo: bigint, hi: bigint): IntervalSet {
    checkInterval(lo, hi);
    const gaps = new IntervalSet();
    let next = lo;
    const spans = this.#spans;
    for (let i = this.#firstEndingAtOrAfter(lo); i < spans.length && spans[i]![0] <= hi; i++) {
      const [a, b] = spans[i]!;
      if (a > next) gaps.#push(next, a - 1n);
      next = b + 1n;
    }
    if (next <= hi) gaps.#push(next, hi);
    return gaps;
  }

  /** This set minus `other`, in one pass over both. */
  minus(other: IntervalSet): IntervalSet {
    const result = new IntervalSet();
    const cuts = other.#spans;
    let j = 0;
    for (const [lo, hi] of this.#spans) {
      while (j < cuts.length && cuts[j]![1] < lo) j++;
      let next = lo;
      // A cut reaching past hi is looked at again for the next interval, so j stays on it.
      for (let k = j; k < cuts.length && cuts[k]![0] <= hi; k++) {
        const [a, b] = cuts[k]!;
        if (a > next) result.#push(next, a - 1n);
        next = b + 1n;
      }
      if (next <= hi) result.#push(next, hi);
    }
    return result;
  }

  clone(): IntervalSet {
    const copy = new IntervalSet();
    copy.#spans = this.intervals();
    copy.#size = this.#size;
    return copy;
  }

  /** Appends an interval known to lie above, and not touch, every interval already held. */
  #push(lo: bigint, hi: bigint): void {
    this.#spans.push([lo, hi]);
    this.#size += hi - lo + 1n;
  }

  /** The index of the first interval whose hi is at least `value`; the length if there is none. */
  #firstEndingAtOrAfter(value: bigint): number {
    let low = 0;
    let high = this.#spans.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.#spans[mid]![1] < value) low = mid + 1;
      else high = mid;
    }
    return low;
  }
}

function checkInterval(lo: bigint, hi: bigint): void {
  if (lo > hi) throw new RangeError(`interval [${lo}, ${hi}] is empty: its start is past its end`);
}
