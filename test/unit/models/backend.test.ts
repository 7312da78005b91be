import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { currentBackend, selectBackend, withBackend } from '../../../src/models/backend.js';

/** True where an optional libtensorflow package is installed (production GPU images), false on dev machines. */
function installed(pkg: string): boolean {
  try {
    createRequire(import.meta.url).resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

const hasTfjsNode = installed('@tensorflow/tfjs-node') || installed('@tensorflow/tfjs-node-gpu');

describe('backend selection', () => {
  it.skipIf(hasTfjsNode)('falls back to wasm when neither tfjs-node package is installed, saying why', async () => {
    const info = await selectBackend('auto');
    expect(info).toMatchObject({ name: 'wasm', package: '@tensorflow/tfjs-backend-wasm', simd: true, threads: false, heapKernels: true });
    expect(info.device).toBe('cpu (wasm simd)');
    expect(info.fallbackReasons).toEqual([
      '@tensorflow/tfjs-node-gpu: not installed',
      '@tensorflow/tfjs-node: not installed',
    ]);
    expect(tf.getBackend()).toBe('wasm');
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
  });

  it("uses the pure-JS cpu backend when asked for 'cpu'", async () => {
    const info = await selectBackend('cpu');
    expect(info).toEqual({ name: 'cpu', package: '@tensorflow/tfjs-backend-cpu', device: 'cpu (pure js)', fallbackReasons: [] });
    expect(tf.getBackend()).toBe('cpu');
    expect(currentBackend()).toBe(info);
  });

  it.skipIf(hasTfjsNode)("refuses 'tensorflow' without libtensorflow, naming both packages and what to do", async () => {
    const attempt = selectBackend('tensorflow');
    await expect(attempt).rejects.toThrow(/tfjs backend 'tensorflow' is unavailable/);
    await expect(attempt).rejects.toThrow(/@tensorflow\/tfjs-node-gpu: not installed; @tensorflow\/tfjs-node: not installed/);
    await expect(attempt).rejects.toThrow(/Install @tensorflow\/tfjs-node/);
  });

  it('selects wasm twice with the same result and one filter-gradient kernel', async () => {
    const first = await selectBackend('wasm');
    const kernel = tf.getKernel('Conv2DBackpropFilter', 'wasm');
    const second = await selectBackend('wasm');
    expect(second).toEqual(first);
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBe(kernel);
    expect(tf.getBackend()).toBe('wasm');
  });

  it('reports no current backend once something else switched tfjs away from the selected one', async () => {
    await selectBackend('wasm');
    await tf.setBackend('cpu');
    expect(currentBackend()).toBeNull();
  });
});

describe('running on a named backend', () => {
  it('runs the function there and restores the previous backend', async () => {
    await selectBackend('cpu');
    const inside = await withBackend('wasm', () => tf.getBackend());
    expect(inside).toBe('wasm');
    expect(tf.getBackend()).toBe('cpu');
  });

  it('restores the previous backend when the function throws', async () => {
    await selectBackend('wasm');
    await expect(
      withBackend('cpu', () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(tf.getBackend()).toBe('wasm');
  });
});
