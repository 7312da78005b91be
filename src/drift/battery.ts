/**
 * The battery of drift tests a report runs, as a pure function of both sides' scores. Four families vote on the
 * overall verdict, each at α / 4 (Bonferroni over families), and a family of several tests splits its share again:
 *   - prediction: Kolmogorov–Smirnov on each class's ensemble probability (black-box shift detection, Rabanser,
 *     Günnemann, Lipton 2019, "Failing Loudly"), Bonferroni over classes;
 *   - labels: chi-square homogeneity test of predicted-label counts;
 *   - input: MMD permutation test on penultimate-layer embeddings (bounded subsample, recorded seed), with at
 *     least as many permutations as its threshold needs to be reachable (see `mmdPermutations`);
 *   - image-statistics: KS on brightness, contrast, sharpness (and channel means), Bonferroni over statistics,
 *     each with a standardised effect size so the report can say what changed.
 * The uncertainty family (KS on predictive entropy and on member disagreement) is reported, not voted: it is a
 * function of the prediction family and would count the same change twice.
 */
import { createRng, shuffleInPlace } from '../data/random.js';
import type { DriftTest } from '../storage/report-manifests.js';
import { chiSquareHomogeneity } from './chi-square.js';
import { standardizedMeanDifference } from './effect-size.js';
import { ksTwoSample } from './ks.js';
import { mmdPermutationTest } from './mmd.js';

/** What the battery needs from one side: ensemble probabilities, uncertainty, embeddings and image statistics. */
export interface Side {
  count: number;
  /** N × K ensemble probabilities. */
  probs: Float32Array;
  /** Per sample: predictive entropy and mutual information (member disagreement), in nats. */
  entropy: Float64Array;
  mutualInformation: Float64Array;
  /** N × featureSize embeddings. */
  features: Float32Array;
  imageStats: Record<string, Float64Array>;
}

export interface BatteryOptions {
  classes: string[];
  featureSize: number;
  alpha: number;
  maxMmdSamples: number;
  permutations: number;
  seed: number;
}

export const VOTING_FAMILIES = 4;
/** Upper bound on the permutations the battery adds on its own: below α ≈ 4e-4 the MMD test cannot vote. */
export const MAX_MMD_PERMUTATIONS = 10_000;

/**
 * Permutations for the MMD test at p-value threshold `threshold`. A permutation p-value is never below 1/(1 + P),
 * so with P < 1/threshold − 1 the test can never call drift (50 permutations at α = 0.05 give p ≥ 0.0196 against a
 * threshold of 0.0125; the default 200 fail the same way for α < 0.02). The requested count is raised to
 * ⌈1/threshold⌉, so that 1/(1 + P) < threshold however 1/threshold rounds, capped at MAX_MMD_PERMUTATIONS.
 */
export function mmdPermutations(requested: number, threshold: number): number {
  return Math.min(MAX_MMD_PERMUTATIONS, Math.max(requested, Math.ceil(1 / threshold)));
}

/** Runs every test; `driftDetected` is true when any voting test falls below its corrected threshold. */
export function runBattery(
  ref: Side,
  cur: Side,
  opts: BatteryOptions,
): { tests: DriftTest[]; driftDetected: boolean; mmdSamples: [number, number]; mmdPermutations: number } {
  const { classes, alpha } = opts;
  const K = classes.length;
  const share = alpha / VOTING_FAMILIES;
  const tests: DriftTest[] = [];
  const add = (t: Omit<DriftTest, 'drift'>) => tests.push({ ...t, drift: t.pValue < t.threshold });

  for (let k = 0; k < K; k++) {
    const a = column(ref.probs, K, k);
    const b = column(cur.probs, K, k);
    const ks = ksTwoSample(a, b);
    add({ name: `ks-probability:${classes[k]}`, family: 'prediction', statistic: ks.statistic, pValue: ks.pValue, threshold: share / K, effectSize: standardizedMeanDifference(a, b), inVerdict: true });
  }

  const chi = chiSquareHomogeneity(labelCounts(ref.probs, K), labelCounts(cur.probs, K));
  add({ name: 'chi-square-labels', family: 'labels', statistic: chi.statistic, pValue: chi.pValue, threshold: share, effectSize: null, inVerdict: true });

  const rng = createRng(opts.seed);
  const x = subsampleRows(ref.features, opts.featureSize, ref.count, opts.maxMmdSamples, rng);
  const y = subsampleRows(cur.features, opts.featureSize, cur.count, opts.maxMmdSamples, rng);
  const permutations = mmdPermutations(opts.permutations, share);
  const mmd = mmdPermutationTest(x, y, opts.featureSize, { seed: opts.seed, permutations });
  add({ name: 'mmd-embeddings', family: 'input', statistic: mmd.statistic, pValue: mmd.pValue, threshold: share, effectSize: null, inVerdict: true });

  const stats = Object.keys(ref.imageStats).filter((s) => s in cur.imageStats);
  for (const s of stats) {
    const ks = ksTwoSample(ref.imageStats[s], cur.imageStats[s]);
    add({
      name: `ks-image:${s}`,
      family: 'image-statistics',
      statistic: ks.statistic,
      pValue: ks.pValue,
      threshold: share / stats.length,
      effectSize: standardizedMeanDifference(ref.imageStats[s], cur.imageStats[s]),
      inVerdict: true,
    });
  }

  for (const [name, a, b] of [['ks-uncertainty:entropy', ref.entropy, cur.entropy], ['ks-uncertainty:disagreement', ref.mutualInformation, cur.mutualInformation]] as const) {
    const ks = ksTwoSample(a, b);
    add({ name, family: 'uncertainty', statistic: ks.statistic, pValue: ks.pValue, threshold: alpha, effectSize: standardizedMeanDifference(a, b), inVerdict: false });
  }
  return {
    tests,
    driftDetected: tests.some((t) => t.inVerdict && t.drift),
    mmdSamples: [x.length / opts.featureSize, y.length / opts.featureSize],
    mmdPermutations: permutations,
  };
}

/** Predicted-label counts (argmax, ties to the lower index). */
export function labelCounts(probs: Float32Array, K: number): number[] {
  const counts = new Array<number>(K).fill(0);
  for (let i = 0; i < probs.length; i += K) {
    let best = 0;
    for (let k = 1; k < K; k++) if (probs[i + k] > probs[i + best]) best = k;
    counts[best]++;
  }
  return counts;
}

function column(probs: Float32Array, K: number, k: number): Float64Array {
  const out = new Float64Array(probs.length / K);
  for (let i = 0; i < out.length; i++) out[i] = probs[i * K + k];
  return out;
}

/** Up to `max` rows drawn without replacement (all rows, in order, when there are few enough). */
function subsampleRows(rows: Float32Array, dim: number, count: number, max: number, rng: () => number): Float32Array {
  if (count <= max) return rows.subarray(0, count * dim);
  const order = Array.from({ length: count }, (_, i) => i);
  shuffleInPlace(order, rng);
  const out = new Float32Array(max * dim);
  for (let i = 0; i < max; i++) out.set(rows.subarray(order[i] * dim, (order[i] + 1) * dim), i * dim);
  return out;
}
