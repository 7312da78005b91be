/**
 * wasm's `Conv2D` and `FusedConv2D` (with a bias and ReLU or no activation) through Winograd F(7×7, 3×3), F(4×4,
 * 3×3) or F(2×2, 3×3) for the 3×3, stride-1 convolutions that dominate a CNN's training step, forward and (through
 * `conv-input-grad.ts`, which is a forward convolution) backward.
 *
 * tfjs-backend-wasm sends every convolution to XNNPACK, which runs near the limit of 4-wide SIMD without fused
 * multiply-adds (about 12 GMAC/s per core here). Winograd's form needs 81 multiply-adds per 7×7 output tile and
 * input channel instead of 441, 36 per 4×4 tile instead of 144, or 16 per 2×2 tile instead of 36 (see
 * `winograd-wat.ts`); `winogradTile` picks the variant with the smallest products for the output size. The products
 * run on the SIMD heap kernels with fused multiply-adds where the engine has them, at 35–39 GFLOP/s on one core here,
 * about the 4-wide FMA peak. The work is done in chunks of images whose transformed tiles fit in the L2 cache. Other
 * convolutions (other sizes, strides, dilations, channel counts, NCHW, or no SIMD kernels) go to the original kernel.
 * `conv-grad.ts` takes the filter gradient here for the same convolutions.
 *
 * Measured on the fashion preset's step (batch 128, one process): F(2×2, 3×3) took the 14×14 32→64 convolution
 * from 36.7 to 12.9 ms and the step from 260 to 148 ms (2026-11-24). On a slower machine (2026-12-03, the step at
 * 443 ms with F(2×2, 3×3)), F(4×4, 3×3) for the 14×14 and 7×7 layers and the plane spacing below took it to 270 ms:
 * the 7×7 128→128 convolution 34 → 21 ms forward and 38 → 17 ms filter gradient (its 7×7 output pads to 8×8 in both
 * variants, 4 tiles of 36 products against 16 of 16). Rounding, against a float64 direct sum on unit-normal data at
 * 64 and 128 channels, largest error ÷ largest output: F(2×2, 3×3) 4e-7, F(4×4, 3×3) 2–6e-6, float32 summed in
 * order 1e-6. F(7×7, 3×3) for the 28×28, 14×14 and 7×7 layers (no padding to 16 or 8, 81 products per 49 outputs;
 * its transforms take one fused multiply-add per coefficient, which made its input transform 2.5× faster): the
 * fashion step 350 → 286 ms (2026-12-03, phases at batch 128: the 14×14 64→64 forward 21.3 → 16.3 ms, the 7×7
 * 128→128 one 20.8 → 13 ms). The tile transforms through a one-tile scratch, without a branch per load or store
 * (winograd-wat.ts), took F(7×7, 3×3)'s input transform 5.1 → 3.7 ms and its output transform 4.3 → 2.8 ms for the
 * 14×14 64→64 layer (batch 128, alternated runs, 2026-12-03). F(7×7, 3×3)'s rounding is about 5e-5 of the
 * largest output (winograd-wat.ts); the tests hold every variant to 1e-4 against the cpu backend. A NaN or infinity
 * in the input reaches all outputs of every tile whose window (α × α) holds it (the direct form reaches those whose
 * 3×3 window does).
 */
import { backend_util } from '@tensorflow/tfjs-core';
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { simdKernelsFor, type HeapBackend, type SimdKernels } from './simd-kernels.js';
import { areWasmKernelsWrapped, wrapWasmKernel } from './wasm-kernel-wrap.js';
import { convIn1Forward, in1Applies } from './conv-in1.js';
import { WINOGRAD_CHANNELS, WINOGRAD_TILES, type WinogradTile } from './winograd-wat.js';

const KERNEL = 'Conv2D';
const FUSED = 'FusedConv2D';

interface Conv2DAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dilations: [number, number] | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** Bytes of transformed input and output tiles per chunk of images: about half of a 1 MiB L2 cache. */
const CHUNK_BYTES = 512 * 1024;
/** Bytes of a cache line, where the scratch buffers start. */
const ALIGN = 64;
/** The fewest tiles per chunk (see `chunking`). */
const MIN_ROWS = 64;

/** Whether Winograd on the heap kernels takes a convolution of this geometry (NHWC, float32). */
export function winogradApplies(info: backend_util.Conv2DInfo): boolean {
  const { filterHeight, filterWidth, strideHeight, strideWidth, dilationHeight, dilationWidth, inChannels, outChannels } = info;
  return (
    filterHeight === 3 &&
    filterWidth === 3 &&
    strideHeight === 1 &&
    strideWidth === 1 &&
    dilationHeight === 1 &&
    dilationWidth === 1 &&
    outChannels % 8 === 0 &&
    (WINOGRAD_CHANNELS as readonly number[]).includes(inChannels) &&
    info.batchSize > 0 &&
    info.outHeight > 0 &&
    info.outWidth > 0
  );
}

/** The forward convolution's geometry when the Winograd path or the one-channel kernel takes it, else null. */
function forwardPlan(x: TensorInfo, filter: TensorInfo, attrs: Conv2DAttrs): backend_util.Conv2DInfo | null {
  if (attrs.dataFormat !== 'NHWC' || x.dtype !== 'float32' || filter.dtype !== 'float32' || x.shape.length !== 4 || filter.shape.length !== 4) return null;
  if (filter.shape[2] !== x.shape[3]) return null;
  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filter.shape as [number, number, number, number],
    attrs.strides,
    attrs.dilations,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  return winogradApplies(info) || in1Applies(info) ? info : null;
}

/**
 * The tile side for a convolution: the variant with the least work, n·⌈oh/m⌉·⌈ow/m⌉·(m + 2)² multiply-adds per
 * channel pair for the products and 3·(m + 2)·(m + 5) for the filter transform, done on every call, which matters
 * at small batches (prediction); of equal ones the smaller tile, which rounds less. In training (batch 32–128),
 * 28×28, 14×14 and 7×7 outputs take F(7×7, 3×3) (per image 1,296, 324 and 81 against 1,764, 576 and 144 for F(4×4,
 * 3×3), which pads 14 and 7 to 16 and 8), 8×8 takes F(4×4, 3×3), 2×2 and smaller F(2×2, 3×3). One 7×7 image takes
 * F(4×4, 3×3) (306 against 405: the transform of F(7×7)'s 81 planes outweighs its products; batch-1 prediction of the
 * fashion preset went from 288 to 117 samples/s with F(7×7) there).
 */
export function winogradTile(info: Pick<backend_util.Conv2DInfo, 'outHeight' | 'outWidth' | 'batchSize'>): WinogradTile {
  const cost = (m: number) => info.batchSize * Math.ceil(info.outHeight / m) * Math.ceil(info.outWidth / m) * (m + 2) ** 2 + 3 * (m + 2) * (m + 5);
  return WINOGRAD_TILES.reduce((best, m) => (cost(m) < cost(best) ? m : best));
}

/**
 * Images per chunk and the tile stride of the scratch planes, for transformed tiles of C + K channels: as many images
 * as fit CHUNK_BYTES, but at least MIN_ROWS tiles, because a chunk's products stream all of U (or reload a block of
 * dU) once: a 7×7 output has one F(7×7) tile per image, and chunks of 6 images left the 128 → 128 forward product at
 * 17–22 GFLOP/s, of 64 at 37 (the filter gradient's, at 4 F(4×4) tiles per image: 3 images 24 GFLOP/s, 16 images 37).
 * The stride is one tile more than the chunk's tiles rounded to four: planes a power of two bytes apart share cache
 * sets, and the transforms, which touch all α² planes per tile, ran 2–4 times slower so (the 14×14 dy transform of
 * F(4×4, 3×3) 5.7 → 1.3 ms at batch 128).
 */
function chunking(info: backend_util.Conv2DInfo, m: WinogradTile) {
  const { batchSize: n, inChannels: c, outHeight: oh, outWidth: ow, outChannels: k } = info;
  const planes = (m + 2) ** 2;
  const th = Math.ceil(oh / m);
  const tw = Math.ceil(ow / m);
  const perImage = th * tw;
  const fit = Math.max(1, Math.floor(CHUNK_BYTES / (perImage * planes * 4 * (c + k))));
  const chunk = Math.min(n, Math.max(fit, Math.ceil(MIN_ROWS / perImage)));
  return { planes, th, tw, perImage, chunk, tp: Math.ceil((chunk * perImage) / 4) * 4 + 1, ustride: uStride(info) };
}

/**
 * Floats between U's planes: C·K and one cache line more. At C·K (64 KB for 128 → 128) the α² planes share cache
 * sets, and the filter transform, which writes to all of them per four channels, took 1.94 ms for 128 → 128 with
 * F(7×7, 3×3) (0.72 with F(4×4, 3×3)) where it takes 1.28 (0.24) with the extra line, in isolation.
 */
const uStride = (info: backend_util.Conv2DInfo) => info.inChannels * info.outChannels + ALIGN / 4;

/**
 * Float32 sizes of the scratch buffers, in the order the `*At` functions take them: [U or dU, V, M or dM, T]; the
 * same sizes serve the forward pass and the filter gradient. T is the tile transforms' own: (m + 2)² × 4 floats for
 * one tile, then a zero row of the input (w × C floats; `winogradTileScratchZeros` says where it starts).
 */
export function winogradScratchSizes(info: backend_util.Conv2DInfo, m: WinogradTile = winogradTile(info)): number[] {
  const { planes, tp, ustride } = chunking(info, m);
  return [
    planes * ustride,
    planes * tp * info.inChannels,
    planes * tp * info.outChannels,
    4 * planes + info.inWidth * info.inChannels,
  ];
}

/** Where, in floats from its start, the zeros of scratch T begin (`winogradScratchSizes`); they must be zero. */
export const winogradTileScratchZeros = (m: WinogradTile) => 4 * (m + 2) ** 2;

/**
 * The forward convolution on byte addresses of one memory the kernels run on: x, filter and y as tfjs lays them
 * out, and scratch of `winogradScratchSizes` (for the same tile side m) whose V rows past the tiles of the last
 * chunk are finite (zero): their products are computed (the kernel takes rows in fours) and dropped; T's zero row
 * zero.
 */
export function winogradConv2DAt(
  simd: SimdKernels,
  info: backend_util.Conv2DInfo,
  x: number,
  filter: number,
  y: number,
  [u, v, mm, ts]: number[],
  epilogue: { bias?: number; relu?: boolean } = {},
  m: WinogradTile = winogradTile(info),
): void {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow, outChannels: k } = info;
  const { planes, th, tw, perImage, chunk, tp, ustride } = chunking(info, m);
  const gemm = simd.winoGemm.get(c);
  if (!gemm) throw new Error(`Winograd Conv2D: no matrix-product kernel for ${c} input channels.`);
  const t = simd.wino[m];
  t.filter(filter, u, c, k, 4 * ustride);
  for (let b = 0; b < n; b += chunk) {
    const count = Math.min(chunk, n - b);
    t.input(x + 4 * b * h * w * c, v, count, h, w, c, th, tw, info.padInfo.top, info.padInfo.left, tp, ts);
    gemm(v, u, mm, Math.ceil((count * perImage) / 4) * 4, tp, k, planes, 4 * ustride);
    t.output(mm, y + 4 * b * oh * ow * k, count, oh, ow, k, th, tw, tp, epilogue.bias ?? 0, epilogue.relu ? 1 : 0, ts);
  }
}

/** The filter gradient on byte addresses (as `winogradConv2DAt`, with dU zeroed): dU = Σ Vᵀ·dM over the images' tiles, dW = Gᵀ dU G. */
export function winogradFilterGradientAt(
  simd: SimdKernels,
  info: backend_util.Conv2DInfo,
  x: number,
  dy: number,
  dw: number,
  [du, v, mm, ts]: number[],
  m: WinogradTile = winogradTile(info),
): void {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow, outChannels: k } = info;
  const { planes, th, tw, perImage, chunk, tp, ustride } = chunking(info, m);
  const t = simd.wino[m];
  for (let b = 0; b < n; b += chunk) {
    const count = Math.min(chunk, n - b);
    t.input(x + 4 * b * h * w * c, v, count, h, w, c, th, tw, info.padInfo.top, info.padInfo.left, tp, ts);
    t.dy(dy + 4 * b * oh * ow * k, mm, count, oh, ow, k, th, tw, tp, ts);
    simd.winoFilterGemm(v, mm, du, count * perImage, tp, c, k, planes, 4 * ustride);
  }
  t.filterGrad(du, dw, c, k, 4 * ustride);
}

/**
 * Runs `body` with float32 scratch buffers of `winogradScratchSizes` on the heap (their byte addresses). Only what
 * is read before it is written is zeroed: dU for the filter gradient, which sums into it, T's zero row, and the rows
 * of V past the tiles a chunk transforms, up to the multiple of four the products read (they must stay finite).
 * Zeroing all of U and V cost 8 MB of stores per call for the 7×7 128→128 layer.
 */
function withScratch(
  heap: HeapBackend,
  info: backend_util.Conv2DInfo,
  m: WinogradTile,
  pass: 'forward' | 'filter',
  body: (addresses: number[]) => void,
): void {
  const sizes = winogradScratchSizes(info, m);
  const scratch = sizes.map((size) => heap.makeOutput([size + ALIGN / 4], 'float32'));
  try {
    // each buffer from its first cache-line boundary: tfjs's allocations are 8-byte aligned, and with 16-byte loads
    // and stores across cache lines whole convolutions ran up to 15% slower (alternated, batch 128)
    const addresses = scratch.map((t) => Math.ceil(heap.getMemoryOffset(t.dataId) / ALIGN) * ALIGN);
    const view = (i: number) => {
      const all = heap.typedArrayFromHeap(scratch[i]);
      const skip = (addresses[i] - heap.getMemoryOffset(scratch[i].dataId)) / 4;
      return all.subarray(skip, skip + sizes[i]);
    };
    if (pass === 'filter') view(0).fill(0);
    view(3).fill(0, winogradTileScratchZeros(m));
    const { planes, tp, chunk, perImage } = chunking(info, m);
    const written = (((info.batchSize - 1) % chunk) + 1) * perImage; // by the last (smallest) chunk
    const v = view(1);
    const c = info.inChannels;
    for (let f = 0; f < planes; f++) v.fill(0, (f * tp + written) * c, (f + 1) * tp * c);
    body(addresses);
  } finally {
    for (const t of scratch) heap.disposeData(t.dataId, true);
  }
}

/** y = conv2d(x, filter) (+ bias, then ReLU, for the fused kernel) by Winograd on the wasm backend's heap. */
export function winogradConv2D(
  heap: HeapBackend,
  simd: SimdKernels,
  x: TensorInfo,
  filter: TensorInfo,
  info: backend_util.Conv2DInfo,
  fused: { bias?: TensorInfo; relu?: boolean } = {},
): TensorInfo {
  const y = heap.makeOutput([info.batchSize, info.outHeight, info.outWidth, info.outChannels], 'float32');
  const epilogue = { bias: fused.bias ? heap.getMemoryOffset(fused.bias.dataId) : 0, relu: fused.relu };
  const m = winogradTile(info);
  withScratch(heap, info, m, 'forward', (scratch) =>
    winogradConv2DAt(simd, info, heap.getMemoryOffset(x.dataId), heap.getMemoryOffset(filter.dataId), heap.getMemoryOffset(y.dataId), scratch, epilogue, m),
  );
  return y;
}

/** dW of conv2d(x, W) from dy by Winograd on the wasm backend's heap. */
export function winogradFilterGradient(heap: HeapBackend, simd: SimdKernels, x: TensorInfo, dy: TensorInfo, info: backend_util.Conv2DInfo): TensorInfo {
  const dw = heap.makeOutput([3, 3, info.inChannels, info.outChannels], 'float32');
  const m = winogradTile(info);
  withScratch(heap, info, m, 'filter', (scratch) =>
    winogradFilterGradientAt(simd, info, heap.getMemoryOffset(x.dataId), heap.getMemoryOffset(dy.dataId), heap.getMemoryOffset(dw.dataId), scratch, m),
  );
  return dw;
}

/** A planned forward convolution on its kernel: Winograd, or the one-channel 3×3 kernel (`conv-in1.ts`). */
function forwardOn(heap: HeapBackend, simd: SimdKernels, x: TensorInfo, filter: TensorInfo, info: backend_util.Conv2DInfo, fused: { bias?: TensorInfo; relu?: boolean } = {}) {
  return winogradApplies(info) ? winogradConv2D(heap, simd, x, filter, info, fused) : convIn1Forward(heap, simd, x, filter, info, fused);
}

function wrap(original: KernelFunc): KernelFunc {
  return (args) => {
    const { x, filter } = args.inputs as { x: TensorInfo; filter: TensorInfo };
    const heap = args.backend as unknown as HeapBackend;
    const simd = simdKernelsFor(heap);
    const info = simd && x && filter ? forwardPlan(x, filter, args.attrs as unknown as Conv2DAttrs) : null;
    if (!simd || !info) return original(args);
    return forwardOn(heap, simd, x, filter, info);
  };
}

/** `FusedConv2D` (conv, + bias, activation) through Winograd (or the one-channel kernel) for a float32 [K] bias or none, and a linear or ReLU activation. */
function wrapFused(original: KernelFunc): KernelFunc {
  return (args) => {
    const { x, filter, bias, preluActivationWeights } = args.inputs as Record<string, TensorInfo | undefined>;
    const { activation } = args.attrs as unknown as { activation?: string };
    const heap = args.backend as unknown as HeapBackend;
    const simd = simdKernelsFor(heap);
    const info = simd && x && filter ? forwardPlan(x, filter, args.attrs as unknown as Conv2DAttrs) : null;
    const biasFits = bias == null || (bias.dtype === 'float32' && bias.shape.length === 1 && bias.shape[0] === info?.outChannels);
    const act = activation ?? 'linear';
    if (!simd || !info || preluActivationWeights != null || !biasFits || (act !== 'linear' && act !== 'relu')) return original(args);
    return forwardOn(heap, simd, x!, filter!, info, { bias: bias ?? undefined, relu: act === 'relu' });
  };
}

/**
 * Puts the Winograd path (and the one-channel 3×3 kernel) in front of wasm's Conv2D and FusedConv2D (once; later
 * calls change nothing).
 */
export function registerWasmWinogradConv2D(): void {
  wrapWasmKernel(KERNEL, wrap);
  wrapWasmKernel(FUSED, wrapFused);
}

/** True when wasm's Conv2D and FusedConv2D are this file's wrappers. */
export const isWasmWinogradConv2DRegistered = () => areWasmKernelsWrapped(KERNEL, FUSED);
