/**
 * The 3×3, stride-1 convolution of a one-channel image (a grey model's first layer) on the SIMD heap kernels
 * (`conv-in1-wat.ts`), forward (wasm `Conv2D` and `FusedConv2D`, through `winograd.ts`'s wrappers) and filter
 * gradient (`conv-grad.ts`). XNNPACK's convolution with one input channel ran at under 3 GMAC/s here (5.7 ms for the
 * fashion preset's 28×28 1→32 layer at batch 128) and needed a padded copy from tfjs's `PadV2` (1.9 ms); the filter
 * gradient's general one-channel kernel accumulates in memory (9.9 ms). Winograd does not pay with one channel.
 */
import { backend_util, type TensorInfo } from '@tensorflow/tfjs-core';
import type { HeapBackend, SimdKernels } from './simd-kernels.js';

/** Whether the one-channel 3×3 kernels take a convolution of this geometry (NHWC, float32 checked by the caller). */
export function in1Applies(info: backend_util.Conv2DInfo): boolean {
  return (
    info.inChannels === 1 &&
    info.filterHeight === 3 &&
    info.filterWidth === 3 &&
    info.strideHeight === 1 &&
    info.strideWidth === 1 &&
    info.dilationHeight === 1 &&
    info.dilationWidth === 1 &&
    info.outChannels % 4 === 0 &&
    info.batchSize > 0 &&
    info.outHeight > 0 &&
    info.outWidth > 0
  );
}

/**
 * x [n][h][w][1] copied into a zeroed [n][oh + 2][ow + 2] buffer at the padding's offset (top, left), so that output
 * (p, q) reads rows p..p+2 and columns q..q+2 of it. Input cells that no window reaches are left out.
 */
function padGrey(heap: HeapBackend, x: TensorInfo, info: backend_util.Conv2DInfo): { xpad: TensorInfo; hp: number; wp: number } {
  const { batchSize: n, inHeight: h, inWidth: w, outHeight: oh, outWidth: ow } = info;
  const { top, left } = info.padInfo;
  const [hp, wp] = [oh + 2, ow + 2];
  const xpad = heap.makeOutput([n, hp, wp], 'float32');
  // Views after the allocation, which may have grown (and so detached) the heap.
  const dst = heap.typedArrayFromHeap(xpad);
  const src = heap.typedArrayFromHeap(x);
  dst.fill(0);
  const c0 = Math.max(0, -left);
  const c1 = Math.min(w, wp - left);
  for (let b = 0; b < n; b++) {
    for (let r = Math.max(0, top); r < Math.min(hp, h + top); r++) {
      const s = (b * h + r - top) * w;
      if (c1 > c0) dst.set(src.subarray(s + c0, s + c1), (b * hp + r) * wp + c0 + left);
    }
  }
  return { xpad, hp, wp };
}

/** y = conv2d(x, filter) (+ bias, then ReLU, for the fused kernel) for a one-channel x, on the wasm backend's heap. */
export function convIn1Forward(
  heap: HeapBackend,
  simd: SimdKernels,
  x: TensorInfo,
  filter: TensorInfo,
  info: backend_util.Conv2DInfo,
  fused: { bias?: TensorInfo; relu?: boolean } = {},
): TensorInfo {
  const { batchSize: n, outHeight: oh, outWidth: ow, outChannels: k } = info;
  const { xpad, hp, wp } = padGrey(heap, x, info);
  try {
    const y = heap.makeOutput([n, oh, ow, k], 'float32');
    const address = (t: TensorInfo) => heap.getMemoryOffset(t.dataId);
    simd.convIn1Forward3x3(address(xpad), address(filter), fused.bias ? address(fused.bias) : 0, address(y), n, hp, wp, oh, ow, k, fused.relu ? 1 : 0);
    return y;
  } finally {
    heap.disposeData(xpad.dataId, true);
  }
}

/** dW [3][3][1][K] of conv2d(x, W) from dy, for a one-channel x, on the wasm backend's heap. */
export function convIn1FilterGradient(heap: HeapBackend, simd: SimdKernels, x: TensorInfo, dy: TensorInfo, info: backend_util.Conv2DInfo): TensorInfo {
  const { batchSize: n, outHeight: oh, outWidth: ow, outChannels: k } = info;
  const { xpad, hp, wp } = padGrey(heap, x, info);
  try {
    const dw = heap.makeOutput([3, 3, 1, k], 'float32');
    simd.convIn1FilterGrad3x3(heap.getMemoryOffset(xpad.dataId), heap.getMemoryOffset(dy.dataId), heap.getMemoryOffset(dw.dataId), n, hp, wp, oh, ow, k);
    return dw;
  } finally {
    heap.disposeData(xpad.dataId, true);
  }
}
