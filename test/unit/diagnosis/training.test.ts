import { describe, expect, it } from 'vitest';
import { diagnose } from '../../../src/diagnosis/diagnose.js';
import type { MemberRecord, RunConfig } from '../../../src/storage/training-manifests.js';
import { healthy, member, members, only, overfit, rules, runConfig, type Curves } from './builders.js';

const TEN = ['T-shirt', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Boot'];
const TRAINING_RULES = ['overfitting', 'underfitting', 'learning-rate-too-high', 'learning-rate-too-low', 'early-stopping-too-early'];

const run = (ms: MemberRecord[], config: RunConfig = runConfig(), classes = TEN) => diagnose({ classes, config, members: ms });
const trainingFindings = (ms: MemberRecord[], config?: RunConfig, classes?: string[]) => rules(run(ms, config, classes)).filter((r) => TRAINING_RULES.includes(r));

/** The first `n` epochs of some curves. */
const first = (c: Curves, n: number): Curves => ({
  loss: c.loss.slice(0, n),
  accuracy: c.accuracy.slice(0, n),
  valLoss: c.valLoss?.slice(0, n),
  valAccuracy: c.valAccuracy?.slice(0, n),
});

/** Training accuracy 46% and validation 45% after ten epochs, neither moving by half a point an epoch: too weak. */
const underfit: Required<Curves> = {
  loss: [2.0, 1.8, 1.7, 1.65, 1.62, 1.61, 1.605, 1.6, 1.598, 1.597],
  accuracy: [0.3, 0.38, 0.42, 0.44, 0.45, 0.455, 0.458, 0.46, 0.46, 0.461],
  valLoss: [1.95, 1.78, 1.69, 1.66, 1.64, 1.63, 1.625, 1.622, 1.621, 1.62],
  valAccuracy: [0.31, 0.37, 0.41, 0.43, 0.44, 0.45, 0.452, 0.452, 0.451, 0.451],
};

/** A training loss that rises by more than 5% in four of nine epochs, with a steadily improving validation accuracy. */
const oscillating: Required<Curves> = {
  loss: [2.0, 1.6, 1.9, 1.5, 1.8, 1.45, 1.7, 1.5, 1.65, 1.4],
  accuracy: [0.3, 0.45, 0.4, 0.5, 0.45, 0.55, 0.5, 0.55, 0.52, 0.6],
  valLoss: [1.9, 1.8, 1.7, 1.6, 1.55, 1.5, 1.45, 1.4, 1.38, 1.35],
  valAccuracy: [0.3, 0.35, 0.38, 0.41, 0.44, 0.46, 0.48, 0.5, 0.51, 0.52],
};

/** A smoothly falling training loss with validation accuracy see-sawing by 7 to 10 points every epoch. */
const seesaw: Required<Curves> = {
  loss: [2.0, 1.4, 1.1, 0.9, 0.75, 0.65, 0.57, 0.5, 0.45, 0.41],
  accuracy: [0.4, 0.6, 0.68, 0.73, 0.77, 0.8, 0.82, 0.84, 0.85, 0.86],
  valLoss: [1.1, 0.9, 1.05, 0.85, 1.0, 0.8, 0.98, 0.78, 0.95, 0.76],
  valAccuracy: [0.6, 0.7, 0.62, 0.72, 0.63, 0.74, 0.64, 0.75, 0.66, 0.76],
};

/** A loss falling 2.6–3% an epoch, only 13% in six epochs, accuracy still 38%: a learning rate too small. */
const creeping: Required<Curves> = {
  loss: [2.3, 2.24, 2.18, 2.12, 2.06, 2.0],
  accuracy: [0.15, 0.2, 0.25, 0.3, 0.34, 0.38],
  valLoss: [2.28, 2.22, 2.16, 2.1, 2.05, 1.99],
  valAccuracy: [0.16, 0.21, 0.26, 0.31, 0.35, 0.39],
};

/** Validation loss falling 12% an epoch up to its best, epoch 6, then two worse epochs: patience 2 stops it at 8. */
const stoppedEarly: Required<Curves> = {
  loss: [1.5, 1.0, 0.8, 0.65, 0.55, 0.48, 0.43, 0.39],
  accuracy: [0.5, 0.68, 0.74, 0.78, 0.81, 0.83, 0.845, 0.86],
  valLoss: [1.2, 0.9, 0.62, 0.52, 0.45, 0.4, 0.41, 0.42],
  valAccuracy: [0.58, 0.68, 0.76, 0.8, 0.82, 0.84, 0.835, 0.835],
};

describe('training diagnosis', () => {
  describe('a healthy converging run', () => {
    it('raises no training finding for three members on ten classes', () => {
      expect(run(members(3, healthy()))).toEqual([]);
    });

    it('raises none on two classes, nor for five members over 30 epochs', () => {
      expect(trainingFindings(members(3, healthy()), runConfig(), ['cat', 'dog'])).toEqual([]);
      expect(trainingFindings(members(5, healthy(30)), runConfig({ epochs: 30 }))).toEqual([]);
    });

    it('raises no finding for runs of one or two epochs, whatever their curves look like', () => {
      const patterns = { healthy: healthy(), overfit: overfit(), underfit, oscillating, seesaw, creeping, stoppedEarly };
      const config = runConfig({ epochs: 30, earlyStopping: { patience: 1 } });
      for (const n of [1, 2]) {
        for (const [name, curves] of Object.entries(patterns)) {
          // After two epochs, patience 1 has stopped a member only when epoch 2 was no better than epoch 1.
          const ms = members(3, first(curves, n), n === 2 ? { stopReason: 'early-stopping', bestEpoch: 1 } : {});
          expect(trainingFindings(ms, config), `${name}, ${n} epoch(s)`).toEqual([]);
        }
      }
    });

    it('stays silent without members, with members that have not started, and without validation data', () => {
      expect(diagnose({ classes: TEN, config: runConfig() })).toEqual([]);
      expect(run([member(0, { loss: [], accuracy: [] }, { status: 'queued' })])).toEqual([]);
      const { loss, accuracy } = overfit();
      expect(trainingFindings(members(3, { loss, accuracy }))).toEqual([]);
    });
  });

  describe('overfitting', () => {
    // Measured on a real run (24 images per class, no regularisation, 14 epochs): validation loss never turned up,
    // but the training set was fitted perfectly while validation accuracy stalled near 0.8.
    const memorising = {
      loss: [3.8, 1.12, 0.65, 0.34, 0.24, 0.18, 0.11, 0.08, 0.06, 0.045, 0.036, 0.029, 0.024, 0.021],
      accuracy: [0.34, 0.6, 0.74, 0.88, 0.93, 0.96, 0.99, 0.99, 1, 1, 1, 1, 1, 1],
      valLoss: [1.28, 1.12, 0.84, 0.77, 0.64, 0.67, 0.63, 0.7, 0.66, 0.65, 0.65, 0.66, 0.68, 0.62],
      valAccuracy: [0.55, 0.61, 0.73, 0.74, 0.83, 0.8, 0.8, 0.81, 0.8, 0.81, 0.83, 0.82, 0.81, 0.84],
    };

    it('fires on memorisation (training set fitted, validation stalled) even when validation loss has not turned up', () => {
      const f = only(run(members(2, memorising)), 'overfitting');
      expect(f.evidence.trainAccuracy).toBe(1);
      expect(f.evidence.gap).toBeCloseTo(0.16, 5);
      expect(f.detail).toMatch(/30× below the validation loss/);
    });

    it('does not call a perfect fit overfitting when validation keeps up', () => {
      const close = { ...memorising, valAccuracy: memorising.valAccuracy.map((a) => Math.min(1, a + 0.12)), valLoss: memorising.valLoss.map((l) => l / 8) };
      expect(rules(run(members(2, close)))).not.toContain('overfitting');
    });

    it('fires when validation loss climbs from its minimum while training loss falls, citing the numbers', () => {
      const f = only(run(members(3, overfit()), runConfig({ earlyStopping: { enabled: false, restoreBestWeights: false } })), 'overfitting');
      expect(f.severity).toBe('warning');
      expect(f.evidence).toEqual({
        membersAffected: 3,
        members: 3,
        bestValLossEpoch: 4,
        bestValLoss: 0.45,
        lastValLoss: 0.8,
        trainAccuracy: 0.995,
        valAccuracy: 0.85,
        gap: 0.145,
        trainLoss: 0.07,
      });
      expect(f.detail).toBe(
        'In 3 of 3 members the validation loss rose 77.8% from its minimum in epoch 4 while the training loss kept falling, ' +
          'and training accuracy 99.5% ends 14.5% above validation accuracy 85.0%, and the training loss 0.070 is 11× below the validation loss.',
      );
      expect(f.nextStep).toMatch(/augmentation/);
    });

    it('names the epoch whose weights early stopping restored, numbered as the history numbers it', () => {
      const f = only(run(members(3, overfit())), 'overfitting');
      expect(f.detail).toMatch(/minimum in epoch 4 /);
      expect(f.detail).toMatch(/the model itself is the epoch-4 one\.$/);
    });

    it('is critical when training accuracy ends more than 15 points above validation accuracy', () => {
      const c = overfit();
      const wide = { ...c, accuracy: [...c.accuracy.slice(0, 9), 1], valAccuracy: [...c.valAccuracy.slice(0, 9), 0.8] };
      const f = only(run(members(3, wide)), 'overfitting');
      expect(f.severity).toBe('critical');
      expect(f.evidence.gap).toBe(0.2);
    });

    it('fires on 3 of 5 members, but not on 1 or 2 of 5: one unlucky seed is not a pattern', () => {
      const mixed = (bad: number) => Array.from({ length: 5 }, (_, k) => member(k, k < bad ? overfit() : healthy()));
      expect(trainingFindings(mixed(1))).toEqual([]);
      expect(trainingFindings(mixed(2))).toEqual([]);
      const f = only(run(mixed(3)), 'overfitting');
      expect([f.evidence.membersAffected, f.evidence.members]).toEqual([3, 5]);
      expect(f.detail).toMatch(/^In 3 of 5 members/);
    });

    it('does not fire when validation loss drifts up 7.5% at the end of a run with a small gap', () => {
      const c = healthy();
      const wiggle = { ...c, valLoss: [...c.valLoss.slice(0, 8), 0.4, 0.43] };
      wiggle.valLoss[7] = 0.4;
      expect(trainingFindings(members(3, wiggle))).toEqual([]);
    });

    it('does not fire on a gap of 10 points that was already there at the best epoch', () => {
      const steady: Curves = {
        loss: [1.2, 0.8, 0.6, 0.5, 0.44, 0.4, 0.37, 0.35, 0.34, 0.33],
        accuracy: [0.6, 0.75, 0.82, 0.86, 0.88, 0.9, 0.91, 0.92, 0.92, 0.92],
        valLoss: [1.1, 0.85, 0.7, 0.62, 0.57, 0.54, 0.52, 0.5, 0.51, 0.52],
        valAccuracy: [0.55, 0.67, 0.73, 0.77, 0.79, 0.8, 0.81, 0.82, 0.82, 0.82],
      };
      expect(trainingFindings(members(3, steady))).toEqual([]);
    });

    it('says only what it saw when augmentation keeps training accuracy below validation accuracy', () => {
      const c = overfit();
      const augmented = { ...c, accuracy: c.accuracy.map((a) => a - 0.16) };
      const f = only(run(members(3, augmented)), 'overfitting');
      expect(f.evidence.gap).toBeLessThan(0);
      expect(f.detail).toMatch(/validation loss rose 77\.8% from its minimum in epoch 4/);
      expect(f.detail).not.toMatch(/above validation accuracy/);
      expect(f.detail).not.toMatch(/-\d+\.\d%/);
    });
  });

  describe('underfitting', () => {
    it('fires when both accuracies are low and have stopped improving, citing them and the epoch count', () => {
      const f = only(run(members(3, underfit)), 'underfitting');
      expect(f.severity).toBe('warning');
      expect(f.evidence).toEqual({ membersAffected: 3, members: 3, trainAccuracy: 0.461, valAccuracy: 0.451, epochs: 10 });
      expect(f.detail).toMatch(/Training accuracy 46\.1% and validation accuracy 45\.1%.*\(3 of 3 members\)/);
      expect(f.nextStep).toMatch(/larger architecture/);
    });

    it('judges "low" against chance: a plateau at 80% is fine for ten classes and underfitting for two', () => {
      const eighty = { ...underfit, accuracy: underfit.accuracy.map((a) => a + 0.34), valAccuracy: underfit.valAccuracy.map((a) => a + 0.34) };
      expect(trainingFindings(members(3, eighty), runConfig(), TEN)).toEqual([]);
      expect(only(run(members(3, eighty), runConfig(), ['cat', 'dog']), 'underfitting').evidence.trainAccuracy).toBe(0.801);
    });

    it('does not fire while accuracy still rises, nor when training accuracy runs well ahead of validation', () => {
      const rising = { ...underfit, accuracy: underfit.accuracy.map((a, i) => a + 0.02 * i), valAccuracy: underfit.valAccuracy.map((a, i) => a + 0.02 * i) };
      expect(rules(run(members(3, rising)))).not.toContain('underfitting');
      const gap = { ...underfit, accuracy: underfit.accuracy.map((a) => a + 0.08) };
      expect(rules(run(members(3, gap)))).not.toContain('underfitting');
    });

    it('needs four epochs of history', () => {
      expect(rules(run(members(3, first(underfit, 3))))).not.toContain('underfitting');
    });
  });

  describe('learning rate too high', () => {
    it('is critical when a member diverged, quoting its error and a tenth of the rate', () => {
      const diverged = member(1, first(oscillating, 1), {
        status: 'failed',
        error: { type: 'training-diverged', detail: 'Training diverged in epoch 2: the loss became NaN at step 3 (learning rate 0.003).' },
      });
      const f = only(run([member(0, healthy()), diverged, member(2, healthy())], runConfig({ learningRate: 0.003 })), 'learning-rate-too-high');
      expect(f.severity).toBe('critical');
      expect(f.evidence).toEqual({ membersDiverged: 1, members: 3, learningRate: 0.003 });
      expect(f.detail).toBe('1 of 3 members diverged. Training diverged in epoch 2: the loss became NaN at step 3 (learning rate 0.003).');
      // 0.003 / 10 is 0.00030000000000000003 in floating point; the sentence must read 0.0003.
      expect(f.nextStep).toMatch(/^Lower the learning rate 10× \(to 0\.0003\);/);
    });

    it('warns when the training loss rises by more than 5% in a third of the epochs', () => {
      const f = only(run(members(3, oscillating)), 'learning-rate-too-high');
      expect(f.severity).toBe('warning');
      expect(f.evidence).toEqual({ membersAffected: 3, members: 3, lossRises: 4, accuracySwings: 0, learningRate: 0.001 });
      expect(f.detail).toMatch(/rose by more than 5% in 4 of 9 epochs/);
    });

    it('warns when validation accuracy swings up and down by more than 3 points in half the epochs', () => {
      const f = only(run(members(3, seesaw)), 'learning-rate-too-high');
      expect(f.evidence).toMatchObject({ lossRises: 0, accuracySwings: 8 });
      expect(f.detail).toMatch(/\(8 swings\)/);
      expect(f.nextStep).toMatch(/cosine/);
    });

    it('does not fire on one 4-point dip of validation accuracy, nor on one 8% rise of the loss, in ten epochs', () => {
      const c = healthy();
      const dip = { ...c, valAccuracy: c.valAccuracy.map((a, i) => (i === 6 ? a - 0.04 : a)) };
      expect(trainingFindings(members(3, dip))).toEqual([]);
      const bump = { ...c, loss: c.loss.map((l, i) => (i === 7 ? c.loss[6] * 1.08 : l)) };
      expect(trainingFindings(members(3, bump))).toEqual([]);
    });

    it('does not warn when only 2 of 5 members oscillate', () => {
      const ms = Array.from({ length: 5 }, (_, k) => member(k, k < 2 ? oscillating : healthy()));
      expect(trainingFindings(ms)).toEqual([]);
    });
  });

  describe('learning rate too low', () => {
    it('fires on a loss that falls every epoch but only 13% in six, citing it and three times the rate', () => {
      const f = only(run(members(3, creeping), runConfig({ learningRate: 1e-4 })), 'learning-rate-too-low');
      expect(f.severity).toBe('warning');
      expect(f.evidence).toEqual({ membersAffected: 3, members: 3, firstLoss: 2.3, lastLoss: 2, epochs: 6, learningRate: 0.0001 });
      expect(f.detail).toBe('The training loss fell every epoch but only from 2.300 to 2.000 in 6 epochs, and was still falling.');
      // 1e-4 × 3 is 0.00030000000000000003 in floating point.
      expect(f.nextStep).toBe('Raise the learning rate 3× (to 0.0003) or train for more epochs.');
    });

    it('does not fire once the loss has levelled off, or when it went up once', () => {
      const flat = { ...creeping, loss: [2.3, 2.24, 2.18, 2.12, 2.11, 2.105] };
      expect(rules(run(members(3, flat)))).not.toContain('learning-rate-too-low');
      const bumpy = { ...creeping, loss: [2.3, 2.24, 2.25, 2.12, 2.06, 2.0] };
      expect(rules(run(members(3, bumpy)))).not.toContain('learning-rate-too-low');
    });
  });

  describe('early stopping too early', () => {
    const impatient = runConfig({ epochs: 30, earlyStopping: { patience: 2 } });

    it('fires when patience 2 stopped every member at 8 of 30 epochs while validation loss fell 12% an epoch', () => {
      const f = only(run(members(3, stoppedEarly, { stopReason: 'early-stopping' }), impatient), 'early-stopping-too-early');
      expect(f.severity).toBe('warning');
      // Epochs 3–6 (the last four up to the best): (0.62 − 0.40) / 0.62 / 3 = 0.1183.
      expect(f.evidence).toEqual({ membersAffected: 3, members: 3, patience: 2, epochsRun: 8, epochs: 30, valLossFallPerEpoch: 0.1183 });
      expect(f.detail).toMatch(/^3 of 3 members stopped after 8 of 30 epochs with patience 2, although validation loss had been falling 11\.8% per epoch/);
      expect(f.nextStep).toMatch(/patience/);
    });

    it('finds the best epoch in the history when the member recorded none', () => {
      const withBest = only(run(members(3, stoppedEarly, { stopReason: 'early-stopping', bestEpoch: 6 }), impatient), 'early-stopping-too-early');
      const without = only(run(members(3, stoppedEarly, { stopReason: 'early-stopping', bestEpoch: null }), impatient), 'early-stopping-too-early');
      expect(without.evidence).toEqual(withBest.evidence);
    });

    it('does not fire with patience 10, after 60% of the epochs, or with early stopping off', () => {
      const ms = members(3, stoppedEarly, { stopReason: 'early-stopping' });
      expect(trainingFindings(ms, runConfig({ epochs: 30, earlyStopping: { patience: 10 } }))).toEqual([]);
      expect(trainingFindings(ms, runConfig({ epochs: 12, earlyStopping: { patience: 2 } }))).toEqual([]);
      expect(trainingFindings(ms, runConfig({ epochs: 30, earlyStopping: { enabled: false, patience: 2 } }))).toEqual([]);
    });

    it('does not fire when validation loss had levelled off before the best epoch', () => {
      const levelled = { ...stoppedEarly, valLoss: [1.2, 0.9, 0.62, 0.61, 0.605, 0.6, 0.61, 0.62] };
      expect(trainingFindings(members(3, levelled, { stopReason: 'early-stopping' }), impatient)).toEqual([]);
    });

    it('does not fire when one member of five stopped early and four ran all their epochs', () => {
      const ms = [member(0, stoppedEarly, { stopReason: 'early-stopping' }), ...[1, 2, 3, 4].map((k) => member(k, healthy(30)))];
      expect(trainingFindings(ms, impatient)).toEqual([]);
    });
  });
});
