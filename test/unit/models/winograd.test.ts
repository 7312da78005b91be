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
  winogradTileScratchZeros,
  winogradTile,
} from '../../../src/models/winograd.js';
import { TILES, toomCook, WINOGRAD_TILES, type WinogradTile } from '../../../src/models/winograd-wat.js';

type Pad = 'valid' | 'same' | tf.backend_util.ExplicitPadding;

interface Case {
  name: string;
  x: [number, number, number, number];
  co: number;
  pad: Pad;
  /** Chunks of images per pass (forward or filter gradient), where the case is about chunking. */
  chunks?: number;
}

const CASES: Case[] = [
  // F(4×4): 2×2 tiles, the right ones half empty.
  { name: '8×6, 4→8, same', x: [2, 8, 6, 4], co: 8, pad: 'same' },
  // F(7×7): one tile per image, 5×5 of its 7×7 outputs used.
  { name: '5×5, 8→16, same, 3 images', x: [3, 5, 5, 8], co: 16, pad: 'same' },
  { name: '9×7, 16→8, valid', x: [2, 9, 7, 16], co: 8, pad: 'valid' },
  // Explicit, asymmetric padding (tfjs-converter models), a 7×3 output (F(4×4)), and a 2×1 output (F(2×2)).
  { name: '7×4, 32→24, pads (2,0)/(0,1)', x: [2, 7, 4, 32], co: 24, pad: [[0, 0], [2, 0], [0, 1], [0, 0]] },
  { name: '4×3, 4→8, valid (2×1 output)', x: [1, 4, 3, 4], co: 8, pad: 'valid' },
  // The preset layers' sizes at 64 and 128 channels: F(7×7), 2×2 tiles and one.
  { name: '14×14, 64→64, same', x: [2, 14, 14, 64], co: 64, pad: 'same' },
  { name: '7×7, 128→128, same', x: [3, 7, 7, 128], co: 128, pad: 'same' },
  // Chunks: as many images as fit 512 KiB of transformed tiles (tiles × planes × 4 bytes × (C + K) per image), but
  // at least 64 tiles. F(7×7) at 20×20 with 8 → 8 (9 tiles, 47 KB): 11 images fit, so 12 go in chunks of 11 and 1;
  // at 7×7 with 16 → 16 (1 tile, 10 KB) 50 fit but 64 tiles take 64 images, so 70 go in 64 and 6; F(4×4) at 12×8 with
  // 16 → 16 (6 tiles, 28 KB) 18 fit, so 20 go in 18 and 2; F(2×2) at 2×2 with 64 → 64 (1 tile, 8 KB) 64.
  { name: '20×20, 8→8, same, 12 images: F(7×7) in chunks of 11 and 1', x: [12, 20, 20, 8], co: 8, pad: 'same', chunks: 2 },
  { name: '7×7, 16→16, same, 70 images: F(7×7) in chunks of 64 and 6', x: [70, 7, 7, 16], co: 16, pad: 'same', chunks: 2 },
  { name: '12×8, 16→16, same, 20 images: F(4×4) in chunks of 18 and 2', x: [20, 12, 8, 16], co: 16, pad: 'same', chunks: 2 },
  { name: '2×2, 64→64, same, 70 images: F(2×2) in chunks of 64 and 6', x: [70, 2, 2, 64], co: 64, pad: 'same', chunks: 2 },
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
  const calls = Object.fromEntries(WINOGRAD_TILES.map((m) => [m, 0])) as Record<WinogradTile, number>;
  const originals = WINOGRAD_TILES.map((m) => {
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
  return WINOGRAD_TILES.reduce((sum, m) => sum + calls[m], 0);
};

describe('Winograd F(2×2, 3×3), F(4×4, 3×3) and F(7×7, 3×3) convolution on wasm', () => {
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
      if (c.chunks) expect(calls[winogradTile(d.info)]).toBe(4 * c.chunks);
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

  it.each([
    { size: 8, m: 4 },
    { size: 14, m: 7 },
  ])('lets a NaN in the input reach the outputs whose window holds it, and no output outside its tiles ($size×$size, F($m×$m))', async ({ size, m }) => {
    const x = new Float32Array(size * size * 4).fill(1);
    x[(2 * size + 3) * 4] = Number.NaN; // pixel (2, 3), channel 0
    const w = new Float32Array(3 * 3 * 4 * 8).fill(0.5);
    const info = tf.backend_util.computeConv2DInfo([1, size, size, 4], [3, 3, 4, 8], 1, 1, 'same');
    expect(winogradTile(info)).toBe(m);
    const y = await withBackend('wasm', () =>
      tf.tidy(() => tf.conv2d(tf.tensor4d(x, [1, size, size, 4]), tf.tensor4d(w, [3, 3, 4, 8]), 1, 'same').dataSync() as Float32Array),
    );
    // A Winograd tile mixes its (m + 2)×(m + 2) input window, rows and columns m·t − 1 … m·t + m, into all its outputs.
    const windowHolds = (out: number, at: number) => {
      const t = Math.floor(out / m);
      return m * t - 1 <= at && at <= m * t + m;
    };
    let reached = 0;
    for (let p = 0; p < size; p++)
      for (let q = 0; q < size; q++) {
        const v = y[(p * size + q) * 8];
        if (Math.abs(p - 2) <= 1 && Math.abs(q - 3) <= 1) expect(v).toBeNaN();
        if (windowHolds(p, 2) && windowHolds(q, 3)) reached++;
        // (F(7×7)'s coefficients are not dyadic: its sums of whole numbers round)
        else expect(v).toBeCloseTo(0.5 * 9 * 4 - countOutside(size, p, q) * 0.5 * 4, 4);
      }
    // F(4×4) at 8×8: tile row 0, both tile columns; F(7×7) at 14×14: the first of four tiles.
    expect(reached).toBe(m === 4 ? 32 : 49);
  });

  it('gives the same sums with either tile side, assembled with and without fused multiply-adds', async () => {
    const d = data({ name: 'standalone', x: [3, 7, 6, 8], co: 16, pad: 'same' }, 77);
    const reference = await conv('cpu', d);
    const fmaHere = await relaxedSimd();
    // The project compiles without the DOM library, which is where TypeScript keeps the WebAssembly types.
    const WasmMemory = (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number }) => { buffer: ArrayBuffer } } }).WebAssembly.Memory;
    for (const fma of fmaHere ? [false, true] : [false])
      for (const m of WINOGRAD_TILES) {
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
      // T's tile part is written before it is read: NaN there must not reach the results (its zero row stays zero)
      const scratch = () =>
        winogradScratchSizes(d.info, m).map((size, i) => {
          const at = place(size);
          if (i === 3) heap.fill(Number.NaN, at / 4, at / 4 + winogradTileScratchZeros(m));
          return at;
        });
      winogradConv2DAt(kernels, d.info, x, w, y, scratch(), {}, m);
      winogradFilterGradientAt(kernels, d.info, x, dy, dw, scratch(), m);
      expectClose(heap.subarray(y / 4, y / 4 + reference.y.length), reference.y);
      expectClose(heap.subarray(dw / 4, dw / 4 + reference.dw.length), reference.dw);
    }
  });

  it('takes the tile side with the least work, products and filter transform, the smaller of equal ones', () => {
    const tile = (h: number, w: number, n = 64) => winogradTile({ outHeight: h, outWidth: w, batchSize: n });
    // 28, 14 and 7 are multiples of 7; 6×6 and 5×5 take one F(7×7) tile (81 products) against four F(4×4) (144)
    expect([tile(28, 28), tile(14, 14), tile(7, 7), tile(6, 6), tile(5, 5)]).toEqual([7, 7, 7, 7, 7]);
    // 8×8: 4 × 36 against 4 × 81; 10×10 ties (324 per image), and F(4×4)'s filter transform is cheaper; 3×3: 36
    // against 4 × 16
    expect([tile(8, 8), tile(8, 6), tile(10, 10), tile(3, 3)]).toEqual([4, 4, 4, 4]);
    expect([tile(2, 2), tile(2, 1), tile(1, 1)]).toEqual([2, 2, 2]);
    // one image: at 7×7 F(7×7)'s filter transform (324 per channel pair) outweighs its products; at 14×14 not
    expect([tile(7, 7, 1), tile(7, 7, 2), tile(7, 7, 3), tile(14, 14, 1), tile(28, 28, 1)]).toEqual([4, 4, 7, 7, 7]);
    // the scratch follows the tile: 81 planes of one tile per image, 36 of ⌈7/4⌉² = 4, 16 of 16; all three images in
    // one chunk, planes one tile more apart than the tiles rounded to four; U's planes a cache line (16 floats) more
    // apart than C·K; the tile transforms' scratch holds one tile (four channels) and a zero row of the input (7 × 8)
    const info = tf.backend_util.computeConv2DInfo([3, 7, 7, 8], [3, 3, 8, 16], 1, 1, 'same');
    expect(winogradScratchSizes(info, 7)).toEqual([81 * (8 * 16 + 16), 81 * 5 * 8, 81 * 5 * 16, 81 * 4 + 7 * 8]);
    expect(winogradScratchSizes(info, 4)).toEqual([36 * (8 * 16 + 16), 36 * 13 * 8, 36 * 13 * 16, 36 * 4 + 7 * 8]);
    expect(winogradScratchSizes(info, 2)).toEqual([16 * (8 * 16 + 16), 16 * 49 * 8, 16 * 49 * 16, 16 * 4 + 7 * 8]);
    expect([7, 4, 2].map((t) => winogradTileScratchZeros(t as 7 | 4 | 2))).toEqual([81 * 4, 36 * 4, 16 * 4]);
  });

  it("builds F(4×4, 3×3) from its points as Lavin & Gray's matrices, and F(7×7, 3×3) so that it convolves", () => {
    expect(toomCook([[0, 1], [1, 1], [-1, 1], [2, 1], [-2, 1]])).toEqual(TILES[4]);
    // Aᵀ[(G g) ⊙ (Bᵀ d)] is the 7-output correlation of d (9 values) with g (3 taps): Σ_j Aᵀ[i][j]·G[j][k]·Bᵀ[j][l]
    // is 1 where l = i + k and 0 elsewhere.
    const { at, g, bt } = TILES[7];
    for (let i = 0; i < 7; i++)
      for (let k = 0; k < 3; k++)
        for (let l = 0; l < 9; l++) {
          let sum = 0;
          for (let j = 0; j < 9; j++) sum += at[i][j] * g[j][k] * bt[j][l];
          expect(sum).toBeCloseTo(l === i + k ? 1 : 0, 10);
        }
  });

  it('keeps the tensor count flat across 20 steps', async () => {
    const d = data(CASES[1], 3);
    await conv('wasm', d);
    const before = await withBackend('wasm', () => tf.memory().numTensors);
    for (let i = 0; i < 20; i++) await conv('wasm', d);
    expect(await withBackend('wasm', () => tf.memory().numTensors)).toBe(before);
  });
});

/** Taps of a 3×3 'same' window at (p, q) of a size × size image that fall outside it. */
function countOutside(size: number, p: number, q: number): number {
  let n = 0;
  for (let i = -1; i <= 1; i++) for (let j = -1; j <= 1; j++) if (p + i < 0 || p + i >= size || q + j < 0 || q + j >= size) n++;
  return n;
}
