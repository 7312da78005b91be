import * as tf from '@tensorflow/tfjs-core';
// tfjs-layers registers tfjs-core's gradient functions in Node (the core bundle alone has none), as in the service.
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend, withBackend } from '../../../src/models/backend.js';

/** dL/dx of sum(relu(x) · dy) on `backend`, and the kernels the gradient ran. */
function reluGrad(backend: 'cpu' | 'wasm', x: number[], dy: number[]) {
  return withBackend(backend, async () => {
    let grad: Float32Array = new Float32Array();
    const profile = await tf.profile(() => {
      const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.relu(t), tf.tensor1d(dy))))(tf.tensor1d(x));
      grad = g.dataSync() as Float32Array;
      g.dispose();
    });
    return { grad: Array.from(grad), kernels: profile.kernelNames };
  });
}

const same = (a: number[], b: number[]) => a.map((v, i) => Object.is(v, b[i]));

beforeAll(() => selectBackend('cpu'));

describe('Relu gradient', () => {
  it('on wasm is one kernel with the values, NaNs and signed zeros of the cpu backend', async () => {
    const x = [1.5, -2, 0, -0, NaN, Infinity, -Infinity, 3e-39, -3e-39, 7, 0.25, -0.5];
    const dy = [2, 3, 4, 5, 6, -7, 8, -9, 10, -0, Infinity, -1];
    const cpu = await reluGrad('cpu', x, dy);
    const wasm = await reluGrad('wasm', x, dy);
    expect(same(wasm.grad, cpu.grad).every(Boolean)).toBe(true);
    expect(wasm.kernels).toContain('QuorumReluGrad');
    expect(wasm.kernels).not.toContain('Step');
    expect(cpu.kernels).not.toContain('QuorumReluGrad');
  });

  it('keeps the plain formula on wasm when the size is not a multiple of 4', async () => {
    const x = [1, -1, 2, -2, 0];
    const dy = [1, 2, 3, 4, 5];
    const wasm = await reluGrad('wasm', x, dy);
    expect(wasm.grad).toEqual([1, 0, 3, 0, 0]);
    expect(wasm.kernels).not.toContain('QuorumReluGrad');
  });
});
