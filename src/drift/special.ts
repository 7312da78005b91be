/**
 * Special functions behind the drift tests' p-values: log-gamma, the upper regularized incomplete gamma function
 * (chi-square tail) and the Kolmogorov distribution's tail.
 */

// Lanczos approximation with g = 7 and nine coefficients (Lanczos 1964; coefficients as tabulated by
// P. Godfrey), relative error below 1e-15 for real arguments.
const LANCZOS_G = 7;
const LANCZOS_C = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];
const HALF_LOG_TWO_PI = 0.5 * Math.log(2 * Math.PI);
const EPS = 1e-16;
const TINY = 1e-300;
const MAX_ITERATIONS = 100_000;

/** ln|Γ(x)| by the Lanczos approximation, with the reflection formula below 0.5; +Infinity at 0, −1, −2, …. */
export function logGamma(x: number): number {
  if (Number.isNaN(x)) return NaN;
  // sin(πx) is not exactly 0 at negative integers in floating point, so the poles are caught here.
  if (x <= 0 && Number.isInteger(x)) return Infinity;
  if (x < 0.5) {
    // Γ(x) Γ(1 − x) = π / sin(πx).
    return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  }
  const z = x - 1;
  let a = LANCZOS_C[0];
  for (let k = 1; k < LANCZOS_C.length; k++) a += LANCZOS_C[k] / (z + k);
  const t = z + LANCZOS_G + 0.5;
  return HALF_LOG_TWO_PI + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/**
 * Q(s, x) = Γ(s, x) / Γ(s), the upper regularized incomplete gamma function, for s > 0 and x ≥ 0. The chi-square
 * survival function with k degrees of freedom is Q(k/2, χ²/2). Uses the power series of P = 1 − Q for x < s + 1
 * and a continued fraction (modified Lentz) for Q otherwise, each where it converges fast (Numerical Recipes 3rd
 * ed. §6.2; Abramowitz & Stegun 6.5.29 and 6.5.31).
 */
export function regularizedGammaQ(s: number, x: number): number {
  if (!(s > 0) || !Number.isFinite(s)) throw new RangeError(`regularizedGammaQ: s must be positive, got ${s}.`);
  if (!(x >= 0)) throw new RangeError(`regularizedGammaQ: x must be non-negative, got ${x}.`);
  if (x === 0) return 1;
  if (x === Infinity) return 0;
  // x^s e^{-x} / Γ(s), the prefactor shared by both expansions.
  const logPrefactor = s * Math.log(x) - x - logGamma(s);
  if (x < s + 1) return Math.min(1, Math.max(0, 1 - Math.exp(logPrefactor) * lowerSeries(s, x)));
  return Math.min(1, Math.max(0, Math.exp(logPrefactor) * upperFraction(s, x)));
}

/** Σ_{n≥0} x^n / (s (s+1) … (s+n)), so that P(s, x) = x^s e^{−x} / Γ(s) times this. */
function lowerSeries(s: number, x: number): number {
  let term = 1 / s;
  let sum = term;
  for (let n = 1; n < MAX_ITERATIONS; n++) {
    term *= x / (s + n);
    sum += term;
    if (Math.abs(term) < Math.abs(sum) * EPS) break;
  }
  return sum;
}

/** 1/(x+1−s− 1·(1−s)/(x+3−s− 2·(2−s)/(x+5−s− …))), so that Q(s, x) = x^s e^{−x} / Γ(s) times this. */
function upperFraction(s: number, x: number): number {
  let b = x + 1 - s;
  let c = 1 / TINY;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < MAX_ITERATIONS; i++) {
    const an = -i * (i - s);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < TINY) d = TINY;
    c = b + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPS) break;
  }
  return h;
}

/**
 * Q_KS(λ) = 2 Σ_{j≥1} (−1)^{j−1} e^{−2 j² λ²}, the tail of the Kolmogorov distribution (Numerical Recipes 3rd
 * ed. §6.14). Below λ = 1.18 the alternating series converges slowly, so the equivalent Jacobi-theta form
 * 1 − (√(2π)/λ) Σ_{j≥1} e^{−(2j−1)² π² / (8λ²)} is summed instead.
 */
export function ksSurvival(lambda: number): number {
  if (Number.isNaN(lambda)) return NaN;
  if (lambda <= 0) return 1;
  if (lambda < 1.18) {
    const y = Math.exp((-Math.PI * Math.PI) / (8 * lambda * lambda));
    let sum = 0;
    for (let j = 1; j < 100; j++) {
      const term = Math.pow(y, (2 * j - 1) * (2 * j - 1));
      sum += term;
      if (term <= sum * EPS) break;
    }
    return Math.min(1, Math.max(0, 1 - (Math.sqrt(2 * Math.PI) / lambda) * sum));
  }
  const x = Math.exp(-2 * lambda * lambda);
  let sum = 0;
  for (let j = 1; j < 100; j++) {
    const term = Math.pow(x, j * j);
    sum += j % 2 === 1 ? term : -term;
    if (term <= Math.abs(sum) * EPS) break;
  }
  return Math.min(1, Math.max(0, 2 * sum));
}
