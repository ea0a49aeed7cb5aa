/**
 * What a decoder returns instead of throwing: the layer that could not be read and why.
 * Frames come off the wire and out of files written by anything, so every decoder treats its
 * input as hostile and reports a bad frame as a value to be counted, never as an exception.
 */
export class Malformed {
  constructor(
    /** The protocol layer that failed: `ethernet`, `arp`, `ipv4`, `dns`, ... */
    readonly layer: string,
    /** A short human-readable reason, e.g. `truncated: 20 of 28 bytes`. */
    readonly reason: string,
  ) {}

  toString(): string {
    return `${this.layer}: ${this.reason}`;
  }
}

export function isMalformed(value: unknown): value is Malformed {
  return value instanceof Malformed;
}

export function truncated(layer: string, have: number, need: number): Malformed {
  return new Malformed(layer, `truncated: ${have} of ${need} bytes`);
}
