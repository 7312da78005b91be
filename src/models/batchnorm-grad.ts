/**
 * The gradient of batch normalisation without `tile`. tfjs-core 4.22's FusedBatchNorm gradient tiles 1/√(σ²+ε)
 * out to the full [B, H, W, C] shape of x before multiplying, where broadcasting gives the same product; on the
 * wasm backend that Tile was the largest kernel of a `small`-preset training step (32% of kernel time, measured
 * while building this). The formulas are tfjs-core's (the chain rule through y = (x − μ)·γ/√(σ²+ε) + β with μ and σ²
 * as separate inputs; the batch statistics' own dependence on x is differentiated through the ops that computed them).
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerGradient, type GradConfig, type NamedAttrMap, type Tensor } from '@tensorflow/tfjs-core';

const gradConfig: GradConfig = {
  kernelName: 'FusedBatchNorm',
  inputsToSave: ['x', 'mean', 'variance', 'scale'],
  gradFunc: (dy: Tensor | Tensor[], saved: Tensor[], attrs: NamedAttrMap) => {
    const g = dy as Tensor;
    const [x, mean, variance, scale] = saved;
    const eps = attrs.varianceEpsilon as number;
    const scaleValue = scale ?? tf.scalar(1);
    // Summing over every axis the statistics were broadcast along (all but channels for per-channel statistics).
    const axes = tf.backend_util.getReductionAxes(mean.shape, x.shape);
    const reduce = (t: Tensor) => (axes.length > 0 ? tf.sum(t, axes) : t);
    const invStd = tf.rsqrt(tf.add(variance, tf.scalar(eps)));
    const dyScaled = tf.mul(g, scaleValue);
    const xMinusMean = tf.sub(x, mean);
    return {
      x: () => tf.reshape(tf.mul(dyScaled, invStd), x.shape),
      mean: () => tf.reshape(reduce(tf.mul(tf.neg(invStd), dyScaled)), mean.shape),
      variance: () => tf.reshape(reduce(tf.mul(tf.mul(tf.mul(tf.pow(invStd, tf.scalar(3)), tf.scalar(-0.5)), xMinusMean), dyScaled)), mean.shape),
      scale: () => tf.reshape(reduce(tf.mul(g, tf.mul(xMinusMean, invStd))), mean.shape),
      offset: () => tf.reshape(reduce(g), mean.shape),
    };
  },
};

/** Replaces tfjs-core's FusedBatchNorm gradient (for every backend) with the broadcasting one. */
export function registerBatchNormGradient(): void {
  registerGradient(gradConfig);
}

/** The gradient config, for tests that compare it with tfjs-core's. */
export const batchNormGradConfig = gradConfig;
