/**
 * The wasm backend's own `Conv2DBackpropInput` (tfjs-backend-wasm 4.22) is a scalar loop: in a training step of a
 * small CNN it took 57% of the time. This file replaces it with one forward convolution, which runs on the backend's
 * XNNPACK conv, so the input gradient costs about what the forward pass costs.
 *
 * Derivation (NHWC, dilation 1). The forward pass over the padded input xpad is
 *   y[b,p,q,co] = Σ_{i,j,ci} xpad[b, p·sh+i, q·sw+j, ci] · W[i,j,ci,co],
 * so dxpad[b,u,v,ci] = Σ_{p,q,co} dy[b,p,q,co] · W[u − p·sh, v − q·sw, ci, co] over the taps inside the filter.
 * Let dyd be dy with sh − 1 zero rows between its rows and sw − 1 zero columns between its columns
 * (dyd[b, p·sh, q·sw, co] = dy[b,p,q,co]) and Wr[i',j',co,ci] = W[kh−1−i', kw−1−j', ci, co] (the filter turned
 * 180° with its channel axes swapped). Then
 *   dxpad[b,u,v,ci] = Σ_{i',j',co} dyd[b, u − (kh−1) + i', v − (kw−1) + j', co] · Wr[i',j',co,ci],
 * a stride-1 correlation of dyd, zero-padded by kh − 1 rows above (kw − 1 columns left), with Wr. dx is dxpad
 * without the forward padding, so the rows of dx start `top` rows in: the padding above becomes kh − 1 − top, and
 * the padding below is whatever makes the output exactly as tall as x (rows past the last window get 0).
 */
import * as tf from '@tensorflow/tfjs-core';
import { backend_util, getKernel, registerKernel, unregisterKernel } from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { simdKernelsFor, type HeapBackend } from './simd-kernels.js';

const KERNEL = 'Conv2DBackpropInput';
const BACKEND = 'wasm';

interface InputGradAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  inputShape: [number, number, number, number];
}

const kernelFunc: KernelFunc = ({ inputs, attrs, backend }) => {
  const { dy, filter } = inputs;
  if (dy == null || filter == null) throw new Error('Conv2DBackpropInput needs inputs dy and filter.');
  return conv2dInputGradient(dy, filter, attrs as unknown as InputGradAttrs, backend as unknown as HeapBackend);
};

/** Puts the forward-convolution `Conv2DBackpropInput` in place of wasm's scalar one; calling again changes nothing. */
export function registerWasmConv2DInputGradient(): void {
  if (getKernel(KERNEL, BACKEND)?.kernelFunc === kernelFunc) return;
  if (getKernel(KERNEL, BACKEND) != null) unregisterKernel(KERNEL, BACKEND);
  registerKernel({ kernelName: KERNEL, backendName: BACKEND, kernelFunc } satisfies KernelConfig);
}

/** True when the registered wasm kernel is this file's. */
export const isWasmConv2DInputGradientRegistered = () => getKernel(KERNEL, BACKEND)?.kernelFunc === kernelFunc;

/** dx for an NHWC conv2d with dilation 1, computed as one forward convolution (see the file header). */
function conv2dInputGradient(dyInfo: TensorInfo, filterInfo: TensorInfo, attrs: InputGradAttrs, heap: HeapBackend): TensorInfo {
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs;
  if (dataFormat !== 'NHWC') {
    throw new Error(`Conv2DBackpropInput on wasm supports dataFormat NHWC only (got ${dataFormat}).`);
  }
  const filterShape = filterInfo.shape as [number, number, number, number];
  const dyShape = dyInfo.shape as [number, number, number, number];
  const info = backend_util.computeConv2DInfo(inputShape, filterShape, strides, 1, pad, dimRoundingMode);
  if (info.outHeight !== dyShape[1] || info.outWidth !== dyShape[2]) {
    throw new Error(
      `Conv2DBackpropInput on wasm: dy is ${dyShape[1]}×${dyShape[2]} but the conv gives ${info.outHeight}×${info.outWidth}; ` +
        'dilated convolutions are not supported in this gradient.',
    );
  }
  const simd = simdKernelsFor(heap);
  if (simd && filterShape[2] === 1 && filterShape[3] % 4 === 0) return inputGradientOneChannel(heap, simd, dyInfo, filterInfo, info);
  return tf.tidy(() => {
    const dy = asTensor(dyInfo) as tf.Tensor4D;
    const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw } = info;
    const [b, h, wIn] = inputShape;
    const [, oh, ow, co] = dyShape;
    let dyd: tf.Tensor4D = dy;
    if (sh > 1 || sw > 1) {
      // Interleave zeros: [b, oh, 1, ow, 1, co] padded to [b, oh, sh, ow, sw, co], flattened, the trailing zeros cut.
      const spread = tf.pad(tf.reshape(dy, [b, oh, 1, ow, 1, co]), [
        [0, 0],
        [0, 0],
        [0, sh - 1],
        [0, 0],
        [0, sw - 1],
        [0, 0],
      ]);
      dyd = tf.slice(tf.reshape(spread, [b, oh * sh, ow * sw, co]) as tf.Tensor4D, [0, 0, 0, 0], [b, (oh - 1) * sh + 1, (ow - 1) * sw + 1, co]);
    }
    const rows = axisPadding((oh - 1) * sh + 1, kh, info.padInfo.top, h);
    const cols = axisPadding((ow - 1) * sw + 1, kw, info.padInfo.left, wIn);
    if (rows.cropEnd > 0 || cols.cropEnd > 0) {
      dyd = tf.slice(dyd, [0, 0, 0, 0], [b, dyd.shape[1] - rows.cropEnd, dyd.shape[2] - cols.cropEnd, co]) as tf.Tensor4D;
    }
    const turned = turnFilter(heap, filterInfo);
    const padding: backend_util.ExplicitPadding = [
      [0, 0],
      [rows.before, rows.after],
      [cols.before, cols.after],
      [0, 0],
    ];
    return tf.conv2d(dyd, turned, 1, padding, 'NHWC');
  });
}

/**
 * Wr[i', j', co, ci] = W[kh−1−i', kw−1−j', ci, co] in one JS pass over the heap. wasm's `Reverse` took 3.3 ms for a
 * 3×3×64×128 filter (73,728 values) in a fashion-preset step, and the transpose after it more; the loop takes well
 * under a millisecond.
 */
function turnFilter(heap: HeapBackend, filterInfo: TensorInfo): tf.Tensor4D {
  const [kh, kw, ci, co] = filterInfo.shape as [number, number, number, number];
  const outInfo = heap.makeOutput([kh, kw, co, ci], 'float32');
  const w = heap.typedArrayFromHeap(filterInfo);
  const out = heap.typedArrayFromHeap(outInfo);
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const from = ((kh - 1 - i) * kw + (kw - 1 - j)) * ci * co;
      const to = (i * kw + j) * co * ci;
      for (let c = 0; c < ci; c++) for (let o = 0; o < co; o++) out[to + o * ci + c] = w[from + c * co + o];
    }
  }
  return tf.engine().makeTensorFromTensorInfo(outInfo) as tf.Tensor4D;
}

/**
 * One input channel (a grey image's first layer): XNNPACK runs the 1-output-channel convolution above at about
 * 1 GMAC/s, so a SIMD kernel scatters each output pixel's dot products with the filter taps into a zeroed, padded
 * frame large enough for every window (as in conv-grad.ts), and the frame is cropped to x.
 */
function inputGradientOneChannel(
  heap: HeapBackend,
  simd: NonNullable<ReturnType<typeof simdKernelsFor>>,
  dyInfo: TensorInfo,
  filterInfo: TensorInfo,
  info: backend_util.Conv2DInfo,
): TensorInfo {
  const { batchSize: n, inHeight: h, inWidth: w, outHeight: oh, outWidth: ow, outChannels: co } = info;
  const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw } = info;
  const { top, left } = info.padInfo;
  const hp = Math.max(top + h, (oh - 1) * sh + kh);
  const wp = Math.max(left + w, (ow - 1) * sw + kw);
  const frameInfo = heap.makeOutput([n, hp, wp, 1], 'float32');
  heap.typedArrayFromHeap(frameInfo).fill(0);
  simd.convIn1InputGrad(heap.getMemoryOffset(dyInfo.dataId), heap.getMemoryOffset(filterInfo.dataId), heap.getMemoryOffset(frameInfo.dataId),
    n, hp, wp, oh, ow, kh, kw, sh, sw, co);
  // Crop the frame to x row by row (tfjs-backend-wasm's Slice copies the whole input out of the heap first).
  const dx = heap.makeOutput([n, h, w, 1], 'float32');
  const frame = heap.typedArrayFromHeap(frameInfo);
  const out = heap.typedArrayFromHeap(dx);
  for (let b = 0; b < n; b++) {
    for (let r = 0; r < h; r++) {
      const from = (b * hp + top + r) * wp + left;
      out.set(frame.subarray(from, from + w), (b * h + r) * w);
    }
  }
  heap.disposeData(frameInfo.dataId, true);
  return dx;
}

/**
 * Padding of the dilated dy along one axis so that a stride-1 correlation with a k-tap filter gives exactly `size`
 * outputs, the first being input row 0 (which sits `offset` rows into the padded input). Negative padding after is
 * turned into rows cut from dy's end (they only touched padded cells, whose gradient is dropped).
 */
function axisPadding(length: number, k: number, offset: number, size: number): { before: number; after: number; cropEnd: number } {
  const before = k - 1 - offset;
  if (before < 0) throw new Error(`Conv2DBackpropInput on wasm: padding ${offset} exceeds the filter size ${k} − 1.`);
  const after = size + k - 1 - length - before;
  return after >= 0 ? { before, after, cropEnd: 0 } : { before, after: 0, cropEnd: -after };
}

/** Kernel inputs are Tensors when called through ops; a bare TensorInfo is wrapped (the enclosing tidy frees it). */
function asTensor(info: TensorInfo): tf.Tensor {
  return info instanceof tf.Tensor ? info : tf.engine().makeTensorFromTensorInfo(info);
}
