/** Pearson chi-square test of homogeneity: do two samples spread over the same categories in the same shares? */
import { regularizedGammaQ } from './special.js';

/**
 * Pearson's χ² on the 2×K table whose rows are the per-category counts `a` and `b`: Σ (O − E)² / E with
 * E = row total × column total / N, dof = K′ − 1 over the K′ categories with a non-zero total, and
 * p = Q(dof/2, χ²/2) (Pearson 1900; Agresti, Categorical Data Analysis, §3.2). With fewer than two categories
 * left, or an empty sample, there is nothing to compare: statistic 0, dof 0, p 1. Throws a RangeError on
 * lengths that differ or a negative or non-finite count.
 */
export function chiSquareHomogeneity(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
): { statistic: number; dof: number; pValue: number } {
  if (a.length !== b.length) {
    throw new RangeError(`chiSquareHomogeneity: ${a.length} categories in one sample, ${b.length} in the other.`);
  }
  let totalA = 0;
  let totalB = 0;
  let kept = 0;
  for (let k = 0; k < a.length; k++) {
    for (const c of [a[k], b[k]]) {
      if (!Number.isFinite(c) || c < 0) throw new RangeError(`chiSquareHomogeneity: count ${c} in category ${k}.`);
    }
    totalA += a[k];
    totalB += b[k];
    if (a[k] + b[k] > 0) kept++;
  }
  if (kept < 2 || totalA === 0 || totalB === 0) return { statistic: 0, dof: 0, pValue: 1 };

  const total = totalA + totalB;
  let statistic = 0;
  for (let k = 0; k < a.length; k++) {
    const column = a[k] + b[k];
    if (column === 0) continue;
    const expectedA = (totalA * column) / total;
    const expectedB = (totalB * column) / total;
    statistic += (a[k] - expectedA) ** 2 / expectedA + (b[k] - expectedB) ** 2 / expectedB;
  }
  const dof = kept - 1;
  return { statistic, dof, pValue: regularizedGammaQ(dof / 2, statistic / 2) };
}
