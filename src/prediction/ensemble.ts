/**
 * Turns the softmax outputs of an ensemble's members into one prediction per instance, with the spread of the
 * members read as uncertainty. Predictive entropy splits into an aleatoric part (the members' own entropy,
 * averaged) and an epistemic part (mutual information between the label and the member, i.e. disagreement):
 * Houlsby et al. 2011, "Bayesian Active Learning for Classification and Preference Learning" (BALD), eq. 2;
 * Depeweg et al. 2018, "Decomposition of Uncertainty in Bayesian Deep Learning", eq. 14–15.
 */

/** The ensemble's answer for one instance, with how sure it is and why it is not surer. */
export interface InstancePrediction {
  /** Class with the highest mean probability; ties go to the lowest class index. */
  label: string;
  labelIndex: number;
  /** Mean probability of `label` over the members. */
  confidence: number;
  /** Mean probability over the members, per class name. */
  probabilities: Record<string, number>;
  /** The `topK` most probable classes, most probable first, ties by class index; present only when asked for. */
  topK?: { label: string; probability: number }[];
  uncertainty: {
    /** Population standard deviation (divides by M) across members of the chosen class's probability. */
    memberStd: number;
    /** Predictive entropy H(mean p), in nats. */
    entropy: number;
    /** Mean over members of H(p_m), in nats: the aleatoric part, noise every member sees. */
    expectedEntropy: number;
    /** entropy − expectedEntropy, in nats: the epistemic part, from members disagreeing. */
    mutualInformation: number;
    /** Fraction of members whose own most probable class is `label`. */
    agreement: number;
    /** entropy / ln K, in [0, 1]: 1 means the mean prediction is uniform. */
    normalizedEntropy: number;
  };
}

/** Options for {@link ensemblePredictions}. */
export interface EnsembleOptions {
  /** How many of the most probable classes to list (1..K); omitted → no `topK` field. */
  topK?: number;
}

/**
 * Averages M members' class probabilities (each a row-major N×K Float32Array of softmax rows) into N predictions
 * with member-disagreement uncertainty. Throws a RangeError when the shapes or options do not fit together.
 */
export function ensemblePredictions(
  memberProbs: Float32Array[],
  numInstances: number,
  classes: string[],
  opts: EnsembleOptions = {},
): InstancePrediction[] {
  validate(memberProbs, numInstances, classes, opts);
  const M = memberProbs.length;
  const K = classes.length;
  const logK = Math.log(K);
  const mean = new Float64Array(K);
  const predictions: InstancePrediction[] = [];

  for (let n = 0; n < numInstances; n++) {
    const offset = n * K;
    mean.fill(0);
    let expectedEntropy = 0;
    for (const probs of memberProbs) {
      for (let k = 0; k < K; k++) mean[k] += probs[offset + k];
      expectedEntropy += entropy(probs, offset, K);
    }
    for (let k = 0; k < K; k++) mean[k] /= M;
    expectedEntropy /= M;

    const labelIndex = argmax(mean, 0, K);
    const confidence = mean[labelIndex];
    let squaredDeviation = 0;
    let agreeing = 0;
    for (const probs of memberProbs) {
      const d = probs[offset + labelIndex] - confidence;
      squaredDeviation += d * d;
      if (argmax(probs, offset, K) === labelIndex) agreeing++;
    }

    const H = entropy(mean, 0, K);
    const probabilities: Record<string, number> = {};
    for (let k = 0; k < K; k++) probabilities[classes[k]] = mean[k];
    const prediction: InstancePrediction = {
      label: classes[labelIndex],
      labelIndex,
      confidence,
      probabilities,
      uncertainty: {
        memberStd: Math.sqrt(squaredDeviation / M),
        entropy: H,
        expectedEntropy,
        // Entropy is concave, so H(mean p) ≥ mean H(p_m) (Jensen); a negative difference is only rounding.
        mutualInformation: Math.max(0, H - expectedEntropy),
        agreement: agreeing / M,
        // Float32 softmax rows sum to one only within rounding, which can push the ratio a hair past 1.
        normalizedEntropy: Math.min(1, H / logK),
      },
    };
    if (opts.topK !== undefined) prediction.topK = topClasses(mean, classes, opts.topK);
    predictions.push(prediction);
  }
  return predictions;
}

/** Shannon entropy in nats of row `values[offset .. offset+K)`, taking 0·ln 0 as 0 (its limit). */
function entropy(values: ArrayLike<number>, offset: number, K: number): number {
  let h = 0;
  for (let k = 0; k < K; k++) {
    const p = values[offset + k];
    if (p > 0) h -= p * Math.log(p);
  }
  return h;
}

/** Index within the row of its largest value; the first one wins a tie. */
function argmax(values: ArrayLike<number>, offset: number, K: number): number {
  let best = 0;
  for (let k = 1; k < K; k++) if (values[offset + k] > values[offset + best]) best = k;
  return best;
}

/** The `count` most probable classes, most probable first, ties by class index. */
function topClasses(mean: Float64Array, classes: string[], count: number): { label: string; probability: number }[] {
  const order = Array.from(classes, (_, k) => k).sort((a, b) => mean[b] - mean[a] || a - b);
  return order.slice(0, count).map((k) => ({ label: classes[k], probability: mean[k] }));
}

function validate(memberProbs: Float32Array[], numInstances: number, classes: string[], opts: EnsembleOptions): void {
  const where = 'ensemblePredictions';
  if (memberProbs.length < 1) throw new RangeError(`${where}: no member outputs given; at least one member is needed.`);
  if (classes.length < 2) {
    throw new RangeError(`${where}: ${classes.length} class name(s) given; at least two are needed.`);
  }
  if (new Set(classes).size !== classes.length) {
    throw new RangeError(`${where}: class names must be distinct, since probabilities are keyed by name.`);
  }
  if (!Number.isInteger(numInstances) || numInstances < 0) {
    throw new RangeError(`${where}: numInstances must be a non-negative integer, got ${numInstances}.`);
  }
  const expected = numInstances * classes.length;
  memberProbs.forEach((probs, m) => {
    if (probs.length !== expected) {
      throw new RangeError(
        `${where}: member ${m} holds ${probs.length} values; expected ${numInstances} instances × ${classes.length} classes = ${expected}.`,
      );
    }
  });
  const { topK } = opts;
  if (topK !== undefined && (!Number.isInteger(topK) || topK < 1 || topK > classes.length)) {
    throw new RangeError(`${where}: topK must be an integer from 1 to ${classes.length} (the class count), got ${topK}.`);
  }
}
