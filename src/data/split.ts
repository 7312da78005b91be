/**
 * Stratified train/val/test split. It runs before any statistic or duplicate check so that nothing computed on
 * evaluation data can leak into training decisions.
 */
import { BadRequest } from '../errors.js';
import { createRng, shuffleInPlace } from './random.js';

export type SplitName = 'train' | 'val' | 'test';

/** Split names in code order: a sample's split code is its index here (0 train, 1 val, 2 test). */
export const SPLITS: SplitName[] = ['train', 'val', 'test'];

export interface SplitFractions {
  train: number;
  val: number;
  test: number;
}

const SUM_TOLERANCE = 1e-6;
// Quotas such as 10 × 0.7 come out as 7.000000000000001; fractional parts below this count as zero.
const EPS = 1e-9;

/**
 * Assigns every sample a split code (0 train, 1 val, 2 test), class by class.
 *
 * Each class's indices are shuffled with the seeded generator, then cut into counts chosen by the
 * largest-remainder (Hamilton) method, so every class holds floor or ceil of n_c × fraction in every split.
 * Which split receives a class's leftover samples is decided by its fractional remainder plus the rounding
 * carried over from earlier classes, which keeps the split totals within about one sample of their shares too
 * (before the tiny-class rule below, which can add one sample per class to a split with a very small fraction).
 *
 * Tiny classes: when a class has at least as many samples as there are splits with a fraction > 0, each such
 * split gets at least one sample, taken from the split holding the most (e.g. n_c = 3 at 0.8/0.1/0.1 gives
 * 1/1/1, not 3/0/0). Smaller classes put one sample in each used split in the order train, val, test, so
 * training sees every class it can (n_c = 1 → train; n_c = 2 → train and val). These are the only cases where
 * a count may leave the floor/ceil band.
 */
export function stratifiedSplit(
  labels: ArrayLike<number>,
  numClasses: number,
  fractions: SplitFractions,
  seed: number,
): Uint8Array {
  const f = validateFractions(fractions);
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new BadRequest(`numClasses must be a positive integer, got ${numClasses}.`, { field: 'labels' });
  }

  const byClass = indicesByClass(labels, numClasses);
  const rng = createRng(seed);
  const carry = [0, 0, 0];
  const codes = new Uint8Array(labels.length);

  for (const members of byClass) {
    shuffleInPlace(members, rng);
    const counts = allocate(members.length, f, carry);
    let at = 0;
    for (let s = 0; s < 3; s++) {
      for (let k = 0; k < counts[s]; k++) codes[members[at++]] = s;
    }
  }
  return codes;
}

function validateFractions(fr: SplitFractions): [number, number, number] {
  const f: [number, number, number] = [fr.train, fr.val, fr.test];
  if (f.some((x) => typeof x !== 'number' || !Number.isFinite(x) || x < 0 || x > 1)) {
    throw new BadRequest('Split fractions must be numbers between 0 and 1.', { field: 'split', extra: { ...fr } });
  }
  const sum = f[0] + f[1] + f[2];
  if (Math.abs(sum - 1) > SUM_TOLERANCE) {
    throw new BadRequest(`Split fractions must add up to 1; train + val + test = ${sum}.`, {
      field: 'split',
      extra: { ...fr },
    });
  }
  // Normalise so a sum of 1 + 1e-7 cannot hand out more samples than a class has.
  return [f[0] / sum, f[1] / sum, f[2] / sum];
}

function indicesByClass(labels: ArrayLike<number>, numClasses: number): Uint32Array[] {
  const sizes = new Uint32Array(numClasses);
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (!Number.isInteger(y) || y < 0 || y >= numClasses) {
      throw new BadRequest(`Label ${y} of sample ${i} is outside 0..${numClasses - 1}.`, { field: 'labels' });
    }
    sizes[y]++;
  }
  const byClass = Array.from(sizes, (n) => new Uint32Array(n));
  const fill = new Uint32Array(numClasses);
  for (let i = 0; i < labels.length; i++) byClass[labels[i]][fill[labels[i]]++] = i;
  return byClass;
}

/** Largest-remainder counts for one class; updates `carry` (running quota minus allocation per split). */
function allocate(n: number, f: [number, number, number], carry: number[]): number[] {
  const quota = f.map((x) => n * x);
  const counts = quota.map((q) => Math.floor(q + EPS));
  const remainder = quota.map((q, s) => Math.max(0, q - counts[s]));
  let left = n - counts[0] - counts[1] - counts[2];

  // Only splits with a real fractional part may take a leftover, otherwise a count would pass its ceiling.
  const order = [0, 1, 2]
    .filter((s) => remainder[s] > EPS)
    .sort((a, b) => remainder[b] + carry[b] - (remainder[a] + carry[a]) || a - b);
  for (const s of order) {
    if (left <= 0) break;
    counts[s]++;
    left--;
  }
  // Rounding noise can leave a sample over; it goes to the largest fraction.
  if (left > 0) counts[f.indexOf(Math.max(...f))] += left;

  const positive = [0, 1, 2].filter((s) => f[s] > 0);
  if (n < positive.length) {
    counts.fill(0);
    positive.slice(0, n).forEach((s) => counts[s]++);
  } else {
    for (const s of positive) {
      if (counts[s] > 0) continue;
      const donor = [0, 1, 2].reduce((best, t) => (counts[t] > counts[best] ? t : best), 0);
      counts[donor]--;
      counts[s]++;
    }
  }

  for (let s = 0; s < 3; s++) carry[s] += quota[s] - counts[s];
  return counts;
}
