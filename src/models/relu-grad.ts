/**
 * ReLU's gradient in one pass on the wasm backend. tfjs-core differentiates `Relu` as dy · cast(step(x), float32):
 * three kernels and two activation-sized temporaries, about 9 ms per fashion-preset step at batch 128 (measured).
 * `QuorumReluGrad` computes the same product with the SIMD heap kernel `relu_grad`. The gradient registry is shared
 * by all backends, so the registered function keeps tfjs-core's formula everywhere else (other backends, dtypes,
 * sizes not a multiple of 4).
 */
import * as tf from '@tensorflow/tfjs-core';
import { getGradient, getKernel, registerGradient, registerKernel, util } from '@tensorflow/tfjs-core';
import type { GradConfig, KernelConfig, Tensor, TensorInfo } from '@tensorflow/tfjs-core';
import { simdKernelsFor, type HeapBackend } from './simd-kernels.js';

const KERNEL = 'QuorumReluGrad';
const BACKEND = 'wasm';

const kernelFunc: KernelConfig['kernelFunc'] = ({ inputs, backend }) => {
  const { dy, x } = inputs as Record<string, TensorInfo>;
  const heap = backend as unknown as HeapBackend;
  const simd = simdKernelsFor(heap);
  const n = util.sizeFromShape(x.shape);
  if (!simd || x.dtype !== 'float32' || dy.dtype !== 'float32' || n % 4 !== 0 || !util.arraysEqual(x.shape, dy.shape)) {
    throw new Error(`${KERNEL} takes float32 dy and x of one shape, a multiple of 4 values, with the SIMD kernels attached.`);
  }
  const out = heap.makeOutput(x.shape, 'float32');
  simd.reluGrad(heap.getMemoryOffset(dy.dataId), heap.getMemoryOffset(x.dataId), heap.getMemoryOffset(out.dataId), n);
  return out;
};

/** Whether the one-pass kernel takes this gradient on the current backend. */
function fused(dy: Tensor, x: Tensor): boolean {
  if (tf.getBackend() !== BACKEND || getKernel(KERNEL, BACKEND) == null) return false;
  if (x.dtype !== 'float32' || dy.dtype !== 'float32' || x.size % 4 !== 0) return false;
  return simdKernelsFor(tf.backend() as unknown as HeapBackend) != null;
}

const gradConfig: GradConfig = {
  kernelName: 'Relu',
  inputsToSave: ['x'],
  gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) => {
    const g = dy as Tensor;
    const [x] = saved;
    return {
      x: () => (fused(g, x) ? (tf.engine().runKernel(KERNEL, { dy: g, x }) as Tensor) : tf.mul(g, tf.cast(tf.step(x), 'float32'))),
    };
  },
};

/** Registers the wasm kernel and the Relu gradient that uses it (both once; the gradient applies to every backend). */
export function registerReluGradient(): void {
  if (getKernel(KERNEL, BACKEND) == null) registerKernel({ kernelName: KERNEL, backendName: BACKEND, kernelFunc });
  if (getGradient('Relu') !== gradConfig) registerGradient(gradConfig);
}
