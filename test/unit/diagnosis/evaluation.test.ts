import { describe, expect, it } from 'vitest';
import { diagnose } from '../../../src/diagnosis/diagnose.js';
import type { EvaluationMetrics } from '../../../src/storage/report-manifests.js';
import { bin, evaluation, only, rules } from './builders.js';

const run = (metrics: EvaluationMetrics) => diagnose({ classes: ['shirt', 'trouser'], evaluation: metrics });

describe('evaluation diagnosis', () => {
  describe('seed variance', () => {
    it('warns when member accuracies spread by more than a point, and says which differences are noise', () => {
      const f = only(run(evaluation({ memberAccuracies: [0.85, 0.87, 0.89], accuracy: 0.9 })), 'seed-variance');
      expect(f.severity).toBe('warning');
      // Sample std 0.02; two single runs differ by noise with std 0.02·√2, so 2·0.02·√2 = 0.0566 is the noise bar.
      expect(f.evidence).toEqual({ members: 3, meanAccuracy: 0.87, std: 0.02, noiseThreshold: 0.0566, ensembleAccuracy: 0.9, ensembleGain: 0.03 });
      expect(f.detail).toMatch(/The 3 members .* accuracy is 87\.0% ± 2\.0%\. A difference below 5\.7% .* gains 3\.0% over the mean member\./);
      expect(f.nextStep).toMatch(/ensemble or by the mean of several seeds/);
    });

    it('is information when the members agree within a point', () => {
      const f = only(run(evaluation({ memberAccuracies: [0.88, 0.882, 0.884] })), 'seed-variance');
      expect(f.severity).toBe('info');
      expect(f.evidence.std).toBe(0.002);
      expect(f.title).toBe('How much accuracy varies from seed to seed');
    });

    it('says nothing about a single model', () => {
      expect(rules(run(evaluation({ memberAccuracies: [0.88] })))).toEqual([]);
    });
  });

  describe('miscalibration', () => {
    it('warns that the model is overconfident when confidence exceeds accuracy and ECE is above 10%', () => {
      const metrics = evaluation({ bins: [bin(0.5, 100, 0.55, 0.5), bin(0.9, 200, 0.95, 0.8)] });
      // ECE = (100 · 0.05 + 200 · 0.15) / 300 = 0.1167; every bin is overconfident, so the signed mean equals it.
      const f = only(run(metrics), 'miscalibration');
      expect(f.severity).toBe('warning');
      expect(f.title).toBe('The model is overconfident');
      expect(f.evidence).toEqual({ ece: 0.1167, mce: 0.15, meanConfidenceMinusAccuracy: 0.1167 });
      expect(f.detail).toBe('Expected calibration error is 11.7%: on average its confidence is 11.7% above how often it is right.');
      expect(f.nextStep).toMatch(/temperature scaling/);
    });

    it('is information, and says underconfident, for an ECE between 5% and 10% with accuracy above confidence', () => {
      const f = only(run(evaluation({ bins: [bin(0.6, 100, 0.65, 0.72), bin(0.7, 100, 0.75, 0.81)] })), 'miscalibration');
      expect(f.severity).toBe('info');
      expect(f.title).toBe('The model is underconfident');
      expect(f.evidence).toEqual({ ece: 0.065, mce: 0.07, meanConfidenceMinusAccuracy: -0.065 });
      expect(f.detail).toMatch(/6\.5% below how often it is right/);
    });

    it('says nothing below an ECE of 5%', () => {
      expect(rules(run(evaluation({ bins: [bin(0.8, 100, 0.85, 0.81), bin(0.9, 100, 0.95, 0.94)] })))).not.toContain('miscalibration');
    });

    it('weighs the bins by their counts and ignores empty ones', () => {
      const empty = { lower: 0.1, upper: 0.2, count: 0, confidence: null, accuracy: null };
      const metrics = evaluation({ bins: [bin(0.5, 300, 0.55, 0.45), bin(0.9, 100, 0.95, 0.99)] });
      metrics.calibration.bins.unshift(empty);
      // (300 · 0.10 − 100 · 0.04) / 400 = 0.065 overconfident on balance, though ECE is (30 + 4) / 400 = 0.085.
      const f = only(run(metrics), 'miscalibration');
      expect(f.evidence).toMatchObject({ ece: 0.085, meanConfidenceMinusAccuracy: 0.065 });
      expect(f.title).toBe('The model is overconfident');
    });
  });
});
