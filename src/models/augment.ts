/**
 * Per-batch data augmentation of normalised NHWC images. Every random choice is drawn in JS from the caller's
 * seeded generator (src/data/random.ts) before anything touches a tensor, so one seed gives the same augmented
 * batch on every backend (to float rounding). Geometry comes first (one affine warp per image), then colour, noise
 * and cutout, so the noise is not smoothed by interpolation and the cutout hole stays a clean square.
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import type { Normalisation } from './batches.js';

const magnitude = (max: number, what: string) => z.number().min(0).max(max).default(0).describe(what);

export const augmentationSchema = z
  .object({
    horizontalFlip: z.boolean().default(false).describe('Mirror images left to right.'),
    rotation: magnitude(180, 'Largest rotation in degrees; the angle is uniform in [-rotation, rotation].'),
    shift: magnitude(0.5, 'Largest translation as a fraction of width (x) and height (y), each uniform.'),
    zoom: magnitude(0.5, 'Scale is uniform in [1 - zoom, 1 + zoom]; above 1 magnifies.'),
    brightness: magnitude(1, 'Largest additive change on the 0..1 pixel scale, uniform in [-b, b].'),
    contrast: magnitude(1, 'Factor uniform in [1 - c, 1 + c] around each image’s per-channel mean.'),
    gaussianNoise: magnitude(1, 'Standard deviation of added noise on the 0..1 pixel scale.'),
    cutout: magnitude(0.5, 'Side of a square set to the dataset mean, as a fraction of the shorter side.'),
    probability: z
      .number()
      .min(0)
      .max(1)
      .default(0.5)
      .describe('Chance that each enabled transform is applied to each image, independently.'),
    testTimeFlip: z
      .boolean()
      .default(false)
      .describe(
        'Test-time augmentation: every member answers with the mean of its probabilities for the image and its mirror ' +
          'image, in predictions and reports alike (twice the inference work). Not read by augmentBatch; meant for ' +
          'models trained with horizontalFlip.',
      ),
    materialize: z
      .boolean()
      .default(false)
      .describe('Not read by augmentBatch; left to the training loop (e.g. precomputing augmented copies).'),
  })
  .strict();

export type Augmentation = z.infer<typeof augmentationSchema>;

/** What was drawn for one image; null where the transform was not applied to it. */
interface Draw {
  flip: boolean;
  angle: number; // radians, counter-clockwise as displayed
  tx: number; // pixels, positive to the right
  ty: number; // pixels, positive downwards
  scale: number;
  brightness: number | null; // pixel units
  contrast: number | null;
  noise: number; // standard deviation in pixel units, 0 when off
  cutout: { top: number; left: number } | null;
}

/**
 * Augments a batch of normalised images and returns a new tensor (the caller still owns and disposes `images`).
 *
 * Each enabled transform fires for each image independently with `probability` (default 0.5), and when it
 * fires its magnitude is drawn uniformly from its range: the per-transform `p` of Albumentations (Buslaev et
 * al., Information 11(2):125, 2020). So `probability: 1` gives the Keras behaviour (always sample a magnitude)
 * and also flips every image. Off-image pixels after the warp are black (pixel 0, i.e. −mean/std per channel);
 * brightness, contrast and noise results are clipped to the normalised image of [0, 1] as torchvision does.
 */
export function augmentBatch(
  images: tf.Tensor4D,
  aug: Augmentation,
  rng: () => number,
  norm: Normalisation,
): tf.Tensor4D {
  const [n, height, width, channels] = images.shape;
  if (norm.mean.length !== channels || norm.std.length !== channels) {
    const given = `${norm.mean.length} means and ${norm.std.length} stds`;
    throw new Error(`augmentBatch: normalisation has ${given} for ${channels} channels.`);
  }
  // The same floor as batches.ts's normalisation table, so a constant channel maps the same way in both.
  const std = norm.std.map((s) => Math.max(s, 1e-6));

  const draws = Array.from({ length: n }, () => drawFor(aug, rng, height, width));
  const anyNoise = draws.some((d) => d.noise > 0);
  // tf.randomNormal generates on the CPU from its seed (tfjs-core ops/random_normal), so the noise is backend-free.
  const noiseSeed = anyNoise ? Math.floor(rng() * 2 ** 32) : 0;
  const warps = draws.map((d) => affineRow(d, height, width));
  const anyColour = draws.some((d) => d.brightness !== null || d.contrast !== null) || anyNoise;
  const anyCutout = draws.some((d) => d.cutout !== null);
  if (warps.every((w) => w === null) && !anyColour && !anyCutout) return tf.clone(images);

  return tf.tidy(() => {
    const black = norm.mean.map((m, c) => -m / std[c]);
    let x: tf.Tensor4D = warps.some((w) => w !== null) ? warp(images, warps, black) : images;
    if (anyColour) {
      x = adjustColour(x, draws, std, noiseSeed);
      const white = norm.mean.map((m, c) => (1 - m) / std[c]);
      x = tf.minimum(tf.maximum(x, tf.tensor1d(black)), tf.tensor1d(white));
    }
    if (anyCutout) x = tf.mul(x, cutoutMask(draws, height, width, Math.round(aug.cutout * Math.min(height, width))));
    return x;
  });
}

/** Draws one image's parameters, in a fixed order, consuming the generator only for enabled transforms. */
function drawFor(aug: Augmentation, rng: () => number, height: number, width: number): Draw {
  const fires = (on: boolean) => on && rng() < aug.probability;
  // Uniform on [-half, half]; exactly 0 at u = 0.5.
  const symmetric = (half: number) => half * (2 * rng() - 1);
  const d: Draw = { flip: false, angle: 0, tx: 0, ty: 0, scale: 1, brightness: null, contrast: null, noise: 0, cutout: null };
  d.flip = fires(aug.horizontalFlip);
  if (fires(aug.rotation > 0)) d.angle = (symmetric(aug.rotation) * Math.PI) / 180;
  if (fires(aug.shift > 0)) {
    d.tx = symmetric(aug.shift * width);
    d.ty = symmetric(aug.shift * height);
  }
  if (fires(aug.zoom > 0)) d.scale = 1 + symmetric(aug.zoom);
  if (fires(aug.brightness > 0)) d.brightness = symmetric(aug.brightness);
  if (fires(aug.contrast > 0)) d.contrast = 1 + symmetric(aug.contrast);
  if (fires(aug.gaussianNoise > 0)) d.noise = aug.gaussianNoise;
  if (fires(aug.cutout > 0)) {
    // The centre may sit anywhere, so the square can hang over the border (DeVries & Taylor, arXiv:1708.04552).
    const side = Math.round(aug.cutout * Math.min(height, width));
    d.cutout = {
      top: Math.floor(rng() * height) - Math.floor(side / 2),
      left: Math.floor(rng() * width) - Math.floor(side / 2),
    };
  }
  return d;
}

/**
 * The 8-entry projective row tf.image.transform expects, or null for the identity.
 *
 * Forward (input to output, pixel centres at integers, c the image centre): p' = c + t + s·R(θ)·F·(p − c), with F
 * the optional mirror. tf.image.transform wants the inverse, output to input: p = c + M·(p' − c − t) where
 * M = F·R(θ)ᵀ / s. With y pointing down, R(θ) = [[cos, sin], [−sin, cos]] turns counter-clockwise on screen.
 */
function affineRow(d: Draw, height: number, width: number): number[] | null {
  if (!d.flip && d.angle === 0 && d.tx === 0 && d.ty === 0 && d.scale === 1) return null;
  const cx = (width - 1) / 2;
  const cy = (height - 1) / 2;
  const f = d.flip ? -1 : 1;
  const cos = Math.cos(d.angle) / d.scale;
  const sin = Math.sin(d.angle) / d.scale;
  const [a0, a1, b0, b1] = [f * cos, -f * sin, sin, cos];
  const ox = cx + d.tx;
  const oy = cy + d.ty;
  return [a0, a1, cx - (a0 * ox + a1 * oy), b0, b1, cy - (b0 * ox + b1 * oy), 0, 0];
}

/**
 * Applies each image's warp with bilinear sampling; source points off the image read as per-channel black.
 *
 * tf.image.transform does this on the device where it works for whole batches (wasm, webgl, webgpu). The cpu
 * backend's Transform kernel returns from inside its batch loop and leaves every image after the first at the fill
 * value (tfjs-backend-cpu 4.22, src/kernels/Transform.ts), and tfjs-node registers no Transform kernel at all, so
 * there the same sampling runs in JS on the host: free on cpu, one copy each way on tfjs-node.
 */
function warp(images: tf.Tensor4D, rows: (number[] | null)[], black: number[]): tf.Tensor4D {
  const backend = tf.getBackend();
  if (backend === 'cpu' || tf.getKernel('Transform', backend) === undefined) return warpOnHost(images, rows, black);
  // One fill value serves every channel, so black is moved to 0 for the warp and back after it: bilinear
  // sampling is affine in the values, so this equals filling channel c with black[c] (to rounding).
  const level = tf.tensor1d(black);
  const identity = [1, 0, 0, 0, 1, 0, 0, 0];
  const rowsTensor = tf.tensor2d(rows.map((r) => r ?? identity));
  return tf.add(tf.image.transform(tf.sub<tf.Tensor4D>(images, level), rowsTensor, 'bilinear', 'constant', 0), level);
}

/** The same bilinear warp as tf.image.transform's 'bilinear'/'constant', computed in JS on the batch's data. */
function warpOnHost(images: tf.Tensor4D, rows: (number[] | null)[], black: number[]): tf.Tensor4D {
  const [, height, width, channels] = images.shape;
  const src = images.dataSync();
  const out = Float32Array.from(src);
  const size = height * width * channels;
  rows.forEach((row, i) => {
    if (row === null) return;
    const base = i * size;
    // Channel k of source pixel (y, x), or black off the image.
    const at = (y: number, x: number, k: number) =>
      y >= 0 && y < height && x >= 0 && x < width ? src[base + (y * width + x) * channels + k] : black[k];
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const sx = row[0] * x + row[1] * y + row[2];
        const sy = row[3] * x + row[4] * y + row[5];
        const x0 = Math.floor(sx);
        const y0 = Math.floor(sy);
        const fx = sx - x0;
        const fy = sy - y0;
        for (let k = 0; k < channels; k++) {
          const top = (1 - fx) * at(y0, x0, k) + fx * at(y0, x0 + 1, k);
          const bottom = (1 - fx) * at(y0 + 1, x0, k) + fx * at(y0 + 1, x0 + 1, k);
          out[base + (y * width + x) * channels + k] = (1 - fy) * top + fy * bottom;
        }
      }
    }
  });
  return tf.tensor4d(out, images.shape);
}

/**
 * Brightness, contrast and noise in normalised units. Brightness d then contrast f around the image's per-channel
 * mean μ (as tf.image.adjustContrast) is one affine map per image and channel, x ↦ f·x + d + (1 − f)·μ, and it
 * has the same form on either scale once a pixel-scale d becomes d / std[c]; noise σ becomes σ / std[c].
 */
function adjustColour(x: tf.Tensor4D, draws: Draw[], std: number[], noiseSeed: number): tf.Tensor4D {
  const [n, height, width, channels] = x.shape;
  const perChannel = (value: (d: Draw) => number) =>
    tf.tensor4d(
      draws.flatMap((d) => std.map((s) => value(d) / s)),
      [n, 1, 1, channels],
    );
  let out: tf.Tensor4D = x;
  const brightness = draws.some((d) => d.brightness !== null);
  if (draws.some((d) => d.contrast !== null)) {
    const factor = tf.tensor4d(draws.map((d) => d.contrast ?? 1), [n, 1, 1, 1]);
    let offset = tf.mul(tf.sub(1, factor), tf.mean(x, [1, 2], true));
    if (brightness) offset = tf.add(offset, perChannel((d) => d.brightness ?? 0));
    out = tf.add(tf.mul(x, factor), offset);
  } else if (brightness) out = tf.add(x, perChannel((d) => d.brightness ?? 0));
  if (draws.some((d) => d.noise > 0)) {
    const unit = tf.randomNormal([n, height, width, channels], 0, 1, 'float32', noiseSeed);
    out = tf.add(out, tf.mul(unit, perChannel((d) => d.noise)));
  }
  return out;
}

/** A [n, h, w, 1] mask of ones with each drawn square (clipped to the image) set to 0, built on the CPU. */
function cutoutMask(draws: Draw[], height: number, width: number, side: number): tf.Tensor4D {
  const mask = new Float32Array(draws.length * height * width).fill(1);
  draws.forEach((d, i) => {
    if (d.cutout === null) return;
    for (let y = Math.max(0, d.cutout.top); y < Math.min(height, d.cutout.top + side); y++) {
      const row = (i * height + y) * width;
      mask.fill(0, row + Math.max(0, d.cutout.left), row + Math.min(width, d.cutout.left + side));
    }
  });
  return tf.tensor4d(mask, [draws.length, height, width, 1]);
}
