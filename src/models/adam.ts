/**
 * Adam with each variable's update in one SIMD pass on the wasm backend.
 *
 * tfjs-core's AdamOptimizer updates a variable with about a dozen elementwise ops (two moments, bias corrections,
 * square root, division, scaling, the sum), each a pass over the variable; for the `small` preset's 3,136 × 128
 * dense kernel that is several milliseconds of a 40 ms step. Here one kernel (`adam_update` in simd-kernels.ts)
 * reads the gradient, both moments and the value once and writes the three new tensors, with the same float32
 * operations in the same order, so the results are the same bits (tested). The moments are the parent's own
 * variables (names `<variable>/m` and `/v`), so `getWeights`/`setWeights`, checkpoints and the class name ('Adam')
 * are unchanged. Other backends, and any non-float32 variable, take the parent's path.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { simdKernelsFor, type HeapBackend } from './simd-kernels.js';

/** The AdamOptimizer fields this file uses (private in tfjs-core's typings, plain fields at run time). */
interface AdamState {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: Array<{ originalName: string; variable: tf.Variable } | undefined>;
  accumulatedSecondMoment: Array<{ originalName: string; variable: tf.Variable } | undefined>;
}

export class FusedAdamOptimizer extends tf.AdamOptimizer {
  constructor(learningRate: number, beta1 = 0.9, beta2 = 0.999, epsilon?: number) {
    super(learningRate, beta1, beta2, epsilon);
  }

  override applyGradients(variableGradients: Parameters<tf.AdamOptimizer['applyGradients']>[0]): void {
    const simd = tf.getBackend() === 'wasm' ? simdKernelsFor(tf.backend() as unknown as HeapBackend) : null;
    const entries = Array.isArray(variableGradients)
      ? variableGradients.map((v) => [v.name, v.tensor] as const)
      : Object.entries(variableGradients).map(([name, tensor]) => [name, tensor as tf.Tensor | null] as const);
    const variables = tf.engine().registeredVariables;
    const fusable = entries.every(([name, g]) => variables[name]?.dtype === 'float32' && (g == null || g.dtype === 'float32'));
    if (!simd || !fusable) return super.applyGradients(variableGradients);

    const self = this as unknown as AdamState;
    const heap = tf.backend() as unknown as HeapBackend;
    const at = (t: TensorInfo) => heap.getMemoryOffset(t.dataId);
    const f = Math.fround;
    // The scalars exactly as tfjs-core's ops see them: JS numbers become float32 scalars, 1 − βᵗ is a float32 sub.
    const [b1, b2] = [f(self.beta1), f(self.beta2)];
    const [ob1, ob2] = [f(1 - self.beta1), f(1 - self.beta2)];
    const c1 = f(1 - self.accBeta1.dataSync()[0]);
    const c2 = f(1 - self.accBeta2.dataSync()[0]);
    const [eps, nlr] = [f(self.epsilon), f(-self.learningRate)];
    tf.tidy(() => {
      entries.forEach(([name, gradient], i) => {
        const value = variables[name];
        for (const [moments, suffix] of [
          [self.accumulatedFirstMoment, 'm'],
          [self.accumulatedSecondMoment, 'v'],
        ] as const) {
          moments[i] ??= { originalName: `${name}/${suffix}`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        }
        if (gradient == null) return;
        const m = self.accumulatedFirstMoment[i]!.variable;
        const v = self.accumulatedSecondMoment[i]!.variable;
        const [m2, v2, x2] = [0, 1, 2].map(() => heap.makeOutput(value.shape, 'float32'));
        simd.adamUpdate(at(gradient), at(m), at(v), at(value), at(m2), at(v2), at(x2), value.size, b1, ob1, b2, ob2, c1, c2, eps, nlr);
        const engine = tf.engine();
        m.assign(engine.makeTensorFromTensorInfo(m2));
        v.assign(engine.makeTensorFromTensorInfo(v2));
        value.assign(engine.makeTensorFromTensorInfo(x2));
      });
      self.accBeta1.assign(tf.mul(self.accBeta1, self.beta1));
      self.accBeta2.assign(tf.mul(self.accBeta2, self.beta2));
    });
    this.incrementIterations();
  }
}

/** Adam as `tf.train.adam(learningRate)` gives it, with the fused update on wasm. */
export const adam = (learningRate: number): tf.Optimizer => new FusedAdamOptimizer(learningRate);
