import { describe, expect, it } from 'vitest';
import { diagnose, type DiagnosisInput } from '../../../src/diagnosis/diagnose.js';
import { bin, driftReport, driftTest, evaluation, healthy, member, members, overfit, profile, quietTests, rules, runConfig, withTests } from './builders.js';

const CLASSES = ['shirt', 'trouser', 'bag'];
const RANK = { critical: 0, warning: 1, info: 2 } as const;

/** A model with something to say in every rule group and at every severity. */
function troubled(): DiagnosisInput {
  const diverged = member(3, { loss: [2.1], accuracy: [0.3], valLoss: [2.0], valAccuracy: [0.31] }, {
    status: 'failed',
    error: { type: 'training-diverged', detail: 'Training diverged in epoch 2: the loss became NaN at step 5 (learning rate 0.05).' },
  });
  return {
    classes: CLASSES,
    config: runConfig({ learningRate: 0.05 }, 4),
    profile: profile({ shirt: 800, trouser: 800, bag: 240 }, { crossSplitGroups: 2, removedFromEvaluation: 2, labelConflicts: 1 }),
    members: [...[0, 1, 2].map((k) => member(k, overfit())), diverged],
    evaluation: evaluation({ memberAccuracies: [0.84, 0.87, 0.9], recall: { shirt: 0.9, trouser: 0.9, bag: 0.85 }, bins: [bin(0.9, 100, 0.95, 0.88)] }),
    drift: driftReport({
      tests: withTests(quietTests(), driftTest({ name: 'ks-image:brightness', family: 'image-statistics', pValue: 1e-8, threshold: 0.0125 / 3, effectSize: -1.5 })),
      uncertainty: { reference: { entropy: 0.3, mutualInformation: 0.04, confidence: 0.9 }, current: { entropy: 0.6, mutualInformation: 0.08, confidence: 0.8 } },
    }),
  };
}

describe('diagnose', () => {
  it('puts critical findings before warnings before information, keeping rule order within a severity', () => {
    const findings = diagnose(troubled());
    expect(rules(findings)).toEqual([
      // critical: training rules come first, then drift
      'learning-rate-too-high',
      'deployment-shift',
      // warning: training, data, evaluation, drift
      'overfitting',
      'label-conflicts',
      'too-little-data', // bag: 240 training images and the lowest recall
      'seed-variance',
      'uncertainty-rise',
      // info
      'class-imbalance',
      'leakage',
      'miscalibration',
    ]);
    const ranks = findings.map((f) => RANK[f.severity]);
    expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
  });

  it('gives every finding evidence that parses (no NaN or infinite numbers), a detail and a next step', () => {
    for (const f of diagnose(troubled())) {
      expect(Object.keys(f.evidence).length, f.rule).toBeGreaterThan(0);
      for (const v of Object.values(f.evidence)) if (typeof v === 'number') expect(Number.isFinite(v), `${f.rule}: ${v}`).toBe(true);
      expect(f.nextStep, f.rule).toMatch(/\w{3,}.*\w{3,}/);
    }
  });

  it('finds nothing to say about a healthy ensemble on balanced data but the seed spread and the quiet drift report', () => {
    const findings = diagnose({
      classes: CLASSES,
      config: runConfig(),
      profile: profile({ shirt: 800, trouser: 800, bag: 760 }),
      members: members(3, healthy()),
      evaluation: evaluation({ memberAccuracies: [0.88, 0.882, 0.885] }),
      drift: driftReport({}),
    });
    expect(rules(findings)).toEqual(['seed-variance', 'no-drift']);
    expect(findings.every((f) => f.severity === 'info')).toBe(true);
  });

  it('returns no findings when it knows nothing but the classes', () => {
    expect(diagnose({ classes: [] })).toEqual([]);
  });
});
