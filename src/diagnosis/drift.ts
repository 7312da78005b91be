/**
 * Rules over a drift report: whether deployment data differs from validation data, which test saw it and what
 * changed (in words a person can check on the images), whether the class mix moved, and whether the model is less
 * sure of itself than it was on validation data.
 */
import type { DriftTest, Finding } from '../storage/report-manifests.js';
import { pct, round, type Rule } from './diagnose.js';

/** How a change in one image statistic reads, by the sign of its effect size. */
const WORDS: Record<string, [string, string]> = {
  brightness: ['brighter', 'darker'],
  contrast: ['higher in contrast', 'lower in contrast'],
  sharpness: ['sharper (or noisier)', 'blurrier'],
  'mean-red': ['redder', 'less red'],
  'mean-green': ['greener', 'less green'],
  'mean-blue': ['bluer', 'less blue'],
};

/** The augmentation that teaches a model to ignore each kind of change. */
const CURES: Record<string, string> = {
  brightness: 'augmentation.brightness',
  contrast: 'augmentation.contrast',
  sharpness: 'augmentation.gaussianNoise for noisier images, or blurred copies for blurrier ones',
  'mean-red': 'colour jitter',
  'mean-green': 'colour jitter',
  'mean-blue': 'colour jitter',
};

function describe(t: DriftTest): string {
  const stat = t.name.replace(/^ks-image:/, '');
  const [up, down] = WORDS[stat] ?? [`higher in ${stat}`, `lower in ${stat}`];
  // Without an effect size the test says only that the distribution changed, not which way.
  if (t.effectSize == null) return `different in ${stat} (its distribution changed; no effect size was recorded)`;
  const size = t.effectSize;
  return `${size >= 0 ? up : down} (${stat} shifted ${Math.abs(size).toFixed(2)} reference standard deviations)`;
}

const deploymentShift: Rule = ({ drift }) => {
  if (!drift || drift.driftDetected === undefined) return [];
  const voted = drift.tests.filter((t) => t.inVerdict);
  if (!drift.driftDetected) {
    return [
      {
        rule: 'no-drift',
        severity: 'info',
        title: 'No drift detected',
        detail: `None of the ${voted.length} tests found the current data different from the validation data at significance ${drift.alpha} (Bonferroni-corrected).`,
        evidence: { tests: voted.length, alpha: drift.alpha, smallestPValue: round(Math.min(...voted.map((t) => t.pValue), 1), 6) },
        nextStep: 'Nothing to do; keep the scheduled drift report running.',
      },
    ];
  }
  const flagged = voted.filter((t) => t.drift);
  const images = drift.tests.filter((t) => t.family === 'image-statistics' && t.drift).sort((a, b) => Math.abs(b.effectSize ?? 0) - Math.abs(a.effectSize ?? 0));
  const families = [...new Set(flagged.map((t) => t.family))];
  const what = images.length > 0 ? ` The current images are ${images.slice(0, 3).map(describe).join('; ')}.` : '';
  return [
    {
      rule: 'deployment-shift',
      severity: 'critical',
      title: 'Deployment data differs from the validation data',
      detail:
        `${flagged.length} test(s) flag drift (${families.join(', ')}): ${flagged.slice(0, 4).map((t) => `${t.name} p=${t.pValue.toPrecision(2)}`).join(', ')}.${what} ` +
        'Validation accuracy no longer predicts accuracy on this data.',
      evidence: {
        testsFlagged: flagged.length,
        tests: voted.length,
        families: families.join(', '),
        // A verdict with no flagged voting test (a report edited by hand or cut short) must not throw here.
        strongestTest: flagged.length > 0 ? flagged.reduce((a, b) => (b.pValue < a.pValue ? b : a)).name : null,
        largestImageChange: images[0]?.name ?? null,
        largestEffectSize: images[0]?.effectSize == null ? null : round(images[0].effectSize),
      },
      nextStep:
        'Label a sample of the current data and evaluate on it (POST /v1/evaluations); ' +
        (images.length > 0 ? `train with augmentation that covers the change (${CURES[images[0].name.replace(/^ks-image:/, '')] ?? 'brightness and contrast'}) and ` : '') +
        'retrain with current images included.',
    },
  ];
};

const labelShift: Rule = ({ drift }) => {
  const change = drift?.labelShift?.largestChanges[0];
  if (!drift?.labelShift || !change || Math.abs(change.estimated - change.reference) < 0.05) return [];
  // BBSE always returns an estimate, and its noise alone moves some prior by 0.05 in about a third of reports on 400
  // unchanged images of 10 classes (most reports on 120); the mix has changed only when the predicted labels or the
  // class probabilities tested different.
  if (!drift.tests.some((t) => (t.family === 'labels' || t.family === 'prediction') && t.drift)) return [];
  const moved = drift.labelShift.largestChanges.filter((c) => Math.abs(c.estimated - c.reference) >= 0.05).slice(0, 3);
  // BBSE assumes only the class mix moved (p(x | y) unchanged). When the images themselves changed, a darker camera
  // for instance, the predicted labels move for that reason too and the estimate is no longer a class mix.
  const imagesChanged = drift.tests.some((t) => (t.family === 'image-statistics' || t.family === 'input') && t.drift);
  return [
    {
      rule: 'label-shift',
      severity: imagesChanged ? 'info' : 'warning',
      title: imagesChanged ? 'The predicted class mix has changed (the images changed too)' : 'The class mix has changed',
      detail:
        `Black-box shift estimation puts the current class priors at ${moved.map((c) => `${c.class} ${pct(c.estimated)} (was ${pct(c.reference)})`).join(', ')}.` +
        (imagesChanged
          ? ' The images themselves also changed, which breaks the estimate\'s assumption that only the class mix moved: read it as where the model\'s predictions went, not as the true mix.'
          : ''),
      evidence: Object.fromEntries(moved.flatMap((c) => [[`${c.class}:reference`, round(c.reference)], [`${c.class}:estimated`, round(c.estimated)]])),
      nextStep: 'If the new mix is the real one, re-weight the classes to it (importance weights from the report) or retrain with data in the new proportions.',
    },
  ];
};

const uncertaintyRise: Rule = ({ drift }) => {
  const u = drift?.uncertainty;
  if (!u || u.current.entropy < u.reference.entropy * 1.25 + 0.02) return [];
  const out: Finding[] = [
    {
      rule: 'uncertainty-rise',
      severity: 'warning',
      title: 'The model is less sure on current data',
      detail:
        `Mean predictive entropy rose from ${u.reference.entropy.toFixed(3)} to ${u.current.entropy.toFixed(3)} nats and member disagreement (mutual information) ` +
        `from ${u.reference.mutualInformation.toFixed(3)} to ${u.current.mutualInformation.toFixed(3)}; mean confidence fell from ${pct(u.reference.confidence)} to ${pct(u.current.confidence)}.`,
      evidence: {
        referenceEntropy: round(u.reference.entropy),
        currentEntropy: round(u.current.entropy),
        referenceDisagreement: round(u.reference.mutualInformation),
        currentDisagreement: round(u.current.mutualInformation),
      },
      nextStep: 'Route low-confidence or high-disagreement predictions to a person, and label some of them for retraining.',
    },
  ];
  return out;
};

export const driftRules: Rule[] = [deploymentShift, labelShift, uncertaintyRise];
