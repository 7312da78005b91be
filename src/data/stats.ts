/** Dataset statistics. Callers pass training-split indices only, so evaluation data never shapes normalisation. */

/**
 * Per-channel mean and population standard deviation of the given samples, on a [0, 1] scale.
 *
 * Pixels are counted into a 256-bin histogram per channel (exact integer counts), then the mean and the
 * centred second moment are taken over the bins: two-pass accuracy with no per-pixel cancellation, in
 * O(pixels + 256). Throws a RangeError when `indices` is empty, since there is nothing to normalise by.
 */
export function channelStats(
  pixels: Uint8Array,
  sampleBytes: number,
  channels: number,
  indices: ArrayLike<number>,
): { mean: number[]; std: number[] } {
  if (indices.length === 0) throw new RangeError('channelStats: no samples given.');
  if (sampleBytes % channels !== 0) {
    throw new RangeError(`channelStats: ${sampleBytes} bytes per sample is not whole ${channels}-channel pixels.`);
  }
  const histograms = Array.from({ length: channels }, () => new Float64Array(256));
  for (let n = 0; n < indices.length; n++) {
    const start = indices[n] * sampleBytes;
    const end = start + sampleBytes;
    if (end > pixels.length) throw new RangeError(`channelStats: sample ${indices[n]} is past the end of the pixels.`);
    for (let c = 0; c < channels; c++) {
      const h = histograms[c];
      for (let k = start + c; k < end; k += channels) h[pixels[k]]++;
    }
  }

  const total = indices.length * (sampleBytes / channels);
  const mean: number[] = [];
  const std: number[] = [];
  for (const h of histograms) {
    let sum = 0;
    for (let v = 0; v < 256; v++) sum += v * h[v];
    const m = sum / total;
    let sq = 0;
    for (let v = 0; v < 256; v++) sq += h[v] * (v - m) * (v - m);
    mean.push(m / 255);
    std.push(Math.sqrt(sq / total) / 255);
  }
  return { mean, std };
}

/** Min, max, mean and median of a list; an empty list gives count 0 and NaN for the rest. */
export function summarize(values: ArrayLike<number>): {
  min: number;
  max: number;
  mean: number;
  median: number;
  count: number;
} {
  const count = values.length;
  if (count === 0) return { min: NaN, max: NaN, mean: NaN, median: NaN, count };
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (let i = 0; i < count; i++) sum += sorted[i];
  const mid = count >> 1;
  const median = count % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { min: sorted[0], max: sorted[count - 1], mean: sum / count, median, count };
}

/** Mean and sample standard deviation (n − 1; 0 for fewer than two values): the spread of seeds one could have drawn. */
export function meanAndSampleStd(values: ArrayLike<number>): { mean: number; std: number } {
  const n = values.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += values[i];
  const mean = sum / n;
  if (n < 2) return { mean, std: 0 };
  let sq = 0;
  for (let i = 0; i < n; i++) sq += (values[i] - mean) ** 2;
  return { mean, std: Math.sqrt(sq / (n - 1)) };
}

/**
 * Largest class count over the smallest, among classes with at least one sample (1 means balanced). Empty
 * classes are left out so the ratio stays a finite, comparable number; callers flag empty classes separately.
 * NaN when no class has a sample.
 */
export function imbalanceRatio(counts: number[]): number {
  const present = counts.filter((n) => n > 0);
  if (present.length === 0) return NaN;
  return Math.max(...present) / Math.min(...present);
}
