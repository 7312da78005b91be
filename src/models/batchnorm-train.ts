/**
 * Batch normalisation's training pass in three streaming passes forward and two backward, on the wasm backend.
 *
 * tfjs-layers trains batch norm as `tf.moments` followed by `tf.batchNormalization`, and differentiates through every
 * op of both: about fifteen passes over each activation tensor per step, among them a `ones` tensor the size of the
 * activation that tfjs-core's Mean gradient fills element by element in JavaScript (about 37 ms per step of the
 * fashion preset at batch 128, measured). Here the layer's training call is one custom gradient with the closed form
 * (Ioffe & Szegedy 2015, section 3; N values per channel, x̂ = (x − μ)/σ, σ = √(var + ε)):
 *   dβ = Σ dy,   dγ = Σ dy·x̂,   dx = γ/σ · (dy − dβ/N − x̂·dγ/N),
 * which already includes the statistics' own dependence on x. Two kernels run it on the SIMD heap kernels:
 * `QuorumChannelMoments` (mean and the biased variance tfjs uses, one pass over x) and `QuorumBatchNormGrad` (dβ and
 * dγ in one pass over x and dy, then dx in another). Inference, other backends, and shapes the kernels do not take
 * use tfjs-layers' own path.
 *
 * The layer is tfjs-layers' `BatchNormalization` with only `call` overridden: same weights, same config, same class
 * name, so saved models load as the plain layer.
 */
import * as tf from '@tensorflow/tfjs-core';
import { getKernel, registerKernel, util } from '@tensorflow/tfjs-core';
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { channelRows } from './channel-kernels.js';
import { simdKernelsFor, type HeapBackend } from './simd-kernels.js';

const MOMENTS = 'QuorumChannelMoments';
const GRAD = 'QuorumBatchNormGrad';
const BACKEND = 'wasm';

function kernels(backend: unknown) {
  const heap = backend as HeapBackend;
  const simd = simdKernelsFor(heap);
  if (!simd) throw new Error(`${MOMENTS}/${GRAD} need the SIMD heap kernels attached to the wasm backend.`);
  return { heap, simd };
}

/** Rows of x averaged for the shift of `moments`, evenly spaced. */
const SHIFT_SAMPLE = 64;

/**
 * [mean, variance] over every axis but the last, variance = mean of (x − mean)² (the biased one, like tf.moments), in
 * one pass over x: the sums of d = x − s and d² with s the mean of SHIFT_SAMPLE rows spread over x, then mean = s +
 * Σd/N and variance = Σd²/N − (Σd/N)². With s near the mean the subtraction does not cancel, also where the mean is
 * large against the spread or a row is an outlier (a pass of 12.8 MB, the fashion preset's first activation at batch
 * 128, takes 1.8–2 ms here: the two-pass form read x twice).
 */
function moments({ inputs, backend }: Parameters<KernelConfig['kernelFunc']>[0]): TensorInfo[] {
  const x = inputs.x as TensorInfo;
  const view = channelRows(x);
  if (!view || view.rows === 0) throw new Error(`${MOMENTS} takes a non-empty float32 [..., C] tensor with C % 4 == 0.`);
  const { heap, simd } = kernels(backend);
  const { rows, cols } = view;
  const mean = heap.makeOutput([cols], 'float32');
  const variance = heap.makeOutput([cols], 'float32');
  const shiftAt = heap.wasm._malloc(4 * cols);
  try {
    const values = heap.typedArrayFromHeap(x);
    const shift = new Float32Array(heap.wasm.asm.memory.buffer, shiftAt, cols);
    const samples = Math.min(rows, SHIFT_SAMPLE);
    const sums = new Float64Array(cols);
    for (let i = 0; i < samples; i++) {
      const r = Math.floor((i * rows) / samples) * cols;
      for (let c = 0; c < cols; c++) sums[c] += values[r + c];
    }
    for (let c = 0; c < cols; c++) shift[c] = sums[c] / samples;
    simd.shiftedMomentsRows(heap.getMemoryOffset(x.dataId), shiftAt, rows, cols, heap.getMemoryOffset(mean.dataId), heap.getMemoryOffset(variance.dataId));
    // Views after the allocation and the kernel: the heap's buffer may have been replaced when it grew.
    const [m, v, s] = [heap.typedArrayFromHeap(mean), heap.typedArrayFromHeap(variance), new Float32Array(heap.wasm.asm.memory.buffer, shiftAt, cols)];
    for (let c = 0; c < cols; c++) {
      const d = m[c] / rows;
      v[c] = Math.max(0, v[c] / rows - d * d);
      m[c] = s[c] + d;
    }
  } finally {
    heap.wasm._free(shiftAt);
  }
  return [mean, variance];
}

/** [dx, dScale, dOffset] of y = (x − mean)·scale/√(variance + ε) + offset with mean and variance x's own. */
function gradient({ inputs, attrs, backend }: Parameters<KernelConfig['kernelFunc']>[0]): TensorInfo[] {
  const { dy, x, mean, variance, scale } = inputs as Record<string, TensorInfo>;
  const view = channelRows(x);
  if (!view || view.rows === 0 || !util.arraysEqual(dy.shape, x.shape) || dy.dtype !== 'float32') {
    throw new Error(`${GRAD} takes float32 dy and x of one [..., C] shape with C % 4 == 0.`);
  }
  const { heap, simd } = kernels(backend);
  const { rows, cols } = view;
  const eps = (attrs as { varianceEpsilon: number }).varianceEpsilon;
  const dx = heap.makeOutput(x.shape, 'float32');
  const dScale = heap.makeOutput([cols], 'float32');
  const dOffset = heap.makeOutput([cols], 'float32');
  const scratch = heap.wasm._malloc(12 * cols);
  try {
    const xAt = heap.getMemoryOffset(x.dataId);
    const dyAt = heap.getMemoryOffset(dy.dataId);
    const meanAt = heap.getMemoryOffset(mean.dataId);
    simd.sumDotdevRows(xAt, meanAt, dyAt - xAt, rows, cols, heap.getMemoryOffset(dOffset.dataId), heap.getMemoryOffset(dScale.dataId));
    // Views after every allocation: any of them may have grown (and so replaced) the heap's buffer.
    const buffer = heap.wasm.asm.memory.buffer;
    const [a, b, e] = [0, 1, 2].map((k) => new Float32Array(buffer, scratch + 4 * k * cols, cols));
    const [sumDy, sumDyDev] = [heap.typedArrayFromHeap(dOffset), heap.typedArrayFromHeap(dScale)];
    const [gamma, sigma2] = [heap.typedArrayFromHeap(scale), heap.typedArrayFromHeap(variance)];
    for (let c = 0; c < cols; c++) {
      const invStd = 1 / Math.sqrt(sigma2[c] + eps);
      const dGamma = sumDyDev[c] * invStd;
      const k = gamma[c] * invStd;
      // dx = k·dy + (x − μ)·(−k·dγ/(σ·N)) + (−k·dβ/N)
      a[c] = k;
      b[c] = (-k * dGamma * invStd) / rows;
      e[c] = (-k * sumDy[c]) / rows;
      sumDyDev[c] = dGamma;
    }
    simd.bnDxRows(dyAt, xAt, meanAt, scratch, scratch + 4 * cols, scratch + 8 * cols, heap.getMemoryOffset(dx.dataId), rows, cols);
  } finally {
    heap.wasm._free(scratch);
  }
  return [dx, dScale, dOffset];
}

/** Registers both kernels on wasm once. */
export function registerWasmBatchNormTraining(): void {
  if (getKernel(MOMENTS, BACKEND) == null) registerKernel({ kernelName: MOMENTS, backendName: BACKEND, kernelFunc: moments });
  if (getKernel(GRAD, BACKEND) == null) registerKernel({ kernelName: GRAD, backendName: BACKEND, kernelFunc: gradient });
}

/** The channel statistics kernel, exported for the tests: [mean, variance] over every axis but the last. */
export const channelMoments = (x: tf.Tensor): [tf.Tensor1D, tf.Tensor1D] =>
  tf.engine().runKernel(MOMENTS, { x }) as unknown as [tf.Tensor1D, tf.Tensor1D];

/**
 * Batch-normalises x over every axis but the last with its own statistics, differentiable in x, scale and offset
 * through the closed form. Returns the output and the batch mean and (biased) variance, which carry no gradient.
 */
export function fusedTrainingBatchNorm(x: tf.Tensor, scale: tf.Tensor1D, offset: tf.Tensor1D, varianceEpsilon: number) {
  const [mean, variance] = channelMoments(x);
  // tfjs types f's parameters as one union of tensors and the save function; these are the four f receives.
  type Forward = (input: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, save: tf.GradSaveFunc) => { value: tf.Tensor; gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[] };
  const forward: Forward = (input, gamma, beta, save) => {
    save([input, gamma, mean, variance]);
    const value = tf.batchNorm(input, mean, variance, beta, gamma, varianceEpsilon);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sx, sGamma, sMean, sVariance] = saved;
      return tf.engine().runKernel(GRAD, { dy, x: sx, mean: sMean, variance: sVariance, scale: sGamma }, { varianceEpsilon }) as unknown as tf.Tensor[];
    };
    return { value, gradFunc };
  };
  const normalise = tf.customGrad(forward as unknown as Parameters<typeof tf.customGrad>[0]);
  return { y: normalise(x, scale, offset), mean, variance };
}

/** Whether the fused training pass takes this input on the current backend. */
export function fusedTrainingApplies(x: tf.Tensor): boolean {
  if (tf.getBackend() !== BACKEND || getKernel(GRAD, BACKEND) == null) return false;
  return channelRows(x) != null && x.size > 0 && simdKernelsFor(tf.backend() as unknown as HeapBackend) != null;
}

interface LayerVariable {
  read(): tf.Tensor;
  write(value: tf.Tensor): void;
}

/** The members of tfjs-layers' BatchNormalization this file uses (public fields of that class). */
interface BatchNormalizationLayer extends tfl.layers.Layer {
  axis: number;
  momentum: number;
  epsilon: number;
  center: boolean;
  scale: boolean;
  gamma: LayerVariable;
  beta: LayerVariable;
  movingMean: LayerVariable;
  movingVariance: LayerVariable;
}

type BatchNormArgs = NonNullable<Parameters<typeof tfl.layers.batchNormalization>[0]>;
// tfjs-layers exports the factory, not the class; the class is the factory's product's constructor.
const BatchNormalization = tfl.layers.batchNormalization({}).constructor as new (args?: BatchNormArgs) => BatchNormalizationLayer;

class FusedTrainingBatchNormalization extends BatchNormalization {
  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean }): tf.Tensor | tf.Tensor[] {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    const lastAxis = this.axis === -1 || this.axis === x.rank - 1;
    if (!kwargs.training || !lastAxis || !this.center || !this.scale || !fusedTrainingApplies(x)) return super.call(inputs, kwargs);
    return tf.tidy(() => {
      const { y, mean, variance } = fusedTrainingBatchNorm(x, this.gamma.read() as tf.Tensor1D, this.beta.read() as tf.Tensor1D, this.epsilon);
      // Moving statistics exactly as tfjs-layers updates them: v ← v − (v − batch)·(1 − momentum).
      for (const [variable, batch] of [
        [this.movingMean, mean],
        [this.movingVariance, variance],
      ] as const) {
        tf.tidy(() => {
          const old = variable.read();
          variable.write(tf.sub(old, tf.mul(tf.sub(old, batch), 1 - this.momentum)));
        });
      }
      return y;
    });
  }
}

/** A BatchNormalization layer (channels last) whose training pass is fused on wasm; elsewhere the plain layer. */
export const batchNormalization = (args: BatchNormArgs): tfl.layers.Layer => new FusedTrainingBatchNormalization(args);
