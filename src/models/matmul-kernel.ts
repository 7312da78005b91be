/**
 * `BatchMatMul` with transposed operands on the wasm backend. tfjs-backend-wasm 4.22 sends a plain product to
 * XNNPACK (11 GMAC/s for 128×1152 · 1152×128, measured) but a product with `transposeA` or `transposeB`, which is
 * what every dense layer's gradients are (dW = xᵀ·dy, dx = dy·Wᵀ), to a scalar loop (0.85 GMAC/s). Transposing the
 * operand first (one pass over it) and multiplying plainly gives the same sums: 2.4 ms instead of 22.
 */
import { getKernel } from '@tensorflow/tfjs-core';
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { areWasmKernelsWrapped, wrapWasmKernel } from './wasm-kernel-wrap.js';
import type { HeapBackend } from './simd-kernels.js';

const BACKEND = 'wasm';

interface MatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
}

function wrap(original: KernelFunc): KernelFunc {
  return (args) => {
    const { inputs, attrs, backend } = args;
    const { transposeA, transposeB } = attrs as unknown as MatMulAttrs;
    const a = inputs.a as TensorInfo;
    const b = inputs.b as TensorInfo;
    const transpose = getKernel('Transpose', BACKEND);
    if ((!transposeA && !transposeB) || a.dtype !== 'float32' || b.dtype !== 'float32' || transpose == null) return original(args);
    // BatchMatMul operands are rank 3 ([batch, rows, cols]) by the time they reach the kernel.
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
