/**
 * augmentation.materialize: the augmented training samples of a member's first epoch, stored as a dataset of their
 * own (uint8 shards, a sample sheet, a manifest written last) so a person can look at what the model really saw —
 * `GET /v1/datasets/:id/samples.png` works on it like on any dataset.
 */
import { renderSampleSheet } from '../data/samplesheet.js';
import { writeShards } from '../datasets/ingest.js';
import { newId } from '../ids.js';
import { keys } from '../storage/keys.js';
import type { DatasetManifest } from '../storage/manifests.js';
import type { Storage } from '../storage/storage.js';

/** At most this many augmented samples are kept (the first ones of the epoch). */
export const MATERIALIZE_LIMIT = 10_000;

/** Collects augmented batches, turning normalised values back into pixels, up to MATERIALIZE_LIMIT samples. */
export function createAugmentedCollector(source: DatasetManifest) {
  const { height, width, channels } = source.image!;
  const sampleBytes = height * width * channels;
  const { mean, std } = source.profile!.channelStats;
  const chunks: { pixels: Uint8Array; labels: number[] }[] = [];
  let count = 0;
  return {
    get count() {
      return count;
    },
    /** Adds one batch: x = (p/255 − mean) / std, so p = 255 · (x · std + mean), rounded and clamped. */
    add(images: Float32Array, labels: number[]) {
      const n = Math.min(labels.length, MATERIALIZE_LIMIT - count);
      if (n <= 0) return;
      const pixels = new Uint8Array(n * sampleBytes);
      for (let i = 0; i < n * sampleBytes; i++) {
        const c = i % channels;
        pixels[i] = Math.max(0, Math.min(255, Math.round(255 * (images[i] * std[c] + mean[c]))));
      }
      chunks.push({ pixels, labels: labels.slice(0, n) });
      count += n;
    },
    /** Stores the collected samples as a ready dataset; returns its id. */
    async save(storage: Storage, run: { tenant: string; id: string }, member: number): Promise<string> {
      const pixels = new Uint8Array(count * sampleBytes);
      const labels = new Uint16Array(count);
      let at = 0;
      for (const ch of chunks) {
        pixels.set(ch.pixels, at * sampleBytes);
        labels.set(ch.labels, at);
        at += ch.labels.length;
      }
      const id = newId('ds');
      const target = { tenant: run.tenant, id };
      const indices = Array.from({ length: count }, (_, i) => i);
      const data = { height, width, channels, pixels, labels };
      const train = await writeShards(storage, target, 'train', data, indices);
      const empty = await writeShards(storage, target, 'val', data, []);
      const title = `${source.name} - augmented by ${run.id}, member ${member + 1}`;
      const sheet = await renderSampleSheet({ pixels, height, width, channels, labels, classes: source.classes!, indices, title });
      await storage.putBytes(keys.datasetSampleSheet(run.tenant, id, 'train'), sheet, 'image/png');
      const now = new Date().toISOString();
      const manifest: DatasetManifest = {
        id,
        kind: 'dataset',
        tenant: run.tenant,
        name: `${source.name} (augmented, ${run.id})`,
        status: 'ready',
        createdAt: now,
        updatedAt: now,
        source: { kind: 'augmented', trainingJobId: run.id, member, epoch: 1, samples: count },
        options: source.options,
        classes: source.classes,
        image: source.image,
        splits: { train, val: empty, test: empty },
      };
      await storage.putJson(keys.datasetManifest(run.tenant, id), manifest);
      return id;
    },
  };
}
