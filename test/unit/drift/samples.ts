/** Seeded test samples shared by the drift tests, so the SciPy reference script can regenerate the same inputs. */
import { createRng } from '../../../src/data/random.js';

/** n draws from N(mean, sd²) by the Box–Muller transform on createRng(seed). */
export function normalSample(seed: number, n: number, mean = 0, sd = 1): Float64Array {
  const rng = createRng(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const u = 1 - rng(); // (0, 1], so the log is finite
    const v = rng();
    out[i] = mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  return out;
}

/** n draws from the categorical distribution `probs` (which sums to 1), as counts per category. */
export function categoricalCounts(seed: number, n: number, probs: number[]): number[] {
  const rng = createRng(seed);
  const counts = probs.map(() => 0);
  for (let i = 0; i < n; i++) counts[categorical(rng, probs)]++;
  return counts;
}

/** One draw from the categorical distribution `probs` (which sums to 1). */
export function categorical(rng: () => number, probs: number[]): number {
  let u = rng();
  for (let c = 0; c < probs.length - 1; c++) {
    if (u < probs[c]) return c;
    u -= probs[c];
  }
  return probs.length - 1;
}
