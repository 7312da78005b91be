import { describe, expect, it } from 'vitest';
import { buildDataset, type BuildOptions, type DecodedDataset } from '../../src/data/pipeline.js';
import { createRng } from '../../src/data/random.js';
import { SPLITS, stratifiedSplit, type SplitFractions } from '../../src/data/split.js';

const SIDE = 8;
const BYTES = SIDE * SIDE; // grey: one byte per pixel
const CLASSES = ['ankle-boot', 'bag', 'coat'];
const PER_CLASS = 40;
const COUNT = CLASSES.length * PER_CLASS;
const SPLIT: SplitFractions = { train: 0.6, val: 0.2, test: 0.2 };
const SEED = 7;
const OPTS: BuildOptions = { split: SPLIT, seed: SEED, maxHamming: 4, maxMeanAbsDiff: 6 };

interface Fixture {
  data: DecodedDataset;
  /** Split code of every sample as the stratified split assigns it (0 train, 1 val, 2 test). */
  splitOf: Uint8Array;
  /** The samples the leakage policy must remove, ascending. */
  expectedRemoved: number[];
  /** A val sample in no duplicate group, and a train sample in none. */
  quietVal: number;
  quietTrain: number;
}

/**
 * 3 classes × 40 random 8×8 grey images (random noise is never a near copy of other noise), then exact copies
 * planted where the split puts them:
 *   - a train image of class 0 copied onto a val and a test image of class 0 → both copies removed;
 *   - a val image of class 1 copied onto a test image of class 1            → the test copy removed;
 *   - a train image of class 2 copied onto another train image of class 2   → kept (same split);
 *   - a train image of class 0 copied onto a val image of class 1           → removed, and a label conflict.
 */
function fixture(): Fixture {
  const labels = Uint16Array.from({ length: COUNT }, (_, i) => i % CLASSES.length);
  const rng = createRng(2024);
  const pixels = Uint8Array.from({ length: COUNT * BYTES }, () => Math.floor(rng() * 256));
  const splitOf = stratifiedSplit(labels, CLASSES.length, SPLIT, SEED);

  const pool = (label: number, split: number) => {
    const found: number[] = [];
    for (let i = 0; i < COUNT; i++) if (labels[i] === label && splitOf[i] === split) found.push(i);
    return found;
  };
  const [train0, val0, test0, train1, val1, test1, train2] = [
    pool(0, 0), pool(0, 1), pool(0, 2), pool(1, 0), pool(1, 1), pool(1, 2), pool(2, 0),
  ];
  const copy = (from: number, to: number) => pixels.copyWithin(to * BYTES, from * BYTES, (from + 1) * BYTES);
  copy(train0[0], val0[0]);
  copy(train0[0], test0[0]);
  copy(val1[0], test1[0]);
  copy(train2[0], train2[1]);
  copy(train0[1], val1[1]);

  return {
    data: {
      count: COUNT,
      height: SIDE,
      width: SIDE,
      channels: 1,
      pixels,
      labels,
      classes: CLASSES,
      files: Array.from({ length: COUNT }, (_, i) => `${CLASSES[labels[i]]}/${i}.png`),
    },
    splitOf,
    expectedRemoved: [val0[0], test0[0], test1[0], val1[1]].sort((a, b) => a - b),
    quietVal: val0[1],
    quietTrain: train1[0],
  };
}

/** Population mean and std on the [0, 1] scale over the given samples, pixel by pixel. */
function handStats(pixels: Uint8Array, indices: number[]): { mean: number; std: number } {
  const values = indices.flatMap((i) => Array.from(pixels.subarray(i * BYTES, (i + 1) * BYTES)));
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  const variance = values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length;
  return { mean: mean / 255, std: Math.sqrt(variance) / 255 };
}

describe('dataset pipeline', () => {
  it('puts every sample in exactly one split or removes it', async () => {
    const { data, expectedRemoved } = fixture();
    const { indices } = await buildDataset(data, OPTS);
    const seen = new Array<number>(COUNT).fill(0);
    for (const s of SPLITS) for (const i of indices[s]) seen[i]++;
    for (const i of expectedRemoved) seen[i]++;
    expect(seen).toEqual(new Array(COUNT).fill(1));
    for (const s of SPLITS) expect(indices[s]).toEqual([...indices[s]].sort((a, b) => a - b));
  });

  it('keeps each sample in the split the stratified split gave it', async () => {
    const { data, splitOf } = fixture();
    const { indices } = await buildDataset(data, OPTS);
    SPLITS.forEach((s, code) => {
      for (const i of indices[s]) expect(splitOf[i]).toBe(code);
    });
  });

  it('removes exactly the evaluation copies of images seen in an earlier split, never a training image', async () => {
    const { data, splitOf, expectedRemoved } = fixture();
    const { profile } = await buildDataset(data, OPTS);
    expect(profile.leakage.removedFromEvaluation).toBe(expectedRemoved.length);
    expect(profile.leakage.removed.map((r) => r.file)).toEqual(expectedRemoved.map((i) => data.files[i]));
    for (const r of profile.leakage.removed) expect(['val', 'test']).toContain(r.split);
    for (const i of expectedRemoved) expect(splitOf[i]).not.toBe(0);
    expect(profile.leakage.crossSplitGroups).toBe(3);
    expect(profile.leakage.labelConflicts).toBe(1);
    expect(profile.duplicates).toMatchObject({ exactGroups: 4, nearGroups: 0, duplicateImages: 9 });
  });

  it('counts what it keeps: total plus removed is the sample count', async () => {
    const { data } = fixture();
    const { indices, profile } = await buildDataset(data, OPTS);
    expect(profile.counts.total + profile.leakage.removedFromEvaluation).toBe(COUNT);
    expect(profile.counts.splitTotals).toEqual({
      train: indices.train.length,
      val: indices.val.length,
      test: indices.test.length,
    });
  });

  it('reports per-split and per-class counts that match the kept indices', async () => {
    const { data } = fixture();
    const { indices, profile } = await buildDataset(data, OPTS);
    for (const s of SPLITS) {
      const expected = Object.fromEntries(CLASSES.map((c) => [c, 0]));
      for (const i of indices[s]) expected[CLASSES[data.labels[i]]]++;
      expect(profile.counts.perSplit[s]).toEqual(expected);
    }
    for (const c of CLASSES) {
      expect(profile.counts.perClass[c]).toBe(SPLITS.reduce((n, s) => n + profile.counts.perSplit[s][c], 0));
    }
  });

  it('computes channel statistics over the training split only', async () => {
    const { data } = fixture();
    const { indices, profile } = await buildDataset(data, OPTS);
    const hand = handStats(data.pixels, indices.train);
    expect(profile.channelStats.split).toBe('train');
    expect(profile.channelStats.mean[0]).toBeCloseTo(hand.mean, 6);
    expect(profile.channelStats.std[0]).toBeCloseTo(hand.std, 6);
    // The statistics over every kept sample differ, so the assertion above can tell the two apart.
    const all = handStats(data.pixels, [...indices.train, ...indices.val, ...indices.test]);
    expect(Math.abs(all.mean - hand.mean)).toBeGreaterThan(1e-5);
  });

  it('leaves channel statistics unchanged when a val image changes, but not when a train image does', async () => {
    const base = fixture();
    const before = (await buildDataset(base.data, OPTS)).profile.channelStats;

    const valChanged = fixture();
    valChanged.data.pixels.fill(255, valChanged.quietVal * BYTES, (valChanged.quietVal + 1) * BYTES);
    const afterVal = await buildDataset(valChanged.data, OPTS);
    expect(afterVal.indices.val).toContain(valChanged.quietVal);
    expect(afterVal.profile.channelStats).toEqual(before);

    const trainChanged = fixture();
    trainChanged.data.pixels.fill(255, trainChanged.quietTrain * BYTES, (trainChanged.quietTrain + 1) * BYTES);
    expect((await buildDataset(trainChanged.data, OPTS)).profile.channelStats.mean[0]).toBeGreaterThan(before.mean[0]);
  });

  it('gives the same result for the same seed and a different split for another seed', async () => {
    const first = await buildDataset(fixture().data, OPTS);
    const second = await buildDataset(fixture().data, OPTS);
    expect(second).toEqual(first);
    const other = await buildDataset(fixture().data, { ...OPTS, seed: SEED + 1 });
    expect(other.indices.train).not.toEqual(first.indices.train);
  });
});
