import * as tf from '@tensorflow/tfjs-core';
// tfjs-layers registers tfjs-core's gradient functions in Node (the core bundle alone has none), as in the service.
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectClose } from './close.js';
import { selectBackend, withBackend } from '../../../src/models/backend.js';
import { conv2d } from '../../../src/models/conv-layer.js';

type Backend = 'cpu' | 'wasm';
type Args = Parameters<typeof tfl.layers.conv2d>[0];

interface Step {
  y: Float32Array;
  dKernel: Float32Array;
  dBias?: Float32Array;
  kernels: string[];
}

/**
 * Output and kernel gradient of one layer made by `make` with set weights on `backend`, for the loss sum(y·w) of
 * an input that is data (not a variable), and the kernels the step ran.
 */
function step(backend: Backend, make: (a: Args) => tfl.layers.Layer, args: Args, shape: number[], seed: number): Promise<Step> {
  return withBackend(backend, async () => {
    const layer = make(args);
    const x = tf.randomNormal(shape, 0, 1, 'float32', seed);
    const out = tf.tidy(() => layer.apply(x) as tf.Tensor);
    const kernel = tf.randomNormal(layer.getWeights()[0].shape, 0, 0.5, 'float32', seed + 1);
    layer.setWeights([kernel, ...layer.getWeights().slice(1)]);
    const w = tf.randomNormal(out.shape, 0, 1, 'float32', seed + 2);
    const result: Partial<Step> = {};
    const profile = await tf.profile(() => {
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(layer.apply(x, { training: true }) as tf.Tensor, w)));
      result.dKernel = grads[Object.keys(grads).find((k) => k.includes('kernel'))!].dataSync() as Float32Array;
      const bias = Object.keys(grads).find((k) => k.includes('bias'));
      if (bias) result.dBias = grads[bias].dataSync() as Float32Array;
      value.dispose();
      Object.values(grads).forEach((g) => g.dispose());
    });
    result.y = (layer.apply(x) as tf.Tensor).dataSync() as Float32Array;
    result.kernels = profile.kernels.map((k) => k.name);
    tf.dispose([x, out, kernel, w]);
    layer.dispose();
    return result as Step;
  });
}

const plainLayer = (a: Args) => tfl.layers.conv2d(a);

describe('Conv2D layer with per-input gradients', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  }, 60_000);

  const cases: Array<[string, Args, number[]]> = [
    ['3×3 same, no bias', { filters: 8, kernelSize: 3, padding: 'same', useBias: false }, [2, 9, 7, 3]],
    ['5×5 valid stride 2, no bias', { filters: 4, kernelSize: 5, strides: 2, padding: 'valid', useBias: false }, [3, 11, 12, 2]],
  ];
  for (const [name, args, shape] of cases) {
    it(`${name}: output and kernel gradient equal tfjs-layers' Conv2D on cpu, and the input gradient is not run`, async () => {
      const reference = await step('cpu', plainLayer, args, shape, 11);
      for (const backend of ['cpu', 'wasm'] as const) {
        const ours = await step(backend, conv2d, args, shape, 11);
        expectClose(ours.y, reference.y, 1e-4);
        expectClose(ours.dKernel, reference.dKernel, 1e-3);
        expect(ours.kernels).not.toContain('Conv2DBackpropInput');
        expect(ours.kernels).toContain('Conv2DBackpropFilter');
      }
      // The layer it replaces computes the unneeded input gradient: the difference this file exists for.
      expect(reference.kernels).toContain('Conv2DBackpropInput');
    });
  }

  const imageLayer = (a: Args) => conv2d(a, { imageInput: true });
  const biasCases: Array<[string, Args, number[]]> = [
    ['3×3 same with bias, one channel', { filters: 8, kernelSize: 3, padding: 'same' }, [4, 10, 9, 1]],
    ['3×3 valid stride 2 with bias, three channels', { filters: 4, kernelSize: 3, strides: 2, padding: 'valid' }, [2, 9, 11, 3]],
  ];
  for (const [name, args, shape] of biasCases) {
    it(`${name}, reading the images: output, kernel and bias gradients equal the parent's on cpu, no input gradient`, async () => {
      const reference = await step('cpu', plainLayer, args, shape, 21);
      expect(reference.dBias).toBeDefined();
      for (const backend of ['cpu', 'wasm'] as const) {
        const ours = await step(backend, imageLayer, args, shape, 21);
        expectClose(ours.y, reference.y, 1e-4);
        expectClose(ours.dKernel, reference.dKernel, 1e-3);
        expectClose(ours.dBias!, reference.dBias!, 1e-3);
        expect(ours.kernels).not.toContain('Conv2DBackpropInput');
        expect(ours.kernels).toContain('Conv2DBackpropFilter');
      }
      expect(reference.kernels).toContain('Conv2DBackpropInput');
    });
  }

  it('with bias, a layer deeper in the network (not reading the images) is the parent layer', async () => {
    const args: Args = { filters: 4, kernelSize: 3, padding: 'same' };
    const reference = await step('cpu', plainLayer, args, [2, 6, 6, 2], 7);
    const ours = await step('cpu', conv2d, args, [2, 6, 6, 2], 7);
    expectClose(ours.dBias!, reference.dBias!, 1e-6);
    expect(ours.kernels).toEqual(reference.kernels);
  });

  it('with an activation it is the parent layer, the fused path included', async () => {
    const args: Args = { filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' };
    const reference = await step('cpu', plainLayer, args, [2, 6, 6, 2], 5);
    const ours = await step('cpu', conv2d, args, [2, 6, 6, 2], 5);
    expectClose(ours.y, reference.y, 1e-6);
    expectClose(ours.dKernel, reference.dKernel, 1e-6);
    expect(ours.kernels).toEqual(reference.kernels);
  });

  it('serialises as Conv2D and loads as the plain layer with the same output', async () => {
    await withBackend('cpu', async () => {
      const model = tfl.sequential({
        layers: [tfl.layers.inputLayer({ inputShape: [5, 5, 1] }), conv2d({ filters: 2, kernelSize: 3, useBias: false, seed: 3 } as Args)],
      });
      const json = model.toJSON(null, false) as { config: { layers: Array<{ class_name: string }> } };
      expect(json.config.layers.map((l) => l.class_name)).toContain('Conv2D');
      const saved = await new Promise<tf.io.ModelArtifacts>((resolve) => {
        void model.save(tf.io.withSaveHandler(async (a) => (resolve(a), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } })));
      });
      const loaded = await tfl.loadLayersModel(tf.io.fromMemory(saved));
      const x = tf.randomNormal([1, 5, 5, 1], 0, 1, 'float32', 9);
      expectClose((loaded.predict(x) as tf.Tensor).dataSync() as Float32Array, (model.predict(x) as tf.Tensor).dataSync() as Float32Array, 1e-6);
    });
  });
});
