import { describe, expect, it } from 'vitest';
import { diagnose, type DiagnosisInput } from '../../../src/diagnosis/diagnose.js';
import { recallSlopePerDoubling } from '../../../src/diagnosis/data.js';
import { evaluation, findingsOf, member, only, profile, rules, runConfig } from './builders.js';

const CLASSES = ['shirt', 'trouser', 'bag'];
const run = (input: Omit<DiagnosisInput, 'classes'>) => diagnose({ classes: CLASSES, ...input });

/** 1000 / 1000 / 300 images over all splits (800 / 800 / 240 in training): 3.33× imbalance, every class ≥ 200. */
const imbalanced = () => profile({ shirt: 800, trouser: 800, bag: 240 });

describe('data diagnosis', () => {
  describe('class imbalance', () => {
    it('is information, with the counts, when there is no evaluation to show it costs anything', () => {
      const f = only(run({ profile: imbalanced(), config: runConfig() }), 'class-imbalance');
      expect(f.severity).toBe('info');
      expect(f.evidence).toEqual({
        imbalanceRatio: 3.33,
        minorityClass: 'bag',
        minorityCount: 300,
        majorityClass: 'shirt',
        majorityCount: 1000,
        classWeights: 'auto',
      });
      expect(f.detail).toMatch(/The largest class \(shirt\) has 3\.33× the images of the smallest \(bag\)/);
      expect(f.nextStep).toMatch(/macro F1/);
    });

    it('warns when the small class is the one the model misses, citing its recall against the mean', () => {
      const metrics = evaluation({ recall: { shirt: 0.95, trouser: 0.93, bag: 0.6 }, support: { shirt: 100, trouser: 100, bag: 30 } });
      const f = only(run({ profile: imbalanced(), evaluation: metrics, config: runConfig() }), 'class-imbalance');
      expect(f.severity).toBe('warning');
      expect(f.evidence).toMatchObject({ imbalanceRatio: 3.33, meanRecall: 0.8267, worstClass: 'bag', worstRecall: 0.6 });
      expect(f.detail).toMatch(/bag recall 60\.0% \(30 images\) against a mean recall of 82\.7%/);
      expect(f.nextStep).toMatch(/^Train with \{"training": \{"classWeights": "balanced"\}\}, /);
    });

    it('warns about every small class when several are small (300 / 100 / 100), worst first', () => {
      // No class here is below half the mean count (167 / 2), which used to make the warning unreachable.
      const p = profile({ shirt: 240, trouser: 80, bag: 80 });
      expect(p.imbalanceRatio).toBe(3);
      const metrics = evaluation({ recall: { shirt: 0.97, trouser: 0.6, bag: 0.62 } });
      const f = only(run({ profile: p, evaluation: metrics }), 'class-imbalance');
      expect(f.severity).toBe('warning');
      expect(f.evidence).toMatchObject({ meanRecall: 0.73, worstClass: 'trouser', worstRecall: 0.6, classWeights: null });
      expect(f.detail).toMatch(/trouser recall 60\.0% \(100 images\), bag recall 62\.0% \(100 images\)/);
    });

    it('points at more data when balanced class weights are already on', () => {
      const metrics = evaluation({ recall: { shirt: 0.95, trouser: 0.93, bag: 0.6 } });
      const f = only(run({ profile: imbalanced(), evaluation: metrics, config: runConfig({ classWeights: 'balanced' }) }), 'class-imbalance');
      expect(f.evidence.classWeights).toBe('balanced');
      expect(f.nextStep).toMatch(/already on: collect more images of bag/);
    });

    it('stays information when the small class fares as well as the others', () => {
      const metrics = evaluation({ recall: { shirt: 0.9, trouser: 0.88, bag: 0.85 } });
      expect(only(run({ profile: imbalanced(), evaluation: metrics }), 'class-imbalance').severity).toBe('info');
    });

    it('says nothing below a 3× ratio, even when a class has poor recall', () => {
      const p = profile({ shirt: 800, trouser: 800, bag: 280 });
      expect(p.imbalanceRatio).toBeCloseTo(2.857, 3);
      const metrics = evaluation({ recall: { shirt: 0.95, trouser: 0.93, bag: 0.5 } });
      expect(rules(run({ profile: p, evaluation: metrics }))).not.toContain('class-imbalance');
    });
  });

  describe('leakage and label conflicts', () => {
    it('reports duplicates removed from validation and test as information, with the counts', () => {
      const f = only(run({ profile: profile({ shirt: 800, trouser: 800 }, { crossSplitGroups: 4, removedFromEvaluation: 5 }) }), 'leakage');
      expect(f.severity).toBe('info');
      expect(f.evidence).toEqual({ crossSplitGroups: 4, removedFromEvaluation: 5, duplicateImages: 8 });
      expect(f.detail).toMatch(/^4 groups .* 5 copies were removed/);
    });

    it('warns about duplicates with different labels', () => {
      const f = only(run({ profile: profile({ shirt: 800, trouser: 800 }, { labelConflicts: 3 }) }), 'label-conflicts');
      expect(f.severity).toBe('warning');
      expect(f.evidence).toEqual({ labelConflicts: 3 });
      expect(f.detail).toMatch(/^3 groups of duplicate images have more than one label/);
      expect(f.nextStep).toMatch(/labelConflictExamples/);
    });

    it('says nothing about a dataset without duplicates', () => {
      expect(run({ profile: profile({ shirt: 800, trouser: 800 }) })).toEqual([]);
    });
  });

  describe('too little data', () => {
    it('warns when the smallest class has fewer than 50 training images', () => {
      const f = only(run({ profile: profile({ shirt: 800, trouser: 40 }) }), 'too-little-data');
      expect(f.severity).toBe('warning');
      expect(f.evidence).toEqual({ smallestClass: 'trouser', smallestTrainCount: 40, trainImages: 840, trainValGap: null, recallSlopePerDoubling: null });
      expect(f.detail).toMatch(/^The smallest class \(trouser\) has 40 training images;/);
      expect(f.nextStep).toMatch(/starting with trouser/);
    });

    it('is information for 150 images a class while training and validation accuracy agree', () => {
      const ms = [0.9, 0.92].map((a, k) => member(k, { loss: [0.5], accuracy: [a], valLoss: [0.55], valAccuracy: [a - 0.02] }));
      const f = only(run({ profile: profile({ shirt: 150, trouser: 150 }), members: ms }), 'too-little-data');
      expect(f.severity).toBe('info');
      expect(f.evidence.trainValGap).toBe(0.02);
    });

    it('warns for 150 images a class when training accuracy ends 12 points above validation, on average over members', () => {
      const gaps = [0.1, 0.14];
      const ms = gaps.map((g, k) => member(k, { loss: [0.9, 0.3], accuracy: [0.7, 0.97], valLoss: [0.9, 0.6], valAccuracy: [0.7, 0.97 - g] }));
      const f = only(run({ profile: profile({ shirt: 150, trouser: 150 }), members: ms }), 'too-little-data');
      expect(f.severity).toBe('warning');
      expect(f.evidence.trainValGap).toBe(0.12);
      expect(f.detail).toMatch(/training accuracy ends 12\.0% above validation accuracy/);
    });

    it('says nothing once every class has 200 training images', () => {
      expect(rules(run({ profile: profile({ shirt: 800, trouser: 200 }) }))).not.toContain('too-little-data');
    });

    it('reads a learning curve across classes: recall rising with a class\'s training images fires even with 200+ per class', () => {
      const train = { a: 250, b: 500, c: 1000, d: 2000 };
      const recall = { a: 0.6, b: 0.7, c: 0.8, d: 0.9 };
      const f = only(run({ profile: profile(train), evaluation: evaluation({ recall }) }), 'too-little-data');
      expect(f.evidence.recallSlopePerDoubling).toBeCloseTo(0.1, 10);
      expect(f.severity).toBe('warning');
      expect(f.detail).toMatch(/recall rises 10\.0% per doubling/);
      expect(recallSlopePerDoubling([{ class: 'a', recall: 0.6 }, { class: 'b', recall: 0.7 }], train)).toBeNull(); // two classes
    });

    it('stays silent when recall does not follow the class sizes', () => {
      const train = { a: 250, b: 500, c: 1000, d: 2000 };
      const recall = { a: 0.9, b: 0.7, c: 0.9, d: 0.7 };
      expect(rules(run({ profile: profile(train), evaluation: evaluation({ recall }) }))).not.toContain('too-little-data');
    });
  });

  it('stays silent without a profile', () => {
    expect(findingsOf(run({ evaluation: evaluation({}) }), 'class-imbalance')).toEqual([]);
    expect(rules(run({}))).toEqual([]);
  });
});
