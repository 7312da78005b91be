/**
 * Runs inference plans with tfjs-core ops on whatever backend is active in this thread. One `EnsembleRunner` holds an
 * ensemble's weights as tensors and answers a batch with one typed array of every member's softmax rows.
 */
import * as tf from '@tensorflow/tfjs-core';
import { FUSED_ACTIVATIONS, type Activation, type MemberPlan, type PlanOp } from './plan.js';

export interface EnsembleRunner {
  members: number;
  /** Values per instance: height × width × channels. */
  sampleSize: number;
  /** Classes per instance. */
  outputs: number;
  /**
   * Runs `n` instances (row-major NHWC in `x`) through every member; returns M × n × K probabilities, member-major:
   * member m's row for instance i starts at (m·n + i)·K. A member whose plan has `testTimeFlip` answers with the mean
   * of its rows for the instance and the instance mirrored left to right.
   */
  run(x: Float32Array, n: number): Float32Array;
  /** Values per instance that `features` returns: the width of member 0's penultimate layer. */
  featureSize: number;
  /** Member 0's penultimate-layer activations for `n` instances (n × featureSize): the embedding drift tests use. */
  features(x: Float32Array, n: number): Float32Array;
  dispose(): void;
}

type Step = (h: tf.Tensor) => tf.Tensor;

/**
 * Uploads the plans' weights and returns a runner, after one pass on a blank instance so that kernel set-up is not
 * paid by the first real request. Every member must take the same input and emit as many classes.
 */
export function createEnsembleRunner(plans: MemberPlan[]): EnsembleRunner {
  if (plans.length === 0) throw new RangeError('An ensemble needs at least one member plan.');
  const [first] = plans;
  for (const p of plans) {
    if (p.inputShape.join() !== first.inputShape.join() || p.outputs !== first.outputs) {
      throw new RangeError('Every member of an ensemble must take the same input shape and emit the same classes.');
    }
  }
  const held: tf.Tensor[] = [];
  const keep = <T extends tf.Tensor>(t: T): T => {
    held.push(t);
    return t;
  };
  const members = plans.map((plan) => plan.ops.map((op) => stepFor(op, keep)));
  const [height, width, channels] = first.inputShape;
  const sampleSize = height * width * channels;
  const last = first.ops.at(-1)!;
  const featureSize = last.op === 'dense' ? last.kernelShape[0] : 0;
  const check = (x: Float32Array, n: number) => {
    if (!Number.isInteger(n) || n < 1 || x.length !== n * sampleSize) {
      throw new RangeError(`Expected ${n} instances of ${sampleSize} values, got ${x.length} values.`);
    }
  };
  const read = (t: tf.Tensor): Float32Array => {
    try {
      return t.dataSync() as Float32Array;
    } finally {
      t.dispose();
    }
  };
  const runner: EnsembleRunner = {
    members: plans.length,
    sampleSize,
    outputs: first.outputs,
    run(x, n) {
      check(x, n);
      return read(
        tf.tidy(() => {
          const input = tf.tensor4d(x, [n, height, width, channels]);
          let mirrored: tf.Tensor | null = null;
          const forward = (steps: Step[], h: tf.Tensor) => steps.reduce((a, step) => step(a), h);
          const probs = members.map((steps, m) => {
            if (!plans[m].testTimeFlip) return forward(steps, input);
            mirrored ??= tf.reverse(input, 2);
            return tf.mul(tf.add(forward(steps, input), forward(steps, mirrored)), 0.5);
          });
          return probs.length === 1 ? probs[0] : tf.concat(probs, 0);
        }),
      );
    },
    featureSize,
    features(x, n) {
      check(x, n);
      const steps = members[0].slice(0, -1);
      return read(tf.tidy(() => tf.reshape(steps.reduce((h, step) => step(h), tf.tensor4d(x, [n, height, width, channels]) as tf.Tensor), [n, -1])));
    },
    dispose() {
      tf.dispose(held);
      held.length = 0;
    },
  };
  runner.run(new Float32Array(sampleSize), 1);
  return runner;
}

function stepFor(op: PlanOp, keep: <T extends tf.Tensor>(t: T) => T): Step {
  switch (op.op) {
    case 'conv': {
      const filter = keep(tf.tensor4d(op.filter, op.filterShape));
      const bias = keep(tf.tensor1d(op.bias));
      const fused = FUSED_ACTIVATIONS.has(op.activation);
      return (h) => {
        const y = tf.fused.conv2d({
          x: h as tf.Tensor4D,
          filter,
          strides: op.strides,
          pad: op.pad,
          dilations: op.dilations,
          bias,
          activation: fused ? (op.activation as tf.fused.Activation) : 'linear',
        });
        return fused ? y : activate(y, op.activation);
      };
    }
    case 'pool':
      return op.kind === 'max'
        ? (h) => tf.maxPool(h as tf.Tensor4D, op.size, op.strides, op.pad)
        : (h) => tf.avgPool(h as tf.Tensor4D, op.size, op.strides, op.pad);
    case 'globalAvgPool':
      return (h) => tf.mean(h, [1, 2]);
    case 'flatten':
      return (h) => tf.reshape(h, [h.shape[0], -1]);
    case 'dense': {
      const kernel = keep(tf.tensor2d(op.kernel, op.kernelShape));
      const bias = op.bias ? keep(tf.tensor1d(op.bias)) : undefined;
      const fused = FUSED_ACTIVATIONS.has(op.activation);
      return (h) => {
        const y = tf.fused.matMul({ a: h as tf.Tensor2D, b: kernel, bias, activation: fused ? (op.activation as tf.fused.Activation) : 'linear' });
        return fused ? y : activate(y, op.activation);
      };
    }
    case 'affine': {
      const scale = keep(tf.tensor1d(op.scale));
      const shift = keep(tf.tensor1d(op.shift));
      return (h) => tf.add(tf.mul(h, scale), shift);
    }
    case 'activation':
      return (h) => activate(h, op.activation);
  }
}

/** The same functions tfjs-layers applies under these names. */
function activate(h: tf.Tensor, activation: Activation): tf.Tensor {
  switch (activation) {
    case 'linear':
      return h;
    case 'relu':
      return tf.relu(h);
    case 'relu6':
      return tf.relu6(h);
    case 'elu':
      return tf.elu(h);
    case 'selu':
      return tf.selu(h);
    case 'swish':
      return tf.mul(h, tf.sigmoid(h));
    case 'sigmoid':
      return tf.sigmoid(h);
    case 'tanh':
      return tf.tanh(h);
    case 'softmax':
      return tf.softmax(h);
  }
}
