/**
 * Typed manifests stored in the bucket. These schemas are the contract between the API, the workers and whatever
 * reads the bucket later; every read of a manifest is validated against them.
 */
import { z } from 'zod';

export const resourceStatus = z.enum(['queued', 'running', 'ready', 'failed', 'cancelled']);

export const problemSchema = z.object({ type: z.string(), detail: z.string() });

export const splitFractionsSchema = z
  .object({ train: z.number().min(0).max(1), val: z.number().min(0).max(1), test: z.number().min(0).max(1) })
  .refine((f) => Math.abs(f.train + f.val + f.test - 1) < 1e-6, { message: 'train, val and test must add up to 1' })
  .refine((f) => f.train > 0, { message: 'the train fraction must be above 0' });

export const ingestOptionsSchema = z.object({
  name: z.string().min(1).max(200),
  /** Target [height, width]; null keeps the images' common size (or 64×64 when sizes differ or exceed 128). */
  imageSize: z.tuple([z.number().int(), z.number().int()]).nullable(),
  /** 1 (grey) or 3 (RGB); null picks 1 when every image is grey, else 3. */
  channels: z.union([z.literal(1), z.literal(3)]).nullable(),
  resize: z.enum(['stretch', 'cover', 'contain']),
  split: splitFractionsSchema,
  seed: z.number().int().min(0).max(2 ** 32 - 1),
  /** Names for IDX labels 0..K-1 (archives take names from their folders). */
  classNames: z.array(z.string().min(1).max(100)).nullable(),
});

export const datasetSourceSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('archive'),
    format: z.enum(['zip', 'tar.gz', 'tar']),
    key: z.string(),
    filename: z.string(),
    bytes: z.number().int(),
    entries: z.number().int(),
  }),
  z.object({
    /** Augmented training samples a training job materialised (augmentation.materialize), for inspection. */
    kind: z.literal('augmented'),
    trainingJobId: z.string(),
    member: z.number().int(),
    epoch: z.number().int(),
    samples: z.number().int(),
  }),
  z.object({
    kind: z.literal('idx'),
    pairs: z.array(z.object({ imagesKey: z.string(), labelsKey: z.string(), count: z.number().int() })),
    bytes: z.number().int(),
  }),
]);

export const shardRefSchema = z.object({
  key: z.string(),
  count: z.number().int(),
  bytes: z.number().int(),
  sha256: z.string(),
});

const summarySchema = z.object({
  min: z.number(),
  max: z.number(),
  mean: z.number(),
  median: z.number(),
  count: z.number().int(),
});

const sampleRefSchema = z.object({ file: z.string(), split: z.enum(['train', 'val', 'test']), label: z.string() });

export const datasetProfileSchema = z.object({
  classes: z.array(z.string()),
  counts: z.object({
    total: z.number().int(),
    perClass: z.record(z.string(), z.number().int()),
    perSplit: z.object({
      train: z.record(z.string(), z.number().int()),
      val: z.record(z.string(), z.number().int()),
      test: z.record(z.string(), z.number().int()),
    }),
    splitTotals: z.object({ train: z.number().int(), val: z.number().int(), test: z.number().int() }),
  }),
  /** Largest class count over smallest (all splits together). */
  imbalanceRatio: z.number(),
  minorityClass: z.string(),
  majorityClass: z.string(),
  /** Per-channel mean and standard deviation in [0,1], computed on the training split only. */
  channelStats: z.object({ split: z.literal('train'), mean: z.array(z.number()), std: z.array(z.number()) }),
  duplicates: z.object({
    exactGroups: z.number().int(),
    nearGroups: z.number().int(),
    duplicateImages: z.number().int(),
    /** Up to 100 groups, largest first. */
    groups: z.array(z.object({ kind: z.enum(['exact', 'near']), members: z.array(sampleRefSchema) })),
    method: z.object({ hash: z.string(), maxHamming: z.number(), maxMeanAbsDiff: z.number() }),
  }),
  leakage: z.object({
    crossSplitGroups: z.number().int(),
    removedFromEvaluation: z.number().int(),
    /** Up to 200 of the removed samples. */
    removed: z.array(sampleRefSchema),
    labelConflicts: z.number().int(),
    labelConflictExamples: z.array(z.array(sampleRefSchema)),
  }),
  unreadable: z.object({
    count: z.number().int(),
    /** Up to 200 files with the reason each was skipped. */
    files: z.array(z.object({ file: z.string(), reason: z.string() })),
  }),
  source: z.object({
    width: summarySchema,
    height: summarySchema,
    aspectRatio: summarySchema,
    channels: z.record(z.string(), z.number().int()),
    formats: z.record(z.string(), z.number().int()),
  }),
  /** Mean brightness (0..1) per class on the training split: a quick look at what separates classes. */
  classBrightness: z.record(z.string(), z.number()),
});

export const datasetManifestSchema = z.object({
  id: z.string(),
  kind: z.literal('dataset'),
  tenant: z.string(),
  name: z.string(),
  status: resourceStatus,
  error: problemSchema.optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
  source: datasetSourceSchema,
  options: ingestOptionsSchema,
  classes: z.array(z.string()).optional(),
  image: z.object({ height: z.number().int(), width: z.number().int(), channels: z.number().int() }).optional(),
  splits: z
    .object({
      train: z.object({ count: z.number().int(), shards: z.array(shardRefSchema) }),
      val: z.object({ count: z.number().int(), shards: z.array(shardRefSchema) }),
      test: z.object({ count: z.number().int(), shards: z.array(shardRefSchema) }),
    })
    .optional(),
  profile: datasetProfileSchema.optional(),
  ingest: z.object({ seconds: z.number(), peakRssBytes: z.number().int() }).optional(),
});

export type ResourceStatus = z.infer<typeof resourceStatus>;
export type IngestOptions = z.infer<typeof ingestOptionsSchema>;
export type DatasetSource = z.infer<typeof datasetSourceSchema>;
export type DatasetProfile = z.infer<typeof datasetProfileSchema>;
export type DatasetManifest = z.infer<typeof datasetManifestSchema>;
export type ShardRef = z.infer<typeof shardRefSchema>;
