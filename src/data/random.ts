/**
 * Seeded randomness for the dataset pipeline. Splits must be reproducible from a stored seed, so nothing here
 * touches Math.random.
 */

/**
 * Deterministic uniform generator on [0, 1): mulberry32 (T. Ettinger, 2017), a 32-bit counter passed through an
 * xorshift-multiply mixer. Period 2^32, which is ample for shuffling datasets of millions of samples.
 */
export function createRng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return ((z ^ (z >>> 14)) >>> 0) / 4294967296;
  };
}

/** Shuffles `a` in place with Fisher–Yates (Durstenfeld 1964; Knuth TAOCP vol. 2, Algorithm P). */
export function shuffleInPlace<T>(a: T[] | Uint32Array, rng: () => number): void {
  // One indexable view so the swap type-checks for both the array and the typed-array case.
  const v = a as unknown as { [i: number]: unknown; length: number };
  for (let i = v.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const t = v[i];
    v[i] = v[j];
    v[j] = t;
  }
}
