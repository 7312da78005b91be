/**
 * Records of training: the run (one per POST /v1/training-jobs), each member's own record, and the registered
 * model. The run record is written by the API and by the job that finishes the run; a member record only by its
 * member's job, so no two processes ever write the same object.
 */
import { z } from 'zod';
import { architectureSchema } from '../models/architecture.js';
import { augmentationSchema } from '../models/augment.js';
import { trainingSchema } from '../models/train.js';
import { problemSchema, resourceStatus } from './manifests.js';

export const epochLogSchema = z.object({
  epoch: z.number().int(),
  loss: z.number(),
  accuracy: z.number(),
  valLoss: z.number().nullable(),
  valAccuracy: z.number().nullable(),
  learningRate: z.number(),
  seconds: z.number(),
});

/** The fully resolved configuration a run trains with (preset and overrides already merged). */
export const runConfigSchema = z.object({
  preset: z.string().nullable(),
  architecture: architectureSchema,
  training: trainingSchema,
  augmentation: augmentationSchema,
  members: z.number().int().min(1).max(10),
  seeds: z.array(z.number().int()),
});

export const runManifestSchema = z.object({
  id: z.string(),
  kind: z.literal('training-job'),
  tenant: z.string(),
  datasetId: z.string(),
  status: resourceStatus.or(z.literal('succeeded')),
  error: problemSchema.optional(),
  cancelRequested: z.boolean().default(false),
  createdAt: z.string(),
  updatedAt: z.string(),
  finishedAt: z.string().optional(),
  config: runConfigSchema,
  modelId: z.string().optional(),
});

export const memberMetricsSchema = z.object({
  valAccuracy: z.number().nullable(),
  valLoss: z.number().nullable(),
  bestEpoch: z.number().int().nullable(),
  epochsRun: z.number().int(),
  stopReason: z.enum(['completed', 'early-stopping', 'cancelled']),
});

export const memberRecordSchema = z.object({
  index: z.number().int(),
  seed: z.number().int(),
  status: z.enum(['queued', 'running', 'succeeded', 'failed', 'cancelled']),
  backend: z.string().optional(),
  error: problemSchema.optional(),
  history: z.array(epochLogSchema),
  /** Epochs restored from a checkpoint after a worker was lost (empty when the member ran straight through). */
  resumedAt: z.array(z.number().int()).default([]),
  classWeights: z.array(z.number()).nullable().optional(),
  /** The dataset of augmented samples this member stored (augmentation.materialize). */
  augmentedDatasetId: z.string().optional(),
  metrics: memberMetricsSchema.optional(),
  updatedAt: z.string(),
});

export const modelManifestSchema = z.object({
  id: z.string(),
  kind: z.literal('model'),
  tenant: z.string(),
  status: z.literal('ready'),
  createdAt: z.string(),
  datasetId: z.string(),
  trainingJobId: z.string(),
  classes: z.array(z.string()),
  input: z.object({ height: z.number().int(), width: z.number().int(), channels: z.number().int() }),
  /** Exactly what prediction must apply: resize to `input`, scale to [0,1], subtract mean, divide by std. */
  preprocessing: z.object({
    resize: z.enum(['stretch', 'cover', 'contain']),
    mean: z.array(z.number()),
    std: z.array(z.number()),
  }),
  backend: z.string(),
  members: z.array(z.object({ index: z.number().int(), seed: z.number().int(), metrics: memberMetricsSchema })),
  metrics: z.object({
    ensembleValAccuracy: z.number().nullable(),
    ensembleValLoss: z.number().nullable(),
    memberValAccuracyMean: z.number().nullable(),
    memberValAccuracyStd: z.number().nullable(),
    valSamples: z.number().int(),
  }),
  config: runConfigSchema,
  aliases: z.array(z.string()).default([]),
});

/** An alias record: `aliases/{alias}.json` names the model it points at. */
export const aliasSchema = z.object({ modelId: z.string() });

export type RunConfig = z.infer<typeof runConfigSchema>;
export type RunManifest = z.infer<typeof runManifestSchema>;
export type MemberRecord = z.infer<typeof memberRecordSchema>;
export type ModelManifest = z.infer<typeof modelManifestSchema>;
