/**
 * `Sum` and `Mean` over leading axes on the wasm backend, on the SIMD heap kernel (simd-kernels.ts). Training reduces
 * [batch, height, width, channels] tensors over everything but the channels all the time: conv bias gradients,
 * batch-norm statistics and their gradients. tfjs-backend-wasm 4.22 transposes and then sums with a scalar loop
 * (12 ms for a 128×28×28×32 tensor, measured); the SIMD kernel streams it once. Any other reduction, and any shape
 * whose kept part is not a multiple of 4 floats, goes to the backend's own kernel, which stays registered underneath.
 */
import { util } from '@tensorflow/tfjs-core';
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { simdKernelsFor, type HeapBackend } from './simd-kernels.js';
import { areWasmKernelsWrapped, wrapWasmKernel } from './wasm-kernel-wrap.js';

type Reduction = 'Sum' | 'Mean';

interface ReduceAttrs {
  axis: number | number[];
  keepDims: boolean;
}

/**
 * The rows × cols view of a reduction over the leading `k` axes of a float32 tensor, or null when the reduction is
 * something else. Exported for the tests.
 */
export function leadingAxesReduction(shape: number[], axis: number | number[]): { rows: number; cols: number; keep: number } | null {
  if (shape.length < 2) return null;
  const axes = [...new Set(util.parseAxisParam(axis, shape))].sort((a, b) => a - b);
  const k = axes.length;
  if (k === 0 || k >= shape.length || axes.some((a, i) => a !== i)) return null;
  const rows = util.sizeFromShape(shape.slice(0, k));
  const cols = util.sizeFromShape(shape.slice(k));
  return { rows, cols, keep: k };
}

function wrap(name: Reduction, original: KernelFunc): KernelFunc {
  return (args) => {
    const { inputs, attrs, backend } = args;
    const x = inputs.x as TensorInfo;
    const { axis, keepDims } = attrs as unknown as ReduceAttrs;
    const view = x.dtype === 'float32' ? leadingAxesReduction(x.shape, axis) : null;
    const heap = backend as unknown as HeapBackend;
    const simd = simdKernelsFor(heap);
    if (!view || !simd || view.cols === 0 || view.cols % 4 !== 0 || view.rows === 0) return original(args);
    const rest = x.shape.slice(view.keep);
    const outShape = keepDims ? [...x.shape.slice(0, view.keep).map(() => 1), ...rest] : rest;
    const out = heap.makeOutput(outShape, 'float32');
    simd.sumRows(heap.getMemoryOffset(x.dataId), view.rows, view.cols, heap.getMemoryOffset(out.dataId));
    if (name === 'Mean') {
      const values = heap.typedArrayFromHeap(out);
      const scale = 1 / view.rows;
      for (let i = 0; i < values.length; i++) values[i] *= scale;
    }
    return out;
  };
}

/** Wraps wasm's `Sum` and `Mean` (keeping each one's setup function); calling again changes nothing. */
export function registerWasmReductions(): void {
  for (const name of ['Sum', 'Mean'] as const) wrapWasmKernel(name, (original) => wrap(name, original));
}

/** True when both wasm reductions are this file's wrappers. */
export const areWasmReductionsRegistered = () => areWasmKernelsWrapped('Sum', 'Mean');
