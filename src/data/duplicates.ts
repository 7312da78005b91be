/**
 * Exact and near-duplicate detection across a whole dataset in roughly linear time, and the policy that removes
 * duplicates leaking from training into evaluation splits.
 *
 * Near duplicates are found by multi-index hashing (Norouzi, Punjani & Fleet, "Fast Search in Hamming Space with
 * Multi-Index Hashing", CVPR 2012): cut the 64-bit perceptual hash into d + 1 bands; by the pigeonhole principle
 * two hashes at Hamming distance ≤ d agree exactly on at least one band, so only hashes sharing a (band, value)
 * bucket are ever compared.
 */
import { hammingDistance } from './phash.js';

export interface DuplicateGroup {
  kind: 'exact' | 'near';
  /** Sample indices, ascending. */
  members: number[];
}

export interface DuplicateInput {
  /** All samples back to back; sample i is pixels.subarray(i * sampleBytes, (i + 1) * sampleBytes). */
  pixels: Uint8Array;
  count: number;
  sampleBytes: number;
  /** perceptualHash of each sample, in sample order. */
  hashes: [number, number][];
}

export interface DuplicateOptions {
  /** Largest perceptual-hash Hamming distance for a near-duplicate candidate (0–63). */
  maxHamming: number;
  /** Largest mean absolute pixel difference (0–255 scale) that confirms a candidate as a duplicate. */
  maxMeanAbsDiff: number;
  /** Buckets with more members than this are not searched for near duplicates (default 512). */
  maxBucketSize?: number;
}

export interface DuplicateReport {
  groups: DuplicateGroup[];
  /** (band, value) buckets skipped because they exceeded maxBucketSize. */
  skippedBuckets: number;
  /** Samples that sat in at least one skipped bucket: their near duplicates may be under-reported. */
  samplesInSkippedBuckets: number;
}

/** Default bucket cap: bounds near-duplicate work at about bands × n × 512 / 2 hash comparisons. */
export const DEFAULT_MAX_BUCKET_SIZE = 512;

/**
 * Groups of exact (byte-identical) and near (pHash within maxHamming and pixels within maxMeanAbsDiff)
 * duplicates, merged transitively; see findDuplicates for the skipped-bucket counts.
 */
export function findDuplicateGroups(input: DuplicateInput, opts: DuplicateOptions): DuplicateGroup[] {
  return findDuplicates(input, opts).groups;
}

/**
 * Finds duplicate groups and reports how much of the near-duplicate search was skipped.
 *
 * Exact duplicates are always found (FNV-1a bucket, then a byte-wise check). Near-duplicate buckets larger than
 * maxBucketSize (degenerate data: thousands of near-blank images, one constant band) are skipped so the search cannot
 * go quadratic; their exact duplicates are still found, and only one representative of each set of
 * byte-identical samples enters the buckets. A group whose members are all byte-identical is 'exact',
 * otherwise 'near'. Singletons are left out; groups are ordered by their smallest member.
 */
export function findDuplicates(input: DuplicateInput, opts: DuplicateOptions): DuplicateReport {
  const { pixels, count, sampleBytes, hashes } = input;
  const maxBucket = opts.maxBucketSize ?? DEFAULT_MAX_BUCKET_SIZE;
  if (hashes.length !== count || pixels.length < count * sampleBytes) {
    throw new RangeError(`findDuplicates: ${count} samples need ${count} hashes and ${count * sampleBytes} bytes.`);
  }
  if (!Number.isInteger(opts.maxHamming) || opts.maxHamming < 0 || opts.maxHamming > 63) {
    throw new RangeError(`findDuplicates: maxHamming must be an integer in 0..63, got ${opts.maxHamming}.`);
  }

  const sets = new UnionFind(count);
  const exactClass = exactClasses(pixels, count, sampleBytes);
  for (let i = 0; i < count; i++) if (exactClass[i] !== i) sets.union(i, exactClass[i]);

  const maxAbsSum = opts.maxMeanAbsDiff * sampleBytes;
  const tried = new Set<number>(); // pairs already compared pixel-wise, key a * count + b (a < b)
  let skippedBuckets = 0;
  const inSkipped = new Uint8Array(count);

  for (const [start, end] of bands(opts.maxHamming + 1)) {
    const buckets = new Map<number, number[]>();
    for (let i = 0; i < count; i++) {
      if (exactClass[i] !== i) continue; // byte-identical copies are already joined to their representative
      const key = bandValue(hashes[i], start, end);
      const bucket = buckets.get(key);
      if (bucket) bucket.push(i);
      else buckets.set(key, [i]);
    }
    for (const bucket of buckets.values()) {
      if (bucket.length < 2) continue;
      if (bucket.length > maxBucket) {
        skippedBuckets++;
        for (const i of bucket) inSkipped[i] = 1;
        continue;
      }
      for (let x = 0; x < bucket.length; x++) {
        const a = bucket[x];
        for (let y = x + 1; y < bucket.length; y++) {
          const b = bucket[y];
          if (hammingDistance(hashes[a], hashes[b]) > opts.maxHamming) continue;
          if (sets.find(a) === sets.find(b)) continue;
          const key = a * count + b;
          if (tried.has(key)) continue;
          tried.add(key);
          if (absDiffWithin(pixels, a * sampleBytes, b * sampleBytes, sampleBytes, maxAbsSum)) sets.union(a, b);
        }
      }
    }
  }

  return {
    groups: collectGroups(sets, exactClass, count),
    skippedBuckets,
    samplesInSkippedBuckets: inSkipped.reduce((n, v) => n + v, 0),
  };
}

/**
 * Applies the leakage policy. A group is cross-split when its members sit in more than one split. If it has a
 * training member, its val and test members are removed (training data is never lost, evaluation never sees
 * an image trained on); otherwise, if it spans val and test, its test members are removed. Duplicates within
 * one split are reported, not removed. labelConflicts are groups whose members carry different labels.
 */
export function resolveLeakage(
  groups: DuplicateGroup[],
  splits: Uint8Array,
  labels: ArrayLike<number>,
): { crossSplit: DuplicateGroup[]; removed: number[]; labelConflicts: DuplicateGroup[] } {
  const TRAIN = 0;
  const VAL = 1;
  const TEST = 2;
  const crossSplit: DuplicateGroup[] = [];
  const labelConflicts: DuplicateGroup[] = [];
  const removed: number[] = [];

  for (const group of groups) {
    const present = new Set(group.members.map((i) => splits[i]));
    if (new Set(group.members.map((i) => labels[i])).size > 1) labelConflicts.push(group);
    if (present.size < 2) continue;
    crossSplit.push(group);
    const drop = present.has(TRAIN) ? [VAL, TEST] : [TEST];
    for (const i of group.members) if (drop.includes(splits[i])) removed.push(i);
  }
  removed.sort((a, b) => a - b);
  return { crossSplit, removed, labelConflicts };
}

// Band boundaries: `count` contiguous bit ranges over the 64 bits, as even as possible.
function bands(count: number): [number, number][] {
  const out: [number, number][] = [];
  for (let b = 0; b < count; b++) out.push([Math.floor((b * 64) / count), Math.floor(((b + 1) * 64) / count)]);
  return out;
}

// Bits [start, end) of the hash as a number. Above 53 bits the number is rounded, which merges some buckets;
// that only adds candidates, and every candidate is checked by its full Hamming distance.
function bandValue(hash: [number, number], start: number, end: number): number {
  let value = 0;
  let width = 0;
  if (start < 32) {
    width = Math.min(end, 32) - start;
    value = bits(hash[0], start, width);
  }
  if (end > 32) {
    const from = Math.max(start, 32) - 32;
    value += bits(hash[1], from, end - 32 - from) * 2 ** width;
  }
  return value;
}

function bits(word: number, from: number, width: number): number {
  const shifted = word >>> from;
  return width >= 32 ? shifted >>> 0 : (shifted & ((1 << width) - 1)) >>> 0;
}

// exactClass[i] = the smallest index whose bytes equal sample i's (i itself when it has no earlier copy).
function exactClasses(pixels: Uint8Array, count: number, sampleBytes: number): Uint32Array {
  const cls = new Uint32Array(count);
  const byHash = new Map<number, number[]>(); // FNV hash → representatives seen with that hash
  for (let i = 0; i < count; i++) {
    const off = i * sampleBytes;
    const h = fnv1a(pixels, off, sampleBytes);
    const reps = byHash.get(h);
    cls[i] = i;
    if (!reps) {
      byHash.set(h, [i]);
      continue;
    }
    const same = reps.find((r) => bytesEqual(pixels, r * sampleBytes, off, sampleBytes));
    if (same === undefined) reps.push(i);
    else cls[i] = same;
  }
  return cls;
}

// 32-bit FNV-1a (Fowler, Noll & Vo; offset basis 2166136261, prime 16777619).
function fnv1a(data: Uint8Array, off: number, len: number): number {
  let h = 0x811c9dc5;
  for (let k = off, end = off + len; k < end; k++) h = Math.imul(h ^ data[k], 0x01000193);
  return h >>> 0;
}

function bytesEqual(data: Uint8Array, a: number, b: number, len: number): boolean {
  for (let k = 0; k < len; k++) if (data[a + k] !== data[b + k]) return false;
  return true;
}

// Σ|a − b| ≤ maxSum, stopping as soon as the running sum passes it.
function absDiffWithin(data: Uint8Array, a: number, b: number, len: number, maxSum: number): boolean {
  let sum = 0;
  for (let k = 0; k < len; k++) {
    sum += Math.abs(data[a + k] - data[b + k]);
    if (sum > maxSum) return false;
  }
  return true;
}

function collectGroups(sets: UnionFind, exactClass: Uint32Array, count: number): DuplicateGroup[] {
  const byRoot = new Map<number, number[]>();
  for (let i = 0; i < count; i++) {
    if (sets.size[sets.find(i)] < 2) continue;
    const root = sets.find(i);
    const members = byRoot.get(root);
    if (members) members.push(i);
    else byRoot.set(root, [i]);
  }
  // Indices were visited in ascending order, so members and the groups' first members are already sorted.
  return [...byRoot.values()].map((members): DuplicateGroup => ({
    kind: members.every((i) => exactClass[i] === exactClass[members[0]]) ? 'exact' : 'near',
    members,
  }));
}

// Disjoint sets with union by size and path halving (Tarjan & van Leeuwen, JACM 1984).
class UnionFind {
  readonly parent: Uint32Array;
  readonly size: Uint32Array;

  constructor(n: number) {
    this.parent = new Uint32Array(n);
    this.size = new Uint32Array(n).fill(1);
    for (let i = 0; i < n; i++) this.parent[i] = i;
  }

  find(i: number): number {
    while (this.parent[i] !== i) {
      this.parent[i] = this.parent[this.parent[i]];
      i = this.parent[i];
    }
    return i;
  }

  union(a: number, b: number): void {
    let ra = this.find(a);
    let rb = this.find(b);
    if (ra === rb) return;
    if (this.size[ra] < this.size[rb]) [ra, rb] = [rb, ra];
    this.parent[rb] = ra;
    this.size[ra] += this.size[rb];
  }
}
