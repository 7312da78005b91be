/**
 * `MaxPoolGrad` for the wasm backend, over the backend's heap. tfjs-backend-wasm 4.22's own kernel took 53 of the
 * 185 ms of a reference-CNN training step (batch 64: 37 ms for the 28×28×32 pool, 16 ms for the 14×14×64 one) where
 * its forward MaxPool takes 2.8 ms. The 2×2, stride-2, unpadded pool (nearly every CNN's) with channels in fours runs
 * on the SIMD heap kernel (simd-kernels.ts; 1.5 ms for both pools); any other pool on a JavaScript loop that reads x
 * and dy once, channels innermost.
 *
 * Semantics are tfjs's (tfjs-backend-cpu's maxPoolPositions and maxPoolBackprop): each window's gradient goes to
 * the first position, in row-major window order, whose value is strictly greater than every one before it; window
 * taps outside the input (padding) never win; a window with no finite maximum (all −∞ or NaN) passes nothing on.
 * Gradients of overlapping windows add up.
 */
import { backend_util, getKernel, registerKernel, unregisterKernel } from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { simdKernelsFor, type HeapBackend } from './simd-kernels.js';

const KERNEL = 'MaxPoolGrad';
const BACKEND = 'wasm';


interface PoolGradAttrs {
  filterSize: [number, number] | number;
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

const kernelFunc: KernelFunc = ({ inputs, attrs, backend }) => {
  const { dy, input } = inputs;
  if (dy == null || input == null) throw new Error('MaxPoolGrad needs inputs dy and input.');
  const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as PoolGradAttrs;
  const info = backend_util.computePool2DInfo(input.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
  if (info.outHeight !== dy.shape[1] || info.outWidth !== dy.shape[2]) {
    throw new Error(`MaxPoolGrad on wasm: dy is ${dy.shape[1]}×${dy.shape[2]} but the pool gives ${info.outHeight}×${info.outWidth}.`);
  }
  const heap = backend as unknown as HeapBackend;
  // Allocate first: allocation can grow the wasm memory, which detaches views taken before it.
  const dx = heap.makeOutput(input.shape, 'float32');
  const simd = simdKernelsFor(heap);
  const [n, h, w, c] = input.shape;
  if (simd && c % 4 === 0 && isPlain2x2(info)) {
    if (h % 2 === 1 || w % 2 === 1) heap.typedArrayFromHeap(dx).fill(0);
    simd.maxPoolGrad2x2(heap.getMemoryOffset(input.dataId), heap.getMemoryOffset(dy.dataId), heap.getMemoryOffset(dx.dataId), n, h, w, c);
    return dx;
  }
  maxPoolGradInto(heap.typedArrayFromHeap(input), heap.typedArrayFromHeap(dy), heap.typedArrayFromHeap(dx), info);
  return dx;
};

/** Puts this `MaxPoolGrad` in place of wasm's; calling again changes nothing. */
export function registerWasmMaxPoolGradient(): void {
  if (getKernel(KERNEL, BACKEND)?.kernelFunc === kernelFunc) return;
  if (getKernel(KERNEL, BACKEND) != null) unregisterKernel(KERNEL, BACKEND);
  registerKernel({ kernelName: KERNEL, backendName: BACKEND, kernelFunc } satisfies KernelConfig);
}

/** True when the registered wasm kernel is this file's. */
export const isWasmMaxPoolGradientRegistered = () => getKernel(KERNEL, BACKEND)?.kernelFunc === kernelFunc;

/** A 2×2 window with stride 2 and no padding, whose windows all lie inside the input (no 'ceil' rounding past it). */
function isPlain2x2(info: backend_util.Conv2DInfo): boolean {
  const { effectiveFilterHeight: fh, effectiveFilterWidth: fw, strideHeight: sh, strideWidth: sw, padInfo } = info;
  return fh === 2 && fw === 2 && sh === 2 && sw === 2 && padInfo.top === 0 && padInfo.left === 0 &&
    2 * info.outHeight <= info.inHeight && 2 * info.outWidth <= info.inWidth;
}

/**
 * dx (zeroed here) += dy routed to each window's first maximum. Exported for the tests, which run it on plain
 * arrays against the cpu backend's gradient.
 */
export function maxPoolGradInto(x: Float32Array, dy: Float32Array, dx: Float32Array, info: backend_util.Conv2DInfo): void {
  const { batchSize, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = info;
  const { strideHeight: sh, strideWidth: sw, effectiveFilterHeight: fh, effectiveFilterWidth: fw } = info;
  const { top, left } = info.padInfo;
  dx.fill(0);
  const best = new Float32Array(c);
  const where = new Int32Array(c);
  const rowStride = w * c;
  for (let b = 0; b < batchSize; b++) {
    const xb = b * h * rowStride;
    for (let p = 0; p < oh; p++) {
      const r0 = Math.max(0, p * sh - top);
      const r1 = Math.min(h, p * sh - top + fh);
      for (let q = 0; q < ow; q++) {
        const c0 = Math.max(0, q * sw - left);
        const c1 = Math.min(w, q * sw - left + fw);
        best.fill(-Infinity);
        where.fill(-1);
        for (let r = r0; r < r1; r++) {
          for (let s = c0; s < c1; s++) {
            const at = xb + r * rowStride + s * c;
            for (let k = 0; k < c; k++) {
              const v = x[at + k];
              if (v > best[k]) {
                best[k] = v;
                where[k] = at + k;
              }
            }
          }
        }
        const g = ((b * oh + p) * ow + q) * c;
        for (let k = 0; k < c; k++) if (where[k] >= 0) dx[where[k]] += dy[g + k];
      }
    }
  }
}
