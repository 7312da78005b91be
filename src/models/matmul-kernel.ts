/**
 * `BatchMatMul` on the wasm backend for the products a dense layer trains with.
 *
 * A single product (batch 1; x·W, xᵀ·dy, dy·Wᵀ) runs on the SIMD heap kernels (`gemm-wat.ts`). XNNPACK packs its
 * right operand into a private layout the first time it sees the tensor and reuses that for later calls, which
 * pays off for inference but not in training, where the weights are a new tensor every step: for the `small`
 * preset's 3,136 → 128 layer at batch 32 its product took 2.74 ms with a new operand against 1.03 ms with one it had
 * packed before. The heap kernels take 1.5 (x·W), 0.8 (dy·Wᵀ, no transpose) and 0.65 ms (xᵀ·dy) for the three.
 *
 * Other products with transposed operands: tfjs-backend-wasm 4.22 sends a product with `transposeA` or
 * `transposeB` to a scalar loop (0.85 GMAC/s). Transposing the operand first (one pass over it) and multiplying
 * plainly on XNNPACK gives the same sums: 2.4 ms instead of 22 for 128×1152 · 1152×128.
 */
import { getKernel } from '@tensorflow/tfjs-core';
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { areWasmKernelsWrapped, wrapWasmKernel } from './wasm-kernel-wrap.js';
import { simdKernelsFor, type HeapBackend } from './simd-kernels.js';

const BACKEND = 'wasm';

interface MatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
}

/** A single product on the SIMD heap kernels (see the file header); null when the shapes do not fit. */
function heapProduct(heap: HeapBackend, a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean): TensorInfo | null {
  const simd = simdKernelsFor(heap);
  if (!simd || (transposeA && transposeB) || a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) return null;
  // One product: every leading (batch) dimension is 1 (tfjs passes 2-D operands as they are, 3-D with batch 1 too).
  if (a.shape.slice(0, -2).some((d) => d !== 1) || b.shape.slice(0, -2).some((d) => d !== 1)) return null;
  const [ar, ac] = a.shape.slice(-2);
  const [br, bc] = b.shape.slice(-2);
  const [m, k] = transposeA ? [ac, ar] : [ar, ac];
  const [kb, n] = transposeB ? [bc, br] : [br, bc];
  if (k !== kb || m === 0 || n === 0 || k === 0) return null;
  // A·Bᵀ takes K and N in fours (lane sums along K, four columns a block); A·B and Aᵀ·B take N in eights.
  if (transposeB ? transposeA || k % 4 !== 0 || n % 4 !== 0 : n % 8 !== 0) return null;
  // Same rank as the operands (2-D in, 2-D out): the gradient code checks its results' shapes against theirs.
  const c = heap.makeOutput([...(a.shape.length >= b.shape.length ? a : b).shape.slice(0, -2), m, n], 'float32');
  const [aAt, bAt, cAt] = [a, b, c].map((t) => heap.getMemoryOffset(t.dataId));
  if (transposeB) {
    simd.gemmNT(aAt, bAt, cAt, m, k, n);
    return c;
  }
  const packed = heap.makeOutput([Math.ceil(m / 4) * 4 * k], 'float32');
  try {
    const pAt = heap.getMemoryOffset(packed.dataId);
    if (transposeA) simd.packCols4(aAt, pAt, m, k);
    else simd.packRows4(aAt, pAt, m, k);
    simd.gemmNN(pAt, bAt, cAt, m, k, n);
  } finally {
    heap.disposeData(packed.dataId, true);
  }
  return c;
}

function wrap(original: KernelFunc): KernelFunc {
  return (args) => {
    const { inputs, attrs, backend } = args;
    const { transposeA, transposeB } = attrs as unknown as MatMulAttrs;
    const a = inputs.a as TensorInfo;
    const b = inputs.b as TensorInfo;
    const product = heapProduct(backend as unknown as HeapBackend, a, b, transposeA, transposeB);
    if (product) return product;
    const transpose = getKernel('Transpose', BACKEND);
    if ((!transposeA && !transposeB) || a.dtype !== 'float32' || b.dtype !== 'float32' || transpose == null) return original(args);
    // Swap the last two axes (operands reach the kernel as rank 2 or rank 3).
    const swapLast = (t: TensorInfo) => {
      const perm = t.shape.map((_, i) => i);
      const r = perm.length;
      [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
      return transpose.kernelFunc({ inputs: { x: t }, attrs: { perm }, backend }) as TensorInfo;
    };
    const temporaries: TensorInfo[] = [];
    const plainA = transposeA ? swapLast(a) : a;
    if (transposeA) temporaries.push(plainA);
    const plainB = transposeB ? swapLast(b) : b;
    if (transposeB) temporaries.push(plainB);
    try {
      return original({ ...args, inputs: { ...inputs, a: plainA, b: plainB }, attrs: { ...attrs, transposeA: false, transposeB: false } });
    } finally {
      for (const t of temporaries) (backend as unknown as HeapBackend).disposeData(t.dataId, true);
    }
  };
}

/** Wraps wasm's `BatchMatMul` (keeping its setup function); calling again changes nothing. */
export const registerWasmMatMul = () => wrapWasmKernel('BatchMatMul', wrap);

/** True when the registered wasm `BatchMatMul` is this file's wrapper. */
export const isWasmMatMulRegistered = () => areWasmKernelsWrapped('BatchMatMul');
