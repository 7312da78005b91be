/**
 * `Identity` on the wasm backend without a copy. tfjs-core's custom gradients (fused conv2d, fused matMul) clone every
 * input and output through `Identity`, and tfjs-backend-wasm 4.22 copies the whole tensor each time: 30 copies of
 * activation-sized tensors per training step of a 3-block CNN (29 ms at batch 128, measured). Tensors are immutable,
 * so the clone can share the data and count a reference instead, which is what the backend's own `Reshape` does.
 */
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { areWasmKernelsWrapped, wrapWasmKernel } from './wasm-kernel-wrap.js';

interface RefCountingBackend {
  incRef(dataId: object): void;
}

function wrap(original: KernelFunc): KernelFunc {
  return (args) => {
    const x = args.inputs.x as TensorInfo;
    if (x.dtype === 'string') return original(args);
    (args.backend as unknown as RefCountingBackend).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
}

/** Replaces wasm's copying `Identity` with the sharing one; calling again changes nothing. */
export const registerWasmIdentity = () => wrapWasmKernel('Identity', wrap);

/** True when the registered wasm `Identity` is this file's. */
export const isWasmIdentityRegistered = () => areWasmKernelsWrapped('Identity');
