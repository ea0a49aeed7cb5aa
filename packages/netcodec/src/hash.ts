/**
 * MurmurHash3's 32-bit finaliser: every input bit affects every output bit, so the low bits of
 * the result index a power-of-two table well even when the input varies only in a few bits
 * (consecutive addresses). Not a defence against chosen collisions: callers compare keys.
 */
export function mix32(value: number): number {
  let h = value | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}
