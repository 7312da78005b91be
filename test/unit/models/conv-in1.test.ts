import * as tf from '@tensorflow/tfjs-core';
// tfjs-layers registers tfjs-core's gradient functions in Node (the core bundle alone has none), as in the service.
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectClose } from './close.js';
import { selectBackend, withBackend } from '../../../src/models/backend.js';
import { simdKernelsFor, type HeapBackend, type SimdKernels } from '../../../src/models/simd-kernels.js';
import { in1Applies } from '../../../src/models/conv-in1.js';

type Pad = 'valid' | 'same' | tf.backend_util.ExplicitPadding;

const seeded = (shape: number[], seed: number) => tf.tidy(() => tf.randomNormal(shape, 0, 1, 'float32', seed).dataSync() as Float32Array);

/** Counts the calls of the one-channel forward and filter-gradient kernels while `body` runs. */
async function countIn1(body: () => Promise<unknown>): Promise<{ forward: number; filter: number }> {
  const kernels = await withBackend('wasm', () => simdKernelsFor(tf.backend() as unknown as HeapBackend)!);
  const k = kernels as { -readonly [K in keyof SimdKernels]: SimdKernels[K] };
  const [forward, filter] = [k.convIn1Forward3x3, k.convIn1FilterGrad3x3];
  const calls = { forward: 0, filter: 0 };
  k.convIn1Forward3x3 = (...args) => {
    calls.forward++;
    forward(...args);
  };
  k.convIn1FilterGrad3x3 = (...args) => {
    calls.filter++;
    filter(...args);
  };
  try {
    await body();
  } finally {
    k.convIn1Forward3x3 = forward;
    k.convIn1FilterGrad3x3 = filter;
  }
  return calls;
}

interface Case {
  name: string;
  x: [number, number, number, number];
  co: number;
  pad: Pad;
  bias?: boolean;
  activation?: 'linear' | 'relu';
}

const CASES: Case[] = [
  { name: '28×28 → 32, same (a grey model\'s first layer)', x: [3, 28, 28, 1], co: 32, pad: 'same' },
  { name: '9×7 → 8, valid', x: [2, 9, 7, 1], co: 8, pad: 'valid' },
  // Explicit, asymmetric padding: more rows on top than the window needs, none on the left, two on the right.
  { name: '8×9 → 12, pads (2,0)/(0,2)', x: [2, 8, 9, 1], co: 12, pad: [[0, 0], [2, 0], [0, 2], [0, 0]] },
  { name: '3×3 → 4, valid (one output pixel)', x: [1, 3, 3, 1], co: 4, pad: 'valid' },
  { name: '6×5 → 16, same, bias and ReLU', x: [2, 6, 5, 1], co: 16, pad: 'same', bias: true, activation: 'relu' },
  { name: '6×5 → 8, same, bias, linear', x: [2, 6, 5, 1], co: 8, pad: 'same', bias: true, activation: 'linear' },
];

describe('one-channel 3×3 convolution on the SIMD kernels (wasm)', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
    await selectBackend('cpu');
  }, 60_000);

  describe.each(CASES.map((c, i) => ({ c, seed: 300 + 7 * i })))('$c.name', ({ c, seed }) => {
    it('gives the output and the filter (and bias) gradients of the cpu backend, through its kernels', async () => {
      const wShape: [number, number, number, number] = [3, 3, 1, c.co];
      const info = tf.backend_util.computeConv2DInfo(c.x, wShape, 1, 1, c.pad);
      expect(in1Applies(info)).toBe(true);
      const [x, w, b] = [seeded(c.x, seed), seeded(wShape, seed + 1), seeded([c.co], seed + 2)];
      const dy = seeded([info.batchSize, info.outHeight, info.outWidth, c.co], seed + 3);
      const run = (backend: 'cpu' | 'wasm') =>
        withBackend(backend, () =>
          tf.tidy(() => {
            const [xt, wt, bt] = [tf.tensor4d(x, c.x), tf.tensor4d(w, wShape), tf.tensor1d(b)];
            const dyt = tf.tensor4d(dy, [info.batchSize, info.outHeight, info.outWidth, c.co]);
            const y = (f: tf.Tensor, bias: tf.Tensor) =>
              c.bias || c.activation
                ? tf.fused.conv2d({ x: xt, filter: f as tf.Tensor4D, strides: 1, pad: c.pad, bias: c.bias ? bias : undefined, activation: c.activation })
                : tf.conv2d(xt, f as tf.Tensor4D, 1, c.pad);
            const loss = (f: tf.Tensor, bias?: tf.Tensor) => tf.sum(tf.mul(y(f, bias ?? bt), dyt));
            const grads = tf.grads(loss)(c.bias ? [wt, bt] : [wt]);
            return [y(wt, bt), ...grads].map((t) => t.dataSync() as Float32Array);
          }),
        );
      const reference = await run('cpu');
      let actual: Float32Array[] = [];
      const calls = await countIn1(async () => (actual = await run('wasm')));
      // forward twice (under tf.grads and for y) and the filter gradient once
      expect(calls).toEqual({ forward: 2, filter: 1 });
      if (c.activation === 'relu') expect(reference[0].some((v) => v === 0)).toBe(true);
      actual.forEach((a, i) => expectClose(a, reference[i]));
    });
  });

  it('leaves other one-channel convolutions to the other kernels: stride 2, 5×5, 3 outputs', async () => {
    const others: Array<{ w: [number, number, number, number]; stride: number }> = [
      { w: [3, 3, 1, 8], stride: 2 },
      { w: [5, 5, 1, 8], stride: 1 },
      { w: [3, 3, 1, 3], stride: 1 },
    ];
    for (const o of others) {
      const xs = seeded([2, 9, 9, 1], 1);
      const ws = seeded(o.w, 2);
      const run = (backend: 'cpu' | 'wasm') =>
        withBackend(backend, () => tf.tidy(() => tf.conv2d(tf.tensor4d(xs, [2, 9, 9, 1]), tf.tensor4d(ws, o.w), o.stride, 'same').dataSync() as Float32Array));
      const reference = await run('cpu');
      let actual: Float32Array | undefined;
      expect(await countIn1(async () => (actual = await run('wasm')))).toEqual({ forward: 0, filter: 0 });
      expectClose(actual!, reference);
    }
  });

  it('keeps the tensor count flat (the padded copy is freed)', async () => {
    const x = seeded([2, 10, 10, 1], 5);
    const w = seeded([3, 3, 1, 8], 6);
    const step = () =>
      withBackend('wasm', () =>
        tf.tidy(() => {
          const [xt, wt] = [tf.tensor4d(x, [2, 10, 10, 1]), tf.tensor4d(w, [3, 3, 1, 8])];
          return tf.grad((f: tf.Tensor) => tf.sum(tf.conv2d(xt, f as tf.Tensor4D, 1, 'same')))(wt).dataSync();
        }),
      );
    await step();
    const before = await withBackend('wasm', () => [tf.memory().numTensors, tf.memory().numBytes]);
    for (let i = 0; i < 20; i++) await step();
    expect(await withBackend('wasm', () => [tf.memory().numTensors, tf.memory().numBytes])).toEqual(before);
  });
});
