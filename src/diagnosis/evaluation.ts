/**
 * Rules over an evaluation: how much of a difference between two models is seed noise, and whether the ensemble's
 * confidence can be taken at face value.
 */
import { pct, round, type Rule } from './diagnose.js';

/** Seed variance: the spread of member accuracies, and the smallest difference between two runs that is not noise. */
const seedVariance: Rule = ({ evaluation }) => {
  if (!evaluation || evaluation.members.length < 2) return [];
  const { mean, std } = evaluation.memberAccuracy;
  // Two single runs differ by noise with std σ√2; a difference under about 2σ√2 is not evidence of anything.
  const noise = 2 * std * Math.SQRT2;
  return [
    {
      rule: 'seed-variance',
      severity: std > 0.01 ? 'warning' : 'info',
      title: std > 0.01 ? 'Accuracy varies a lot from seed to seed' : 'How much accuracy varies from seed to seed',
      detail:
        `The ${evaluation.members.length} members differ only in their random seed, yet their accuracy is ${pct(mean)} ± ${pct(std)}. ` +
        `A difference below ${pct(noise)} between two single training runs is within seed noise, so do not compare settings on one run each. ` +
        `Averaging the members gains ${pct(evaluation.ensembleGain)} over the mean member.`,
      evidence: {
        members: evaluation.members.length,
        meanAccuracy: round(mean),
        std: round(std),
        noiseThreshold: round(noise),
        ensembleAccuracy: round(evaluation.accuracy),
        ensembleGain: round(evaluation.ensembleGain),
      },
      nextStep:
        std > 0.01
          ? 'Compare settings by the ensemble or by the mean of several seeds; a longer schedule with a decaying learning rate usually narrows the spread.'
          : 'Compare settings by the mean of several seeds, not by single runs.',
    },
  ];
};

/** Expected calibration error high enough that confidences mislead. */
const miscalibration: Rule = ({ evaluation }) => {
  if (!evaluation || evaluation.calibration.ece < 0.05) return [];
  const bins = evaluation.calibration.bins.filter((b) => b.count > 0 && b.confidence !== null && b.accuracy !== null);
  const total = bins.reduce((a, b) => a + b.count, 0);
  const over = bins.reduce((a, b) => a + b.count * (b.confidence! - b.accuracy!), 0) / Math.max(1, total);
  return [
    {
      rule: 'miscalibration',
      severity: evaluation.calibration.ece > 0.1 ? 'warning' : 'info',
      title: over > 0 ? 'The model is overconfident' : 'The model is underconfident',
      detail: `Expected calibration error is ${pct(evaluation.calibration.ece)}: on average its confidence is ${pct(Math.abs(over))} ${over > 0 ? 'above' : 'below'} how often it is right.`,
      evidence: { ece: round(evaluation.calibration.ece), mce: round(evaluation.calibration.mce), meanConfidenceMinusAccuracy: round(over) },
      nextStep: 'Do not use raw confidence as a probability; calibrate on the validation split (temperature scaling) or use more ensemble members.',
    },
  ];
};

export const evaluationRules: Rule[] = [seedVariance, miscalibration];
