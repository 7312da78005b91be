/**
 * Reports: evaluations (a model scored on a labelled dataset) and drift reports (deployment data against the
 * model's validation split). Both are stored as `tenants/{t}/reports/{id}.json` (HTML beside it), written by the API
 * when queued and by the report job when it starts, finishes or fails. Each carries its findings: the diagnosis.
 */
import { z } from 'zod';
import { problemSchema, resourceStatus } from './manifests.js';
import { epochLogSchema } from './training-manifests.js';

/** One thing the diagnosis found, with the numbers that triggered it and what to do about it. */
export const findingSchema = z.object({
  /** Stable rule id, e.g. `overfitting`, `class-imbalance`, `deployment-shift`. */
  rule: z.string(),
  severity: z.enum(['info', 'warning', 'critical']),
  title: z.string(),
  /** Plain-language explanation that cites the evidence. */
  detail: z.string(),
  /** The numbers (or names) that triggered the rule. */
  evidence: z.record(z.string(), z.union([z.number(), z.string(), z.boolean(), z.null()])),
  /** A concrete next step the user can take. */
  nextStep: z.string(),
});

const reportBase = {
  id: z.string(),
  tenant: z.string(),
  status: resourceStatus,
  error: problemSchema.optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
  finishedAt: z.string().optional(),
  modelId: z.string(),
  findings: z.array(findingSchema).default([]),
};

export const classMetricsSchema = z.object({
  class: z.string(),
  precision: z.number().nullable(),
  recall: z.number().nullable(),
  f1: z.number().nullable(),
  support: z.number().int(),
});

/** Equal-width confidence bins: how often the ensemble was right when it was this sure. */
export const reliabilityBinSchema = z.object({
  lower: z.number(),
  upper: z.number(),
  count: z.number().int(),
  /** Mean confidence of the predictions in the bin (null when empty). */
  confidence: z.number().nullable(),
  /** Fraction of them that were right (null when empty). */
  accuracy: z.number().nullable(),
});

export const evaluationMetricsSchema = z.object({
  samples: z.number().int(),
  accuracy: z.number(),
  /** Mean negative log-likelihood of the true class, in nats. */
  nll: z.number(),
  macroF1: z.number(),
  perClass: z.array(classMetricsSchema),
  /** confusion[true][predicted] counts, in class order. */
  confusion: z.array(z.array(z.number().int())),
  calibration: z.object({
    /** Expected calibration error: Σ (n_b / N) |accuracy_b − confidence_b| (Guo et al. 2017, eq. 3). */
    ece: z.number(),
    /** Maximum calibration error over non-empty bins. */
    mce: z.number(),
    bins: z.array(reliabilityBinSchema),
  }),
  members: z.array(z.object({ index: z.number().int(), seed: z.number().int(), accuracy: z.number(), nll: z.number() })),
  /** Mean ± sample std of the members' accuracies: the seed variance. */
  memberAccuracy: z.object({ mean: z.number(), std: z.number() }),
  /** Ensemble accuracy minus the mean member accuracy. */
  ensembleGain: z.number(),
});

export const evaluationSchema = z.object({
  ...reportBase,
  kind: z.literal('evaluation'),
  datasetId: z.string(),
  split: z.enum(['train', 'val', 'test', 'all']),
  metrics: evaluationMetricsSchema.optional(),
  /** Per-epoch history of each member of the run that made the model. */
  learningCurves: z.array(z.object({ member: z.number().int(), seed: z.number().int(), history: z.array(epochLogSchema) })).default([]),
});

/** One statistical test of a drift report. */
export const driftTestSchema = z.object({
  /** e.g. `ks-probability:Coat`, `chi-square-labels`, `mmd-embeddings`, `ks-image:brightness`. */
  name: z.string(),
  family: z.enum(['prediction', 'labels', 'input', 'image-statistics', 'uncertainty']),
  statistic: z.number(),
  pValue: z.number(),
  /** The p-value below which this test calls drift (α after correction). */
  threshold: z.number(),
  drift: z.boolean(),
  /** A size of the change that does not grow with sample size (e.g. difference of means in reference std units). */
  effectSize: z.number().nullable().optional(),
  /** Whether this test counts towards the overall verdict (the uncertainty family is reported, not voted). */
  inVerdict: z.boolean(),
});

/** Binned reference and current values of one quantity, for the HTML histograms. */
export const histogramSchema = z.object({
  name: z.string(),
  edges: z.array(z.number()),
  reference: z.array(z.number()),
  current: z.array(z.number()),
});

export const driftCurrentSchema = z.union([
  z.object({ datasetId: z.string(), split: z.enum(['train', 'val', 'test', 'all']).default('all') }),
  z.object({ from: z.string(), to: z.string() }),
]);

/** How a drift report samples and tests; stored with the report so it can be reproduced. */
export const driftOptionsSchema = z
  .object({
    /** Significance of the overall verdict; each test family gets alpha / families (Bonferroni). */
    alpha: z.number().gt(0).max(0.5).default(0.05),
    /** Most samples used on each side for the univariate tests (a larger side is subsampled with `seed`). */
    maxSamples: z.number().int().min(20).max(20_000).default(5000),
    /** Most samples per side for the kernel (MMD) test, whose cost grows with the square of the sample. */
    maxMmdSamples: z.number().int().min(20).max(2000).default(500),
    permutations: z.number().int().min(20).max(2000).default(200),
    seed: z.number().int().min(0).max(2 ** 31 - 1).default(1),
  })
  .strict();

export const driftReportSchema = z.object({
  ...reportBase,
  kind: z.literal('drift-report'),
  /** The schedule that produced the report, when one did. */
  scheduleId: z.string().optional(),
  reference: z.object({ datasetId: z.string(), split: z.literal('val') }),
  current: driftCurrentSchema,
  alpha: z.number(),
  options: driftOptionsSchema,
  /** Samples used on each side, and the seed that drew any subsample. */
  samples: z
    .object({
      reference: z.number().int(),
      current: z.number().int(),
      mmdReference: z.number().int(),
      mmdCurrent: z.number().int(),
      /** Permutations the MMD test ran: the requested number, raised when needed for p to reach its threshold. */
      mmdPermutations: z.number().int().optional(),
      seed: z.number().int(),
    })
    .optional(),
  driftDetected: z.boolean().optional(),
  tests: z.array(driftTestSchema).default([]),
  labelShift: z
    .object({
      referencePriors: z.record(z.string(), z.number()),
      estimatedPriors: z.record(z.string(), z.number()),
      /** Largest absolute prior changes, largest first. */
      largestChanges: z.array(z.object({ class: z.string(), reference: z.number(), estimated: z.number() })),
    })
    .optional(),
  uncertainty: z
    .object({
      reference: z.object({ entropy: z.number(), mutualInformation: z.number(), confidence: z.number() }),
      current: z.object({ entropy: z.number(), mutualInformation: z.number(), confidence: z.number() }),
    })
    .optional(),
  /** Predicted-label frequencies on each side, in class order. */
  predictedLabels: z.object({ reference: z.array(z.number()), current: z.array(z.number()) }).optional(),
  histograms: z.array(histogramSchema).default([]),
});

export const reportSchema = z.discriminatedUnion('kind', [evaluationSchema, driftReportSchema]);

export type Finding = z.infer<typeof findingSchema>;
export type DriftOptions = z.infer<typeof driftOptionsSchema>;
export type EvaluationMetrics = z.infer<typeof evaluationMetricsSchema>;
export type Evaluation = z.infer<typeof evaluationSchema>;
export type DriftTest = z.infer<typeof driftTestSchema>;
export type DriftReport = z.infer<typeof driftReportSchema>;
export type Histogram = z.infer<typeof histogramSchema>;
export type Report = z.infer<typeof reportSchema>;
