/**
 * A Conv2D layer whose gradient computes only what backpropagation asks for.
 *
 * tfjs-layers runs every 2-D convolution through tfjs-core's `fused.conv2d`, even without bias or activation. That
 * op's gradient is one custom function that returns the input and the filter gradients together, so the first
 * layer's input gradient (with respect to the images, which nothing needs) is computed on every step: about 10 ms of
 * a 300 ms step of the fashion preset at batch 128 on wasm. Plain `tf.conv2d` registers one gradient function per
 * input, and the tape calls only those on a path to a trained variable.
 *
 * The layer is tfjs-layers' `Conv2D` with only `call` overridden, for the case the models here use (no bias because
 * batch norm follows, linear activation, channels last); anything else goes to the parent. Same weights, same config,
 * same class name, so saved models load as the plain layer.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

type Conv2DArgs = Parameters<typeof tfl.layers.conv2d>[0];

/** The members of tfjs-layers' Conv2D this file uses (public fields of that class). */
interface Conv2DLayer extends tfl.layers.Layer {
  bias: unknown;
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
  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor | tf.Tensor[] {
    const padding = this.padding;
    const plain = this.bias == null && this.rank === 2 && this.dataFormat === 'channelsLast' && this.activation.getClassName() === 'linear';
    if (!plain || padding === 'causal') return super.call(inputs, kwargs);
    const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
    const dilations = typeof this.dilationRate === 'number' ? this.dilationRate : (this.dilationRate as [number, number]);
    return tf.conv2d(x, this.kernel.read() as tf.Tensor4D, this.strides as [number, number], padding, 'NHWC', dilations);
  }
}

/** A Conv2D layer; without bias and activation its gradient skips the unneeded input gradient of the first layer. */
export const conv2d = (args: Conv2DArgs): tfl.layers.Layer => new PlainConv2D(args);
