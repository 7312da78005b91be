/**
 * Scoring many stored samples with a registered ensemble, for evaluation and drift jobs: the members are loaded from
 * storage as inference plans (the same code that serves predictions), and samples are normalised exactly as
 * prediction normalises them, in batches, yielding to the event loop between batches.
 */
import { loadSplit } from '../datasets/read.js';
import type { SplitData } from '../models/batches.js';
import { normalisationTable, normaliseInto } from '../models/batches.js';
import { loadMemberPlans } from '../prediction/load.js';
import { createEnsembleRunner, type EnsembleRunner } from '../prediction/runtime.js';
import type { DatasetManifest } from '../storage/manifests.js';
import type { Storage } from '../storage/storage.js';
import type { ModelManifest } from '../storage/training-manifests.js';

/** Every member's probabilities (each N × K), their mean, and optionally the embeddings (N × featureSize). */
export interface Scored {
  count: number;
  members: Float32Array[];
  ensemble: Float32Array;
  features?: Float32Array;
  featureSize: number;
}

/** Loads the model's members from storage into a runner on this thread's backend; dispose it when done. */
export async function loadRunner(storage: Storage, model: ModelManifest): Promise<EnsembleRunner> {
  return createEnsembleRunner(await loadMemberPlans(storage, model));
}

/** Runs `count` uint8 samples (at the model's input size) through the runner; `features` also keeps the embeddings. */
export async function scoreSamples(
  runner: EnsembleRunner,
  model: ModelManifest,
  pixels: Uint8Array,
  count: number,
  opts: { features?: boolean; batchSize?: number } = {},
): Promise<Scored> {
  const { height, width, channels } = model.input;
  const sample = height * width * channels;
  const K = model.classes.length;
  const M = runner.members;
  const batchSize = opts.batchSize ?? 128;
  const table = normalisationTable(model.preprocessing);
  const members = Array.from({ length: M }, () => new Float32Array(count * K));
  const features = opts.features ? new Float32Array(count * runner.featureSize) : undefined;
  for (let start = 0; start < count; start += batchSize) {
    const n = Math.min(batchSize, count - start);
    const x = new Float32Array(n * sample);
    for (let i = 0; i < n; i++) normaliseInto(pixels.subarray((start + i) * sample, (start + i + 1) * sample), channels, table, x, i * sample);
    const out = runner.run(x, n);
    for (let m = 0; m < M; m++) members[m].set(out.subarray(m * n * K, (m + 1) * n * K), start * K);
    features?.set(runner.features(x, n), start * runner.featureSize);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  const ensemble = new Float32Array(count * K);
  for (const probs of members) for (let j = 0; j < ensemble.length; j++) ensemble[j] += probs[j] / M;
  return { count, members, ensemble, features, featureSize: runner.featureSize };
}

/** One split of a dataset, or all three concatenated (train, val, test). */
export async function loadSamples(storage: Storage, dataset: DatasetManifest, split: 'train' | 'val' | 'test' | 'all'): Promise<SplitData> {
  if (split !== 'all') return loadSplit(storage, dataset, split);
  const parts = [await loadSplit(storage, dataset, 'train'), await loadSplit(storage, dataset, 'val'), await loadSplit(storage, dataset, 'test')];
  const count = parts.reduce((s, p) => s + p.count, 0);
  const pixels = new Uint8Array(parts.reduce((s, p) => s + p.pixels.length, 0));
  const labels = new Uint16Array(count);
  let offset = 0;
  let row = 0;
  for (const p of parts) {
    pixels.set(p.pixels, offset);
    labels.set(p.labels, row);
    offset += p.pixels.length;
    row += p.count;
  }
  return { count, pixels, labels };
}

/** Maps a dataset's label indices onto the model's class order; throws when a class is unknown to the model. */
export function labelMap(datasetClasses: string[], modelClasses: string[]): Int32Array {
  return Int32Array.from(datasetClasses, (c) => {
    const k = modelClasses.indexOf(c);
    if (k < 0) throw new Error(`class ${c} is not one of the model's classes`);
    return k;
  });
}
