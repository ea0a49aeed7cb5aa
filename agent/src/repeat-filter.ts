/**
 * Recognises a frame that is byte for byte one seen recently, whose observations changed
 * nothing then and would change nothing now. On a busy segment most frames are such repeats
 * (every host re-asks for its gateway), and this check — a hash and a byte comparison — is far
 * cheaper than decoding the frame and looking its addresses up.
 *
 * Exact, not probabilistic: the stored copy of the frame is compared in full, and an entry is
 * trusted only until the time the binding table gave for it and within the table's epoch (which
 * moves whenever something that was quiet could stop being so). Direct-mapped: a collision
 * merely sends a frame down the full path.
 */

const SETS = 1 << 16; // 65 536 sets of 2 ways: 131 072 remembered frames
const SLOT_BYTES = 96; // 32 bytes of metadata, then the frame
const MAX_FRAME = SLOT_BYTES - 32; // ARP (60 bytes padded, 64 with a VLAN tag) fits; longer frames are not remembered

export class RepeatFilter {
  /**
   * Each slot holds, side by side so one or two cache lines serve a lookup, four doubles — the
   * frame's hash, a tag packing link type, length + 1 (0: empty) and observation count, the
   * quiet-until time and the epoch — then the frame's bytes. 12 MiB in all.
   */
  private readonly buffer = new ArrayBuffer(SETS * 2 * SLOT_BYTES);
  private readonly bytes = new Uint8Array(this.buffer);
  private readonly meta = new Float64Array(this.buffer);
  private hash = 0;

  /**
   * If the frame is a quiet repeat at time `at` in `epoch`, returns how many observations it
   * holds (it needs no further work); otherwise -1, and the frame's hash is kept for {@link remember}.
   */
  lookup(linkType: number, bytes: Uint8Array, offset: number, length: number, at: number, epoch: number): number {
    if (length > MAX_FRAME) return -1;
    const hash = hashFrame(linkType, bytes, offset, length);
    this.hash = hash;
    const first = (hash & (SETS - 1)) * 2;
    const tag = linkType * 0x10000 + length + 1;
    for (let slot = first; slot < first + 2; slot++) {
      const m = slot * (SLOT_BYTES / 8);
      const meta = this.meta;
      if (meta[m] !== hash || Math.floor(meta[m + 1]! / 0x10000) !== tag) continue;
      if (at >= meta[m + 2]! || meta[m + 3] !== epoch) return -1;
      const stored = this.bytes;
      const base = slot * SLOT_BYTES + 32;
      for (let i = 0; i < length; i++) if (stored[base + i] !== bytes[offset + i]) return -1;
      return meta[m + 1]! % 0x10000;
    }
    return -1;
  }

  /** Remembers the frame last passed to {@link lookup} as quiet until `until` within `epoch`. */
  remember(
    linkType: number,
    bytes: Uint8Array,
    offset: number,
    length: number,
    until: number,
    epoch: number,
    count: number,
  ): void {
    if (length > MAX_FRAME || count > 0xffff || linkType > 0xffff) return;
    const first = (this.hash & (SETS - 1)) * 2;
    const meta = this.meta;
    const m = first * (SLOT_BYTES / 8);
    const tag = (linkType * 0x10000 + length + 1) * 0x10000 + count;
    // The newest frame takes way 0; the one there moves to way 1 unless it is this same frame.
    if (!(meta[m] === this.hash && meta[m + 1] === tag)) {
      this.bytes.copyWithin((first + 1) * SLOT_BYTES, first * SLOT_BYTES, (first + 1) * SLOT_BYTES);
    }
    meta[m] = this.hash;
    meta[m + 1] = tag;
    meta[m + 2] = until;
    meta[m + 3] = epoch;
    const stored = this.bytes;
    const base = first * SLOT_BYTES + 32;
    for (let i = 0; i < length; i++) stored[base + i] = bytes[offset + i]!;
  }
}

/** MurmurHash3 (x86, 32-bit) of the frame bytes, seeded with the link type. */
function hashFrame(linkType: number, bytes: Uint8Array, offset: number, length: number): number {
  let h = 0x9747b28c ^ linkType;
  const end = offset + (length & ~3);
  let i = offset;
  for (; i < end; i += 4) {
    let k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = length & 3;
  if (tail > 0) {
    let k = bytes[i]!;
    if (tail > 1) k |= bytes[i + 1]! << 8;
    if (tail > 2) k |= bytes[i + 2]! << 16;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
  }
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}
