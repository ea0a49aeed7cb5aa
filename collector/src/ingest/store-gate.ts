/**
 * Batches stored at once, of the pool's ten connections: the other six are the API's, whose
 * queries would otherwise wait for a connection behind a hundred agents' batches. Each batch is
 * a statement of a thousand rows, CPU-bound in PostgreSQL: four keep four of its cores busy, a
 * quarter of a million sightings a second, and where it has fewer, more would only share them.
 */
export const STORING_AT_ONCE = 4;

/**
 * How many batches are being stored at once. storeBatch builds a batch's statement — a few
 * hundred kilobytes of array literals — before it has a connection; a hundred agents' batches
 * built together and waiting in the driver's queue kept tens of megabytes alive and tripled the
 * garbage collector's share of bench:ingest. Past the gate, each batch finds a connection free;
 * behind it, the others wait in arrival order with nothing built.
 */
export class StoreGate {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  /** `limit`: at most the database pool's size, so that a batch let through is sent at once. */
  constructor(private readonly limit: number) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await work();
    } finally {
      // The slot goes straight to the next in line, if any: `active` counts it already.
      const next = this.waiting.shift();
      if (next === undefined) this.active--;
      else next();
    }
  }
}
