/**
 * A Conv2D layer whose gradient computes only what backpropagation asks for.
 *
 * tfjs-layers runs every 2-D convolution through tfjs-core's `fused.conv2d`, even without bias or activation. That
 * op's gradient is one custom function that returns the input and the filter gradients together, so the first
 * layer's input gradient (with respect to the images, which nothing needs) is computed on every step: about 10 ms of
 * a 300 ms step of the fashion preset at batch 128 on wasm. Plain `tf.conv2d` registers one gradient function per
 * input, and the tape calls only those on a path to a trained variable.
 *
 * With a bias, tfjs-core's fused op is the better forward (the bias is added in the convolution's epilogue) and a
 * layer deeper in the network needs every gradient it returns; only a layer that reads the images does not. Built
 * with `imageInput`, such a layer trains through its own differentiable op whose gradient is the filter and bias
 * gradients alone: on the reference CNN at batch 64 on wasm, 4.2 ms of a 38 ms step was the images' gradient.
 *
 * The layer is tfjs-layers' `Conv2D` with only `call` overridden, for the cases the models here use (linear
 * activation, channels last, no dilation); anything else goes to the parent. Same weights, same config, same class
 * name, so saved models load as the plain layer.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NamedAttrMap } from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

type Conv2DArgs = Parameters<typeof tfl.layers.conv2d>[0];

/** The members of tfjs-layers' Conv2D this file uses (public fields of that class). */
interface Conv2DLayer extends tfl.layers.Layer {
  bias: { read(): tf.Tensor } | null;
  kernel: { read(): tf.Tensor };
  activation: { getClassName(): string };
  rank: number;
  strides: number[];
  padding: 'valid' | 'same' | 'causal';
  dataFormat: 'channelsFirst' | 'channelsLast';
  dilationRate: number | number[];
}

// tfjs-layers exports the factory, not the class; the class is the factory's product's constructor.
const Conv2D = tfl.layers.conv2d({ filters: 1, kernelSize: 1 }).constructor as new (args: Conv2DArgs) => Conv2DLayer;

class PlainConv2D extends Conv2D {
  constructor(
    args: Conv2DArgs,
    private readonly imageInput: boolean,
  ) {
    super(args);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor | tf.Tensor[] {
    const padding = this.padding;
    const dilations = typeof this.dilationRate === 'number' ? [this.dilationRate, this.dilationRate] : this.dilationRate;
    const plain = this.rank === 2 && this.dataFormat === 'channelsLast' && this.activation.getClassName() === 'linear';
    if (!plain || padding === 'causal' || dilations.some((d) => d !== 1)) return super.call(inputs, kwargs);
    const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
    const strides = this.strides as [number, number];
    const kernel = this.kernel.read() as tf.Tensor4D;
    if (this.bias == null) return tf.conv2d(x, kernel, strides, padding);
    // Outside training nothing is differentiated, and the parent's fused forward is the same computation.
    if (!this.imageInput || kwargs.training !== true) return super.call(inputs, kwargs);
    return convWithBiasNoInputGradient(x, kernel, this.bias.read() as tf.Tensor1D, strides, padding);
  }
}

/**
 * conv2d(x, filter) + bias through the fused kernel, differentiable with respect to the filter and the bias only.
 * `x` is not an input of the op, so the tape sees no path to it; it is saved for the filter gradient.
 */
function convWithBiasNoInputGradient(x: tf.Tensor4D, filter: tf.Tensor4D, bias: tf.Tensor1D, strides: [number, number], pad: 'same' | 'valid'): tf.Tensor4D {
  const forward = (f: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
    save([x]);
    const value = tf.fused.conv2d({ x, filter: f as tf.Tensor4D, bias: b, strides, pad, dataFormat: 'NHWC' });
    return {
      value,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const g = dy as tf.Tensor4D;
        const attrs = { strides, pad, dataFormat: 'NHWC', filterShape: filter.shape };
        const dFilter = tf.engine().runKernel('Conv2DBackpropFilter', { x: saved[0], dy: g }, attrs as unknown as NamedAttrMap) as tf.Tensor;
        return [dFilter, tf.sum(g, [0, 1, 2])];
      },
    };
  };
  const op = tf.customGrad(forward as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(filter, bias) as tf.Tensor4D;
}

/**
 * A Conv2D layer; without bias its gradient skips the unneeded input gradient of the first layer, and with
 * `imageInput` (it reads the model's input) so does its bias path.
 */
export const conv2d = (args: Conv2DArgs, options: { imageInput?: boolean } = {}): tfl.layers.Layer =>
  new PlainConv2D(args, options.imageInput ?? false);
