import { beforeAll, describe, expect, it } from 'vitest';
import { createRng } from '../../../src/data/random.js';
import { MAX_MMD_PERMUTATIONS, mmdPermutations, runBattery, VOTING_FAMILIES, type BatteryOptions, type Side } from '../../../src/drift/battery.js';
import { driftTestSchema } from '../../../src/storage/report-manifests.js';
import { categorical } from './samples.js';

const CLASSES = ['shirt', 'trouser', 'bag', 'boot'];
const K = CLASSES.length;
const DIM = 8;
const MEMBERS = 3;

/** What differs in the population a side is drawn from; every shift is in units of the statistic's spread. */
interface Population {
  /** Class mix of the images (uniform by default). */
  priors?: number[];
  /** Brightness mean shift, in brightness standard deviations. */
  brightness?: number;
  /** Added to every embedding coordinate (each has standard deviation 1). */
  features?: number;
  /** Added to every per-sample entropy, in nats. */
  entropy?: number;
}

const gaussian = (rng: () => number) => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());

function softmax(logits: number[]): number[] {
  const top = Math.max(...logits);
  const e = logits.map((z) => Math.exp(z - top));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

const entropyOf = (p: number[]) => -p.reduce((a, v) => a + (v > 0 ? v * Math.log(v) : 0), 0);

/**
 * n scored images from one population: a true class drawn from the priors; member probabilities as softmaxes of
 * gaussian logits that favour the true class by 2.5, each member adding its own noise; the ensemble their mean,
 * with its entropy and mutual information; 8-dimensional gaussian embeddings whose mean depends on the class; and
 * brightness, contrast and sharpness as a grey-image dataset would give them.
 */
function drawSide(seed: number, n: number, population: Population = {}): Side {
  const rng = createRng(seed);
  const priors = population.priors ?? new Array<number>(K).fill(1 / K);
  const probs = new Float32Array(n * K);
  const entropy = new Float64Array(n);
  const mutualInformation = new Float64Array(n);
  const features = new Float32Array(n * DIM);
  const imageStats = { brightness: new Float64Array(n), contrast: new Float64Array(n), sharpness: new Float64Array(n) };
  for (let i = 0; i < n; i++) {
    const label = categorical(rng, priors);
    const logits = Array.from({ length: K }, (_, k) => gaussian(rng) + (k === label ? 2.5 : 0));
    const members = Array.from({ length: MEMBERS }, () => softmax(logits.map((z) => z + 0.5 * gaussian(rng))));
    const ensemble = Array.from({ length: K }, (_, k) => members.reduce((a, m) => a + m[k], 0) / MEMBERS);
    probs.set(ensemble, i * K);
    const h = entropyOf(ensemble);
    entropy[i] = h + (population.entropy ?? 0);
    mutualInformation[i] = Math.max(0, h - members.reduce((a, m) => a + entropyOf(m), 0) / MEMBERS);
    for (let d = 0; d < DIM; d++) features[i * DIM + d] = gaussian(rng) + (d % K === label ? 2 : 0) + (population.features ?? 0);
    imageStats.brightness[i] = 0.35 + 0.08 * (gaussian(rng) + (population.brightness ?? 0));
    imageStats.contrast[i] = 0.25 + 0.05 * gaussian(rng);
    imageStats.sharpness[i] = Math.exp(-3 + 0.4 * gaussian(rng));
  }
  return { count: n, probs, entropy, mutualInformation, features, imageStats };
}

// Small sides and few permutations keep the hundreds of repetitions below a second or two.
const OPTIONS: BatteryOptions = { classes: CLASSES, featureSize: DIM, alpha: 0.05, maxMmdSamples: 60, permutations: 50, seed: 1 };

/** Runs the battery on `reps` pairs of fresh, disjoint samples: reference from the base population, current from `current`. */
function repeat(reps: number, n: number, current: Population = {}) {
  return Array.from({ length: reps }, (_, r) =>
    runBattery(drawSide(10_000 + 2 * r, n), drawSide(10_001 + 2 * r, n, current), { ...OPTIONS, seed: r + 1 }),
  );
}

const flagged = (run: ReturnType<typeof runBattery>, name: string) => run.tests.find((t) => t.name === name)!.drift;
const count = <T>(xs: T[], pred: (x: T) => boolean) => xs.filter(pred).length;

describe('drift battery', () => {
  describe('on two samples from the same distribution', () => {
    let runs: ReturnType<typeof repeat>;
    beforeAll(() => {
      runs = repeat(400, 60);
    });

    it('calls drift in at most about α = 5% of 400 repetitions', () => {
      // Bonferroni bounds the family-wise false-positive rate by α = 0.05, 20 of 400 in expectation (these seeds give
      // 12; 2000 other seeds gave 4.7%). The bound of 32 (8%) is past the 99.6% quantile of Binomial(400, 0.05): room
      // for the sampling noise of a battery exactly at its nominal rate, while an uncorrected battery of 10 tests at
      // 0.05 each (about 40%) would fail.
      const falseAlarms = count(runs, (r) => r.driftDetected);
      expect(falseAlarms).toBeLessThanOrEqual(32);
    });

    it('lets no single voting family raise more than its α / 4 share of the false alarms', () => {
      for (const family of ['prediction', 'labels', 'input', 'image-statistics'] as const) {
        const alarms = count(runs, (r) => r.tests.some((t) => t.family === family && t.drift));
        // α / 4 = 1.25%, 5 of 400 in expectation; 14 is past the 99.9% quantile of Binomial(400, 0.0125).
        expect(alarms, family).toBeLessThanOrEqual(14);
      }
    });

    it('flags the unvoted uncertainty tests at the uncorrected α, about 5% each, without calling drift for them', () => {
      // Over both tests, 800 chances: about 40 alarms at α (these seeds give 23), about 10 had they been held to α / 4.
      const alarms = count(runs, (r) => flagged(r, 'ks-uncertainty:entropy')) + count(runs, (r) => flagged(r, 'ks-uncertainty:disagreement'));
      expect(alarms).toBeGreaterThanOrEqual(15);
      expect(alarms).toBeLessThanOrEqual(64);
      const onlyUncertainty = runs.filter((r) => r.tests.every((t) => !t.drift || t.family === 'uncertainty') && r.tests.some((t) => t.drift));
      expect(onlyUncertainty.length).toBeGreaterThan(0);
      for (const r of onlyUncertainty) expect(r.driftDetected).toBe(false);
    });

    it('keeps a test whose p-value lies between its corrected threshold and α from voting for drift', () => {
      const between = runs.flatMap((r) => r.tests).filter((t) => t.inVerdict && t.pValue >= t.threshold && t.pValue < OPTIONS.alpha);
      expect(between.length).toBeGreaterThan(10);
      for (const t of between) expect(t.drift).toBe(false);
    });

    it('returns well-formed tests: p in (0, 1], threshold ≤ α, drift exactly when p < threshold', () => {
      for (const t of runs.slice(0, 20).flatMap((r) => r.tests)) {
        expect(driftTestSchema.parse(t)).toEqual(t);
        expect(t.pValue).toBeGreaterThan(0);
        expect(t.pValue).toBeLessThanOrEqual(1);
        expect(t.threshold).toBeLessThanOrEqual(OPTIONS.alpha);
        expect(t.drift).toBe(t.pValue < t.threshold);
      }
    });
  });

  describe('on a clear shift in one family', () => {
    it('detects images darker by one standard deviation in ≥ 90% of 100 repetitions, by the brightness test', () => {
      const runs = repeat(100, 80, { brightness: -1 });
      const detected = count(runs, (r) => r.driftDetected && flagged(r, 'ks-image:brightness'));
      expect(detected).toBeGreaterThanOrEqual(90);
      for (const r of runs) expect(r.tests.find((t) => t.name === 'ks-image:brightness')!.effectSize).toBeLessThan(-0.5);
      // Nothing else about the images or predictions changed, so the other families stay near their false-alarm rate.
      expect(count(runs, (r) => r.tests.some((t) => t.inVerdict && t.drift && t.name !== 'ks-image:brightness'))).toBeLessThanOrEqual(8);
    });

    it('detects embeddings shifted by 0.6 standard deviations per coordinate in ≥ 90% of 100 repetitions, by MMD', () => {
      // 50 permutations are asked for (OPTIONS); the battery raises them to the 80 its threshold needs.
      const runs = repeat(100, 60, { features: 0.6 });
      const detected = count(runs, (r) => r.driftDetected && flagged(r, 'mmd-embeddings'));
      expect(detected).toBeGreaterThanOrEqual(90);
      expect(count(runs, (r) => r.tests.some((t) => t.family === 'image-statistics' && t.drift))).toBeLessThanOrEqual(8);
    });

    it('detects a shifted class mix by the labels and prediction families', () => {
      const runs = repeat(50, 200, { priors: [0.55, 0.15, 0.15, 0.15] });
      expect(count(runs, (r) => flagged(r, 'chi-square-labels'))).toBeGreaterThanOrEqual(45);
      expect(count(runs, (r) => flagged(r, 'ks-probability:shirt'))).toBeGreaterThanOrEqual(45);
    });

    it('reports a rise in entropy alone through the uncertainty family without calling drift', () => {
      const run = runBattery(drawSide(1, 60), drawSide(2, 60), { ...OPTIONS, seed: 3 });
      expect(run.driftDetected).toBe(false);
      const raised = runBattery(drawSide(1, 60), drawSide(2, 60, { entropy: 0.5 }), { ...OPTIONS, seed: 3 });
      const entropy = raised.tests.find((t) => t.name === 'ks-uncertainty:entropy')!;
      expect(entropy.drift).toBe(true);
      expect(entropy.effectSize).toBeGreaterThan(0.5);
      expect(raised.driftDetected).toBe(false);
    });
  });

  describe('thresholds', () => {
    it('splits α over the four voting families and again over the tests inside a family (Bonferroni)', () => {
      const alpha = 0.1;
      const ref = drawSide(1, 60);
      const cur = drawSide(2, 60);
      // Two extra image statistics, so the image family has S = 5 and differs from the K = 4 of the predictions.
      const S = 5;
      for (const side of [ref, cur]) {
        side.imageStats['mean-red'] = side.imageStats.brightness.map((b) => b * 0.9);
        side.imageStats['mean-green'] = side.imageStats.contrast.map((c) => c * 1.1);
      }
      const { tests } = runBattery(ref, cur, { ...OPTIONS, alpha });
      const by = (family: string) => tests.filter((t) => t.family === family);

      expect(VOTING_FAMILIES).toBe(4);
      expect(by('prediction').map((t) => t.name)).toEqual(CLASSES.map((c) => `ks-probability:${c}`));
      for (const t of by('prediction')) expect(t.threshold).toBeCloseTo(alpha / 4 / K, 15);
      expect(by('labels').map((t) => [t.name, t.threshold])).toEqual([['chi-square-labels', alpha / 4]]);
      expect(by('input').map((t) => [t.name, t.threshold])).toEqual([['mmd-embeddings', alpha / 4]]);
      expect(by('image-statistics')).toHaveLength(S);
      for (const t of by('image-statistics')) expect(t.threshold).toBeCloseTo(alpha / 4 / S, 15);
      expect(by('uncertainty').map((t) => [t.name, t.threshold])).toEqual([
        ['ks-uncertainty:entropy', alpha],
        ['ks-uncertainty:disagreement', alpha],
      ]);
      for (const t of tests) expect(t.inVerdict).toBe(t.family !== 'uncertainty');
      // The voting thresholds add up to α: the Bonferroni bound on the family-wise error.
      expect(tests.filter((t) => t.inVerdict).reduce((a, t) => a + t.threshold, 0)).toBeCloseTo(alpha, 12);
    });

    it('tests only the image statistics both sides have', () => {
      const ref = drawSide(1, 40);
      ref.imageStats['mean-blue'] = ref.imageStats.brightness.slice();
      const { tests } = runBattery(ref, drawSide(2, 40), OPTIONS);
      expect(tests.filter((t) => t.family === 'image-statistics').map((t) => t.name)).toEqual(['ks-image:brightness', 'ks-image:contrast', 'ks-image:sharpness']);
    });
  });

  describe('MMD permutations', () => {
    it('raises the permutations to what the threshold needs: 1 / (1 + P) must be able to fall below it', () => {
      // α = 0.05: threshold 0.0125; 50 permutations could at best reach p = 1/51 ≈ 0.0196.
      expect(mmdPermutations(50, 0.0125)).toBe(80);
      expect(1 / (1 + mmdPermutations(50, 0.0125))).toBeLessThan(0.0125);
      expect(mmdPermutations(200, 0.0125)).toBe(200);
      // α = 0.01 with the default 200 permutations: p ≥ 1/201 ≈ 0.005 against a threshold of 0.0025.
      expect(mmdPermutations(200, 0.01 / 4)).toBe(400);
      for (const alpha of [0.5, 0.3, 0.1, 0.07, 0.05, 0.03, 0.02, 0.01, 0.003]) {
        const threshold = alpha / VOTING_FAMILIES;
        expect(1 / (1 + mmdPermutations(20, threshold)), `α ${alpha}`).toBeLessThan(threshold);
      }
      expect(mmdPermutations(20, 1e-7)).toBe(MAX_MMD_PERMUTATIONS);
    });

    it('lets MMD call drift on a strong embedding shift even when 20 permutations are asked for', () => {
      const run = runBattery(drawSide(1, 60), drawSide(2, 60, { features: 2 }), { ...OPTIONS, permutations: 20 });
      const mmd = run.tests.find((t) => t.name === 'mmd-embeddings')!;
      expect(run.mmdPermutations).toBe(80);
      expect(mmd.pValue).toBeCloseTo(1 / 81, 12);
      expect(mmd.drift).toBe(true);
      expect(run.driftDetected).toBe(true);
    });
  });

  describe('reproducibility', () => {
    it('gives the same tests and verdict for the same inputs and seed', () => {
      const ref = drawSide(5, 90);
      const cur = drawSide(6, 70, { features: 0.3 });
      const options = { ...OPTIONS, maxMmdSamples: 50, seed: 42 };
      expect(runBattery(ref, cur, options)).toEqual(runBattery(ref, cur, options));
      expect(runBattery(drawSide(5, 90), drawSide(6, 70, { features: 0.3 }), options)).toEqual(runBattery(ref, cur, options));
    });

    it('uses the seed only for the MMD subsample and permutations', () => {
      const ref = drawSide(5, 90);
      const cur = drawSide(6, 70, { features: 0.3 });
      const a = runBattery(ref, cur, { ...OPTIONS, maxMmdSamples: 50, seed: 1 });
      const b = runBattery(ref, cur, { ...OPTIONS, maxMmdSamples: 50, seed: 2 });
      const others = (r: typeof a) => r.tests.filter((t) => t.name !== 'mmd-embeddings');
      expect(others(b)).toEqual(others(a));
      const mmd = (r: typeof a) => r.tests.find((t) => t.name === 'mmd-embeddings')!;
      expect(mmd(b).statistic).not.toBe(mmd(a).statistic);
      expect(a.mmdSamples).toEqual([50, 50]);
    });

    it('uses every row, in order, when a side is within maxMmdSamples', () => {
      const ref = drawSide(5, 30);
      const cur = drawSide(6, 45);
      const a = runBattery(ref, cur, { ...OPTIONS, seed: 1 });
      const b = runBattery(ref, cur, { ...OPTIONS, seed: 2 });
      expect(a.mmdSamples).toEqual([30, 45]);
      const statistic = (r: typeof a) => r.tests.find((t) => t.name === 'mmd-embeddings')!.statistic;
      expect(statistic(b)).toBe(statistic(a));
    });
  });
});
