/**
 * How the flood caches (RepeatFilter, ArpQuietIndex) store times and epochs in a few bits: as
 * offsets from a base. When a time or an epoch no longer fits — the capture has run on for
 * longer than the stored range, the clock stepped back past the margin, or the epoch passed
 * what the stored bits can tell apart — the cache is cleared and the base moves. Clearing only
 * costs a few frames the full path, so every such case errs on the side of decoding.
 */

/** Room left below the base for frames that arrive a little out of order (merged interfaces). */
const BACKWARD_MARGIN_MS = 3_600_000; // 1 h

export class CacheBase {
  private timeBase = Number.NaN;
  /** Times from the base that still fit: half the stored range, so stored times never wrap. */
  private readonly timeSpan: number;
  /** The first epoch the stored bits count from, and the first past their range. */
  private epochFirst = Number.NaN;
  private epochEnd = Number.NaN;

  constructor(
    /** How many time units a stored time can hold. */
    private readonly timeSlots: number,
    /** Milliseconds per stored time unit. */
    private readonly unitMs: number,
    /** How many epochs the stored bits can tell apart. */
    private readonly epochSlots: number,
  ) {
    this.timeSpan = (timeSlots * unitMs) / 2;
  }

  /** True when times near `at` and this `epoch` can be compared with what is stored. */
  fits(at: number, epoch: number): boolean {
    const since = at - this.timeBase;
    return since >= 0 && since < this.timeSpan && epoch >= this.epochFirst && epoch < this.epochEnd;
  }

  /** Moves the base to suit `at` and `epoch`; the caller clears what it stored. */
  reset(at: number, epoch: number): void {
    this.timeBase = at - BACKWARD_MARGIN_MS;
    this.epochFirst = epoch;
    this.epochEnd = epoch + this.epochSlots;
  }

  /** `until` as stored: whole units after the base, rounded down so it never overstates. */
  storedTime(until: number): number {
    return Math.min(Math.floor((until - this.timeBase) / this.unitMs), this.timeSlots - 1);
  }

  /** True when `at` is before the stored time `stored`. */
  before(at: number, stored: number): boolean {
    return at - this.timeBase < stored * this.unitMs;
  }

  /** `epoch` as stored; only for epochs that {@link fits} accepts. */
  storedEpoch(epoch: number): number {
    return epoch - this.epochFirst;
  }
}
