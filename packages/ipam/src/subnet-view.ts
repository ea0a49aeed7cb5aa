/**
 * Allocation in batches against a subnet that is read piecemeal: the pure half of the
 * collector's allocator.
 *
 * `SubnetView` is what one batch knows of a subnet — its runs of allocated addresses and the
 * addresses observed in use, each known exactly but only inside the regions read so far — and
 * the addresses the batch has chosen. `BatchPicker` decides a batch of requests against it:
 * where a decision hangs on a region not read yet, it names the reads to make, the caller makes
 * them (a window of runs and sightings from an address, or one address and its neighbours) and
 * steps again. A batch so costs a few index reads whatever the size of the subnet, and no
 * address is ever enumerated.
 */
import { type AllocationPolicy, pickFree, type RandomBelow } from './allocation.js';
import { IntervalSet } from './interval-set.js';

/** What one address is, as far as the view knows. */
export type AddressState<Seen> =
  | { state: 'free' }
  | { state: 'taken' }
  | { state: 'observed'; seen: Seen }
  /** The address or a neighbour of it (needed to join up runs) has not been read. */
  | { state: 'unknown' };

export class SubnetView<Seen = unknown> {
  readonly #first: bigint;
  readonly #last: bigint;
  readonly #runsKnown = new IntervalSet();
  readonly #runs = new IntervalSet();
  readonly #seenKnown = new IntervalSet();
  readonly #seen = new IntervalSet();
  readonly #seenBy = new Map<bigint, Seen>();
  #chosen = new IntervalSet();

  /** The subnet's first and last address: nothing outside them is ever one of its runs. */
  constructor(first: bigint, last: bigint) {
    this.#first = first;
    this.#last = last;
  }

  /** The runs read for [lo, hi]: every run meeting it, whole (a run may reach outside it). */
  learnRuns(lo: bigint, hi: bigint, runs: Iterable<readonly [bigint, bigint]>): void {
    for (const [a, b] of runs) this.#runs.add(a, b);
    this.#runsKnown.add(lo, hi);
  }

  /** The parts of [lo, hi] whose runs have not been read. */
  unreadRuns(lo: bigint, hi: bigint): [bigint, bigint][] {
    return this.#runsKnown.complementWithin(lo, hi).intervals();
  }

  /** The addresses read as observed in use in [lo, hi], each with what saw it. */
  learnSeen(lo: bigint, hi: bigint, seen: Iterable<readonly [bigint, Seen]>): void {
    for (const [value, by] of seen) {
      this.#seen.add(value, value);
      if (!this.#seenBy.has(value)) this.#seenBy.set(value, by);
    }
    this.#seenKnown.add(lo, hi);
  }

  /** This batch hands `value` out. */
  choose(value: bigint): void {
    this.#chosen.add(value, value);
  }

  /**
   * The chosen addresses are written: from now on they are runs like any other, and the view
   * can decide the next batch (the collector carries it from one batch to the next).
   */
  settle(): void {
    for (const [lo, hi] of this.#chosen.intervals()) this.#runs.add(lo, hi);
    this.#chosen = new IntervalSet();
  }

  /** Forgets what was chosen: the batch was given up before anything was written. */
  discard(): void {
    this.#chosen = new IntervalSet();
  }

  /** The address and its neighbours: what must be known to hand it out and join its run up. */
  #around(value: bigint): [bigint, bigint] {
    return [value > this.#first ? value - 1n : value, value < this.#last ? value + 1n : value];
  }

  state(value: bigint): AddressState<Seen> {
    if (this.#chosen.has(value) || this.#runs.has(value)) return { state: 'taken' };
    if (!this.#runsKnown.covers(...this.#around(value)) || !this.#seenKnown.has(value)) return { state: 'unknown' };
    if (this.#seen.has(value)) return { state: 'observed', seen: this.#seenBy.get(value)! };
    return { state: 'free' };
  }

  /**
   * The lowest address of `available` that is neither taken nor observed in use — or the
   * address from which to read on, or undefined when there is none. Steps over whole runs.
   */
  lowest(available: IntervalSet): { free: bigint } | { read: bigint } | undefined {
    let value = available.first();
    while (value !== undefined) {
      const run = this.#runs.spanAt(value) ?? this.#chosen.spanAt(value);
      if (run !== undefined) {
        value = available.firstAtOrAfter(run[1] + 1n);
        continue;
      }
      if (!this.#runsKnown.covers(...this.#around(value)) || !this.#seenKnown.has(value)) return { read: value };
      const seen = this.#seen.spanAt(value);
      if (seen === undefined) return { free: value };
      value = available.firstAtOrAfter(seen[1] + 1n);
    }
    return undefined;
  }

  /**
   * What to write back for the chosen addresses: the runs they join (deleted, by their first
   * address) and the runs that replace them with the chosen addresses added.
   */
  runChanges(): { removed: bigint[]; added: [bigint, bigint][] } {
    const added = new IntervalSet();
    const removed = new Map<bigint, [bigint, bigint]>();
    for (const [lo, hi] of this.#chosen.intervals()) {
      added.add(lo, hi);
      for (const neighbour of [this.#runs.spanAt(lo - 1n), this.#runs.spanAt(hi + 1n)]) {
        if (neighbour === undefined) continue;
        removed.set(neighbour[0], neighbour);
        added.add(...neighbour);
      }
    }
    return { removed: [...removed.keys()], added: added.intervals() };
  }
}

/** One request of a batch. */
export interface Want {
  /** What it may be given (the subnet's addresses, or a pool range's, less what is never handed out). */
  available: IntervalSet;
  policy: AllocationPolicy;
  /** A given address to check, instead of one to pick. */
  wanted?: bigint;
  /** Hand out an address observed in use (an admin's force, an import). */
  acceptObserved?: boolean;
  /** A random draw made ahead (and read around while the subnet was being locked): tried first. */
  candidate?: bigint;
}

export type Outcome<Seen> =
  | { outcome: 'allocated'; value: bigint }
  /** The wanted address is outside `available`. */
  | { outcome: 'unavailable' }
  | { outcome: 'taken' }
  | { outcome: 'observed'; seen: Seen }
  /** Nothing is free (within the reads allowed). */
  | { outcome: 'exhausted' };

/** The reads a step waits on: windows from addresses on, and single addresses with their neighbours. */
export interface Reads {
  from: bigint[];
  around: bigint[];
}

/** Random draws before a request in a nearly full subnet takes the lowest free address instead. */
const RANDOM_ATTEMPTS = 32;

/**
 * Decides a batch of requests in their order, as if each came after the one before: every
 * request sees the addresses the earlier ones got. Each step decides the requests it can in
 * order and stops deciding at the first that needs a read; the requests after it still say what
 * they will need, so that one round of reads serves many.
 */
export class BatchPicker<Seen = unknown> {
  readonly outcomes: (Outcome<Seen> | undefined)[];
  readonly #view: SubnetView<Seen>;
  readonly #wants: readonly Want[];
  readonly #random: RandomBelow;
  /** Per request: its current random draw, and how many draws were refused. */
  readonly #draws: { candidate?: bigint; refused: number }[];

  constructor(view: SubnetView<Seen>, wants: readonly Want[], random: RandomBelow) {
    this.#view = view;
    this.#wants = wants;
    this.#random = random;
    this.outcomes = wants.map(() => undefined);
    this.#draws = wants.map((want) => ({
      candidate: want.candidate !== undefined && want.available.has(want.candidate) ? want.candidate : undefined,
      refused: 0,
    }));
  }

  get done(): boolean {
    return this.outcomes.every((outcome) => outcome !== undefined);
  }

  /** Decides what it can; the reads the rest wait on (none once every request is decided). */
  step(): Reads {
    const from = new Set<bigint>();
    const around = new Set<bigint>();
    let deciding = true;
    for (const [i, want] of this.#wants.entries()) {
      if (this.outcomes[i] !== undefined) continue;
      const next = this.#next(i, want);
      if ('read' in next) {
        (next.window ? from : around).add(next.read);
        deciding = false;
      } else if (deciding) {
        this.outcomes[i] = next;
        if (next.outcome === 'allocated') this.#view.choose(next.value);
      }
    }
    return { from: [...from], around: [...around] };
  }

  /** Gives up on the requests still waiting: nothing found within the reads allowed. */
  exhaust(): void {
    for (const i of this.outcomes.keys()) this.outcomes[i] ??= { outcome: 'exhausted' };
  }

  #next(i: number, want: Want): Outcome<Seen> | { read: bigint; window: boolean } {
    if (want.wanted !== undefined) {
      if (!want.available.has(want.wanted)) return { outcome: 'unavailable' };
      const found = this.#view.state(want.wanted);
      switch (found.state) {
        case 'unknown':
          return { read: want.wanted, window: false };
        case 'free':
          return { outcome: 'allocated', value: want.wanted };
        case 'observed':
          return want.acceptObserved
            ? { outcome: 'allocated', value: want.wanted }
            : { outcome: 'observed', seen: found.seen };
        default:
          return { outcome: 'taken' };
      }
    }
    const draw = this.#draws[i]!;
    while (want.policy === 'random' && draw.refused < RANDOM_ATTEMPTS) {
      draw.candidate ??= pickFree(want.available, 'random', this.#random);
      if (draw.candidate === undefined) return { outcome: 'exhausted' };
      const found = this.#view.state(draw.candidate);
      if (found.state === 'unknown') return { read: draw.candidate, window: false };
      if (found.state === 'free') return { outcome: 'allocated', value: draw.candidate };
      draw.candidate = undefined;
      draw.refused++;
    }
    const lowest = this.#view.lowest(want.available);
    if (lowest === undefined) return { outcome: 'exhausted' };
    return 'read' in lowest ? { read: lowest.read, window: true } : { outcome: 'allocated', value: lowest.free };
  }
}
