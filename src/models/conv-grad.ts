/**
 * The wasm backend (tfjs-backend-wasm 4.22) has no `Conv2DBackpropFilter` kernel, so the gradient of every conv
 * layer throws there and no CNN can train. This file supplies that kernel: with the SIMD heap kernels attached,
 * Winograd F(4×4, 3×3) or F(2×2, 3×3) for 3×3 stride-1 convolutions (winograd.ts), a direct kernel for 4k input and 8k output
 * channels and one for a single input channel (simd-kernels.ts); otherwise,
 * and for other channel counts, a single forward convolution that runs on the backend's XNNPACK conv:
 *
 * Derivation (NHWC, dilation 1). The forward pass over the padded input xpad is
 *   y[b,p,q,co] = Σ_{i,j,ci} xpad[b, p·sh+i, q·sw+j, ci] · W[i,j,ci,co],
 * so the filter gradient is
 *   dW[i,j,ci,co] = Σ_{b,p,q} xpad[b, p·sh+i, q·sw+j, ci] · dy[b,p,q,co].
 * Rename X'[ci,h,w,b] = xpad[b,h,w,ci] (input channels become the batch, the batch becomes the channels) and
 * F'[p,q,b,co] = dy[b,p,q,co]. A stride-1 'valid' convolution of X' with F' dilated by (sh, sw) is
 *   out[ci,i,j,co] = Σ_{p,q,b} X'[ci, i + p·sh, j + q·sw, b] · F'[p,q,b,co] = dW[i,j,ci,co],
 * i.e. the gradient in [Ci, kh, kw, Co] layout; one transpose gives [kh, kw, Ci, Co].
 * The forward definition is TensorFlow's (tf.nn.conv2d, NHWC, "SAME"/"VALID" padding as computeConv2DInfo pads);
 * the rest is the chain rule and index renaming.
 */
import * as tf from '@tensorflow/tfjs-core';
import { backend_util, getKernel, registerKernel } from '@tensorflow/tfjs-core';
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { winogradApplies, winogradFilterGradient } from './winograd.js';
import { convIn1FilterGradient, in1Applies } from './conv-in1.js';
import { simdKernelsFor, type HeapBackend } from './simd-kernels.js';

const KERNEL = 'Conv2DBackpropFilter';
const BACKEND = 'wasm';

type Pad = 'valid' | 'same' | number | backend_util.ExplicitPadding;

interface FilterGradAttrs {
  strides: [number, number] | number;
  pad: Pad;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
}

/** Registers the wasm `Conv2DBackpropFilter` kernel once; later calls, or a native kernel, leave it untouched. */
export function registerWasmConv2DFilterGradient(): void {
  if (getKernel(KERNEL, BACKEND) != null) return;
  const config: KernelConfig = {
    kernelName: KERNEL,
    backendName: BACKEND,
    kernelFunc: ({ inputs, attrs, backend }) => {
      const { x, dy } = inputs;
      if (x == null || dy == null) throw new Error('Conv2DBackpropFilter needs inputs x and dy.');
      return conv2dFilterGradient(x, dy, attrs as unknown as FilterGradAttrs, backend as unknown as HeapBackend);
    },
  };
  registerKernel(config);
}

/** dW for an NHWC conv2d with dilation 1, computed as one forward convolution (see the file header). */
function conv2dFilterGradient(xInfo: TensorInfo, dyInfo: TensorInfo, attrs: FilterGradAttrs, heap: HeapBackend): TensorInfo {
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs;
  if (dataFormat !== 'NHWC') {
    throw new Error(
      `Conv2DBackpropFilter on wasm supports dataFormat NHWC only (got ${dataFormat}); ` +
        'transpose the input to NHWC, which tfjs-layers uses by default.',
    );
  }
  const xShape = xInfo.shape as [number, number, number, number];
  const dyShape = dyInfo.shape as [number, number, number, number];
  // Dilation is not an attribute of this kernel (tfjs refuses conv gradients with dilation > 1 before calling it),
  // so the conv geometry is computed with dilation 1 and dy must agree with it.
  const info = backend_util.computeConv2DInfo(xShape, filterShape, strides, 1, pad, dimRoundingMode);
  if (info.outHeight !== dyShape[1] || info.outWidth !== dyShape[2]) {
    throw new Error(
      `Conv2DBackpropFilter on wasm: dy is ${dyShape[1]}×${dyShape[2]} but a ${info.filterHeight}×` +
        `${info.filterWidth} conv with strides ${info.strideHeight},${info.strideWidth} and dilation 1 gives ` +
        `${info.outHeight}×${info.outWidth}; dilated convolutions are not supported in this gradient.`,
    );
  }

  const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw } = info;
  const { top, bottom, left, right } = info.padInfo;
  const [n, h, w] = xShape;
  const [, oh, ow, co] = dyShape;
  // With 'ceil' rounding the last output window can reach past the explicit padding; tfjs treats those cells as
  // zeros, so extend the zero padding until every window the forward pass used lies inside xpad.
  const padBottom = Math.max(bottom, (oh - 1) * sh + kh - top - h);
  const padRight = Math.max(right, (ow - 1) * sw + kw - left - w);
  const pads: Array<[number, number]> = [
    [0, 0],
    [top, padBottom],
    [left, padRight],
    [0, 0],
  ];
  const simd = simdKernelsFor(heap);
  const ci = xShape[3];
  // 3×3, stride 1: Winograd, 36 multiply-adds per 4×4 tile and channel pair (16 per 2×2) where the kernel below takes 144 (36).
  if (simd && xInfo.dtype === 'float32' && dyInfo.dtype === 'float32' && winogradApplies(info)) return winogradFilterGradient(heap, simd, xInfo, dyInfo, info);
  if (simd && ci % 4 === 0 && co % 8 === 0) {
    // The usual case (every layer after the first). XNNPACK runs the one-convolution form below at about half its
    // forward speed here: its "weights" (dy, batch × pixels × co) are megabytes and stream from memory for every
    // output tile. The SIMD kernel keeps one image and its dy in cache and a block of dw in registers, and needs no
    // padded copy or transposes.
    const dw = heap.makeOutput(filterShape, 'float32');
    simd.convFilterGrad(heap.getMemoryOffset(xInfo.dataId), heap.getMemoryOffset(dyInfo.dataId), heap.getMemoryOffset(dw.dataId),
      n, h, w, oh, ow, kh, kw, sh, sw, top, left, ci, co);
    return dw;
  }
  if (simd && xInfo.dtype === 'float32' && dyInfo.dtype === 'float32' && in1Applies(info)) return convIn1FilterGradient(heap, simd, xInfo, dyInfo, info);
  if (simd && ci === 1 && co % 4 === 0) {
    // One input channel (a grey image's first layer): XNNPACK would see a 1-image "batch" with a kernel as large as
    // the image and run at about 1 GMAC/s; the SIMD kernel sweeps the pixels once.
    const xpad = tf.tidy(() => tf.pad(asTensor(xInfo), pads));
    const dw = heap.makeOutput(filterShape, 'float32');
    const acc = heap.wasm._malloc(4 * kh * kw * co);
    try {
      simd.convIn1FilterGrad(heap.getMemoryOffset(xpad.dataId), heap.getMemoryOffset(dyInfo.dataId), heap.getMemoryOffset(dw.dataId), acc,
        n, h + top + padBottom, w + left + padRight, oh, ow, kh, kw, sh, sw, co);
    } finally {
      heap.wasm._free(acc);
      xpad.dispose();
    }
    return dw;
  }
  return tf.tidy(() => {
    const x = asTensor(xInfo) as tf.Tensor4D;
    const dy = asTensor(dyInfo) as tf.Tensor4D;
    const xpad = tf.pad(x, pads);
    const channelsAsBatch = tf.transpose(xpad, [3, 1, 2, 0]);
    const dyAsFilter = tf.transpose(dy, [1, 2, 0, 3]);
    const grad = tf.conv2d(channelsAsBatch, dyAsFilter, 1, 'valid', 'NHWC', [sh, sw]);
    const cropped = tf.slice(grad, [0, 0, 0, 0], [-1, kh, kw, -1]);
    return tf.transpose(cropped, [1, 2, 0, 3]);
  });
}

/** Kernel inputs are Tensors when called through ops; a bare TensorInfo is wrapped (the enclosing tidy frees it). */
function asTensor(info: TensorInfo): tf.Tensor {
  return info instanceof tf.Tensor ? info : tf.engine().makeTensorFromTensorInfo(info);
}
