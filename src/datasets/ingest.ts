/**
 * Ingestion of one stored upload into a ready dataset: read the source from object storage, decode every image to
 * the target shape (unreadable files are skipped and listed, not fatal), build splits/duplicates/profile
 * (src/data/pipeline.ts), then write shards, the file index and sample sheets, and the manifest last — so a
 * dataset is either `ready` with every object in place, or not ready at all.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../config.js';
import { extractArchive } from '../data/archive.js';
import { convertRaw, decodeImage, defaultTarget, mapLimit, probeImage, type ImageMeta, type Target } from '../data/decode.js';
import { concatIdxPairs, parseIdx, readIdxPair } from '../data/idx.js';
import { classFolders } from '../data/layout.js';
import { buildDataset, type DecodedDataset } from '../data/pipeline.js';
import { renderSampleSheet } from '../data/samplesheet.js';
import { encodeShard } from '../data/shards.js';
import { SPLITS } from '../data/split.js';
import { summarize } from '../data/stats.js';
import { TooLarge, Unprocessable } from '../errors.js';
import type { Logger } from '../logger.js';
import { keys } from '../storage/keys.js';
import { datasetManifestSchema, type DatasetManifest, type DatasetProfile, type ShardRef } from '../storage/manifests.js';
import type { Storage } from '../storage/storage.js';
import { archiveLimits } from './service.js';

export interface IngestDeps {
  config: Config;
  storage: Storage;
  logger: Logger;
}

export type Progress = (p: { stage: string; done: number; total: number }) => void | Promise<void>;

interface Decoded {
  data: DecodedDataset;
  unreadable: { file: string; reason: string }[];
  source: DatasetProfile['source'];
}

const SHARD_MAX_SAMPLES = 8192;
const SHARD_MAX_BYTES = 64 * 1024 * 1024;
const DECODE_CONCURRENCY = 4;

function sourceStats(metas: ImageMeta[]): DatasetProfile['source'] {
  const count = (f: (m: ImageMeta) => string) =>
    metas.reduce<Record<string, number>>((acc, m) => ((acc[f(m)] = (acc[f(m)] ?? 0) + 1), acc), {});
  const empty = { min: 0, max: 0, mean: 0, median: 0, count: 0 };
  const sum = (xs: number[]) => (xs.length ? summarize(xs) : empty);
  return {
    width: sum(metas.map((m) => m.width)),
    height: sum(metas.map((m) => m.height)),
    aspectRatio: sum(metas.map((m) => m.width / m.height)),
    channels: count((m) => String(m.channels)),
    formats: count((m) => m.format),
  };
}

function checkDecodedSize(config: Config, n: number, t: { height: number; width: number; channels: number }) {
  const bytes = n * t.height * t.width * t.channels;
  if (bytes > config.MAX_DECODED_DATASET_BYTES) {
    throw new TooLarge(
      `${n} images at ${t.height}×${t.width}×${t.channels} need ${bytes} bytes decoded; the limit is ` +
        `${config.MAX_DECODED_DATASET_BYTES} (MAX_DECODED_DATASET_BYTES). Choose a smaller imageSize.`,
      { field: 'imageSize' },
    );
  }
}

async function decodeArchive(deps: IngestDeps, m: DatasetManifest, dir: string, progress: Progress): Promise<Decoded> {
  if (m.source.kind !== 'archive') throw new Error('not an archive source');
  const { config, storage } = deps;
  const archive = join(dir, 'archive');
  if (!(await storage.downloadToFile(m.source.key, archive))) throw new Error(`upload ${m.source.key} is missing`);
  const root = join(dir, 'files');
  const entries = await extractArchive(archive, root, archiveLimits(config));
  await rm(archive, { force: true });
  const { classes, items } = classFolders(entries, { maxClasses: config.MAX_CLASSES });

  const unreadable: Decoded['unreadable'] = [];
  let probed = 0;
  const metas = await mapLimit(items, DECODE_CONCURRENCY, async (item) => {
    const meta = await probeImage(join(root, item.path), config.MAX_IMAGE_PIXELS).catch((err: Error) => {
      unreadable.push({ file: item.path, reason: err.message });
      return null;
    });
    if (++probed % 1000 === 0) await progress({ stage: 'reading', done: probed, total: items.length });
    return meta;
  });
  const readable = items.flatMap((item, i) => (metas[i] ? [{ ...item, meta: metas[i]! }] : []));
  const target = defaultTarget(
    readable.map((r) => r.meta),
    m.options.resize,
    { size: m.options.imageSize, channels: m.options.channels },
  );
  checkDecodedSize(config, readable.length, target);

  const sampleBytes = target.height * target.width * target.channels;
  const pixels = new Uint8Array(readable.length * sampleBytes);
  const ok = new Uint8Array(readable.length);
  let decoded = 0;
  await mapLimit(readable, DECODE_CONCURRENCY, async (r, i) => {
    try {
      pixels.set(await decodeImage(join(root, r.path), target, config.MAX_IMAGE_PIXELS), i * sampleBytes);
      ok[i] = 1;
    } catch (err) {
      unreadable.push({ file: r.path, reason: (err as Error).message });
    }
    if (++decoded % 1000 === 0) await progress({ stage: 'decoding', done: decoded, total: readable.length });
  });

  // Compact away the images that failed at the decoding stage.
  const keep = readable.flatMap((_, i) => (ok[i] ? [i] : []));
  const labels = new Uint16Array(keep.length);
  const files: string[] = [];
  keep.forEach((src, dst) => {
    if (src !== dst) pixels.copyWithin(dst * sampleBytes, src * sampleBytes, (src + 1) * sampleBytes);
    labels[dst] = readable[src].label;
    files.push(readable[src].path);
  });
  unreadable.sort((a, b) => a.file.localeCompare(b.file));
  return {
    data: { count: keep.length, ...shape(target), pixels: pixels.subarray(0, keep.length * sampleBytes), labels, classes, files },
    unreadable,
    source: sourceStats(readable.filter((_, i) => ok[i]).map((r) => r.meta)),
  };
}

const shape = (t: Target) => ({ height: t.height, width: t.width, channels: t.channels });

async function decodeIdx(deps: IngestDeps, m: DatasetManifest, progress: Progress): Promise<Decoded> {
  if (m.source.kind !== 'idx') throw new Error('not an IDX source');
  const { config, storage } = deps;
  const pairs = [];
  const files: string[] = [];
  for (const [p, pair] of m.source.pairs.entries()) {
    const [img, lab] = await Promise.all([storage.getBytes(pair.imagesKey), storage.getBytes(pair.labelsKey)]);
    if (!img || !lab) throw new Error(`upload ${pair.imagesKey} is missing`);
    const read = readIdxPair(
      parseIdx(img, { maxBytes: config.MAX_IDX_BYTES, field: 'images' }),
      parseIdx(lab, { maxBytes: config.MAX_IDX_BYTES, field: 'labels' }),
    );
    pairs.push(read);
    for (let i = 0; i < read.count; i++) files.push(`images-${p}.idx#${i}`);
  }
  const all = concatIdxPairs(pairs);
  let maxLabel = 0;
  for (const l of all.labels) maxLabel = Math.max(maxLabel, l);
  const classes = m.options.classNames?.slice(0, maxLabel + 1) ?? Array.from({ length: maxLabel + 1 }, (_, k) => String(k));
  const native = { height: all.height, width: all.width, channels: all.channels };
  const [height, width] = m.options.imageSize ?? [native.height, native.width];
  const target: Target = { height, width, channels: m.options.channels ?? (native.channels as 1 | 3), fit: m.options.resize };
  checkDecodedSize(config, all.count, target);

  let pixels: Uint8Array = all.pixels;
  if (target.height !== native.height || target.width !== native.width || target.channels !== native.channels) {
    const inBytes = native.height * native.width * native.channels;
    const outBytes = target.height * target.width * target.channels;
    pixels = new Uint8Array(all.count * outBytes);
    for (let i = 0; i < all.count; i++) {
      pixels.set(await convertRaw(all.pixels.subarray(i * inBytes, (i + 1) * inBytes), native, target), i * outBytes);
      if (i % 1000 === 999) await progress({ stage: 'resizing', done: i + 1, total: all.count });
    }
  }
  const meta: ImageMeta = { width: native.width, height: native.height, channels: native.channels, format: 'idx', grey: native.channels === 1 };
  return {
    data: { count: all.count, ...shape(target), pixels, labels: Uint16Array.from(all.labels), classes, files },
    unreadable: [],
    source: sourceStats(new Array(all.count).fill(meta)),
  };
}

/** Writes one split as shards of at most 8,192 samples or 64 MiB each. */
export async function writeShards(
  storage: Storage,
  m: Pick<DatasetManifest, 'tenant' | 'id'>,
  split: (typeof SPLITS)[number],
  data: Pick<DecodedDataset, 'height' | 'width' | 'channels' | 'pixels' | 'labels'>,
  indices: number[],
) {
  const sampleBytes = data.height * data.width * data.channels;
  const per = Math.max(1, Math.min(SHARD_MAX_SAMPLES, Math.floor(SHARD_MAX_BYTES / sampleBytes)));
  const shards: ShardRef[] = [];
  for (let start = 0, k = 0; start < indices.length; start += per, k++) {
    const chunk = indices.slice(start, start + per);
    const pixels = new Uint8Array(chunk.length * sampleBytes);
    const labels = new Uint16Array(chunk.length);
    chunk.forEach((i, j) => {
      pixels.set(data.pixels.subarray(i * sampleBytes, (i + 1) * sampleBytes), j * sampleBytes);
      labels[j] = data.labels[i];
    });
    const body = encodeShard({ count: chunk.length, height: data.height, width: data.width, channels: data.channels, labels, pixels });
    const key = keys.datasetShard(m.tenant, m.id, split, k);
    await storage.putBytes(key, body);
    shards.push({ key, count: chunk.length, bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') });
  }
  return { count: indices.length, shards };
}

async function stillExists(storage: Storage, m: DatasetManifest) {
  return storage.exists(keys.datasetManifest(m.tenant, m.id));
}

/**
 * Ingests dataset `id`. Returns 'deleted' when the dataset was deleted before or during ingestion (whatever this
 * run wrote is removed again). Errors a user can fix are AppErrors; the caller records them on the manifest.
 */
export async function ingestDataset(deps: IngestDeps, tenant: string, id: string, progress: Progress = () => {}) {
  const { storage, config } = deps;
  const started = Date.now();
  const manifestKey = keys.datasetManifest(tenant, id);
  const m = await storage.getJson(manifestKey, datasetManifestSchema);
  if (!m) return 'deleted' as const;
  if (m.status === 'ready') return 'ready' as const;
  await storage.putJson(manifestKey, { ...m, status: 'running', updatedAt: new Date().toISOString() });

  const dir = await mkdtemp(join(config.TMP_DIR ?? tmpdir(), `ingest-${id}-`));
  let peakRss = process.memoryUsage().rss;
  const sampleRss = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 250);
  try {
    const decoded = m.source.kind === 'archive' ? await decodeArchive(deps, m, dir, progress) : await decodeIdx(deps, m, progress);
    const { data } = decoded;
    const present = new Set(data.labels);
    if (data.count === 0) {
      throw new Unprocessable(`None of the images could be read (${decoded.unreadable[0]?.reason ?? 'no images'}).`, {
        type: 'no-readable-images',
      });
    }
    if (present.size < 2) {
      throw new Unprocessable('After skipping unreadable files only one class has images; at least two are needed.', {
        type: 'one-class',
      });
    }
    await progress({ stage: 'profiling', done: 0, total: data.count });
    const built = await buildDataset(data, {
      split: m.options.split,
      seed: m.options.seed,
      maxHamming: config.NEAR_DUPLICATE_HAMMING,
      maxMeanAbsDiff: config.NEAR_DUPLICATE_MAX_MEAN_ABS_DIFF,
      onProgress: (stage, done, total) => void progress({ stage, done, total }),
    });

    await progress({ stage: 'writing', done: 0, total: 3 });
    const splits = {
      train: await writeShards(storage, m, 'train', data, built.indices.train),
      val: await writeShards(storage, m, 'val', data, built.indices.val),
      test: await writeShards(storage, m, 'test', data, built.indices.test),
    };
    await storage.putJson(
      keys.datasetFiles(tenant, id),
      Object.fromEntries(SPLITS.map((s) => [s, built.indices[s].map((i) => data.files[i])])),
    );
    for (const split of SPLITS) {
      const png = await renderSampleSheet({
        pixels: data.pixels,
        height: data.height,
        width: data.width,
        channels: data.channels,
        labels: data.labels,
        classes: data.classes,
        indices: built.indices[split],
        title: `${m.name} - ${split}`,
      });
      await storage.putBytes(keys.datasetSampleSheet(tenant, id, split), png, 'image/png');
    }
    if (!(await stillExists(storage, m))) {
      await storage.deletePrefix(keys.dataset(tenant, id));
      return 'deleted' as const;
    }
    const ready: DatasetManifest = {
      ...m,
      status: 'ready',
      updatedAt: new Date().toISOString(),
      classes: data.classes,
      image: { height: data.height, width: data.width, channels: data.channels },
      splits,
      profile: {
        ...built.profile,
        unreadable: { count: decoded.unreadable.length, files: decoded.unreadable.slice(0, 200) },
        source: decoded.source,
      },
      ingest: { seconds: (Date.now() - started) / 1000, peakRssBytes: peakRss },
    };
    await storage.putJson(manifestKey, ready);
    deps.logger.info({ tenant, datasetId: id, count: data.count, seconds: ready.ingest!.seconds }, 'dataset ready');
    return 'ready' as const;
  } finally {
    clearInterval(sampleRss);
    await rm(dir, { recursive: true, force: true });
  }
}

/** Records a failure on the manifest (if the dataset still exists). */
export async function markDatasetFailed(storage: Storage, tenant: string, id: string, error: { type: string; detail: string }) {
  const key = keys.datasetManifest(tenant, id);
  const m = await storage.getJson(key, datasetManifestSchema);
  if (!m) return;
  await storage.putJson(key, { ...m, status: 'failed', error, updatedAt: new Date().toISOString() });
}

