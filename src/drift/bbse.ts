/**
 * Black-box shift estimation (BBSE): estimates how the class priors moved between a labelled reference sample and
 * an unlabelled current one from the classifier's predictions alone (Lipton, Wang, Smola 2018, "Detecting and
 * Correcting for Label Shift with Black Box Predictors", ICML). Valid under label shift: p(x | y) unchanged.
 */

export interface LabelShiftInput {
  /** Predicted class of each reference (validation) sample. */
  refPredicted: ArrayLike<number>;
  /** True class of each reference sample. */
  refLabels: ArrayLike<number>;
  /** Predicted class of each current sample. */
  curPredicted: ArrayLike<number>;
  numClasses: number;
}

// Above this 1-norm condition number the direct solve is treated as unreliable and the ridge solve is used.
const MAX_CONDITION = 1e10;
// Ridge strength relative to the mean diagonal of ĈᵀĈ: small enough not to bias a well-posed solve noticeably.
const RIDGE = 1e-6;

/**
 * Solves Ĉ w = μ̂ (Lipton et al. 2018, the BBSE estimator ŵ = Ĉ⁻¹μ̂), Ĉ[i][j] = P̂(ŷ = i, y = j) on the reference and
 * μ̂[i] = P̂(ŷ = i) on the current sample: Gaussian elimination with partial pivoting, or the ridge normal equations
 * (ĈᵀĈ + λI) w = Ĉᵀμ̂ when Ĉ is singular, ill-conditioned or has a class missing from the reference. Negative
 * weights are clipped to 0, q_j = w_j p_j is renormalised to sum 1, and the returned weights are q_j / p_j.
 * A class absent from the reference gets weight 1 and prior 0. O(K³ + samples). Throws a RangeError on an empty
 * sample, mismatched lengths or a class outside 0..K−1.
 */
export function estimateLabelShift(input: LabelShiftInput): {
  referencePriors: number[];
  estimatedPriors: number[];
  weights: number[];
} {
  const { refPredicted, refLabels, curPredicted, numClasses: k } = input;
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`estimateLabelShift: numClasses must be ≥ 1, got ${k}.`);
  if (refPredicted.length !== refLabels.length) {
    throw new RangeError(`estimateLabelShift: ${refPredicted.length} predictions but ${refLabels.length} labels.`);
  }
  if (refLabels.length === 0 || curPredicted.length === 0) {
    throw new RangeError('estimateLabelShift: a sample is empty.');
  }

  const joint = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  const priors = new Array<number>(k).fill(0);
  const nRef = refLabels.length;
  for (let s = 0; s < nRef; s++) {
    const i = classIndex(refPredicted[s], k);
    const j = classIndex(refLabels[s], k);
    joint[i][j]++;
    priors[j]++;
  }
  const mu = new Array<number>(k).fill(0);
  for (let s = 0; s < curPredicted.length; s++) mu[classIndex(curPredicted[s], k)]++;
  // Counts become frequencies only now, so equal counts give exactly equal frequencies.
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) joint[i][j] /= nRef;
    priors[i] /= nRef;
    mu[i] /= curPredicted.length;
  }

  const present = priors.flatMap((p, j) => (p > 0 ? [j] : []));
  const c = joint.map((row) => present.map((j) => row[j]));
  const solved = (present.length === k ? directSolve(c, mu) : null) ?? ridgeSolve(c, mu);

  const q = new Array<number>(k).fill(0);
  present.forEach((j, t) => (q[j] = Math.max(0, solved[t]) * priors[j]));
  const sum = q.reduce((s, v) => s + v, 0);
  // Every weight clipped to 0 means the predictions carry no usable signal: report no shift rather than divide by 0.
  const estimatedPriors = sum > 0 ? q.map((v) => v / sum) : [...priors];
  const weights = priors.map((p, j) => (p > 0 ? estimatedPriors[j] / p : 1));
  return { referencePriors: priors, estimatedPriors, weights };
}

function classIndex(v: number, k: number): number {
  if (!Number.isInteger(v) || v < 0 || v >= k) {
    throw new RangeError(`estimateLabelShift: class ${v} is outside 0..${k - 1}.`);
  }
  return v;
}

/** A w = b for square A, or null when A is singular or its 1-norm condition number exceeds MAX_CONDITION. */
function directSolve(a: number[][], b: number[]): number[] | null {
  const lu = luFactor(a);
  if (!lu) return null;
  const n = a.length;
  // ‖A⁻¹‖₁ from the columns of A⁻¹; K is the number of classes, so the O(K³) is negligible.
  let invNorm = 0;
  for (let col = 0; col < n; col++) {
    const e = new Array<number>(n).fill(0);
    e[col] = 1;
    invNorm = Math.max(invNorm, luSolve(lu, e).reduce((s, v) => s + Math.abs(v), 0));
  }
  let norm = 0;
  for (let col = 0; col < n; col++) norm = Math.max(norm, a.reduce((s, row) => s + Math.abs(row[col]), 0));
  if (!(norm * invNorm <= MAX_CONDITION)) return null;
  return luSolve(lu, b);
}

/** (AᵀA + λI) w = Aᵀb with λ = RIDGE × mean diagonal of AᵀA (least squares when A is not square). */
function ridgeSolve(a: number[][], b: number[]): number[] {
  const cols = a[0]?.length ?? 0;
  const normal = Array.from({ length: cols }, (_, i) =>
    Array.from({ length: cols }, (_, j) => a.reduce((s, row) => s + row[i] * row[j], 0)),
  );
  const rhs = Array.from({ length: cols }, (_, i) => a.reduce((s, row, r) => s + row[i] * b[r], 0));
  const trace = normal.reduce((s, row, i) => s + row[i], 0);
  const lambda = (RIDGE * trace) / Math.max(1, cols) || RIDGE;
  normal.forEach((row, i) => (row[i] += lambda));
  const lu = luFactor(normal);
  return lu ? luSolve(lu, rhs) : new Array<number>(cols).fill(1);
}

interface Lu {
  m: number[][];
  pivot: number[];
}

/** LU factorisation with partial pivoting (Golub & Van Loan, Matrix Computations, §3.4); null on a zero pivot. */
function luFactor(a: number[][]): Lu | null {
  const n = a.length;
  const m = a.map((row) => [...row]);
  const pivot = Array.from({ length: n }, (_, i) => i);
  const scale = Math.max(...m.map((row) => Math.max(...row.map(Math.abs))));
  for (let col = 0; col < n; col++) {
    let best = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r][col]) > Math.abs(m[best][col])) best = r;
    if (!(Math.abs(m[best][col]) > scale * 1e-14)) return null;
    [m[col], m[best]] = [m[best], m[col]];
    [pivot[col], pivot[best]] = [pivot[best], pivot[col]];
    for (let r = col + 1; r < n; r++) {
      const f = (m[r][col] /= m[col][col]);
      for (let c = col + 1; c < n; c++) m[r][c] -= f * m[col][c];
    }
  }
  return { m, pivot };
}

function luSolve({ m, pivot }: Lu, b: number[]): number[] {
  const n = m.length;
  const x = pivot.map((p) => b[p]);
  for (let r = 0; r < n; r++) for (let c = 0; c < r; c++) x[r] -= m[r][c] * x[c];
  for (let r = n - 1; r >= 0; r--) {
    for (let c = r + 1; c < n; c++) x[r] -= m[r][c] * x[c];
    x[r] /= m[r][r];
  }
  return x;
}
