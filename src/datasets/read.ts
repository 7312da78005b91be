/** Reading a ready dataset back from its shards, for training and evaluation. */
import { createHash } from 'node:crypto';
import { decodeShard } from '../data/shards.js';
import type { SplitName } from '../data/split.js';
import type { SplitData } from '../models/batches.js';
import type { DatasetManifest } from '../storage/manifests.js';
import type { Storage } from '../storage/storage.js';

/** All samples of one split, concatenated from its shards (each checked against its stored sha256). */
export async function loadSplit(storage: Storage, manifest: DatasetManifest, split: SplitName): Promise<SplitData> {
  if (!manifest.splits || !manifest.image) throw new Error(`dataset ${manifest.id} is not ready`);
  const { height, width, channels } = manifest.image;
  const sampleBytes = height * width * channels;
  const ref = manifest.splits[split];
  const pixels = new Uint8Array(ref.count * sampleBytes);
  const labels = new Uint16Array(ref.count);
  let at = 0;
  for (const shardRef of ref.shards) {
    const buf = await storage.getBytes(shardRef.key);
    if (!buf) throw new Error(`shard ${shardRef.key} is missing`);
    if (createHash('sha256').update(buf).digest('hex') !== shardRef.sha256) throw new Error(`shard ${shardRef.key} is corrupt`);
    const shard = decodeShard(buf);
    pixels.set(shard.pixels, at * sampleBytes);
    labels.set(shard.labels, at);
    at += shard.count;
  }
  return { count: ref.count, pixels, labels };
}
