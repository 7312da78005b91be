/**
 * From decoded samples to a stored-ready dataset: split stratified by class first, then duplicates and leakage,
 * then statistics on the training split only. Pure over arrays (no I/O); yields to the event loop between chunks
 * so a worker's lock renewal and progress reports keep running on large datasets.
 */
import { findDuplicates, resolveLeakage, type DuplicateGroup } from './duplicates.js';
import { perceptualHash } from './phash.js';
import { SPLITS, stratifiedSplit, type SplitFractions, type SplitName } from './split.js';
import { channelStats, imbalanceRatio } from './stats.js';
import type { DatasetProfile } from '../storage/manifests.js';

export interface DecodedDataset {
  count: number;
  height: number;
  width: number;
  channels: number;
  /** count × height × width × channels bytes, HWC, sample after sample. */
  pixels: Uint8Array;
  labels: Uint16Array;
  classes: string[];
  /** Where each sample came from (archive entry path, or `images-0.idx#123`). */
  files: string[];
}

export interface BuildOptions {
  split: SplitFractions;
  seed: number;
  maxHamming: number;
  maxMeanAbsDiff: number;
  onProgress?: (stage: string, done: number, total: number) => void;
}

export interface BuiltDataset {
  /** Sample indices kept in each split, ascending. */
  indices: Record<SplitName, number[]>;
  profile: Omit<DatasetProfile, 'unreadable' | 'source'>;
}

const yieldToLoop = () => new Promise<void>((r) => setImmediate(r));

/** Splits, de-duplicates and profiles a decoded dataset. */
export async function buildDataset(data: DecodedDataset, opts: BuildOptions): Promise<BuiltDataset> {
  const { count, height, width, channels, pixels, labels, classes, files } = data;
  const sampleBytes = height * width * channels;
  // 1. Split before anything is measured, so no statistic sees evaluation data.
  const splitOf = stratifiedSplit(labels, classes.length, opts.split, opts.seed);

  // 2. Perceptual hashes, then duplicate groups and the leakage policy.
  const hashes: [number, number][] = new Array(count);
  for (let i = 0; i < count; i++) {
    hashes[i] = perceptualHash(pixels.subarray(i * sampleBytes, (i + 1) * sampleBytes), width, height, channels);
    if (i % 2000 === 1999) {
      opts.onProgress?.('hashing', i + 1, count);
      await yieldToLoop();
    }
  }
  const dup = findDuplicates(
    { pixels, count, sampleBytes, hashes },
    { maxHamming: opts.maxHamming, maxMeanAbsDiff: opts.maxMeanAbsDiff },
  );
  await yieldToLoop();
  const leak = resolveLeakage(dup.groups, splitOf, labels);
  const removed = new Set(leak.removed);

  const indices: Record<SplitName, number[]> = { train: [], val: [], test: [] };
  for (let i = 0; i < count; i++) if (!removed.has(i)) indices[SPLITS[splitOf[i]]].push(i);

  // 3. Counts and statistics of what is kept; channel statistics from the training split only.
  const perSplit = Object.fromEntries(SPLITS.map((s) => [s, Object.fromEntries(classes.map((c) => [c, 0]))])) as Record<
    SplitName,
    Record<string, number>
  >;
  const perClassTotal = new Array<number>(classes.length).fill(0);
  for (const s of SPLITS) {
    for (const i of indices[s]) {
      perSplit[s][classes[labels[i]]]++;
      perClassTotal[labels[i]]++;
    }
  }
  const stats = channelStats(pixels, sampleBytes, channels, indices.train);
  const brightness = new Array<number>(classes.length).fill(0);
  const trainPerClass = new Array<number>(classes.length).fill(0);
  for (const i of indices.train) {
    let sum = 0;
    const base = i * sampleBytes;
    for (let b = 0; b < sampleBytes; b++) sum += pixels[base + b];
    brightness[labels[i]] += sum / sampleBytes / 255;
    trainPerClass[labels[i]]++;
  }
  let minority = 0;
  let majority = 0;
  perClassTotal.forEach((n, c) => {
    if (n < perClassTotal[minority]) minority = c;
    if (n > perClassTotal[majority]) majority = c;
  });

  const ref = (i: number) => ({ file: files[i], split: SPLITS[splitOf[i]], label: classes[labels[i]] });
  const bySize = (a: DuplicateGroup, b: DuplicateGroup) => b.members.length - a.members.length;
  const round = (x: number) => Math.round(x * 1e6) / 1e6;

  return {
    indices,
    profile: {
      classes,
      counts: {
        total: indices.train.length + indices.val.length + indices.test.length,
        perClass: Object.fromEntries(classes.map((c, k) => [c, perClassTotal[k]])),
        perSplit,
        splitTotals: { train: indices.train.length, val: indices.val.length, test: indices.test.length },
      },
      imbalanceRatio: round(imbalanceRatio(perClassTotal)),
      minorityClass: classes[minority],
      majorityClass: classes[majority],
      channelStats: { split: 'train', mean: stats.mean.map(round), std: stats.std.map(round) },
      duplicates: {
        exactGroups: dup.groups.filter((g) => g.kind === 'exact').length,
        nearGroups: dup.groups.filter((g) => g.kind === 'near').length,
        duplicateImages: dup.groups.reduce((s, g) => s + g.members.length, 0),
        groups: [...dup.groups]
          .sort(bySize)
          .slice(0, 100)
          .map((g) => ({ kind: g.kind, members: g.members.slice(0, 20).map(ref) })),
        method: { hash: 'dct-phash-64', maxHamming: opts.maxHamming, maxMeanAbsDiff: opts.maxMeanAbsDiff },
      },
      leakage: {
        crossSplitGroups: leak.crossSplit.length,
        removedFromEvaluation: leak.removed.length,
        removed: leak.removed.slice(0, 200).map(ref),
        labelConflicts: leak.labelConflicts.length,
        labelConflictExamples: leak.labelConflicts.slice(0, 20).map((g) => g.members.slice(0, 10).map(ref)),
      },
      classBrightness: Object.fromEntries(
        classes.map((c, k) => [c, round(trainPerClass[k] ? brightness[k] / trainPerClass[k] : 0)]),
      ),
    },
  };
}
