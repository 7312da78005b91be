import * as tf from '@tensorflow/tfjs-core';
// tfjs-layers registers tfjs-core's gradient functions in Node (the core bundle alone has none), as in the service,
// and builds the model of the end-to-end check.
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectClose } from './close.js';
import { selectBackend, withBackend } from '../../../src/models/backend.js';
import { simdKernelsFor, type HeapBackend, type SimdKernels } from '../../../src/models/simd-kernels.js';
import { isWasmMaxPoolGradientRegistered, maxPoolGradInto, registerWasmMaxPoolGradient } from '../../../src/models/pool-grad.js';
import { areWasmReductionsRegistered, leadingAxesReduction, registerWasmReductions } from '../../../src/models/reduce-kernels.js';
import { isWasmMatMulRegistered, registerWasmMatMul } from '../../../src/models/matmul-kernel.js';
import { isWasmIdentityRegistered, registerWasmIdentity } from '../../../src/models/identity-kernel.js';
import { areWasmChannelKernelsRegistered, registerWasmChannelKernels } from '../../../src/models/channel-kernels.js';

type Shape4 = [number, number, number, number];
type Backend = 'cpu' | 'wasm';
type Pad = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;

/** Fixed pseudo-random values: drawn once with a seed so both backends see identical inputs. */
function seeded(shape: number[], seed: number, offset = 0): Float32Array {
  return tf.tidy(() => tf.add(tf.randomNormal(shape, 0, 1, 'float32', seed), offset).dataSync() as Float32Array);
}

interface Out {
  values: Float32Array;
  shape: number[];
}

/** Runs `fn` in a tidy on the active backend and copies its results out (so they outlive the backend switch). */
function read(fn: () => tf.Tensor | tf.Tensor[]): Out[] {
  const result = tf.tidy(fn);
  const list = Array.isArray(result) ? result : [result];
  const out = list.map((t) => ({ values: t.dataSync() as Float32Array, shape: t.shape.slice() }));
  tf.dispose(list);
  return out;
}

const run = (backend: Backend, fn: () => tf.Tensor | tf.Tensor[]) => withBackend(backend, () => read(fn));

/** The same computation on cpu (the reference) and on wasm. */
async function both(fn: () => tf.Tensor | tf.Tensor[]): Promise<{ cpu: Out[]; wasm: Out[] }> {
  const cpu = await run('cpu', fn);
  const wasm = await run('wasm', fn);
  return { cpu, wasm };
}

/** Bit-for-bit equal (Object.is per element, so NaN equals NaN and −0 differs from +0); names the first difference. */
function expectSame(actual: Float32Array, expected: Float32Array): void {
  expect(actual.length).toBe(expected.length);
  let at = -1;
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) {
      at = i;
      break;
    }
  }
  expect(at, at < 0 ? '' : `first difference at ${at}: ${actual[at]} (wasm) vs ${expected[at]} (reference)`).toBe(-1);
}

function expectAllSame(r: { cpu: Out[]; wasm: Out[] }): void {
  expect(r.wasm).toHaveLength(r.cpu.length);
  r.cpu.forEach((ref, i) => {
    expect(r.wasm[i].shape).toEqual(ref.shape);
    expectSame(r.wasm[i].values, ref.values);
  });
}

function expectAllClose(r: { cpu: Out[]; wasm: Out[] }, rtol = 1e-5): void {
  expect(r.wasm).toHaveLength(r.cpu.length);
  r.cpu.forEach((ref, i) => {
    expect(r.wasm[i].shape).toEqual(ref.shape);
    expectClose(r.wasm[i].values, ref.values, rtol);
  });
}

const heapBackend = () => tf.backend() as unknown as HeapBackend;

type Calls = Record<keyof SimdKernels, number>;

/**
 * Runs `fn` on wasm and counts the calls into each SIMD kernel, so a test can say which path a kernel took. The
 * kernels look the shared SimdKernels object up on every call, so wrapping its members for the duration suffices.
 */
async function onWasmCounting<T>(fn: () => T): Promise<{ result: T; calls: Calls }> {
  return withBackend('wasm', () => {
    const simd = simdKernelsFor(heapBackend());
    if (simd == null) throw new Error('SIMD kernels are not attached on wasm');
    const saved = { ...simd };
    const names = Object.keys(saved) as (keyof SimdKernels)[];
    const calls = Object.fromEntries(names.map((name) => [name, 0])) as Calls;
    for (const name of names) {
      const original = saved[name] as (...args: number[]) => void;
      (simd as unknown as Record<string, (...args: number[]) => void>)[name] = (...args: number[]) => {
        calls[name]++;
        original(...args);
      };
    }
    try {
      return { result: fn(), calls };
    } finally {
      Object.assign(simd, saved);
    }
  });
}

/** `both`, also returning how often wasm called each SIMD kernel. */
async function bothCounting(fn: () => tf.Tensor | tf.Tensor[]): Promise<{ cpu: Out[]; wasm: Out[]; calls: Calls }> {
  const cpu = await run('cpu', fn);
  const { result: wasm, calls } = await onWasmCounting(() => read(fn));
  return { cpu, wasm, calls };
}

// Inputs are drawn on cpu; every comparison names its backend through withBackend.
beforeAll(() => selectBackend('cpu'));

describe('SIMD heap kernels on wasm', () => {
  it('attach to the wasm heap and every kernel of this family is registered', async () => {
    await withBackend('wasm', () => {
      const simd = simdKernelsFor(heapBackend());
      expect(simd).not.toBeNull();
      expect(typeof simd!.sumRows).toBe('function');
      expect(typeof simd!.affineRows).toBe('function');
      expect(typeof simd!.maxPoolGrad2x2).toBe('function');
      expect(isWasmMaxPoolGradientRegistered()).toBe(true);
      expect(areWasmReductionsRegistered()).toBe(true);
      expect(isWasmMatMulRegistered()).toBe(true);
      expect(isWasmIdentityRegistered()).toBe(true);
      expect(areWasmChannelKernelsRegistered()).toBe(true);
    });
  });

  it('registering again changes nothing', async () => {
    await withBackend('wasm', () => {
      const names = ['MaxPoolGrad', 'Sum', 'Mean', 'BatchMatMul', 'Identity', 'Multiply', 'Add', 'Sub', 'FusedBatchNorm'];
      const before = names.map((n) => tf.getKernel(n, 'wasm')?.kernelFunc);
      registerWasmMaxPoolGradient();
      registerWasmReductions();
      registerWasmMatMul();
      registerWasmIdentity();
      registerWasmChannelKernels();
      expect(names.map((n) => tf.getKernel(n, 'wasm')?.kernelFunc)).toEqual(before);
      expect(isWasmMaxPoolGradientRegistered() && areWasmReductionsRegistered() && isWasmMatMulRegistered()).toBe(true);
      expect(isWasmIdentityRegistered() && areWasmChannelKernelsRegistered()).toBe(true);
    });
  });
});

describe('MaxPoolGrad on wasm', () => {
  beforeAll(() => {
    // IS_TEST makes the engine check every kernel for leaked data ids, these ones included.
    tf.env().set('IS_TEST', true);
  });
  afterAll(() => {
    tf.env().set('IS_TEST', false);
  });

  interface PoolCase {
    name: string;
    shape: Shape4;
    filter: number;
    stride: number;
    pad: Pad;
    /** Which path the wasm kernel must take. */
    simd: boolean;
  }

  /** dL/dx of tf.maxPool for the upstream gradient dy, on the active backend; dirties the heap first on wasm. */
  function poolGrad(x: Float32Array, c: PoolCase, dy: Float32Array): tf.Tensor {
    if (tf.getBackend() === 'wasm') {
      // Leave non-zero garbage where the output is likely to be allocated: cells the kernel fails to write show up.
      tf.dispose(tf.fill([x.length], 12345));
    }
    const dyShape = tf.backend_util.computePool2DInfo(c.shape, c.filter, c.stride, 1, c.pad).outShape;
    const f = (t: tf.Tensor) => tf.maxPool(t as tf.Tensor4D, c.filter, c.stride, c.pad);
    return tf.grad(f)(tf.tensor4d(x, c.shape), tf.tensor4d(dy, dyShape));
  }

  /**
   * Where windows overlap (filter > stride) a cell of dx sums the gradients of several windows, which cpu adds in
   * float64 (a JS number) and rounds once, while the wasm kernel adds into float32 dx: the sums may differ in the
   * last bit. Multiples of 1/8 keep every such sum exact, so that equality checks the routing alone; random dy with
   * overlapping windows is compared separately, within float32 rounding.
   */
  const overlapping = (c: { filter: number; stride: number }) => c.filter > c.stride;

  function dyFor(c: PoolCase, seed: number, quantize = overlapping(c)): Float32Array {
    const dy = seeded(tf.backend_util.computePool2DInfo(c.shape, c.filter, c.stride, 1, c.pad).outShape, seed);
    return quantize ? dy.map((v) => Math.round(v * 8) / 8) : dy;
  }

  const CASES: PoolCase[] = [
    { name: '2×2 stride 2 valid, [2,6,8,8]', shape: [2, 6, 8, 8], filter: 2, stride: 2, pad: 'valid', simd: true },
    { name: '2×2 stride 2 valid, odd sizes [2,7,9,8]', shape: [2, 7, 9, 8], filter: 2, stride: 2, pad: 'valid', simd: true },
    { name: '2×2 stride 2 valid, channels not a multiple of 4 [2,6,6,3]', shape: [2, 6, 6, 3], filter: 2, stride: 2, pad: 'valid', simd: false },
    { name: '2×2 stride 2 valid, odd sizes and 3 channels [1,5,7,3]', shape: [1, 5, 7, 3], filter: 2, stride: 2, pad: 'valid', simd: false },
    { name: '2×2 stride 2 same on odd sizes (windows past the edge) [1,5,5,4]', shape: [1, 5, 5, 4], filter: 2, stride: 2, pad: 'same', simd: false },
    { name: '3×3 stride 2 same, [2,7,7,4]', shape: [2, 7, 7, 4], filter: 3, stride: 2, pad: 'same', simd: false },
    { name: '3×3 stride 1 same (overlapping windows add up), [1,5,5,4]', shape: [1, 5, 5, 4], filter: 3, stride: 1, pad: 'same', simd: false },
    { name: '2×2 stride 1 valid (overlapping windows), [2,5,6,4]', shape: [2, 5, 6, 4], filter: 2, stride: 1, pad: 'valid', simd: false },
    { name: '3×3 stride 2, pad 1, [2,7,7,4]', shape: [2, 7, 7, 4], filter: 3, stride: 2, pad: 1, simd: false },
    {
      name: '3×3 stride 2, explicit asymmetric padding, [2,7,7,4]',
      shape: [2, 7, 7, 4],
      filter: 3,
      stride: 2,
      pad: [[0, 0], [2, 1], [1, 2], [0, 0]],
      simd: false,
    },
    // 2×2 stride 2 with explicit zero padding is the SIMD case too.
    { name: '2×2 stride 2, explicit zero padding, [1,4,8,4]', shape: [1, 4, 8, 4], filter: 2, stride: 2, pad: [[0, 0], [0, 0], [0, 0], [0, 0]], simd: true },
  ];

  it.each(CASES.map((c, i) => ({ ...c, seed: 200 + 10 * i })))('equals cpu exactly: $name', async (c) => {
    const x = seeded(c.shape, c.seed);
    const dy = dyFor(c, c.seed + 1);
    const r = await bothCounting(() => poolGrad(x, c, dy));
    expectAllSame(r);
    expect(r.calls.maxPoolGrad2x2).toBe(c.simd ? 1 : 0);
  });

  it.each(CASES.filter(overlapping).map((c, i) => ({ ...c, seed: 280 + 10 * i })))(
    'equals cpu up to float32 rounding of the added gradients, for random dy: $name',
    async (c) => {
      const x = seeded(c.shape, c.seed);
      const dy = dyFor(c, c.seed + 1, false);
      const r = await bothCounting(() => poolGrad(x, c, dy));
      // A gradient routed to the wrong cell would be off by a whole dy value (about 1).
      expectAllClose(r, 1e-6);
    },
  );

  it('gives 0 to the trailing row and column that belong to no window', async () => {
    const c = CASES[1];
    const [n, h, w, ch] = c.shape;
    const { result } = await onWasmCounting(() => read(() => poolGrad(seeded(c.shape, 5), c, dyFor(c, 6))));
    const dx = result[0].values;
    let nonZero = 0;
    let trailing = 0;
    for (let b = 0; b < n; b++)
      for (let i = 0; i < h; i++)
        for (let j = 0; j < w; j++)
          for (let k = 0; k < ch; k++) {
            const v = dx[((b * h + i) * w + j) * ch + k];
            if (i === h - 1 || j === w - 1) {
              trailing++;
              expect(v).toBe(0);
            } else if (v !== 0) nonZero++;
          }
    expect(trailing).toBe(n * (h + w - 1) * ch);
    // One winner per window and channel.
    expect(nonZero).toBe(n * Math.floor(h / 2) * Math.floor(w / 2) * ch);
  });

  describe('ties go to the first maximum in window order, as on cpu', () => {
    const TIE_CASES = [CASES[0], CASES[2], CASES[5], CASES[6], CASES[7]];

    it.each(TIE_CASES.map((c, i) => ({ ...c, seed: 300 + 10 * i })))('after relu (many exact zeros): $name', async (c) => {
      const x = tf.tidy(() => tf.relu(tf.tensor(seeded(c.shape, c.seed, -0.5))).dataSync() as Float32Array);
      const zeros = x.filter((v) => v === 0).length;
      expect(zeros).toBeGreaterThan(x.length / 2);
      const dy = dyFor(c, c.seed + 1);
      const r = await bothCounting(() => poolGrad(x, c, dy));
      expectAllSame(r);
      expect(r.calls.maxPoolGrad2x2).toBe(c.simd ? 1 : 0);
    });

    it.each(TIE_CASES.map((c, i) => ({ ...c, seed: 400 + 10 * i })))('2×2 blocks of equal values: $name', async (c) => {
      // x[b, i, j, k] = v[b, ⌊i/2⌋, ⌊j/2⌋, k], rounded so that equal blocks are exact: every 2×2 window of the
      // stride-2 cases holds four equal values, and the other cases see ties in most windows.
      const [n, h, w, ch] = c.shape;
      const small = seeded([n, Math.ceil(h / 2), Math.ceil(w / 2), ch], c.seed);
      const x = new Float32Array(n * h * w * ch);
      for (let b = 0; b < n; b++)
        for (let i = 0; i < h; i++)
          for (let j = 0; j < w; j++)
            for (let k = 0; k < ch; k++) {
              const s = small[((b * Math.ceil(h / 2) + (i >> 1)) * Math.ceil(w / 2) + (j >> 1)) * ch + k];
              x[((b * h + i) * w + j) * ch + k] = Math.round(s * 2) / 2;
            }
      const dy = dyFor(c, c.seed + 1);
      const r = await bothCounting(() => poolGrad(x, c, dy));
      expectAllSame(r);
      expect(r.calls.maxPoolGrad2x2).toBe(c.simd ? 1 : 0);
    });

    it.each(TIE_CASES.map((c, i) => ({ ...c, seed: 500 + 10 * i })))('a constant input: $name', async (c) => {
      const x = new Float32Array(c.shape.reduce((a, b) => a * b)).fill(0.25);
      const dy = dyFor(c, c.seed);
      const r = await bothCounting(() => poolGrad(x, c, dy));
      expectAllSame(r);
      if (c.stride === 2 && c.filter === 2 && c.pad === 'valid') {
        // The whole gradient goes to each window's top-left cell.
        const [n, h, w, ch] = c.shape;
        const dx = r.wasm[0].values;
        for (let b = 0; b < n; b++)
          for (let i = 0; i < h; i++)
            for (let j = 0; j < w; j++)
              for (let k = 0; k < ch; k++) {
                const v = dx[((b * h + i) * w + j) * ch + k];
                if (i % 2 === 1 || j % 2 === 1) expect(v).toBe(0);
                else expect(v).toBe(dy[((b * (h / 2) + i / 2) * (w / 2) + j / 2) * ch + k]);
              }
      }
    });
  });

  describe('windows without a finite maximum pass nothing on', () => {
    /** Makes the 2×2 window at output (p, q) of batch 0 all −∞ (or NaN where `nan`) in the channels given. */
    function poison(x: Float32Array, shape: Shape4, p: number, q: number, channels: number[], values: number[]): void {
      const [, , w, ch] = shape;
      [
        [0, 0],
        [0, 1],
        [1, 0],
        [1, 1],
      ].forEach(([di, dj], t) => {
        for (const k of channels) x[((2 * p + di) * w + (2 * q + dj)) * ch + k] = values[t];
      });
    }

    it.each([CASES[0], CASES[2]])('all −∞ / NaN: $name', async (c) => {
      const x = seeded(c.shape, 71);
      const ch = c.shape[3];
      const all = Array.from({ length: ch }, (_, k) => k);
      poison(x, c.shape, 0, 0, all, [-Infinity, -Infinity, -Infinity, -Infinity]);
      poison(x, c.shape, 1, 1, [0, ch - 1], [NaN, -Infinity, NaN, -Infinity]);
      poison(x, c.shape, 2, 2, [1], [NaN, NaN, NaN, NaN]);
      // NaN next to finite values never wins: the finite maximum does.
      poison(x, c.shape, 0, 2, [0], [NaN, 1, 2, NaN]);
      const dy = dyFor(c, 72);
      const r = await bothCounting(() => poolGrad(x, c, dy));
      expectAllSame(r);
      expect(r.calls.maxPoolGrad2x2).toBe(c.simd ? 1 : 0);
      const dx = r.wasm[0].values;
      const [, , w] = c.shape;
      const at = (i: number, j: number, k: number) => dx[(i * w + j) * ch + k];
      for (let k = 0; k < ch; k++) for (const [i, j] of [[0, 0], [0, 1], [1, 0], [1, 1]]) expect(at(i, j, k)).toBe(0);
      for (const [i, j] of [[2, 2], [2, 3], [3, 2], [3, 3]]) {
        expect(at(i, j, 0)).toBe(0);
        expect(at(i, j, ch - 1)).toBe(0);
      }
      for (const [i, j] of [[4, 4], [4, 5], [5, 4], [5, 5]]) expect(at(i, j, 1)).toBe(0);
      // Window (0, 2), channel 0: the 2 at its bottom-left cell (row 1, column 4) takes the gradient.
      expect(at(1, 4, 0)).toBe(dy[(0 * (w / 2) + 2) * ch + 0]);
      expect([at(0, 4, 0), at(0, 5, 0), at(1, 5, 0)]).toEqual([0, 0, 0]);
    });
  });

  it("equals cpu when 'ceil' rounding lets the last window pass the input's edge (direct kernel call)", async () => {
    const shape: Shape4 = [1, 5, 7, 4];
    const info = tf.backend_util.computePool2DInfo(shape, 2, 2, 1, 0, 'ceil');
    expect(info.outShape).toEqual([1, 3, 4, 4]);
    const x = seeded(shape, 81);
    const dy = seeded(info.outShape, 82);
    const attrs = { filterSize: 2, strides: 2, pad: 0, dimRoundingMode: 'ceil' };
    const r = await bothCounting(() => {
      const inputs = { dy: tf.tensor4d(dy, info.outShape), input: tf.tensor4d(x, shape), output: tf.zeros(info.outShape) };
      return tf.engine().runKernel('MaxPoolGrad', inputs, attrs) as tf.Tensor;
    });
    expectAllSame(r);
    expect(r.calls.maxPoolGrad2x2).toBe(0);
  });

  describe('maxPoolGradInto on plain arrays', () => {
    it.each([
      { name: '2×2 stride 2 valid [2,6,6,4]', shape: [2, 6, 6, 4] as Shape4, filter: 2, stride: 2, pad: 'valid' as Pad },
      { name: '2×2 stride 2 valid, odd sizes [1,5,7,4]', shape: [1, 5, 7, 4] as Shape4, filter: 2, stride: 2, pad: 'valid' as Pad },
      { name: '3×3 stride 2 same [2,7,7,4]', shape: [2, 7, 7, 4] as Shape4, filter: 3, stride: 2, pad: 'same' as Pad },
      { name: '3×3 stride 1 same [1,5,5,3]', shape: [1, 5, 5, 3] as Shape4, filter: 3, stride: 1, pad: 'same' as Pad },
    ])('equals the cpu gradient: $name', async (c) => {
      const info = tf.backend_util.computePool2DInfo(c.shape, c.filter, c.stride, 1, c.pad);
      const x = seeded(c.shape, 91);
      // Exact sums where windows overlap (see `overlapping`).
      const dy = seeded(info.outShape, 92).map((v) => (overlapping(c) ? Math.round(v * 8) / 8 : v));
      // Garbage in dx: the function must write (or zero) every cell.
      const dx = new Float32Array(x.length).fill(NaN);
      maxPoolGradInto(x, dy, dx, info);
      const [reference] = await run('cpu', () => {
        const f = (t: tf.Tensor) => tf.maxPool(t as tf.Tensor4D, c.filter, c.stride, c.pad);
        return tf.grad(f)(tf.tensor4d(x, c.shape), tf.tensor4d(dy, info.outShape));
      });
      expectSame(dx, reference.values);
    });
  });

  it('keeps the tensor count flat across repeated gradients', async () => {
    const c = CASES[0];
    const x = seeded(c.shape, 95);
    const dy = dyFor(c, 96);
    await withBackend('wasm', () => {
      tf.dispose(poolGrad(x, c, dy));
      const before = tf.memory().numTensors;
      for (let i = 0; i < 10; i++) tf.dispose(tf.tidy(() => poolGrad(x, c, dy)));
      expect(tf.memory().numTensors).toBe(before);
    });
  });
});

describe('Sum and Mean over leading axes on wasm', () => {
  beforeAll(() => {
    tf.env().set('IS_TEST', true);
  });
  afterAll(() => {
    tf.env().set('IS_TEST', false);
  });

  interface ReduceCase {
    name: string;
    shape: number[];
    axis: number | number[];
    keepDims: boolean;
    simd: boolean;
  }

  const CASES: ReduceCase[] = [
    { name: '[4,5,6,8] over [0,1,2]', shape: [4, 5, 6, 8], axis: [0, 1, 2], keepDims: false, simd: true },
    { name: '[4,5,6,8] over [0,1,2], keepDims', shape: [4, 5, 6, 8], axis: [0, 1, 2], keepDims: true, simd: true },
    { name: '[4,5,6,8] over [2,0,1] (unsorted)', shape: [4, 5, 6, 8], axis: [2, 0, 1], keepDims: false, simd: true },
    { name: '[64,12] over 0', shape: [64, 12], axis: 0, keepDims: false, simd: true },
    { name: '[64,12] over 0, keepDims', shape: [64, 12], axis: 0, keepDims: true, simd: true },
    { name: '[4,5,6,8] over [-4,-3,-2]', shape: [4, 5, 6, 8], axis: [-4, -3, -2], keepDims: false, simd: true },
    { name: '[64,12] over -2', shape: [64, 12], axis: -2, keepDims: false, simd: true },
    { name: '[4,5,6,8] over [0,1] (kept part 48 wide)', shape: [4, 5, 6, 8], axis: [0, 1], keepDims: false, simd: true },
    { name: '[2,3,4096,8] over [0,1,2] (rows in several blocks)', shape: [2, 3, 4096, 8], axis: [0, 1, 2], keepDims: false, simd: true },
    { name: '[3,4,5,6] over [0,1,2] (6 % 4 ≠ 0: fallback)', shape: [3, 4, 5, 6], axis: [0, 1, 2], keepDims: false, simd: false },
    { name: '[3,4,5,6] over [0,1,2], keepDims (fallback)', shape: [3, 4, 5, 6], axis: [0, 1, 2], keepDims: true, simd: false },
    { name: '[4,5,6,8] over [1,2] (non-leading: fallback)', shape: [4, 5, 6, 8], axis: [1, 2], keepDims: false, simd: false },
    { name: '[4,5,6,8] over [0,2] (not contiguous: fallback)', shape: [4, 5, 6, 8], axis: [0, 2], keepDims: true, simd: false },
    { name: '[4,5,6,8] over everything (fallback)', shape: [4, 5, 6, 8], axis: [0, 1, 2, 3], keepDims: false, simd: false },
    { name: '[40] over 0 (rank 1: fallback)', shape: [40], axis: 0, keepDims: false, simd: false },
  ];

  describe.each(['Sum', 'Mean'] as const)('%s', (op) => {
    it.each(CASES.map((c, i) => ({ ...c, seed: 600 + 10 * i })))('matches cpu: $name', async (c) => {
      const x = seeded(c.shape, c.seed, 0.3);
      const f = op === 'Sum' ? tf.sum : tf.mean;
      const r = await bothCounting(() => f(tf.tensor(x, c.shape), c.axis, c.keepDims));
      expectAllClose(r);
      expect(r.calls.sumRows).toBe(c.simd ? 1 : 0);
    });
  });

  it('leaves int32 reductions to the original kernel (exact integers)', async () => {
    const values = Int32Array.from(seeded([4, 6, 8], 650), (v) => Math.round(v * 100));
    const r = await bothCounting(() => [tf.sum(tf.tensor(values, [4, 6, 8], 'int32'), [0, 1])]);
    expect(r.wasm[0].shape).toEqual([8]);
    expect(Array.from(r.wasm[0].values)).toEqual(Array.from(r.cpu[0].values));
    expect(r.calls.sumRows).toBe(0);
  });

  it('sums a large [64,28,28,32] tensor within 1e-5 of a float64 reference', async () => {
    const shape = [64, 28, 28, 32];
    const C = 32;
    const x = seeded(shape, 660, 1);
    const exact = new Float64Array(C);
    for (let i = 0; i < x.length; i++) exact[i % C] += x[i];
    const rows = x.length / C;
    const { result, calls } = await onWasmCounting(() =>
      read(() => {
        const t = tf.tensor4d(x, shape as Shape4);
        return [tf.sum(t, [0, 1, 2]), tf.mean(t, [0, 1, 2])];
      }),
    );
    expect(calls.sumRows).toBe(2);
    expectClose(result[0].values, exact, 1e-5);
    expectClose(result[1].values, Array.from(exact, (v) => v / rows), 1e-5);
  });

  it('leadingAxesReduction describes reductions over leading axes only', () => {
    expect(leadingAxesReduction([4, 5, 6, 8], [0, 1, 2])).toEqual({ rows: 120, cols: 8, keep: 3 });
    expect(leadingAxesReduction([4, 5, 6, 8], [2, 1, 0])).toEqual({ rows: 120, cols: 8, keep: 3 });
    expect(leadingAxesReduction([4, 5, 6, 8], [-4, -3, -2])).toEqual({ rows: 120, cols: 8, keep: 3 });
    expect(leadingAxesReduction([4, 5, 6, 8], 0)).toEqual({ rows: 4, cols: 240, keep: 1 });
    expect(leadingAxesReduction([4, 5, 6, 8], -4)).toEqual({ rows: 4, cols: 240, keep: 1 });
    expect(leadingAxesReduction([64, 12], 0)).toEqual({ rows: 64, cols: 12, keep: 1 });
    expect(leadingAxesReduction([64, 12], [0, 0])).toEqual({ rows: 64, cols: 12, keep: 1 });
    // Not leading, not contiguous from 0, everything, nothing, rank 1.
    expect(leadingAxesReduction([4, 5, 6, 8], [1, 2])).toBeNull();
    expect(leadingAxesReduction([4, 5, 6, 8], [0, 2])).toBeNull();
    expect(leadingAxesReduction([4, 5, 6, 8], 3)).toBeNull();
    expect(leadingAxesReduction([4, 5, 6, 8], [0, 1, 2, 3])).toBeNull();
    expect(leadingAxesReduction([64, 12], [0, 1])).toBeNull();
    expect(leadingAxesReduction([64, 12], [])).toBeNull();
    expect(leadingAxesReduction([12], 0)).toBeNull();
    expect(leadingAxesReduction([12], [0])).toBeNull();
  });
});

describe('BatchMatMul with transposed operands on wasm', () => {
  beforeAll(() => {
    tf.env().set('IS_TEST', true);
  });
  afterAll(() => {
    tf.env().set('IS_TEST', false);
  });

  const COMBOS = [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ] as const;

  /** Shapes giving an m×k · k×n product (batch `batch` when given) under the transpose flags. */
  function operands(m: number, k: number, n: number, ta: boolean, tb: boolean, batch?: number): [number[], number[]] {
    const a = ta ? [k, m] : [m, k];
    const b = tb ? [n, k] : [k, n];
    return batch == null ? [a, b] : [[batch, ...a], [batch, ...b]];
  }

  it.each(COMBOS.map(([ta, tb], i) => ({ ta, tb, seed: 700 + 10 * i })))(
    'rank 2, transposeA $ta, transposeB $tb, matches cpu',
    async ({ ta, tb, seed }) => {
      const [sa, sb] = operands(7, 12, 8, ta, tb);
      const a = seeded(sa, seed);
      const b = seeded(sb, seed + 1);
      const r = await both(() => tf.matMul(tf.tensor(a, sa), tf.tensor(b, sb), ta, tb));
      expect(r.cpu[0].shape).toEqual([7, 8]);
      expectAllClose(r);
    },
  );

  it.each(COMBOS.map(([ta, tb], i) => ({ ta, tb, seed: 750 + 10 * i })))(
    'rank 3 with batch 3, transposeA $ta, transposeB $tb, matches cpu',
    async ({ ta, tb, seed }) => {
      const [sa, sb] = operands(5, 9, 6, ta, tb, 3);
      const a = seeded(sa, seed);
      const b = seeded(sb, seed + 1);
      const r = await both(() => tf.matMul(tf.tensor(a, sa), tf.tensor(b, sb), ta, tb));
      expect(r.cpu[0].shape).toEqual([3, 5, 6]);
      expectAllClose(r);
    },
  );

  it('broadcasts a rank-2 operand against a batch of 3 when transposed', async () => {
    const a = seeded([3, 9, 5], 790);
    const b = seeded([6, 9], 791);
    const r = await both(() => tf.matMul(tf.tensor(a, [3, 9, 5]), tf.tensor(b, [6, 9]), true, true));
    expect(r.cpu[0].shape).toEqual([3, 5, 6]);
    expectAllClose(r);
  });

  it("gives a dense layer's gradients (dx = dy·Wᵀ, dW = xᵀ·dy) of the cpu backend", async () => {
    const x = seeded([16, 24], 800);
    const w = seeded([24, 10], 801);
    const dy = seeded([16, 10], 802);
    const r = await both(() => {
      const f = (a: tf.Tensor, b: tf.Tensor) => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D);
      return tf.grads(f)([tf.tensor2d(x, [16, 24]), tf.tensor2d(w, [24, 10])], tf.tensor2d(dy, [16, 10]));
    });
    expect(r.cpu.map((o) => o.shape)).toEqual([
      [16, 24],
      [24, 10],
    ]);
    expectAllClose(r);
  });

  it('frees its transposed temporaries', async () => {
    const a = seeded([12, 7], 810);
    const b = seeded([8, 12], 811);
    await withBackend('wasm', () => {
      const ta = tf.tensor2d(a, [12, 7]);
      const tb = tf.tensor2d(b, [8, 12]);
      tf.dispose(tf.matMul(ta, tb, true, true));
      const backend = tf.backend() as unknown as { numDataIds(): number };
      const ids = backend.numDataIds();
      const tensors = tf.memory().numTensors;
      for (let i = 0; i < 5; i++) tf.dispose(tf.matMul(ta, tb, true, true));
      expect(backend.numDataIds()).toBe(ids);
      expect(tf.memory().numTensors).toBe(tensors);
      tf.dispose([ta, tb]);
    });
  });
});

describe('Identity on wasm shares data', () => {
  beforeAll(() => {
    tf.env().set('IS_TEST', true);
  });
  afterAll(() => {
    tf.env().set('IS_TEST', false);
  });

  const numDataIds = () => (tf.backend() as unknown as { numDataIds(): number }).numDataIds();

  it('clones with equal values, survives the original, and frees the memory with the last reference', async () => {
    const values = seeded([3, 4, 5], 900);
    await withBackend('wasm', () => {
      const start = tf.memory();
      const startIds = numDataIds();
      const original = tf.tensor3d(values, [3, 4, 5]);
      const clone = tf.clone(original);
      expect(clone.shape).toEqual([3, 4, 5]);
      expect(clone.dtype).toBe('float32');
      expectSame(clone.dataSync() as Float32Array, values);
      // Shared, not copied: still one buffer on the heap.
      expect(numDataIds()).toBe(startIds + 1);
      original.dispose();
      expect(original.isDisposed).toBe(true);
      expect(clone.isDisposed).toBe(false);
      expectSame(clone.dataSync() as Float32Array, values);
      const second = tf.clone(clone);
      expectSame(second.dataSync() as Float32Array, values);
      clone.dispose();
      expectSame(second.dataSync() as Float32Array, values);
      const doubled = tf.mul(second, 2);
      expectSame(doubled.dataSync() as Float32Array, Float32Array.from(values, (v) => v * 2));
      tf.dispose([second, doubled]);
      const end = tf.memory();
      expect(end.numTensors).toBe(start.numTensors);
      expect(end.numBytes).toBe(start.numBytes);
      expect(end.numDataBuffers).toBe(start.numDataBuffers);
      expect(numDataIds()).toBe(startIds);
    });
  });

  it('frees everything when both are disposed (original last)', async () => {
    const values = seeded([64], 901);
    await withBackend('wasm', () => {
      const start = tf.memory();
      const startIds = numDataIds();
      const original = tf.tensor1d(values);
      const clone = tf.clone(original);
      expect(tf.memory().numBytes).toBe(start.numBytes + 2 * 64 * 4);
      clone.dispose();
      expectSame(original.dataSync() as Float32Array, values);
      original.dispose();
      expect(tf.memory().numBytes).toBe(start.numBytes);
      expect(tf.memory().numTensors).toBe(start.numTensors);
      expect(tf.memory().numDataBuffers).toBe(start.numDataBuffers);
      expect(numDataIds()).toBe(startIds);
    });
  });

  it('clones int32 and bool tensors too', async () => {
    await withBackend('wasm', () => {
      const i = tf.tensor1d([1, -2, 3], 'int32');
      const b = tf.tensor1d([true, false, true], 'bool');
      const [ci, cb] = [tf.clone(i), tf.clone(b)];
      tf.dispose([i, b]);
      expect(ci.dtype).toBe('int32');
      expect(cb.dtype).toBe('bool');
      expect(Array.from(ci.dataSync())).toEqual([1, -2, 3]);
      expect(Array.from(cb.dataSync())).toEqual([1, 0, 1]);
      tf.dispose([ci, cb]);
    });
  });

  it('clones a variable, which stays usable after an assign', async () => {
    const values = seeded([8], 902);
    await withBackend('wasm', () => {
      const v = tf.variable(tf.tensor1d(values));
      const snapshot = tf.clone(v);
      v.assign(tf.zeros([8]));
      expectSame(snapshot.dataSync() as Float32Array, values);
      expect(Array.from(v.dataSync())).toEqual(new Array(8).fill(0));
      tf.dispose([snapshot, v]);
    });
  });
});

describe('per-channel Multiply, Add and Sub on wasm', () => {
  beforeAll(() => {
    tf.env().set('IS_TEST', true);
  });
  afterAll(() => {
    tf.env().set('IS_TEST', false);
  });

  const OPS = { mul: tf.mul, add: tf.add, sub: tf.sub } as const;
  const BIG = [2, 3, 4, 8];
  // Drawn in beforeAll: the cpu backend is selected only then.
  let big: Float32Array;
  let vec: Float32Array;
  beforeAll(() => {
    big = seeded(BIG, 1000);
    vec = seeded([8], 1001);
  });

  describe.each(Object.keys(OPS) as (keyof typeof OPS)[])('%s', (op) => {
    const f = OPS[op];
    it.each([
      { vshape: [8], vectorFirst: false },
      { vshape: [8], vectorFirst: true },
      { vshape: [1, 1, 1, 8], vectorFirst: false },
      { vshape: [1, 1, 1, 8], vectorFirst: true },
      { vshape: [1, 8], vectorFirst: true },
    ])('with a vector of shape $vshape (vector first: $vectorFirst) equals cpu exactly', async ({ vshape, vectorFirst }) => {
      const r = await bothCounting(() => {
        const x = tf.tensor(big, BIG);
        const v = tf.tensor(vec, vshape);
        return vectorFirst ? f(v, x) : f(x, v);
      });
      expect(r.cpu[0].shape).toEqual(BIG);
      expectAllSame(r);
      expect(r.calls.affineRows).toBe(1);
    });

    it.each([
      { name: '[4,1]', shape: [4, 1] },
      { name: '[3,1,8]', shape: [3, 1, 8] },
      { name: '[4,8]', shape: [4, 8] },
      { name: 'a scalar', shape: [] as number[] },
      { name: '[1]', shape: [1] },
    ])('falls back to the original kernel for $name, with the cpu answer', async ({ shape }) => {
      const other = seeded(shape, 1002);
      for (const vectorFirst of [false, true]) {
        const r = await bothCounting(() => {
          const x = tf.tensor(big, BIG);
          const v = tf.tensor(other, shape);
          return vectorFirst ? f(v, x) : f(x, v);
        });
        expect(r.cpu[0].shape).toEqual(BIG);
        expectAllSame(r);
        expect(r.calls.affineRows).toBe(0);
      }
    });

    it('falls back for channels not a multiple of 4, and for int32', async () => {
      const x6 = seeded([2, 3, 6], 1003);
      const v6 = seeded([6], 1004);
      const r = await bothCounting(() => [f(tf.tensor(x6, [2, 3, 6]), tf.tensor(v6, [6])), f(tf.tensor(v6, [6]), tf.tensor(x6, [2, 3, 6]))]);
      expectAllSame(r);
      const xi = Int32Array.from(big, (v) => Math.round(v * 50));
      const vi = Int32Array.from(vec, (v) => Math.round(v * 50));
      const ri = await bothCounting(() => f(tf.tensor(xi, BIG, 'int32'), tf.tensor(vi, [8], 'int32')));
      expect(Array.from(ri.wasm[0].values)).toEqual(Array.from(ri.cpu[0].values));
      expect(r.calls.affineRows + ri.calls.affineRows).toBe(0);
    });

    it('handles infinities and NaN as the plain operation does', async () => {
      const x = big.slice();
      x.set([Infinity, -Infinity, NaN, 0, 1e38, -1e38, 3e-39, -1.5], 0);
      const v = vec.slice();
      v.set([Infinity, 2, 1, NaN, 1e38, 1e38, 0.5, -1.5], 0);
      const r = await bothCounting(() => [f(tf.tensor(x, BIG), tf.tensor(v, [8])), f(tf.tensor(v, [8]), tf.tensor(x, BIG))]);
      expectAllSame(r);
      expect(r.calls.affineRows).toBe(2);
    });
  });

  it('the two operand orders of sub are negatives of each other and equal cpu', async () => {
    const r = await bothCounting(() => [tf.sub(tf.tensor(big, BIG), tf.tensor1d(vec)), tf.sub(tf.tensor1d(vec), tf.tensor(big, BIG))]);
    expectAllSame(r);
    expectSame(r.wasm[1].values, r.wasm[0].values.map((v) => -v));
  });
});

describe('FusedBatchNorm on wasm', () => {
  beforeAll(() => {
    tf.env().set('IS_TEST', true);
  });
  afterAll(() => {
    tf.env().set('IS_TEST', false);
  });

  function bnData(shape: number[], seed: number) {
    const C = shape[shape.length - 1];
    return {
      x: seeded(shape, seed, 0.5),
      mean: seeded([C], seed + 1),
      variance: Float32Array.from(seeded([C], seed + 2), (v) => 0.2 + v * v),
      offset: seeded([C], seed + 3),
      scale: seeded([C], seed + 4, 1),
    };
  }

  const VARIANTS = [
    { name: 'without offset and scale', withOffset: false, withScale: false },
    { name: 'with offset only', withOffset: true, withScale: false },
    { name: 'with scale only', withOffset: false, withScale: true },
    { name: 'with offset and scale', withOffset: true, withScale: true },
  ];

  it.each(VARIANTS.map((v, i) => ({ ...v, seed: 1100 + 10 * i })))('[3,5,4,8], $name, ε 1e-3, matches cpu', async (v) => {
    const shape = [3, 5, 4, 8];
    const d = bnData(shape, v.seed);
    const r = await bothCounting(() =>
      tf.batchNorm(
        tf.tensor(d.x, shape),
        tf.tensor1d(d.mean),
        tf.tensor1d(d.variance),
        v.withOffset ? tf.tensor1d(d.offset) : undefined,
        v.withScale ? tf.tensor1d(d.scale) : undefined,
        1e-3,
      ),
    );
    expect(r.cpu[0].shape).toEqual(shape);
    expectAllClose(r);
    expect(r.calls.affineRows).toBe(1);
  });

  it('takes statistics of shape [1,1,1,8] and a 2-D input', async () => {
    const d = bnData([6, 8], 1150);
    const r = await bothCounting(() => [
      tf.batchNorm(tf.tensor(d.x, [6, 8]), tf.tensor1d(d.mean), tf.tensor1d(d.variance), tf.tensor1d(d.offset), tf.tensor1d(d.scale), 1e-3),
      tf.batchNorm(
        tf.tensor(d.x, [1, 1, 6, 8]),
        tf.tensor(d.mean, [1, 1, 1, 8]),
        tf.tensor(d.variance, [1, 1, 1, 8]),
        tf.tensor(d.offset, [1, 1, 1, 8]),
        tf.tensor(d.scale, [1, 1, 1, 8]),
        1e-3,
      ),
    ]);
    expectAllClose(r);
    expect(r.calls.affineRows).toBe(2);
  });

  it('falls back for 6 channels with the cpu answer', async () => {
    const shape = [3, 5, 4, 6];
    const d = bnData(shape, 1160);
    const r = await bothCounting(() =>
      tf.batchNorm(tf.tensor(d.x, shape), tf.tensor1d(d.mean), tf.tensor1d(d.variance), tf.tensor1d(d.offset), tf.tensor1d(d.scale), 1e-3),
    );
    expectAllClose(r);
    expect(r.calls.affineRows).toBe(0);
  });
});

describe('a training step of a small conv net', () => {
  // Not under IS_TEST: wasm's own fused matMul fails the engine's data-id leak check (see conv-grad.test.ts).

  interface StepResult {
    initial: Float32Array[];
    loss: number;
    grads: Out[];
  }

  function buildModel(): tfl.Sequential {
    const seedInit = (seed: number) => tfl.initializers.glorotUniform({ seed });
    return tfl.sequential({
      layers: [
        // No bias: batch norm subtracts the batch mean, so a conv bias's gradient is 0 up to rounding noise, which no
        // relative tolerance can compare.
        tfl.layers.conv2d({ inputShape: [8, 8, 1], filters: 8, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: seedInit(1) }),
        tfl.layers.batchNormalization({
          // Non-trivial, seeded gamma and beta, so their gradients and the normalisation both matter.
          gammaInitializer: tfl.initializers.randomUniform({ minval: 0.5, maxval: 1.5, seed: 2 }),
          betaInitializer: tfl.initializers.randomUniform({ minval: -0.2, maxval: 0.2, seed: 3 }),
        }),
        tfl.layers.activation({ activation: 'relu' }),
        tfl.layers.maxPooling2d({ poolSize: 2 }),
        tfl.layers.flatten(),
        tfl.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: seedInit(4), biasInitializer: tfl.initializers.randomUniform({ minval: -0.1, maxval: 0.1, seed: 5 }) }),
      ],
    });
  }

  let images: Float32Array;
  beforeAll(() => {
    images = seeded([4, 8, 8, 1], 1200);
  });
  const labels = new Float32Array(40);
  [3, 7, 1, 9].forEach((cls, i) => (labels[i * 10 + cls] = 1));

  /** Initial weights, loss and gradients of one training-mode step on the active backend. */
  function stepHere(): StepResult {
    const model = buildModel();
    try {
      const initial = model.getWeights().map((w) => w.dataSync() as Float32Array);
      const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
      const { value, grads } = tf.tidy(() =>
        tf.variableGrads(() => {
          const p = model.apply(tf.tensor4d(images, [4, 8, 8, 1]), { training: true }) as tf.Tensor;
          const y = tf.tensor2d(labels, [4, 10]);
          return tf.neg(tf.mean(tf.sum(tf.mul(y, tf.log(tf.add(p, 1e-7))), -1))) as tf.Scalar;
        }, vars),
      );
      const out = vars.map((v) => ({ values: grads[v.name].dataSync() as Float32Array, shape: grads[v.name].shape.slice() }));
      const loss = value.dataSync()[0];
      tf.dispose([value, ...Object.values(grads)]);
      return { initial, loss, grads: out };
    } finally {
      model.dispose();
    }
  }

  it('gives every variable the gradient of the cpu backend within 1e-4', async () => {
    const cpu = await withBackend('cpu', stepHere);
    const { result: wasm, calls } = await onWasmCounting(stepHere);
    // The step went through the SIMD kernels: batch statistics (Mean), their gradients (Sum), batch norm, and the
    // 2×2 pool gradient over 8 channels.
    expect(calls.maxPoolGrad2x2).toBe(1);
    expect(calls.sumRows).toBeGreaterThan(0);
    expect(calls.affineRows).toBeGreaterThan(0);
    // Same seeded starting point on both backends.
    expect(wasm.initial).toHaveLength(cpu.initial.length);
    wasm.initial.forEach((w, i) => expectSame(w, cpu.initial[i]));
    expect(Number.isFinite(cpu.loss)).toBe(true);
    expect(Math.abs(wasm.loss - cpu.loss)).toBeLessThanOrEqual(1e-5 * Math.abs(cpu.loss));
    // conv kernel, gamma, beta, dense kernel and bias.
    expect(cpu.grads.map((g) => g.shape)).toEqual([[3, 3, 1, 8], [8], [8], [128, 10], [10]]);
    expectAllClose({ cpu: cpu.grads, wasm: wasm.grads }, 1e-4);
  });
});

describe('memory', () => {
  it('keeps the tensor count flat across 20 steps that run every kernel of this family', async () => {
    const x = seeded([2, 6, 8, 8], 1300);
    const x3 = seeded([2, 6, 6, 3], 1301);
    const dy = seeded([2, 3, 4, 8], 1302);
    const dy3 = seeded([2, 3, 3, 3], 1303);
    const v = seeded([8], 1304);
    const w = seeded([8, 5], 1305);
    const variance = Float32Array.from(seeded([8], 1306), (s) => 0.2 + s * s);
    const once = () =>
      tf.tidy(() => {
        const t = tf.tensor4d(x, [2, 6, 8, 8]);
        const vec = tf.tensor1d(v);
        const pool = (a: tf.Tensor) => tf.maxPool(a as tf.Tensor4D, 2, 2, 'valid');
        const pool3 = (a: tf.Tensor) => tf.maxPool(a as tf.Tensor4D, 3, 2, 'same');
        const g1 = tf.grad(pool)(t, tf.tensor4d(dy, [2, 3, 4, 8]));
        const g2 = tf.grad(pool3)(tf.tensor4d(x3, [2, 6, 6, 3]), tf.tensor4d(dy3, [2, 3, 3, 3]));
        const s = tf.sum(t, [0, 1, 2]);
        const m = tf.mean(t, [0, 1, 2], true);
        const s6 = tf.sum(tf.tensor4d(x3, [2, 6, 6, 3]), [0, 1, 2]);
        const flat = tf.reshape(t, [-1, 8]);
        const mm = tf.matMul(flat, tf.tensor2d(w, [8, 5]), false, false);
        const mmT = tf.matMul(flat, flat, true, false);
        const mmTT = tf.matMul(tf.tensor2d(w, [8, 5]), flat, true, true);
        const c = tf.clone(t);
        const arith = tf.sub(tf.add(tf.mul(c, vec), vec), vec);
        const rev = tf.sub(vec, t);
        const bn = tf.batchNorm(t, vec, tf.tensor1d(variance), vec, vec, 1e-3);
        return [g1, g2, s, m, s6, mm, mmT, mmTT, arith, rev, bn].map((r) => tf.sum(r));
      });
    const { calls } = await onWasmCounting(() => {
      tf.dispose(once()); // warm-up: backend initialisation may allocate once
      const before = tf.memory();
      const ids = (tf.backend() as unknown as { numDataIds(): number }).numDataIds();
      for (let i = 0; i < 20; i++) tf.dispose(once());
      expect(tf.memory().numTensors).toBe(before.numTensors);
      expect(tf.memory().numBytes).toBe(before.numBytes);
      expect((tf.backend() as unknown as { numDataIds(): number }).numDataIds()).toBe(ids);
    });
    // Every SIMD kernel ran in every step.
    expect(calls.maxPoolGrad2x2).toBe(21);
    expect(calls.sumRows).toBeGreaterThanOrEqual(2 * 21);
    expect(calls.affineRows).toBeGreaterThanOrEqual(5 * 21);
  });
});

/** Edge cases that once differed from the cpu backend (found while writing these tests, then fixed). */
describe('edge cases against cpu', () => {
  it('Sum and Mean over leading axes whose kept part is empty give an empty tensor', async () => {
    // leadingAxesReduction gives cols = 0, which the wrapper hands to the backend's own kernel (sum_rows divides by cols).
    const r = await both(() => [tf.sum(tf.zeros([3, 0]), 0), tf.mean(tf.zeros([3, 0]), 0)]);
    expectAllSame(r);
  });

  it('per-channel Multiply keeps the sign of a zero product', async () => {
    const r = await both(() => tf.mul(tf.zeros([2, 4]), tf.tensor1d([-1, 2, -3, 4])));
    expect(Object.is(r.cpu[0].values[0], -0)).toBe(true);
    expectAllSame(r);
  });

  it('per-channel Sub keeps the signs of zeros in both operand orders', async () => {
    const r = await both(() => tf.sub(tf.fill([2, 4], -0), tf.zeros([4])));
    expect(Object.is(r.cpu[0].values[0], -0)).toBe(true);
    expectAllSame(r);
    const equal = await both(() => [tf.sub(tf.tensor1d([3, -0, 0, 2]), tf.tensor2d([3, 0, 0, 2, -0, -0, 1, 1], [2, 4])), tf.sub(tf.zeros([2, 4]), tf.tensor1d([0, -0, 1, -1]))]);
    expectAllSame(equal);
  });
});
