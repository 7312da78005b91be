import * as tf from '@tensorflow/tfjs-core';
// Besides the model test, tfjs-layers is what registers tfjs-core's gradient functions in Node (the core bundle alone
// has none), exactly as in the service.
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectClose } from './close.js';
import { selectBackend, withBackend } from '../../../src/models/backend.js';
import { registerWasmConv2DFilterGradient } from '../../../src/models/conv-grad.js';
import { isWasmConv2DInputGradientRegistered, registerWasmConv2DInputGradient } from '../../../src/models/conv-input-grad.js';
import { assembleSimdKernels, instantiateSimdKernels, relaxedSimd, simdKernelsFor, type HeapBackend } from '../../../src/models/simd-kernels.js';

type Shape4 = [number, number, number, number];
type Pad = 'valid' | 'same' | tf.backend_util.ExplicitPadding;

/** Fixed pseudo-random values: drawn once with a seed so both backends see identical inputs. */
function seeded(shape: number[], seed: number): Float32Array {
  return tf.tidy(() => tf.randomNormal(shape, 0, 1, 'float32', seed).dataSync() as Float32Array);
}

interface ConvCase {
  batch: number;
  height: number;
  width: number;
  inChannels: number;
  outChannels: number;
  kernel: number;
  stride: number | [number, number];
  pad: Pad;
}

interface ConvData {
  c: ConvCase;
  x: Float32Array;
  w: Float32Array;
  dy: Float32Array;
  xShape: Shape4;
  wShape: Shape4;
  dyShape: Shape4;
}

function convData(c: ConvCase, seed: number): ConvData {
  const xShape: Shape4 = [c.batch, c.height, c.width, c.inChannels];
  const wShape: Shape4 = [c.kernel, c.kernel, c.inChannels, c.outChannels];
  const info = tf.backend_util.computeConv2DInfo(xShape, wShape, c.stride, 1, c.pad);
  const dyShape = info.outShape;
  return {
    c,
    xShape,
    wShape,
    dyShape,
    x: seeded(xShape, seed),
    w: seeded(wShape, seed + 1),
    dy: seeded(dyShape, seed + 2),
  };
}

/** dL/dx and dL/dW of a plain conv2d on the active backend, for the upstream gradient dy. */
function convGradsHere(d: ConvData): { dx: Float32Array; dw: Float32Array } {
  const [dx, dw] = tf.tidy(() => {
    const x = tf.tensor4d(d.x, d.xShape);
    const w = tf.tensor4d(d.w, d.wShape);
    const dy = tf.tensor4d(d.dy, d.dyShape);
    const f = (a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, d.c.stride, d.c.pad);
    return tf.grads(f)([x, w], dy);
  });
  const out = { dx: dx.dataSync() as Float32Array, dw: dw.dataSync() as Float32Array };
  tf.dispose([dx, dw]);
  return out;
}

function convGrads(backend: 'cpu' | 'wasm', d: ConvData): Promise<{ dx: Float32Array; dw: Float32Array }> {
  return withBackend(backend, () => convGradsHere(d));
}

function label(c: ConvCase): string {
  const pad = typeof c.pad === 'string' ? c.pad : JSON.stringify(c.pad);
  return `batch ${c.batch}, ${c.height}×${c.width}×${c.inChannels} → ${c.outChannels}, ` +
    `${c.kernel}×${c.kernel} kernel, stride ${c.stride}, ${pad} padding`;
}

const GRID: ConvCase[] = [];
for (const stride of [1, 2])
  for (const pad of ['valid', 'same'] as const)
    for (const kernel of [3, 5])
      for (const [inChannels, outChannels] of [
        [3, 4],
        [1, 8],
      ])
        for (const batch of [1, 5]) GRID.push({ batch, height: 9, width: 7, inChannels, outChannels, kernel, stride, pad });

const EXTRA: ConvCase[] = [
  // Unequal strides: the filter gradient's dilation differs per axis.
  { batch: 2, height: 9, width: 7, inChannels: 3, outChannels: 4, kernel: 3, stride: [2, 1], pad: 'same' },
  { batch: 2, height: 8, width: 11, inChannels: 2, outChannels: 3, kernel: 3, stride: [1, 3], pad: 'valid' },
  // Explicit, asymmetric padding as tfjs-converter models use it.
  {
    batch: 3, height: 9, width: 7, inChannels: 3, outChannels: 2, kernel: 3, stride: 2,
    pad: [[0, 0], [1, 2], [0, 1], [0, 0]],
  },
  // One input channel with 4k output channels takes the SIMD kernels (simd-kernels.ts): uneven strides, explicit
  // asymmetric padding, and a kernel wider than tall.
  { batch: 3, height: 9, width: 7, inChannels: 1, outChannels: 4, kernel: 3, stride: [2, 1], pad: 'same' },
  { batch: 2, height: 8, width: 9, inChannels: 1, outChannels: 12, kernel: 3, stride: [1, 2], pad: [[0, 0], [2, 0], [1, 2], [0, 0]] },
  { batch: 2, height: 10, width: 10, inChannels: 1, outChannels: 8, kernel: 5, stride: 3, pad: 'valid' },
  // Kernel as large as the input: the output is 1×1 and the gradient filter is a single tap.
  { batch: 4, height: 5, width: 5, inChannels: 2, outChannels: 3, kernel: 5, stride: 2, pad: 'valid' },
  // 4k input and 8k output channels take the general SIMD filter-gradient kernel, which clips every tap's rows and
  // columns to the image instead of padding: 'same' and 'valid', strides 1 to 3 and unequal, explicit asymmetric
  // padding, a 5×5 kernel over a 4×4 image (taps with no valid output row), and several 4×8 channel blocks.
  { batch: 3, height: 9, width: 7, inChannels: 4, outChannels: 8, kernel: 3, stride: 1, pad: 'same' },
  { batch: 2, height: 9, width: 7, inChannels: 8, outChannels: 16, kernel: 3, stride: 1, pad: 'valid' },
  { batch: 2, height: 10, width: 9, inChannels: 4, outChannels: 8, kernel: 5, stride: 2, pad: 'same' },
  { batch: 2, height: 9, width: 11, inChannels: 12, outChannels: 24, kernel: 3, stride: [2, 3], pad: 'same' },
  { batch: 3, height: 8, width: 9, inChannels: 4, outChannels: 8, kernel: 3, stride: [1, 2], pad: [[0, 0], [2, 0], [1, 2], [0, 0]] },
  { batch: 2, height: 4, width: 4, inChannels: 4, outChannels: 8, kernel: 5, stride: 1, pad: 'same' },
  { batch: 1, height: 6, width: 6, inChannels: 4, outChannels: 8, kernel: 1, stride: 1, pad: 'valid' },
];

// Inputs are drawn on cpu; every comparison names its backend through withBackend.
beforeAll(() => selectBackend('cpu'));

describe('Conv2DBackpropFilter on wasm', () => {
  beforeAll(() => {
    // IS_TEST makes the engine check every kernel for leaked data ids, ours included (and silences tfjs banners).
    // It stays off for the tfjs-layers test below: wasm's own fusedMatMul fails that check.
    tf.env().set('IS_TEST', true);
  });

  afterAll(() => {
    tf.env().set('IS_TEST', false);
  });

  it('is missing from tfjs-backend-wasm itself, so conv gradients fail there without it', async () => {
    const d = convData(GRID[0], 1);
    await withBackend('wasm', () => {
      tf.unregisterKernel('Conv2DBackpropFilter', 'wasm');
      try {
        expect(() => convGradsHere(d)).toThrow(/Kernel 'Conv2DBackpropFilter' not registered for backend 'wasm'/);
      } finally {
        registerWasmConv2DFilterGradient();
      }
      expect(() => convGradsHere(d)).not.toThrow();
    });
  });

  it('registers once however often it is called', () => {
    registerWasmConv2DFilterGradient();
    const before = tf.getKernel('Conv2DBackpropFilter', 'wasm');
    registerWasmConv2DFilterGradient();
    registerWasmConv2DFilterGradient();
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBe(before);
  });

  describe.each([...GRID, ...EXTRA].map((c, i) => ({ name: label(c), c, seed: 100 + 10 * i })))('$name', ({ c, seed }) => {
    it('gives the filter and input gradients of the cpu backend', async () => {
      const d = convData(c, seed);
      const reference = await convGrads('cpu', d);
      const actual = await convGrads('wasm', d);
      expectClose(actual.dw, reference.dw);
      expectClose(actual.dx, reference.dx);
    });
  });

  it('uses fused multiply-adds (relaxed SIMD) where the engine takes them, and both assemblies give the same sums', async () => {
    // Node 20 takes relaxed SIMD once the flag is set at run time (WASM_FMA=false opts the service out).
    const fmaExpected = true;
    expect(await relaxedSimd()).toBe(fmaExpected);
    await withBackend('wasm', () => {
      expect(simdKernelsFor(tf.backend() as unknown as HeapBackend)?.fma).toBe(fmaExpected);
    });
    // One image pair through conv_filter_grad of each assembly on a memory of its own, against a float64 sum.
    const [n, h, w, ci, co, k, oh, ow] = [2, 9, 8, 8, 16, 3, 9, 8];
    const x = seeded([n, h, w, ci], 7);
    const dy = seeded([n, oh, ow, co], 8);
    const expected = new Float64Array(k * k * ci * co);
    for (let b = 0; b < n; b++)
      for (let p = 0; p < oh; p++)
        for (let q = 0; q < ow; q++)
          for (let i = 0; i < k; i++)
            for (let j = 0; j < k; j++) {
              const [r, s] = [p + i - 1, q + j - 1];
              if (r < 0 || r >= h || s < 0 || s >= w) continue;
              for (let c = 0; c < ci; c++)
                for (let o = 0; o < co; o++)
                  expected[((i * k + j) * ci + c) * co + o] += x[((b * h + r) * w + s) * ci + c] * dy[((b * oh + p) * ow + q) * co + o];
            }
    // The project compiles without the DOM library, which is where TypeScript keeps the WebAssembly types.
    const WasmMemory = (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number }) => { buffer: ArrayBuffer } } }).WebAssembly.Memory;
    for (const fma of [false, true]) {
      const memory = new WasmMemory({ initial: 4 });
      const kernels = await instantiateSimdKernels(await assembleSimdKernels(fma), memory, fma);
      const heap = new Float32Array(memory.buffer);
      const [xAt, dyAt, dwAt] = [0, x.length, x.length + dy.length];
      heap.set(x, xAt);
      heap.set(dy, dyAt);
      kernels.convFilterGrad(4 * xAt, 4 * dyAt, 4 * dwAt, n, h, w, oh, ow, k, k, 1, 1, 1, 1, ci, co);
      expectClose(heap.subarray(dwAt, dwAt + expected.length), expected, 1e-5);
    }
  });

  it("runs the input gradient through the project's forward-convolution kernel, not wasm's scalar loop", async () => {
    await withBackend('wasm', () => {
      expect(isWasmConv2DInputGradientRegistered()).toBe(true);
      registerWasmConv2DInputGradient();
      expect(isWasmConv2DInputGradientRegistered()).toBe(true);
    });
  });

  it("gives the input gradient of the cpu backend when 'ceil' rounding lets the last window pass the edge", async () => {
    const inputShape: Shape4 = [2, 8, 8, 3];
    const filterShape: Shape4 = [3, 3, 3, 4];
    const dyShape = tf.backend_util.computeConv2DInfo(inputShape, filterShape, 2, 1, 0, 'ceil').outShape;
    const w = seeded(filterShape, 17);
    const dy = seeded(dyShape, 18);
    const attrs = { strides: 2, pad: 0, dataFormat: 'NHWC', dimRoundingMode: 'ceil', inputShape };
    const run = (backend: 'cpu' | 'wasm') =>
      withBackend(backend, () => {
        const out = tf.tidy(() => tf.engine().runKernel('Conv2DBackpropInput', { dy: tf.tensor4d(dy, dyShape), filter: tf.tensor4d(w, filterShape) }, attrs) as tf.Tensor);
        const values = out.dataSync() as Float32Array;
        expect(out.shape).toEqual(inputShape);
        out.dispose();
        return values;
      });
    expectClose(await run('wasm'), await run('cpu'));
  });

  // 3 → 4 channels go through the one-convolution form, 4 → 8 through the SIMD kernel that clips taps to the image.
  it.each([
    [3, 4],
    [4, 8],
  ])("extends the padding when 'ceil' rounding lets the last window pass the input's edge (%i → %i channels)", async (ci, co) => {
    // 8 rows, 3-tap kernel, stride 2, pad 0: (8 − 3) / 2 + 1 = 3.5 rounds up to 4 windows, the last reading row 9.
    const xShape: Shape4 = [2, 8, 8, ci];
    const filterShape: Shape4 = [3, 3, ci, co];
    const dyShape = tf.backend_util.computeConv2DInfo(xShape, filterShape, 2, 1, 0, 'ceil').outShape;
    expect(dyShape).toEqual([2, 4, 4, co]);
    const x = seeded(xShape, 7);
    const dy = seeded(dyShape, 8);
    const attrs = { strides: 2, pad: 0, dataFormat: 'NHWC', dimRoundingMode: 'ceil', filterShape };
    const run = (backend: 'cpu' | 'wasm') =>
      withBackend(backend, () => {
        const out = tf.tidy(() => {
          const inputs = { x: tf.tensor4d(x, xShape), dy: tf.tensor4d(dy, dyShape) };
          return tf.engine().runKernel('Conv2DBackpropFilter', inputs, attrs) as tf.Tensor;
        });
        const values = out.dataSync() as Float32Array;
        expect(out.shape).toEqual(filterShape);
        out.dispose();
        return values;
      });
    expectClose(await run('wasm'), await run('cpu'));
  });

  it('acts as one opaque kernel: its inner ops are not recorded on the gradient tape', async () => {
    // Were pad/transpose/conv2d taped, tfjs would differentiate through them; as a kernel without a registered
    // gradient it fails exactly like the cpu backend's native Conv2DBackpropFilter.
    const d = convData(GRID[0], 3);
    const attrs = { strides: 1, pad: 'valid', dataFormat: 'NHWC', filterShape: d.wShape };
    const differentiate = (backend: 'cpu' | 'wasm') =>
      withBackend(backend, () =>
        tf.tidy(() => {
          const dy = tf.tensor4d(d.dy, d.dyShape);
          const f = (x: tf.Tensor) => tf.sum(tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs) as tf.Tensor);
          return tf.grad(f)(tf.tensor4d(d.x, d.xShape));
        }),
      );
    await expect(differentiate('cpu')).rejects.toThrow(/gradient function not found for Conv2DBackpropFilter/);
    await expect(differentiate('wasm')).rejects.toThrow(/gradient function not found for Conv2DBackpropFilter/);
  });

  it('refuses NCHW input with a message naming the supported layout', async () => {
    const attrs = { strides: 1, pad: 'valid', dataFormat: 'NCHW', filterShape: [3, 3, 2, 2] };
    const call = () =>
      withBackend('wasm', () =>
        tf.tidy(() => {
          const x = tf.zeros([1, 2, 5, 5]);
          const dy = tf.zeros([1, 2, 3, 3]);
          return tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs);
        }),
      );
    await expect(call()).rejects.toThrow(/NHWC only/);
  });

  it('refuses a dy whose size does not fit an undilated convolution', async () => {
    // 9 rows, 3 taps, dilation 2 would give 5 output rows; with dilation 1 there are 7.
    const attrs = { strides: 1, pad: 'valid', dataFormat: 'NHWC', filterShape: [3, 3, 1, 1] };
    const call = () =>
      withBackend('wasm', () =>
        tf.tidy(() => {
          const x = tf.zeros([1, 9, 9, 1]);
          const dy = tf.zeros([1, 5, 5, 1]);
          return tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs);
        }),
      );
    await expect(call()).rejects.toThrow(/dilated convolutions are not supported/);
  });

  it('keeps the tensor count flat across 20 gradient computations', async () => {
    const d = convData({ batch: 5, height: 9, width: 7, inChannels: 3, outChannels: 4, kernel: 3, stride: 2, pad: 'same' }, 11);
    await convGrads('wasm', d); // warm-up: backend initialisation may allocate once
    const before = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) await convGrads('wasm', d);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('fused conv2d gradient on wasm', () => {
  it('matches cpu for the input, filter and bias of a conv with bias and relu', async () => {
    const c: ConvCase = { batch: 3, height: 9, width: 7, inChannels: 3, outChannels: 4, kernel: 3, stride: 2, pad: 'same' };
    const d = convData(c, 21);
    const bias = seeded([c.outChannels], 24);
    const run = (backend: 'cpu' | 'wasm') =>
      withBackend(backend, () => {
        const grads = tf.tidy(() => {
          const f = (x: tf.Tensor, filter: tf.Tensor, b: tf.Tensor) =>
            tf.fused.conv2d({
              x: x as tf.Tensor4D,
              filter: filter as tf.Tensor4D,
              bias: b,
              strides: c.stride,
              pad: 'same',
              activation: 'relu',
            });
          const args = [tf.tensor4d(d.x, d.xShape), tf.tensor4d(d.w, d.wShape), tf.tensor1d(bias)];
          return tf.grads(f)(args, tf.tensor4d(d.dy, d.dyShape));
        });
        const values = grads.map((g) => g.dataSync() as Float32Array);
        tf.dispose(grads);
        return values;
      });
    const reference = await run('cpu');
    const actual = await run('wasm');
    for (let i = 0; i < 3; i++) expectClose(actual[i], reference[i]);
  });
});

describe('training a tfjs-layers conv net on wasm', () => {
  it('runs model.fit and lowers the loss', async () => {
    const history = await withBackend('wasm', async () => {
      const seedInit = (seed: number) => tfl.initializers.glorotUniform({ seed });
      const model = tfl.sequential({
        layers: [
          tfl.layers.conv2d({
            inputShape: [8, 8, 1],
            filters: 4,
            kernelSize: 3,
            activation: 'relu',
            kernelInitializer: seedInit(1),
          }),
          tfl.layers.flatten(),
          tfl.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: seedInit(2) }),
        ],
      });
      model.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy' });
      // Class 0 lights the left half of the image, class 1 the right half; seeded noise on top.
      const n = 32;
      const noise = seeded([n, 8, 8, 1], 31);
      const images = new Float32Array(n * 64);
      const labels = new Float32Array(n * 2);
      for (let s = 0; s < n; s++) {
        const cls = s % 2;
        labels[s * 2 + cls] = 1;
        for (let p = 0; p < 64; p++) {
          const lit = (p % 8 < 4) === (cls === 0);
          images[s * 64 + p] = (lit ? 1 : 0) + 0.3 * noise[s * 64 + p];
        }
      }
      const xs = tf.tensor4d(images, [n, 8, 8, 1]);
      const ys = tf.tensor2d(labels, [n, 2]);
      try {
        const h = await model.fit(xs, ys, { epochs: 8, batchSize: 8, shuffle: false, verbose: 0 });
        return h.history.loss as number[];
      } finally {
        tf.dispose([xs, ys]);
        model.dispose();
      }
    });
    expect(history).toHaveLength(8);
    expect(history.every(Number.isFinite)).toBe(true);
    expect(history[history.length - 1]).toBeLessThan(history[0]);
  });
});
