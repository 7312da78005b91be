/** Forward passes over a whole split in batches, and the metrics computed from the resulting probabilities. */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { imageBatch, type SampleShape, type SplitData } from './batches.js';

/** Class probabilities for every sample of `split` ([count × K], row-major). */
export async function predictProbabilities(
  model: tfl.LayersModel,
  split: SplitData,
  shape: SampleShape,
  table: Float32Array,
  batchSize = 256,
): Promise<Float32Array> {
  const k = (model.outputs[0].shape[1] as number) ?? 0;
  const out = new Float32Array(split.count * k);
  const indices = new Uint32Array(batchSize);
  for (let start = 0; start < split.count; start += batchSize) {
    const n = Math.min(batchSize, split.count - start);
    for (let j = 0; j < n; j++) indices[j] = start + j;
    const probs = tf.tidy(() => model.predict(imageBatch(split, indices.subarray(0, n), shape, table)) as tf.Tensor);
    out.set(await probs.data(), start * k);
    probs.dispose();
    await new Promise<void>((r) => setImmediate(r));
  }
  return out;
}

/** Mean cross-entropy and accuracy of probabilities against labels. */
export function probabilityMetrics(probs: Float32Array, labels: ArrayLike<number>, numClasses: number): { loss: number; accuracy: number } {
  const n = labels.length;
  if (n === 0) return { loss: NaN, accuracy: NaN };
  let loss = 0;
  let correct = 0;
  for (let i = 0; i < n; i++) {
    const row = i * numClasses;
    let best = 0;
    for (let c = 1; c < numClasses; c++) if (probs[row + c] > probs[row + best]) best = c;
    if (best === labels[i]) correct++;
    loss -= Math.log(Math.max(probs[row + labels[i]], 1e-7));
  }
  return { loss: loss / n, accuracy: correct / n };
}

/** Element-wise mean of several members' probability arrays (the ensemble's prediction). */
export function meanProbabilities(members: Float32Array[]): Float32Array {
  const out = new Float32Array(members[0].length);
  for (const m of members) for (let i = 0; i < out.length; i++) out[i] += m[i];
  for (let i = 0; i < out.length; i++) out[i] /= members.length;
  return out;
}
