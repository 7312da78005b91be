/**
 * Replacing one of tfjs-backend-wasm's kernels with a wrapper around it. The wrapper keeps the original's setup
 * function (the backend's kernels bind their wasm exports there) and can hand any call back to the original.
 */
import { getKernel, registerKernel, unregisterKernel } from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';

const BACKEND = 'wasm';
const wrappers = new Map<string, KernelFunc>();

/** Registers `make(original)` as wasm's `name` once; later calls, or a missing original, change nothing. */
export function wrapWasmKernel(name: string, make: (original: KernelFunc) => KernelFunc): void {
  const existing = getKernel(name, BACKEND);
  if (existing == null || existing.kernelFunc === wrappers.get(name)) return;
  const kernelFunc = make(existing.kernelFunc);
  wrappers.set(name, kernelFunc);
  unregisterKernel(name, BACKEND);
  registerKernel({ ...existing, kernelFunc } satisfies KernelConfig);
}

/** True when every named wasm kernel is the wrapper this module registered. */
export const areWasmKernelsWrapped = (...names: string[]) =>
  names.every((name) => wrappers.get(name) != null && getKernel(name, BACKEND)?.kernelFunc === wrappers.get(name));
