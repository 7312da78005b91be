import { describe, expect, it } from 'vitest';
import { diagnose } from '../../../src/diagnosis/diagnose.js';
import type { DriftReport } from '../../../src/storage/report-manifests.js';
import { driftReport, driftTest, only, quietTests, rules, withTests } from './builders.js';

const run = (report: DriftReport) => diagnose({ classes: ['shirt', 'trouser'], drift: report });
const image = (stat: string, pValue: number, effectSize: number | null) =>
  driftTest({ name: `ks-image:${stat}`, family: 'image-statistics', pValue, threshold: 0.0125 / 3, effectSize });

describe('drift diagnosis', () => {
  describe('deployment shift', () => {
    it('reports no drift as information, counting only the voting tests and their smallest p-value', () => {
      const f = only(run(driftReport({})), 'no-drift');
      expect(f.severity).toBe('info');
      expect(f.evidence).toEqual({ tests: 7, alpha: 0.05, smallestPValue: 0.18 });
      expect(f.detail).toBe('None of the 7 tests found the current data different from the validation data at significance 0.05 (Bonferroni-corrected).');
    });

    it('does not count an uncertainty test below α as drift', () => {
      const tests = withTests(quietTests(), driftTest({ name: 'ks-uncertainty:entropy', family: 'uncertainty', pValue: 0.001, threshold: 0.05, effectSize: 0.6 }));
      const f = only(run(driftReport({ tests })), 'no-drift');
      expect(f.evidence).toEqual({ tests: 7, alpha: 0.05, smallestPValue: 0.18 });
    });

    it('is critical when images got darker, saying "darker" for a negative brightness effect size', () => {
      const tests = withTests(quietTests(), image('brightness', 1e-6, -1.2), image('contrast', 0.001, -0.4));
      const f = only(run(driftReport({ tests })), 'deployment-shift');
      expect(f.severity).toBe('critical');
      expect(f.evidence).toEqual({
        testsFlagged: 2,
        tests: 7,
        families: 'image-statistics',
        strongestTest: 'ks-image:brightness',
        largestImageChange: 'ks-image:brightness',
        largestEffectSize: -1.2,
      });
      expect(f.detail).toMatch(/^2 test\(s\) flag drift \(image-statistics\): ks-image:brightness p=0\.0000010, ks-image:contrast p=0\.0010\./);
      expect(f.detail).toMatch(
        /The current images are darker \(brightness shifted 1\.20 reference standard deviations\); lower in contrast \(contrast shifted 0\.40 reference standard deviations\)\./,
      );
      expect(f.nextStep).toMatch(/augmentation\.brightness/);
    });

    it('reads the sign of each statistic: brighter, blurrier, and "higher in" for a statistic it has no words for', () => {
      const tests = [...withTests(quietTests(), image('brightness', 1e-5, 0.9), image('sharpness', 1e-4, -0.7)), image('mean-alpha', 1e-3, 0.5)];
      const f = only(run(driftReport({ tests })), 'deployment-shift');
      expect(f.detail).toMatch(/brighter \(brightness shifted 0\.90 .*\); blurrier \(sharpness shifted 0\.70 .*\); higher in mean-alpha \(mean-alpha shifted 0\.50/);
      expect(f.detail).not.toMatch(/darker|sharper/);
    });

    it('does not guess a direction for an image test without an effect size', () => {
      const f = only(run(driftReport({ tests: withTests(quietTests(), image('brightness', 1e-6, null)) })), 'deployment-shift');
      expect(f.detail).toMatch(/The current images are different in brightness/);
      expect(f.detail).not.toMatch(/brighter|darker/);
      expect(f.evidence.largestEffectSize).toBeNull();
    });

    it('names the families and the strongest test when the predictions moved, and suggests labelling an evaluation set', () => {
      const tests = withTests(
        quietTests(),
        driftTest({ name: 'ks-probability:shirt', family: 'prediction', pValue: 0.002, threshold: 0.00625, effectSize: 0.5 }),
        driftTest({ name: 'chi-square-labels', family: 'labels', pValue: 1e-4, threshold: 0.0125, effectSize: null }),
      );
      const f = only(run(driftReport({ tests })), 'deployment-shift');
      expect(f.evidence).toMatchObject({ testsFlagged: 2, families: 'prediction, labels', strongestTest: 'chi-square-labels', largestImageChange: null });
      expect(f.nextStep).toMatch(/POST \/v1\/evaluations/);
    });

    it('says nothing about a report that has not finished', () => {
      expect(run(driftReport({ driftDetected: null }))).toEqual([]);
    });

    it('does not throw on a verdict of drift that no voting test supports', () => {
      const f = only(run(driftReport({ driftDetected: true })), 'deployment-shift');
      expect(f.evidence).toMatchObject({ testsFlagged: 0, strongestTest: null });
    });
  });

  describe('label shift', () => {
    const moved = [
      { class: 'shirt', reference: 0.5, estimated: 0.62 },
      { class: 'trouser', reference: 0.5, estimated: 0.38 },
    ];
    const labelsFlagged = () => withTests(quietTests(), driftTest({ name: 'chi-square-labels', family: 'labels', pValue: 1e-5, threshold: 0.0125, effectSize: null }));

    it('warns with the estimated and reference priors of the classes that moved by 5 points or more', () => {
      const f = only(run(driftReport({ tests: labelsFlagged(), labelShift: [...moved, { class: 'bag', reference: 0.1, estimated: 0.13 }] })), 'label-shift');
      expect(f.severity).toBe('warning');
      expect(f.evidence).toEqual({ 'shirt:reference': 0.5, 'shirt:estimated': 0.62, 'trouser:reference': 0.5, 'trouser:estimated': 0.38 });
      expect(f.detail).toBe('Black-box shift estimation puts the current class priors at shirt 62.0% (was 50.0%), trouser 38.0% (was 50.0%).');
    });

    it('says nothing when no prior moved by 5 points', () => {
      const small = [{ class: 'shirt', reference: 0.5, estimated: 0.54 }];
      expect(rules(run(driftReport({ tests: labelsFlagged(), labelShift: small })))).not.toContain('label-shift');
    });

    it('says nothing when neither the label test nor a prediction test saw a change: the estimate moved by noise', () => {
      const report = driftReport({ labelShift: moved });
      expect(rules(run(report))).toEqual(['no-drift']);
    });

    it('downgrades to information, with the caveat, when the images changed too (the estimate assumes they did not)', () => {
      const tests = withTests(
        labelsFlagged(),
        driftTest({ name: 'ks-image:brightness', family: 'image-statistics', pValue: 1e-9, threshold: 0.004, effectSize: -1.2 }),
      );
      const f = only(run(driftReport({ tests, labelShift: moved })), 'label-shift');
      expect(f.severity).toBe('info');
      expect(f.detail).toMatch(/images themselves also changed/);
    });

    it('warns when a prediction test saw the change though the label test did not', () => {
      const tests = withTests(quietTests(), driftTest({ name: 'ks-probability:shirt', family: 'prediction', pValue: 1e-4, threshold: 0.00625, effectSize: 0.6 }));
      expect(rules(run(driftReport({ tests, labelShift: moved })))).toEqual(['deployment-shift', 'label-shift']);
    });
  });

  describe('uncertainty rise', () => {
    const reference = { entropy: 0.4, mutualInformation: 0.05, confidence: 0.85 };

    it('warns when mean entropy rose by a quarter and more, citing both sides', () => {
      const f = only(run(driftReport({ uncertainty: { reference, current: { entropy: 0.62, mutualInformation: 0.09, confidence: 0.76 } } })), 'uncertainty-rise');
      expect(f.severity).toBe('warning');
      expect(f.evidence).toEqual({ referenceEntropy: 0.4, currentEntropy: 0.62, referenceDisagreement: 0.05, currentDisagreement: 0.09 });
      expect(f.detail).toBe(
        'Mean predictive entropy rose from 0.400 to 0.620 nats and member disagreement (mutual information) from 0.050 to 0.090; mean confidence fell from 85.0% to 76.0%.',
      );
    });

    it('says nothing for a rise below 25% + 0.02 nats (0.52 from 0.40)', () => {
      const uncertainty = { reference, current: { entropy: 0.51, mutualInformation: 0.06, confidence: 0.83 } };
      expect(rules(run(driftReport({ uncertainty })))).not.toContain('uncertainty-rise');
    });
  });
});
