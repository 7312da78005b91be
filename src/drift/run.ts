/**
 * Computes a drift report: the model's validation split (reference) against current data, both subsampled to a
 * bound with the recorded seed, scored by the ensemble (probabilities, uncertainty, embeddings), described by image
 * statistics, tested by the battery, with label shift estimated by BBSE and the diagnosis over the result.
 */
import { createRng, shuffleInPlace } from '../data/random.js';
import { diagnose } from '../diagnosis/diagnose.js';
import { getDataset } from '../datasets/service.js';
import { argmaxRows } from '../evaluation/metrics.js';
import { labelMap, loadRunner, loadSamples, scoreSamples, type Scored } from '../reports/inference.js';
import type { DriftReport } from '../storage/report-manifests.js';
import type { Storage } from '../storage/storage.js';
import type { ModelManifest } from '../storage/training-manifests.js';
import { getModel } from '../training/service.js';
import { estimateLabelShift } from './bbse.js';
import { labelCounts, runBattery, type Side } from './battery.js';
import { loadCurrent, type Samples } from './current.js';
import { pairedHistogram } from './histogram.js';
import { imageStatistics } from './image-stats.js';

/** Computes the report its record describes and returns it finished (status is set by the caller). */
export async function runDrift(storage: Storage, report: DriftReport): Promise<DriftReport> {
  const { options } = report;
  const model = await getModel({ storage }, report.tenant, report.modelId);
  const K = model.classes.length;
  const dataset = await getDataset({ storage }, report.tenant, model.datasetId);
  const val = await loadSamples(storage, dataset, 'val');
  if (val.count < 2) throw new Error(`The model's validation split holds ${val.count} images; a drift report needs at least 2.`);
  const toModel = labelMap(dataset.classes!, model.classes);
  const rng = createRng(options.seed);
  const refPick = pick(val.count, options.maxSamples, rng);
  const reference = take(val, refPick, model);
  const refLabels = Int32Array.from(refPick, (i) => toModel[val.labels[i]]);
  const loaded = await loadCurrent(storage, model, report.current, options.maxSamples);
  if (loaded.count < 2) throw new Error(`The current data holds ${loaded.count} image(s); a drift report needs at least 2.`);
  const current = take(loaded, pick(loaded.count, options.maxSamples, rng), model);

  const runner = await loadRunner(storage, model);
  let refScored: Scored;
  let curScored: Scored;
  try {
    refScored = await scoreSamples(runner, model, reference.pixels, reference.count, { features: true });
    curScored = await scoreSamples(runner, model, current.pixels, current.count, { features: true });
  } finally {
    runner.dispose();
  }
  const ref = side(refScored, reference, model);
  const cur = side(curScored, current, model);
  const battery = runBattery(ref, cur, {
    classes: model.classes,
    featureSize: refScored.featureSize,
    alpha: options.alpha,
    maxMmdSamples: options.maxMmdSamples,
    permutations: options.permutations,
    seed: options.seed,
  });

  const shift = estimateLabelShift({ refPredicted: argmaxRows(ref.probs, K), refLabels, curPredicted: argmaxRows(cur.probs, K), numClasses: K });
  const priors = (p: number[]) => Object.fromEntries(model.classes.map((c, k) => [c, p[k]]));
  const largestChanges = model.classes
    .map((c, k) => ({ class: c, reference: shift.referencePriors[k], estimated: shift.estimatedPriors[k] }))
    .sort((a, b) => Math.abs(b.estimated - b.reference) - Math.abs(a.estimated - a.reference))
    .slice(0, 5);
  const frequencies = (probs: Float32Array, n: number) => labelCounts(probs, K).map((c) => c / n);

  const finished: DriftReport = {
    ...report,
    samples: { reference: ref.count, current: cur.count, mmdReference: battery.mmdSamples[0], mmdCurrent: battery.mmdSamples[1], mmdPermutations: battery.mmdPermutations, seed: options.seed },
    driftDetected: battery.driftDetected,
    tests: battery.tests,
    labelShift: { referencePriors: priors(shift.referencePriors), estimatedPriors: priors(shift.estimatedPriors), largestChanges },
    uncertainty: { reference: summary(ref), current: summary(cur) },
    predictedLabels: { reference: frequencies(ref.probs, ref.count), current: frequencies(cur.probs, cur.count) },
    histograms: [
      ...Object.keys(ref.imageStats).map((s) => pairedHistogram(s, ref.imageStats[s], cur.imageStats[s])),
      pairedHistogram('confidence', ref.confidence, cur.confidence),
      pairedHistogram('entropy', ref.entropy, cur.entropy),
    ],
  };
  return { ...finished, findings: diagnose({ classes: model.classes, config: model.config, drift: finished }) };
}

/** Indices of up to `max` samples, drawn without replacement with `rng` (all of them, in order, when few enough). */
function pick(count: number, max: number, rng: () => number): number[] {
  const all = Array.from({ length: count }, (_, i) => i);
  if (count <= max) return all;
  shuffleInPlace(all, rng);
  return all.slice(0, max).sort((a, b) => a - b);
}

function take(samples: Samples, indices: number[], model: ModelManifest): Samples {
  const size = model.input.height * model.input.width * model.input.channels;
  const pixels = new Uint8Array(indices.length * size);
  indices.forEach((src, i) => pixels.set(samples.pixels.subarray(src * size, (src + 1) * size), i * size));
  return { count: indices.length, pixels };
}

/** The battery's view of one side (entropy and disagreement from the members, image statistics), plus each sample's confidence. */
function side(scored: Scored, samples: Samples, model: ModelManifest): Side & { confidence: Float64Array } {
  const K = model.classes.length;
  const n = scored.count;
  const entropy = new Float64Array(n);
  const mutualInformation = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const h = rowEntropy(scored.ensemble, i * K, K);
    const expected = scored.members.reduce((a, m) => a + rowEntropy(m, i * K, K), 0) / scored.members.length;
    entropy[i] = h;
    mutualInformation[i] = Math.max(0, h - expected);
  }
  return {
    count: n,
    probs: scored.ensemble,
    entropy,
    mutualInformation,
    confidence: confidences(scored.ensemble, K),
    features: scored.features!,
    imageStats: imageStatistics(samples.pixels, n, model.input),
  };
}

function rowEntropy(p: Float32Array, offset: number, K: number): number {
  let h = 0;
  for (let k = 0; k < K; k++) if (p[offset + k] > 0) h -= p[offset + k] * Math.log(p[offset + k]);
  return h;
}

function confidences(probs: Float32Array, K: number): Float64Array {
  const out = new Float64Array(probs.length / K);
  for (let i = 0; i < out.length; i++) out[i] = Math.max(...probs.subarray(i * K, (i + 1) * K));
  return out;
}

function summary(s: Side & { confidence: Float64Array }) {
  const mean = (xs: ArrayLike<number>) => {
    let sum = 0;
    for (let i = 0; i < xs.length; i++) sum += xs[i];
    return sum / Math.max(1, xs.length);
  };
  return { entropy: mean(s.entropy), mutualInformation: mean(s.mutualInformation), confidence: mean(s.confidence) };
}
