/** Test support, kept out of the build: the package's tests draw their random numbers from here. */

/** A seeded byte source (mulberry32), so that random picks repeat from run to run. */
export function seededBytes(seed: number): (length: number) => Uint8Array {
  let state = seed >>> 0;
  return (length) =>
    Uint8Array.from({ length }, () => {
      state = (state + 0x6d2b79f5) >>> 0;
      let t = Math.imul(state ^ (state >>> 15), state | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return (t ^ (t >>> 14)) & 0xff;
    });
}
