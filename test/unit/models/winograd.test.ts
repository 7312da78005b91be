import * as tf from '@tensorflow/tfjs-core';
// tfjs-layers registers tfjs-core's gradient functions in Node (the core bundle alone has none), as in the service.
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectClose } from './close.js';
import { selectBackend, withBackend } from '../../../src/models/backend.js';
import { assembleSimdKernels, instantiateSimdKernels, relaxedSimd, simdKernelsFor, type HeapBackend, type SimdKernels } from '../../../src/models/simd-kernels.js';
import {
  isWasmWinogradConv2DRegistered,
  registerWasmWinogradConv2D,
  winogradApplies,
  winogradConv2DAt,
  winogradFilterGradientAt,
  winogradScratchSizes,
  winogradTile,
} from '../../../src/models/winograd.js';
import type { WinogradTile } from '../../../src/models/winograd-wat.js';

type Pad = 'valid' | 'same' | tf.backend_util.ExplicitPadding;

interface Case {
  name: string;
  x: [number, number, number, number];
  co: number;
  pad: Pad;
  /** Chunks of images of a forward pass and of the filter gradient, where the case is about chunking. */
  chunks?: [number, number];
}

const CASES: Case[] = [
  // Even output: whole 2×2 tiles.
  { name: '8×6, 4→8, same', x: [2, 8, 6, 4], co: 8, pad: 'same' },
  // Odd output sides leave half-empty tiles at the bottom and right edges; 5×5 gives 9 tiles per image (not 4k).
  { name: '5×5, 8→16, same, 3 images', x: [3, 5, 5, 8], co: 16, pad: 'same' },
  { name: '9×7, 16→8, valid', x: [2, 9, 7, 16], co: 8, pad: 'valid' },
  // Explicit, asymmetric padding (tfjs-converter models), and a 1-pixel-wide output.
  { name: '7×4, 32→24, pads (2,0)/(0,1)', x: [2, 7, 4, 32], co: 24, pad: [[0, 0], [2, 0], [0, 1], [0, 0]] },
  { name: '4×3, 4→8, valid (2×1 output)', x: [1, 4, 3, 4], co: 8, pad: 'valid' },
  // Chunks of images whose transformed tiles fit 512 KiB (tiles × planes × 4 bytes × (C + K) per image); the filter
  // gradient takes at least 64 tiles per chunk. F(4×4) at 20×20 with 32 → 64 channels (25 tiles, 345 KB) takes one
  // image per forward chunk; at 12×8 with 64 → 64 (6 tiles, 110 KB) four, so five images leave a last chunk of one;
  // at 7×7 with 64 → 64 (4 tiles, 74 KB) seven, and 16 for the filter gradient; F(2×2) at 6×6 (a tie) with 64 → 64
  // (9 tiles, 74 KB) seven.
  { name: '20×20, 32→64, same, 2 chunks of 1', x: [2, 20, 20, 32], co: 64, pad: 'same', chunks: [2, 1] },
  { name: '12×8, 64→64, same, chunks of 4 and 1', x: [5, 12, 8, 64], co: 64, pad: 'same', chunks: [2, 1] },
  { name: '7×7, 64→64, same, 17 images: chunks of 7 (16 for the filter gradient)', x: [17, 7, 7, 64], co: 64, pad: 'same', chunks: [3, 2] },
  { name: '6×6, 64→64, same, F(2×2) in chunks of 7 and 1', x: [8, 6, 6, 64], co: 64, pad: 'same', chunks: [2, 1] },
];

const seeded = (shape: number[], seed: number) => tf.tidy(() => tf.randomNormal(shape, 0, 1, 'float32', seed).dataSync() as Float32Array);

interface Data {
  c: Case;
  x: Float32Array;
  w: Float32Array;
  dy: Float32Array;
  wShape: [number, number, number, number];
  info: tf.backend_util.Conv2DInfo;
}

function data(c: Case, seed: number): Data {
  const wShape: [number, number, number, number] = [3, 3, c.x[3], c.co];
  const info = tf.backend_util.computeConv2DInfo(c.x, wShape, 1, 1, c.pad);
  const dy = seeded([info.batchSize, info.outHeight, info.outWidth, c.co], seed + 2);
  return { c, x: seeded(c.x, seed), w: seeded(wShape, seed + 1), dy, wShape, info };
}

/** y, dx and dw of conv2d on `backend` for the loss sum(y · dy). */
function conv(backend: 'cpu' | 'wasm', d: Data): Promise<{ y: Float32Array; dx: Float32Array; dw: Float32Array }> {
  return withBackend(backend, () =>
    tf.tidy(() => {
      const x = tf.tensor4d(d.x, d.c.x);
      const w = tf.tensor4d(d.w, d.wShape);
      const dy = tf.tensor4d(d.dy, [d.info.batchSize, d.info.outHeight, d.info.outWidth, d.c.co]);
      const f = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, d.c.pad), dy));
      const [dx, dw] = tf.grads(f)([x, w]);
      return { y: tf.conv2d(x, w, 1, d.c.pad).dataSync() as Float32Array, dx: dx.dataSync() as Float32Array, dw: dw.dataSync() as Float32Array };
    }),
  );
}

/** Counts the calls of the Winograd input transforms (per tile side) on the wasm backend's kernels while `body` runs. */
async function countWinogradByTile(body: () => Promise<unknown>): Promise<Record<WinogradTile, number>> {
  const kernels = await withBackend('wasm', () => simdKernelsFor(tf.backend() as unknown as HeapBackend)!);
  const calls = { 2: 0, 4: 0 };
  const originals = ([2, 4] as const).map((m) => {
    const t = kernels.wino[m];
    const original = t.input;
    t.input = (...args) => {
      calls[m]++;
      original(...args);
    };
    return () => (t.input = original);
  });
  try {
    await body();
  } finally {
    for (const restore of originals) restore();
  }
  return calls;
}

const countWinograd = async (body: () => Promise<unknown>) => {
  const calls = await countWinogradByTile(body);
  return calls[2] + calls[4];
};

describe('Winograd F(2×2, 3×3) and F(4×4, 3×3) convolution on wasm', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
    await selectBackend('cpu');
  }, 60_000);

  it('wraps wasm Conv2D once', async () => {
    await withBackend('wasm', () => {
      expect(isWasmWinogradConv2DRegistered()).toBe(true);
      const before = [tf.getKernel('Conv2D', 'wasm'), tf.getKernel('FusedConv2D', 'wasm')];
      registerWasmWinogradConv2D();
      expect([tf.getKernel('Conv2D', 'wasm'), tf.getKernel('FusedConv2D', 'wasm')]).toEqual(before);
    });
  });

  describe.each(CASES.map((c, i) => ({ c, seed: 10 + 5 * i })))('$c.name', ({ c, seed }) => {
    it('gives the output, input gradient and filter gradient of the cpu backend, through the Winograd kernels', async () => {
      const d = data(c, seed);
      expect(winogradApplies(d.info)).toBe(true);
      const reference = await conv('cpu', d);
      let actual: Awaited<ReturnType<typeof conv>> | undefined;
      const calls = await countWinogradByTile(async () => {
        actual = await conv('wasm', d);
      });
      // forward, input gradient (a forward convolution, when the input has 8k channels) and filter gradient, all
      // with the tile side chosen for the output (the input gradient's output is the input: same size under 'same')
      expect(calls[winogradTile(d.info)]).toBeGreaterThanOrEqual(2);
      // three forward passes (once under tf.grads, once for y, once for the input gradient) and the filter gradient
      if (c.chunks) expect(calls[winogradTile(d.info)]).toBe(3 * c.chunks[0] + c.chunks[1]);
      expectClose(actual!.y, reference.y);
      expectClose(actual!.dx, reference.dx);
      expectClose(actual!.dw, reference.dw);
    });
  });

  describe.each([
    { name: 'bias and ReLU', bias: true, activation: 'relu' as const },
    { name: 'bias, linear', bias: true, activation: 'linear' as const },
    { name: 'ReLU without bias', bias: false, activation: 'relu' as const },
  ])('fused conv2d with $name', ({ bias, activation }) => {
    it('gives the output and the input, filter and bias gradients of the cpu backend, through the Winograd kernels', async () => {
      const d = data({ name: 'fused', x: [3, 7, 6, 8], co: 16, pad: 'same' }, 41);
      // Offsets around zero so that ReLU cuts some outputs and passes others.
      const b = seeded([16], 44);
      const run = (backend: 'cpu' | 'wasm') =>
        withBackend(backend, () =>
          tf.tidy(() => {
            const [x, w, bt] = [tf.tensor4d(d.x, d.c.x), tf.tensor4d(d.w, d.wShape), tf.tensor1d(b)];
            const dy = tf.tensor4d(d.dy, [3, 7, 6, 16]);
            const y = (a: tf.Tensor, f: tf.Tensor, c: tf.Tensor) =>
              tf.fused.conv2d({ x: a as tf.Tensor4D, filter: f as tf.Tensor4D, strides: 1, pad: 'same', bias: bias ? c : undefined, activation });
            const loss = (a: tf.Tensor, f: tf.Tensor, c?: tf.Tensor) => tf.sum(tf.mul(y(a, f, c ?? bt), dy));
            const grads = tf.grads(loss)(bias ? [x, w, bt] : [x, w]);
            return [y(x, w, bt), ...grads].map((t) => t.dataSync() as Float32Array);
          }),
        );
      const reference = await run('cpu');
      let actual: Float32Array[] = [];
      expect(await countWinograd(async () => (actual = await run('wasm')))).toBeGreaterThanOrEqual(2);
      expect(reference[0].some((v) => v === 0) || activation === 'linear').toBe(true);
      for (let i = 0; i < (bias ? 4 : 3); i++) expectClose(actual[i], reference[i]);
    });
  });

  it('leaves fused convolutions with other activations or PReLU weights to the original kernel', async () => {
    const d = data({ name: 'elu', x: [2, 6, 6, 8], co: 8, pad: 'same' }, 51);
    for (const activation of ['elu', 'prelu'] as const) {
      const run = (backend: 'cpu' | 'wasm') =>
        withBackend(backend, () =>
          tf.tidy(() => {
            const alpha = activation === 'prelu' ? tf.fill([8], 0.2) : undefined;
            const y = tf.fused.conv2d({ x: tf.tensor4d(d.x, d.c.x), filter: tf.tensor4d(d.w, d.wShape), strides: 1, pad: 'same', activation, preluActivationWeights: alpha });
            return y.dataSync() as Float32Array;
          }),
        );
      const reference = await run('cpu');
      let actual: Float32Array | undefined;
      expect(await countWinograd(async () => (actual = await run('wasm')))).toBe(0);
      expectClose(actual!, reference);
    }
  });

  it('leaves other convolutions to the original kernels: 5×5, stride 2, dilation 2, 3 input channels, 4 outputs', async () => {
    const others: Array<{ x: [number, number, number, number]; w: [number, number, number, number]; stride: number; dilation: number }> = [
      { x: [2, 9, 9, 8], w: [5, 5, 8, 8], stride: 1, dilation: 1 },
      { x: [2, 9, 9, 8], w: [3, 3, 8, 8], stride: 2, dilation: 1 },
      { x: [2, 9, 9, 8], w: [3, 3, 8, 8], stride: 1, dilation: 2 },
      { x: [2, 9, 9, 3], w: [3, 3, 3, 8], stride: 1, dilation: 1 },
      { x: [2, 9, 9, 8], w: [3, 3, 8, 4], stride: 1, dilation: 1 },
    ];
    for (const o of others) {
      const xs = seeded(o.x, 1);
      const ws = seeded(o.w, 2);
      const run = (backend: 'cpu' | 'wasm') =>
        withBackend(backend, () => tf.tidy(() => tf.conv2d(tf.tensor4d(xs, o.x), tf.tensor4d(ws, o.w), o.stride, 'same', 'NHWC', o.dilation).dataSync() as Float32Array));
      const reference = await run('cpu');
      let actual: Float32Array | undefined;
      expect(await countWinograd(async () => (actual = await run('wasm')))).toBe(0);
      expectClose(actual!, reference);
    }
  });

  it('lets a NaN in the input reach the outputs whose window holds it, and no output outside its tiles', async () => {
    const x = new Float32Array(1 * 6 * 6 * 4).fill(1);
    x[(2 * 6 + 3) * 4] = Number.NaN; // pixel (2, 3), channel 0
    const w = new Float32Array(3 * 3 * 4 * 8).fill(0.5);
    const y = await withBackend('wasm', () =>
      tf.tidy(() => tf.conv2d(tf.tensor4d(x, [1, 6, 6, 4]), tf.tensor4d(w, [3, 3, 4, 8]), 1, 'same').dataSync() as Float32Array),
    );
    for (let p = 0; p < 6; p++)
      for (let q = 0; q < 6; q++) {
        const inWindow = Math.abs(p - 2) <= 1 && Math.abs(q - 3) <= 1;
        // A Winograd tile mixes its 4×4 input window into all four outputs, so the NaN reaches the outputs of
        // every tile whose window holds it: rows 0–3 (tiles 0 and 1) and columns 2–5 (tiles 1 and 2).
        const inTileWindow = p <= 3 && q >= 2;
        const v = y[(p * 6 + q) * 8];
        if (inWindow) expect(v).toBeNaN();
        if (!inTileWindow) expect(v).toBe(0.5 * 9 * 4 - countOutside(p, q) * 0.5 * 4);
      }
  });

  it('gives the same sums with either tile side, assembled with and without fused multiply-adds', async () => {
    const d = data({ name: 'standalone', x: [3, 7, 6, 8], co: 16, pad: 'same' }, 77);
    const reference = await conv('cpu', d);
    const fmaHere = await relaxedSimd();
    // The project compiles without the DOM library, which is where TypeScript keeps the WebAssembly types.
    const WasmMemory = (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number }) => { buffer: ArrayBuffer } } }).WebAssembly.Memory;
    for (const fma of fmaHere ? [false, true] : [false])
      for (const m of [2, 4] as const) {
      const memory = new WasmMemory({ initial: 8 });
      const kernels = await instantiateSimdKernels(await assembleSimdKernels(fma), memory, fma);
      const heap = new Float32Array(memory.buffer);
      let next = 0;
      const place = (values: Float32Array | number) => {
        const at = next;
        if (typeof values === 'number') next += values;
        else {
          heap.set(values, at);
          next += values.length;
        }
        return 4 * at;
      };
      const [x, w, dy] = [place(d.x), place(d.w), place(d.dy)];
      const y = place(reference.y.length);
      const dw = place(reference.dw.length);
      const scratch = () => winogradScratchSizes(d.info, m).map((size) => place(size));
      winogradConv2DAt(kernels, d.info, x, w, y, scratch(), {}, m);
      winogradFilterGradientAt(kernels, d.info, x, dy, dw, scratch(), m);
      expectClose(heap.subarray(y / 4, y / 4 + reference.y.length), reference.y);
      expectClose(heap.subarray(dw / 4, dw / 4 + reference.dw.length), reference.dw);
    }
  });

  it('takes F(4×4, 3×3) where its products are smaller: 14×14 and 7×7 outputs, not 6×6 (a tie) or 2×1', () => {
    const tile = (h: number, w: number) => winogradTile({ outHeight: h, outWidth: w });
    expect([tile(28, 28), tile(14, 14), tile(7, 7), tile(8, 6)]).toEqual([4, 4, 4, 4]);
    expect([tile(6, 6), tile(5, 5), tile(2, 1), tile(1, 1)]).toEqual([2, 2, 2, 2]);
    // the scratch follows the tile: 36 planes of ⌈7/4⌉² = 4 tiles per image against 16 planes of 16, all three images
    // in one chunk, planes one tile more apart than the tiles
    const info = tf.backend_util.computeConv2DInfo([3, 7, 7, 8], [3, 3, 8, 16], 1, 1, 'same');
    expect(winogradScratchSizes(info, 4)).toEqual([36 * 8 * 16, 36 * 13 * 8, 36 * 13 * 16]);
    expect(winogradScratchSizes(info, 2)).toEqual([16 * 8 * 16, 16 * 49 * 8, 16 * 49 * 16]);
  });

  it('keeps the tensor count flat across 20 steps', async () => {
    const d = data(CASES[1], 3);
    await conv('wasm', d);
    const before = await withBackend('wasm', () => tf.memory().numTensors);
    for (let i = 0; i < 20; i++) await conv('wasm', d);
    expect(await withBackend('wasm', () => tf.memory().numTensors)).toBe(before);
  });
});

/** Taps of a 3×3 'same' window at (p, q) of a 6×6 image that fall outside it. */
function countOutside(p: number, q: number): number {
  let n = 0;
  for (let i = -1; i <= 1; i++) for (let j = -1; j <= 1; j++) if (p + i < 0 || p + i > 5 || q + j < 0 || q + j > 5) n++;
  return n;
}
