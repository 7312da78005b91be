/** Effect size of a shift in one statistic, in units of its spread, so shifts of different statistics compare. */

/**
 * Cohen's d: (mean_cur − mean_ref) / s_pooled with s_pooled² = ((n₁−1)s₁² + (n₂−1)s₂²) / (n₁ + n₂ − 2) over the
 * sample (n − 1) variances (Cohen 1988, Statistical Power Analysis for the Behavioral Sciences, ch. 2). 0 when
 * the pooled standard deviation is 0 (both samples constant, or one value each). Throws a RangeError on an
 * empty sample.
 */
export function standardizedMeanDifference(reference: ArrayLike<number>, current: ArrayLike<number>): number {
  if (reference.length === 0 || current.length === 0) {
    throw new RangeError('standardizedMeanDifference: a sample is empty.');
  }
  const ref = meanAndSquares(reference);
  const cur = meanAndSquares(current);
  const dof = reference.length + current.length - 2;
  const pooled = dof > 0 ? Math.sqrt((ref.squares + cur.squares) / dof) : 0;
  return pooled > 0 ? (cur.mean - ref.mean) / pooled : 0;
}

/** Mean and sum of squared deviations from it, (n − 1) s², by two passes. */
function meanAndSquares(values: ArrayLike<number>): { mean: number; squares: number } {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  const mean = sum / values.length;
  let squares = 0;
  for (let i = 0; i < values.length; i++) squares += (values[i] - mean) ** 2;
  return { mean, squares };
}
