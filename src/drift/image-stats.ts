/**
 * Cheap per-image statistics whose distributions can be compared between a reference and a current sample to
 * say in plain words what changed about the images (darker, blurrier, less contrast, a colour cast).
 */

/** One plain sentence per statistic, for reports. */
export const IMAGE_STAT_DESCRIPTIONS: Record<string, string> = {
  brightness: 'Mean brightness of the image, 0 black to 1 white.',
  contrast: 'Spread of brightness within the image (standard deviation), 0 for a flat image.',
  sharpness: 'Amount of fine detail and edges (variance of the Laplacian), low for blurred images.',
  'mean-red': 'Mean red channel value, 0 none to 1 full.',
  'mean-green': 'Mean green channel value, 0 none to 1 full.',
  'mean-blue': 'Mean blue channel value, 0 none to 1 full.',
};

// ITU-R BT.601 luma weights.
const LUMA_R = 0.299;
const LUMA_G = 0.587;
const LUMA_B = 0.114;

/**
 * Per-image statistics of `count` HWC uint8 images, each array indexed by image: brightness (mean luma / 255),
 * contrast (population standard deviation of luma / 255), sharpness (variance of the 4-neighbour Laplacian of
 * luma / 255 over interior pixels, the "variance of Laplacian" focus measure of Pech-Pacheco et al. 2000; 0 below
 * 3×3) and, for RGB, mean-red/green/blue (/ 255). Luma is the grey value, or Rec. 601 0.299R + 0.587G + 0.114B.
 * O(pixels). Throws a RangeError unless channels is 1 or 3 and `samples` holds exactly `count` images.
 */
export function imageStatistics(
  samples: Uint8Array,
  count: number,
  shape: { height: number; width: number; channels: number },
): Record<string, Float64Array> {
  const { height: h, width: w, channels } = shape;
  if (channels !== 1 && channels !== 3) {
    throw new RangeError(`imageStatistics: channels must be 1 or 3, got ${channels}.`);
  }
  if (![h, w, count].every((v) => Number.isInteger(v) && v >= 0)) {
    throw new RangeError(`imageStatistics: bad shape ${h}×${w} or count ${count}.`);
  }
  const pixels = h * w;
  if (samples.length !== count * pixels * channels) {
    throw new RangeError(`imageStatistics: ${samples.length} bytes is not ${count} images of ${h}×${w}×${channels}.`);
  }

  const out: Record<string, Float64Array> = {
    brightness: new Float64Array(count),
    contrast: new Float64Array(count),
    sharpness: new Float64Array(count),
  };
  const means = channels === 3 ? [new Float64Array(count), new Float64Array(count), new Float64Array(count)] : [];
  if (channels === 3) [out['mean-red'], out['mean-green'], out['mean-blue']] = means;

  const luma = new Float64Array(pixels);
  for (let n = 0; n < count; n++) {
    const base = n * pixels * channels;
    if (channels === 1) {
      for (let p = 0; p < pixels; p++) luma[p] = samples[base + p] / 255;
    } else {
      let r = 0;
      let g = 0;
      let b = 0;
      for (let p = 0; p < pixels; p++) {
        const o = base + 3 * p;
        r += samples[o];
        g += samples[o + 1];
        b += samples[o + 2];
        luma[p] = (LUMA_R * samples[o] + LUMA_G * samples[o + 1] + LUMA_B * samples[o + 2]) / 255;
      }
      means[0][n] = r / (255 * pixels);
      means[1][n] = g / (255 * pixels);
      means[2][n] = b / (255 * pixels);
    }
    const [mean, variance] = meanAndVariance(luma, pixels);
    out.brightness[n] = mean;
    out.contrast[n] = Math.sqrt(variance);
    out.sharpness[n] = laplacianVariance(luma, h, w);
  }
  return out;
}

/** Two-pass mean and population variance of the first `length` values. */
function meanAndVariance(values: Float64Array, length: number): [number, number] {
  if (length === 0) return [0, 0];
  let sum = 0;
  for (let i = 0; i < length; i++) sum += values[i];
  const mean = sum / length;
  let sq = 0;
  for (let i = 0; i < length; i++) sq += (values[i] - mean) ** 2;
  return [mean, sq / length];
}

/** Population variance of 4·v − (up + down + left + right) over the interior pixels; 0 below 3×3. */
function laplacianVariance(luma: Float64Array, h: number, w: number): number {
  if (h < 3 || w < 3) return 0;
  const lap = new Float64Array((h - 2) * (w - 2));
  let k = 0;
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      const p = y * w + x;
      lap[k++] = 4 * luma[p] - luma[p - w] - luma[p + w] - luma[p - 1] - luma[p + 1];
    }
  }
  return meanAndVariance(lap, lap.length)[1];
}
