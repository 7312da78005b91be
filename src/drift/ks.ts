/** Two-sample Kolmogorov–Smirnov test: does one numeric feature have the same distribution in two samples? */
import { ksSurvival } from './special.js';

/**
 * D = sup_x |F_a(x) − F_b(x)| over the two empirical CDFs, with the asymptotic p-value and Stephens' small-sample
 * correction p = Q_KS((√nₑ + 0.12 + 0.11/√nₑ) D), nₑ = nm/(n+m) (Numerical Recipes 3rd ed. §14.3.3; Stephens
 * 1970). Ties are handled by stepping both ECDFs past an equal value together. O((n+m) log(n+m)). Throws a
 * RangeError on an empty sample or a NaN value.
 */
export function ksTwoSample(a: ArrayLike<number>, b: ArrayLike<number>): { statistic: number; pValue: number } {
  const x = sortedCopy(a, 'first');
  const y = sortedCopy(b, 'second');
  const n = x.length;
  const m = y.length;

  let i = 0;
  let j = 0;
  let d = 0;
  while (i < n && j < m) {
    const v = Math.min(x[i], y[j]);
    while (i < n && x[i] <= v) i++;
    while (j < m && y[j] <= v) j++;
    d = Math.max(d, Math.abs(i / n - j / m));
  }
  // Once one sample is used up its ECDF is 1 and the other's only rises towards 1, so the gap cannot grow.

  const ne = Math.sqrt((n * m) / (n + m));
  const pValue = ksSurvival((ne + 0.12 + 0.11 / ne) * d);
  return { statistic: d, pValue: Math.min(1, Math.max(0, pValue)) };
}

function sortedCopy(values: ArrayLike<number>, which: string): Float64Array {
  if (values.length === 0) throw new RangeError(`ksTwoSample: the ${which} sample is empty.`);
  const out = Float64Array.from(values);
  for (let k = 0; k < out.length; k++) {
    if (Number.isNaN(out[k])) throw new RangeError(`ksTwoSample: value ${k} of the ${which} sample is NaN.`);
  }
  return out.sort();
}
