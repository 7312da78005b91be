/** Side-by-side histograms of one statistic in the reference and current samples, for drift reports. */

/**
 * Histograms of both samples over common equal-width edges spanning the smaller minimum to the larger maximum
 * (bins + 1 edges; a single repeated value gets a width-1 range centred on it). Bins are [edge_k, edge_k+1), the
 * last one closed; counts are fractions of each sample, so each side sums to 1 (all 0 for an empty side).
 * Throws a RangeError when both samples are empty, on a non-finite value or when bins is not a positive integer.
 */
export function pairedHistogram(
  name: string,
  reference: ArrayLike<number>,
  current: ArrayLike<number>,
  bins = 20,
): { name: string; edges: number[]; reference: number[]; current: number[] } {
  if (!Number.isInteger(bins) || bins < 1) {
    throw new RangeError(`pairedHistogram: bins must be a positive integer, got ${bins}.`);
  }
  if (reference.length + current.length === 0) throw new RangeError(`pairedHistogram: no values of ${name}.`);
  let lo = Infinity;
  let hi = -Infinity;
  for (const values of [reference, current]) {
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (!Number.isFinite(v)) throw new RangeError(`pairedHistogram: ${name} value ${i} is ${v}.`);
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  if (lo === hi) {
    lo -= 0.5;
    hi += 0.5;
  }
  const width = (hi - lo) / bins;
  const edges = Array.from({ length: bins + 1 }, (_, k) => (k === bins ? hi : lo + k * width));
  return {
    name,
    edges,
    reference: fractions(reference, lo, width, bins),
    current: fractions(current, lo, width, bins),
  };
}

function fractions(values: ArrayLike<number>, lo: number, width: number, bins: number): number[] {
  const out = new Array<number>(bins).fill(0);
  for (let i = 0; i < values.length; i++) {
    // The maximum lands on index `bins` and floating-point rounding can put a value one bin low or high; clamp.
    const k = Math.min(bins - 1, Math.max(0, Math.floor((values[i] - lo) / width)));
    out[k]++;
  }
  return values.length === 0 ? out : out.map((c) => c / values.length);
}
