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

import { mix32 } from '@ipwarden/netcodec';
import { CacheBase } from './cache-base.js';

const SETS = 1 << 14; // 16 384 sets of 4 ways: 65 536 remembered frames (ARP has its own index)
const WAYS = 4;
// ARP (60 bytes padded), NDP (NS/NA 78–90 bytes) and short mDNS answers fit; longer frames
// (DHCP is 300+) are not remembered and always take the full path.
const MAX_FRAME = 96;

export class RepeatFilter {
  /**
   * Per slot, four 32-bit words side by side (a set's four slots share one cache line): the
   * frame's hash; a tag packing link type, length + 1 (0: empty) and observation count; the
   * quiet-until time in ms after the base, rounded down; the epoch. 1 MiB.
   */
  private readonly index = new Int32Array(SETS * WAYS * 4);
  /** The remembered frames, MAX_FRAME bytes a slot, read only when the index matches. 6 MiB. */
  private readonly frames = new Uint8Array(SETS * WAYS * MAX_FRAME);
  /** Quiet-until times and epochs in 31 bits each. */
  private readonly base = new CacheBase(2 ** 31, 1, 2 ** 31);

  /**
   * If the frame is a quiet repeat at time `at` in `epoch`, returns how many observations it
   * holds (it needs no further work); otherwise -1.
   */
  lookup(linkType: number, bytes: Uint8Array, offset: number, length: number, at: number, epoch: number): number {
    if (length > MAX_FRAME || linkType > 0x7fff || !this.base.fits(at, epoch)) return -1;
    const hash = hashFrame(linkType, bytes, offset, length);
    const index = this.index;
    const first = (hash & (SETS - 1)) * WAYS;
    const tag = (linkType << 16) | ((length + 1) << 8);
    for (let slot = first; slot < first + WAYS; slot++) {
      const i = slot * 4;
      if (index[i] !== hash || (index[i + 1]! & ~0xff) !== tag) continue;
      if (!this.base.before(at, index[i + 2]!) || index[i + 3] !== this.base.storedEpoch(epoch)) return -1;
      const frames = this.frames;
      const stored = slot * MAX_FRAME;
      for (let j = 0; j < length; j++) if (frames[stored + j] !== bytes[offset + j]) return -1;
      return index[i + 1]! & 0xff;
    }
    return -1;
  }

  /** Remembers the frame, seen at `at`, as quiet until `until` within `epoch`. */
  remember(
    linkType: number,
    bytes: Uint8Array,
    offset: number,
    length: number,
    at: number,
    until: number,
    epoch: number,
    count: number,
  ): void {
    if (length > MAX_FRAME || count > 0xff || linkType > 0x7fff) return;
    if (!this.base.fits(at, epoch)) {
      this.index.fill(0);
      this.base.reset(at, epoch);
    }
    const quiet = this.base.storedTime(until);
    if (quiet <= 0) return;
    const index = this.index;
    const hash = hashFrame(linkType, bytes, offset, length);
    const tag = (linkType << 16) | ((length + 1) << 8);
    // The slot this frame already has, else the one whose frame stays quiet the shortest.
    const first = (hash & (SETS - 1)) * WAYS;
    let victim = first;
    for (let slot = first; slot < first + WAYS; slot++) {
      const i = slot * 4;
      if (index[i] === hash && (index[i + 1]! & ~0xff) === tag) {
        victim = slot;
        break;
      }
      if (index[i + 2]! < index[victim * 4 + 2]!) victim = slot;
    }
    const i = victim * 4;
    index[i] = hash;
    index[i + 1] = tag | count;
    index[i + 2] = quiet;
    index[i + 3] = this.base.storedEpoch(epoch);
    const frames = this.frames;
    const stored = victim * MAX_FRAME;
    for (let j = 0; j < length; j++) frames[stored + j] = bytes[offset + j]!;
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
  return mix32(h ^ length);
}
