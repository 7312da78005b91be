/**
 * Dropout whose mask is reproducible yet new at every step. tfjs's Dropout with a `seed` draws the same mask on
 * every call (a fixed-seed generator per call), and without one it is not reproducible; this layer derives each
 * step's seed from a base seed and a step counter the training loop advances, so the same seed, data and backend
 * give the same weights (Srivastava et al., "Dropout", JMLR 2014: inverted scaling by 1/(1−rate)).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

export interface SeededDropoutArgs {
  rate: number;
  seed: number;
  name?: string;
}

export class SeededDropout extends tfl.layers.Layer {
  static className = 'QuorumSeededDropout';
  readonly rate: number;
  readonly seed: number;
  /** Set by the training loop before each step; the mask seed is a function of (seed, step). */
  step = 0;

  constructor(args: SeededDropoutArgs) {
    super({ name: args.name });
    this.rate = args.rate;
    this.seed = args.seed;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean }): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    if (!kwargs.training || this.rate <= 0) return tf.clone(x);
    return tf.tidy(() => {
      // A 31-bit mix of seed and step (Knuth's multiplicative hash) keeps neighbouring steps' masks unrelated.
      const stepSeed = (Math.imul(this.seed + 1, 2654435761) ^ Math.imul(this.step + 1, 40503)) >>> 1;
      const keep = tf.greaterEqual(tf.randomUniform(x.shape, 0, 1, 'float32', stepSeed), this.rate);
      return tf.div(tf.mul(x, tf.cast(keep, 'float32')), 1 - this.rate);
    });
  }

  override computeOutputShape(shape: tfl.Shape | tfl.Shape[]): tfl.Shape | tfl.Shape[] {
    return shape;
  }

  override getConfig() {
    return { ...super.getConfig(), rate: this.rate, seed: this.seed };
  }
}

tf.serialization.registerClass(SeededDropout);
