/** The public shape of a dataset: the manifest without internal storage keys, plus links and live progress. */
import { z } from 'zod';
import { datasetManifestSchema, type DatasetManifest } from '../../storage/manifests.js';

const m = datasetManifestSchema.shape;

export const datasetViewSchema = z.object({
  id: z.string(),
  status: m.status,
  name: z.string(),
  error: m.error,
  createdAt: z.string(),
  updatedAt: z.string(),
  source: z.object({
    kind: z.enum(['archive', 'idx', 'augmented']),
    trainingJobId: z.string().optional(),
    format: z.string().optional(),
    filename: z.string().optional(),
    bytes: z.number(),
    images: z.number(),
  }),
  options: m.options,
  classes: m.classes,
  image: m.image,
  splits: z.object({ train: z.number(), val: z.number(), test: z.number() }).optional(),
  profile: m.profile,
  ingest: m.ingest,
  progress: z.object({ stage: z.string(), done: z.number(), total: z.number() }).optional(),
  links: z.object({ self: z.string(), samples: z.string() }),
});

export type DatasetView = z.infer<typeof datasetViewSchema>;

function sourceView(src: DatasetManifest['source']): DatasetView['source'] {
  switch (src.kind) {
    case 'archive':
      return { kind: 'archive', format: src.format, filename: src.filename, bytes: src.bytes, images: src.entries };
    case 'idx':
      return { kind: 'idx', bytes: src.bytes, images: src.pairs.reduce((s, p) => s + p.count, 0) };
    case 'augmented':
      return { kind: 'augmented', trainingJobId: src.trainingJobId, bytes: 0, images: src.samples };
  }
}

/** Shapes a manifest for clients. */
export function toDatasetView(d: DatasetManifest, progress?: DatasetView['progress']): DatasetView {
  const self = `/v1/datasets/${d.id}`;
  return {
    id: d.id,
    status: d.status,
    name: d.name,
    ...(d.error ? { error: d.error } : {}),
    createdAt: d.createdAt,
    updatedAt: d.updatedAt,
    source: sourceView(d.source),
    options: d.options,
    ...(d.classes ? { classes: d.classes } : {}),
    ...(d.image ? { image: d.image } : {}),
    ...(d.splits ? { splits: { train: d.splits.train.count, val: d.splits.val.count, test: d.splits.test.count } } : {}),
    ...(d.profile ? { profile: d.profile } : {}),
    ...(d.ingest ? { ingest: d.ingest } : {}),
    ...(progress ? { progress } : {}),
    links: { self, samples: `${self}/samples.png` },
  };
}
