/**
 * Inputs for the diagnosis rules, built in code and parsed with the real schemas so they stay what the service
 * stores: a run configuration resolved from a preset, member records with per-epoch histories, a dataset profile,
 * evaluation metrics and a drift report.
 */
import { expect } from 'vitest';
import { datasetProfileSchema, type DatasetProfile } from '../../../src/storage/manifests.js';
import {
  driftReportSchema,
  evaluationMetricsSchema,
  findingSchema,
  type DriftReport,
  type DriftTest,
  type EvaluationMetrics,
  type Finding,
} from '../../../src/storage/report-manifests.js';
import { memberRecordSchema, runConfigSchema, type MemberRecord, type RunConfig } from '../../../src/storage/training-manifests.js';
import { resolveRunConfig, trainingJobRequestSchema } from '../../../src/training/request.js';

/** A run configuration as POST /v1/training-jobs resolves it: the small preset, `training` fields overriding it. */
export function runConfig(training: Record<string, unknown> = {}, members = 3): RunConfig {
  const request = trainingJobRequestSchema.parse({ datasetId: 'ds_1', preset: 'small', training, ensemble: { members } });
  return runConfigSchema.parse(resolveRunConfig(request));
}

/** Learning curves, one value per epoch; validation values may be absent (no validation split). */
export interface Curves {
  loss: number[];
  accuracy: number[];
  valLoss?: number[];
  valAccuracy?: number[];
}

/** The epoch log a member stores: epochs numbered from 1, as trainMember writes them. */
export function history(c: Curves, learningRate = 1e-3): MemberRecord['history'] {
  return c.loss.map((loss, i) => ({
    epoch: i + 1,
    loss,
    accuracy: c.accuracy[i],
    valLoss: c.valLoss?.[i] ?? null,
    valAccuracy: c.valAccuracy?.[i] ?? null,
    learningRate,
    seconds: 2,
  }));
}

interface MemberOptions {
  stopReason?: 'completed' | 'early-stopping' | 'cancelled';
  /** Epoch (from 1) of the best validation loss; by default the epoch of the lowest one. */
  bestEpoch?: number | null;
  status?: MemberRecord['status'];
  error?: { type: string; detail: string };
}

/** A member record with the metrics a finished member stores. */
export function member(index: number, curves: Curves, opts: MemberOptions = {}): MemberRecord {
  const h = history(curves);
  const last = h[h.length - 1];
  const validated = h.filter((e) => e.valLoss !== null);
  const lowest = validated.reduce<(typeof h)[number] | null>((a, e) => (a === null || e.valLoss! < a.valLoss! ? e : a), null);
  const finished = (opts.status ?? 'succeeded') === 'succeeded';
  return memberRecordSchema.parse({
    index,
    seed: 1000 + 7919 * index,
    status: opts.status ?? 'succeeded',
    error: opts.error,
    history: h,
    metrics: finished
      ? {
          valAccuracy: last?.valAccuracy ?? null,
          valLoss: last?.valLoss ?? null,
          bestEpoch: opts.bestEpoch === undefined ? (lowest?.epoch ?? null) : opts.bestEpoch,
          epochsRun: h.length,
          stopReason: opts.stopReason ?? 'completed',
        }
      : undefined,
    updatedAt: '2025-01-01T00:00:00.000Z',
  });
}

/** `n` members with the same curves (seeds differ only in name). */
export const members = (n: number, curves: Curves, opts: MemberOptions = {}) => Array.from({ length: n }, (_, k) => member(k, curves, opts));

/**
 * A healthy run on a 10-class problem: both losses fall geometrically towards a floor, both accuracies rise towards
 * 0.93 and 0.90, and validation accuracy wobbles by a point from epoch to epoch as a real one does.
 */
export function healthy(epochs = 10): Required<Curves> {
  const decay = (e: number) => 0.7 ** e;
  const wobble = (e: number) => (e % 2 === 0 ? 0.005 : -0.005);
  const range = Array.from({ length: epochs }, (_, e) => e);
  return {
    loss: range.map((e) => 0.25 + 1.8 * decay(e)),
    accuracy: range.map((e) => 0.93 - 0.6 * decay(e)),
    valLoss: range.map((e) => 0.32 + 1.6 * decay(e)),
    valAccuracy: range.map((e) => 0.9 - 0.55 * decay(e) + wobble(e)),
  };
}

/**
 * Overfitting on a 10-class problem: the training loss keeps falling and training accuracy reaches 99.5%, while the
 * validation loss bottoms out at 0.45 in epoch 4 and climbs to 0.80, and validation accuracy sags to 85%.
 */
export function overfit(): Required<Curves> {
  return {
    loss: [1.6, 1.05, 0.72, 0.5, 0.36, 0.26, 0.19, 0.14, 0.1, 0.07],
    accuracy: [0.65, 0.8, 0.87, 0.91, 0.94, 0.96, 0.975, 0.985, 0.99, 0.995],
    valLoss: [1.2, 0.7, 0.5, 0.45, 0.47, 0.52, 0.58, 0.65, 0.72, 0.8],
    valAccuracy: [0.7, 0.8, 0.85, 0.87, 0.87, 0.865, 0.86, 0.86, 0.855, 0.85],
  };
}

/** The dataset profile the pipeline would compute from training counts per class (val and test default to an eighth each). */
export function profile(
  train: Record<string, number>,
  opts: { val?: Record<string, number>; test?: Record<string, number>; crossSplitGroups?: number; removedFromEvaluation?: number; labelConflicts?: number } = {},
): DatasetProfile {
  const classes = Object.keys(train);
  const eighth = Object.fromEntries(classes.map((c) => [c, Math.round(train[c] / 8)]));
  const val = opts.val ?? eighth;
  const test = opts.test ?? eighth;
  const perClass = Object.fromEntries(classes.map((c) => [c, train[c] + (val[c] ?? 0) + (test[c] ?? 0)]));
  const total = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
  const present = classes.filter((c) => perClass[c] > 0);
  const majority = present.reduce((a, c) => (perClass[c] > perClass[a] ? c : a));
  const minority = present.reduce((a, c) => (perClass[c] < perClass[a] ? c : a));
  const summary = { min: 28, max: 28, mean: 28, median: 28, count: total(perClass) };
  return datasetProfileSchema.parse({
    classes,
    counts: { total: total(perClass), perClass, perSplit: { train, val, test }, splitTotals: { train: total(train), val: total(val), test: total(test) } },
    imbalanceRatio: perClass[majority] / perClass[minority],
    minorityClass: minority,
    majorityClass: majority,
    channelStats: { split: 'train', mean: [0.29], std: [0.35] },
    duplicates: {
      exactGroups: opts.crossSplitGroups ?? 0,
      nearGroups: 0,
      duplicateImages: 2 * (opts.crossSplitGroups ?? 0),
      groups: [],
      method: { hash: 'dhash-64', maxHamming: 4, maxMeanAbsDiff: 0.02 },
    },
    leakage: {
      crossSplitGroups: opts.crossSplitGroups ?? 0,
      removedFromEvaluation: opts.removedFromEvaluation ?? 0,
      removed: [],
      labelConflicts: opts.labelConflicts ?? 0,
      labelConflictExamples: [],
    },
    unreadable: { count: 0, files: [] },
    source: { width: summary, height: summary, aspectRatio: { ...summary, min: 1, max: 1, mean: 1, median: 1 }, channels: { '1': total(perClass) }, formats: { png: total(perClass) } },
    classBrightness: Object.fromEntries(classes.map((c) => [c, 0.3])),
  });
}

/** One reliability bin of `count` predictions at mean `confidence`, right `accuracy` of the time. */
export const bin = (lower: number, count: number, confidence: number, accuracy: number) => ({ lower, upper: lower + 0.1, count, confidence, accuracy });

/**
 * Evaluation metrics of an ensemble whose members scored `memberAccuracies`, with per-class recall where given and
 * the calibration bins; ECE and MCE are computed from the bins as the evaluation does.
 */
export function evaluation(opts: {
  accuracy?: number;
  memberAccuracies?: number[];
  recall?: Record<string, number>;
  support?: Record<string, number>;
  bins?: ReturnType<typeof bin>[];
}): EvaluationMetrics {
  const accs = opts.memberAccuracies ?? [0.88, 0.882, 0.884];
  const mean = accs.reduce((a, b) => a + b, 0) / accs.length;
  const std = accs.length > 1 ? Math.sqrt(accs.reduce((a, b) => a + (b - mean) ** 2, 0) / (accs.length - 1)) : 0;
  const accuracy = opts.accuracy ?? mean + 0.01;
  const recall = opts.recall ?? { shirt: 0.9, trouser: 0.9 };
  const bins = opts.bins ?? [bin(0.8, 100, 0.85, 0.85), bin(0.9, 100, 0.95, 0.95)];
  const n = bins.reduce((a, b) => a + b.count, 0);
  const gaps = bins.filter((b) => b.count > 0).map((b) => ({ count: b.count, gap: Math.abs(b.accuracy - b.confidence) }));
  const classes = Object.keys(recall);
  return evaluationMetricsSchema.parse({
    samples: n,
    accuracy,
    nll: 0.35,
    macroF1: accuracy - 0.01,
    perClass: classes.map((c) => ({ class: c, precision: recall[c], recall: recall[c], f1: recall[c], support: opts.support?.[c] ?? 100 })),
    confusion: classes.map((_, i) => classes.map((__, j) => (i === j ? 90 : 1))),
    calibration: { ece: gaps.reduce((a, g) => a + (g.count / n) * g.gap, 0), mce: Math.max(0, ...gaps.map((g) => g.gap)), bins },
    members: accs.map((a, k) => ({ index: k, seed: 1000 + k, accuracy: a, nll: 0.4 })),
    memberAccuracy: { mean, std },
    ensembleGain: accuracy - mean,
  });
}

/** One drift test; `drift` follows from the p-value and threshold as the battery sets it. */
export function driftTest(t: Omit<DriftTest, 'drift' | 'inVerdict' | 'statistic'> & { statistic?: number; inVerdict?: boolean }): DriftTest {
  return { statistic: 0.2, inVerdict: t.family !== 'uncertainty', ...t, drift: t.pValue < t.threshold };
}

/** The voting tests of a quiet battery at α = 0.05 over two classes and three image statistics, all p-values high. */
export function quietTests(): DriftTest[] {
  return [
    driftTest({ name: 'ks-probability:shirt', family: 'prediction', pValue: 0.41, threshold: 0.00625, effectSize: 0.05 }),
    driftTest({ name: 'ks-probability:trouser', family: 'prediction', pValue: 0.37, threshold: 0.00625, effectSize: -0.04 }),
    driftTest({ name: 'chi-square-labels', family: 'labels', pValue: 0.52, threshold: 0.0125, effectSize: null }),
    driftTest({ name: 'mmd-embeddings', family: 'input', pValue: 0.3, threshold: 0.0125, effectSize: null }),
    driftTest({ name: 'ks-image:brightness', family: 'image-statistics', pValue: 0.25, threshold: 0.0125 / 3, effectSize: 0.1 }),
    driftTest({ name: 'ks-image:contrast', family: 'image-statistics', pValue: 0.6, threshold: 0.0125 / 3, effectSize: 0.02 }),
    driftTest({ name: 'ks-image:sharpness', family: 'image-statistics', pValue: 0.18, threshold: 0.0125 / 3, effectSize: -0.12 }),
    driftTest({ name: 'ks-uncertainty:entropy', family: 'uncertainty', pValue: 0.33, threshold: 0.05, effectSize: 0.08 }),
    driftTest({ name: 'ks-uncertainty:disagreement', family: 'uncertainty', pValue: 0.44, threshold: 0.05, effectSize: 0.03 }),
  ];
}

/** Replaces the tests of the same name in `tests`. */
export const withTests = (tests: DriftTest[], ...replacements: DriftTest[]) =>
  tests.map((t) => replacements.find((r) => r.name === t.name) ?? t);

/** A finished drift report over `tests` (the verdict is any voting test's drift unless given). */
export function driftReport(opts: {
  tests?: DriftTest[];
  driftDetected?: boolean | null;
  labelShift?: { class: string; reference: number; estimated: number }[];
  uncertainty?: { reference: { entropy: number; mutualInformation: number; confidence: number }; current: { entropy: number; mutualInformation: number; confidence: number } };
}): DriftReport {
  const tests = opts.tests ?? quietTests();
  const changes = opts.labelShift;
  return driftReportSchema.parse({
    id: 'dr_1',
    tenant: 'acme',
    status: 'ready',
    createdAt: '2025-01-01T00:00:00.000Z',
    updatedAt: '2025-01-01T00:00:00.000Z',
    modelId: 'md_1',
    kind: 'drift-report',
    reference: { datasetId: 'ds_1', split: 'val' },
    current: { datasetId: 'ds_2' },
    alpha: 0.05,
    options: {},
    driftDetected: opts.driftDetected === null ? undefined : (opts.driftDetected ?? tests.some((t) => t.inVerdict && t.drift)),
    tests,
    labelShift: changes
      ? {
          referencePriors: Object.fromEntries(changes.map((c) => [c.class, c.reference])),
          estimatedPriors: Object.fromEntries(changes.map((c) => [c.class, c.estimated])),
          largestChanges: [...changes].sort((a, b) => Math.abs(b.estimated - b.reference) - Math.abs(a.estimated - a.reference)),
        }
      : undefined,
    uncertainty: opts.uncertainty,
  });
}

/** The findings of `rule`, each checked against the finding schema (no NaN or infinite evidence, a next step). */
export function findingsOf(findings: Finding[], rule: string): Finding[] {
  for (const f of findings) {
    expect(findingSchema.parse(f)).toEqual(f);
    expect(f.nextStep.length, f.rule).toBeGreaterThan(20);
    expect(f.detail.length, f.rule).toBeGreaterThan(20);
  }
  return findings.filter((f) => f.rule === rule);
}

/** The single finding of `rule`; fails when there is none or more than one. */
export function only(findings: Finding[], rule: string): Finding {
  const hits = findingsOf(findings, rule);
  expect(hits.map((f) => f.rule), `findings of ${rule} among ${findings.map((f) => f.rule).join(', ') || 'none'}`).toEqual([rule]);
  return hits[0];
}

/** Rule ids of the findings, after the same schema checks. */
export const rules = (findings: Finding[]) => {
  findingsOf(findings, '');
  return findings.map((f) => f.rule);
};
