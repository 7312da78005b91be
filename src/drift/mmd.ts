/**
 * Kernel two-sample test on feature vectors (e.g. embeddings): maximum mean discrepancy with a Gaussian kernel
 * and a permutation null (Gretton, Borgwardt, Rasch, Schölkopf, Smola 2012, "A Kernel Two-Sample Test", JMLR 13).
 */
import { createRng, shuffleInPlace } from '../data/random.js';

export interface MmdOptions {
  /** Seed of the permutation generator; the same seed gives the same p-value. */
  seed: number;
  /** Number of random relabellings of the pooled sample; default 200. */
  permutations?: number;
  /** Kernel width σ; default the median pairwise distance over the pooled sample. */
  bandwidth?: number;
}

const DEFAULT_PERMUTATIONS = 200;
// Permuted statistics equal to the observed one up to summation-order rounding must count as "at least as large".
const TIE_TOLERANCE = 1e-12;

/**
 * Unbiased MMD² (Gretton et al. 2012, eq. 3) between the n rows of `x` and the m rows of `y` under
 * k(u, v) = exp(−‖u − v‖² / (2σ²)), with a permutation p-value (1 + #{MMD²_π ≥ MMD²}) / (1 + P) over relabellings
 * of the pooled sample, so p ≥ 1/(1 + P) and never 0. The pooled kernel matrix is built once; a permutation only
 * re-sums one block by index. Time O((n+m)² · dim + (n+m)² log(n+m) + P · min(n,m)²), memory 8 (n+m)² bytes
 * (8 MB for 500 + 500). Throws a RangeError when n < 2, m < 2, dim < 1, a length is not a multiple of dim or a
 * value is not finite.
 */
export function mmdPermutationTest(
  x: Float32Array,
  y: Float32Array,
  dim: number,
  opts: MmdOptions,
): { statistic: number; pValue: number; bandwidth: number; permutations: number } {
  if (!Number.isInteger(dim) || dim < 1) {
    throw new RangeError(`mmdPermutationTest: dim must be at least 1, got ${dim}.`);
  }
  if (x.length % dim !== 0 || y.length % dim !== 0) {
    throw new RangeError(`mmdPermutationTest: sample lengths ${x.length} and ${y.length} are not multiples of ${dim}.`);
  }
  const n = x.length / dim;
  const m = y.length / dim;
  if (n < 2 || m < 2) throw new RangeError(`mmdPermutationTest: need at least 2 rows per sample, got ${n} and ${m}.`);
  const permutations = opts.permutations ?? DEFAULT_PERMUTATIONS;
  if (!Number.isInteger(permutations) || permutations < 1) {
    throw new RangeError(`mmdPermutationTest: permutations must be a positive integer, got ${permutations}.`);
  }
  if (opts.bandwidth !== undefined && !(opts.bandwidth > 0 && Number.isFinite(opts.bandwidth))) {
    throw new RangeError(`mmdPermutationTest: bandwidth must be positive, got ${opts.bandwidth}.`);
  }

  for (const v of [x, y]) {
    for (let i = 0; i < v.length; i++) {
      if (!Number.isFinite(v[i])) throw new RangeError(`mmdPermutationTest: value ${i} of a sample is ${v[i]}.`);
    }
  }

  const size = n + m;
  const kernel = squaredDistances(x, y, dim, size);
  const bandwidth = opts.bandwidth ?? medianDistance(kernel, size);
  const scale = -1 / (2 * bandwidth * bandwidth);
  for (let k = 0; k < kernel.length; k++) kernel[k] = Math.exp(kernel[k] * scale);

  const rowSums = new Float64Array(size);
  let total = 0;
  for (let i = 0; i < size; i++) {
    let s = 0;
    for (let j = 0; j < size; j++) s += kernel[i * size + j];
    rowSums[i] = s;
    total += s;
  }
  const blocks = { kernel, rowSums, total, size, n, m };

  const order = new Uint32Array(size);
  for (let i = 0; i < size; i++) order[i] = i;
  const statistic = unbiasedMmd2(blocks, order);

  const rng = createRng(opts.seed);
  let atLeast = 0;
  for (let p = 0; p < permutations; p++) {
    shuffleInPlace(order, rng);
    if (unbiasedMmd2(blocks, order) >= statistic - TIE_TOLERANCE) atLeast++;
  }
  return { statistic, pValue: (1 + atLeast) / (1 + permutations), bandwidth, permutations };
}

interface Blocks {
  kernel: Float64Array;
  rowSums: Float64Array;
  total: number;
  size: number;
  n: number;
  m: number;
}

/** Squared Euclidean distances between all rows of the pooled sample [x; y], row-major (n+m)×(n+m). */
function squaredDistances(x: Float32Array, y: Float32Array, dim: number, size: number): Float64Array {
  const pooled = new Float64Array(size * dim);
  pooled.set(x);
  pooled.set(y, x.length);
  const out = new Float64Array(size * size);
  for (let i = 0; i < size; i++) {
    const a = i * dim;
    for (let j = i + 1; j < size; j++) {
      const b = j * dim;
      let s = 0;
      for (let k = 0; k < dim; k++) {
        const t = pooled[a + k] - pooled[b + k];
        s += t * t;
      }
      out[i * size + j] = s;
      out[j * size + i] = s;
    }
  }
  return out;
}

/**
 * The median heuristic σ, as in Gretton et al. 2012's experiments: median Euclidean distance over distinct pairs of rows. When
 * duplicates make that 0, the median over non-zero distances; 1 when every row is the same point.
 */
function medianDistance(squared: Float64Array, size: number): number {
  const pairs = new Float64Array((size * (size - 1)) / 2);
  let k = 0;
  for (let i = 0; i < size; i++) for (let j = i + 1; j < size; j++) pairs[k++] = squared[i * size + j];
  pairs.sort();
  const med = medianOfRoots(pairs, 0);
  if (med > 0) return med;
  const firstPositive = pairs.findIndex((v) => v > 0);
  return firstPositive < 0 ? 1 : medianOfRoots(pairs, firstPositive);
}

/** Median of the square roots of sorted[from..]; the roots are taken last, as √ keeps the order. */
function medianOfRoots(sorted: Float64Array, from: number): number {
  const count = sorted.length - from;
  const mid = from + (count >> 1);
  return count % 2 === 1 ? Math.sqrt(sorted[mid]) : (Math.sqrt(sorted[mid - 1]) + Math.sqrt(sorted[mid])) / 2;
}

/**
 * MMD² when the first n entries of `order` are labelled x and the rest y. Only the block of the smaller group is
 * summed (S_small); the cross block is its rows' sums minus S_small and the other block the remainder of the total.
 */
function unbiasedMmd2(b: Blocks, order: Uint32Array): number {
  const smallIsX = b.n <= b.m;
  const from = smallIsX ? 0 : b.n;
  const to = smallIsX ? b.n : b.size;
  let inner = 0;
  let rows = 0;
  for (let p = from; p < to; p++) {
    const base = order[p] * b.size;
    rows += b.rowSums[order[p]];
    for (let q = from; q < to; q++) inner += b.kernel[base + order[q]];
  }
  const cross = rows - inner;
  const outer = b.total - inner - 2 * cross;
  const [xx, yy] = smallIsX ? [inner, outer] : [outer, inner];
  // k(u, u) = 1, so each within-sample block's diagonal sums to its row count.
  return (xx - b.n) / (b.n * (b.n - 1)) + (yy - b.m) / (b.m * (b.m - 1)) - (2 * cross) / (b.n * b.m);
}
