import { describe, expect, it } from 'vitest';
import { createPlateauTracker, learningRateAt, scheduleSchema, type PlateauSchedule } from '../../../src/models/schedules.js';

const schedule = (fields: object) => scheduleSchema.parse(fields);
const plateau = (fields: object) => scheduleSchema.parse({ type: 'plateau', ...fields }) as PlateauSchedule;

describe('schedule options', () => {
  it('fill in documented defaults for each type', () => {
    expect(schedule({ type: 'exponential' })).toEqual({ type: 'exponential', decayRate: 0.9, decaySteps: 1 });
    expect(schedule({ type: 'cosine' })).toEqual({ type: 'cosine', warmupEpochs: 0, minLearningRate: 0 });
    expect(schedule({ type: 'plateau' })).toEqual({
      type: 'plateau',
      factor: 0.1,
      patience: 10,
      minLearningRate: 0,
      monitor: 'val_loss',
    });
  });

  it('reject out-of-range parameters, unknown types and unknown fields', () => {
    for (const bad of [
      { type: 'exponential', decayRate: 0 },
      { type: 'exponential', decayRate: 1.5 },
      { type: 'exponential', decaySteps: 0.5 },
      { type: 'cosine', warmupEpochs: -1 },
      { type: 'cosine', minLearningRate: -0.1 },
      { type: 'plateau', factor: 1 },
      { type: 'plateau', patience: 0 },
      { type: 'plateau', monitor: 'loss' },
      { type: 'step' },
      { type: 'constant', rate: 1 },
    ]) {
      expect(scheduleSchema.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
  });
});

describe('learningRateAt', () => {
  it('keeps a constant rate', () => {
    for (const epoch of [0, 3, 99]) expect(learningRateAt(schedule({ type: 'constant' }), 0.01, epoch, 100)).toBe(0.01);
  });

  it('decays exponentially as base · rate^(epoch / steps)', () => {
    const s = schedule({ type: 'exponential', decayRate: 0.5, decaySteps: 2 });
    expect(learningRateAt(s, 0.1, 0, 10)).toBeCloseTo(0.1, 12);
    expect(learningRateAt(s, 0.1, 1, 10)).toBeCloseTo(0.1 * Math.SQRT1_2, 12); // 0.0707…
    expect(learningRateAt(s, 0.1, 2, 10)).toBeCloseTo(0.05, 12);
    expect(learningRateAt(s, 0.1, 4, 10)).toBeCloseTo(0.025, 12);
  });

  it('follows a half cosine from the base rate towards the minimum over the epochs', () => {
    // base 1, min 0.1, 4 epochs: progress 0, ¼, ½, ¾ → 0.1 + 0.9 · (1 + cos(π·progress)) / 2.
    const s = schedule({ type: 'cosine', minLearningRate: 0.1 });
    const rates = [0, 1, 2, 3].map((e) => learningRateAt(s, 1, e, 4));
    [1, 0.8681980515, 0.55, 0.2318019485].forEach((v, e) => expect(rates[e]).toBeCloseTo(v, 9));
  });

  it('keeps the last epoch of a short run well above the minimum', () => {
    const s = schedule({ type: 'cosine', minLearningRate: 1e-5 });
    expect(learningRateAt(s, 1e-3, 1, 2)).toBeCloseTo(5.05e-4, 12);
  });

  it('ramps linearly during warm-up, reaching the base rate on the first cosine epoch', () => {
    // Warm-up 3 at base 0.4: 0.4 · 1/4, 2/4, 3/4, then 0.4; the 4 remaining epochs run at progress 0, ¼, ½, ¾.
    const s = schedule({ type: 'cosine', warmupEpochs: 3 });
    const rates = [0, 1, 2, 3, 4, 5, 6].map((e) => learningRateAt(s, 0.4, e, 7));
    [0.1, 0.2, 0.3, 0.4].forEach((v, e) => expect(rates[e]).toBeCloseTo(v, 12));
    expect(rates[5]).toBeCloseTo(0.2, 12); // half-way through the cosine
    expect(rates[6]).toBeCloseTo(0.4 * (1 + Math.cos((Math.PI * 3) / 4)) / 2, 12);
  });

  it('reaches the minimum at the end of the schedule, decreasing all the way, and stays there past it', () => {
    const s = schedule({ type: 'cosine', warmupEpochs: 2, minLearningRate: 1e-4 });
    expect(learningRateAt(s, 0.01, 20, 20)).toBe(1e-4);
    expect(learningRateAt(s, 0.01, 25, 20)).toBe(1e-4);
    const rates = Array.from({ length: 18 }, (_, k) => learningRateAt(s, 0.01, k + 2, 20));
    rates.slice(1).forEach((r, k) => expect(r).toBeLessThan(rates[k]));
  });

  it('trains at the base rate when warm-up leaves a single epoch', () => {
    expect(learningRateAt(schedule({ type: 'cosine', warmupEpochs: 4 }), 0.5, 4, 5)).toBe(0.5);
  });

  it('refuses a plateau schedule, whose rate follows metrics rather than epochs', () => {
    expect(() => learningRateAt(schedule({ type: 'plateau' }), 0.1, 0, 10)).toThrow(/createPlateauTracker/);
  });
});

describe('createPlateauTracker', () => {
  it('reduces the rate after `patience` epochs without improvement, and not before', () => {
    const t = createPlateauTracker(plateau({ factor: 0.5, patience: 3 }), 0.1);
    expect(t.update(1.0)).toBe(0.1); // first value is the best so far
    expect(t.update(1.0)).toBe(0.1); // equal is not better: 1 epoch waiting
    expect(t.update(1.2)).toBe(0.1); // 2
    expect(t.update(1.1)).toBe(0.05); // 3 = patience: reduce, start counting again
    expect(t.update(1.1)).toBe(0.05); // 1
    expect(t.update(1.1)).toBe(0.05); // 2
    expect(t.update(1.1)).toBe(0.025); // 3
  });

  it('starts counting again whenever the metric improves', () => {
    const t = createPlateauTracker(plateau({ factor: 0.5, patience: 2 }), 0.1);
    const rates = [1.0, 1.1, 0.9, 1.0, 0.8, 0.85].map((m) => t.update(m));
    expect(rates).toEqual([0.1, 0.1, 0.1, 0.1, 0.1, 0.1]);
  });

  it('never goes below the minimum rate', () => {
    const t = createPlateauTracker(plateau({ factor: 0.5, patience: 1, minLearningRate: 0.02 }), 0.1);
    const rates = [1, 2, 2, 2, 2].map((m) => t.update(m));
    expect(rates).toEqual([0.1, 0.05, 0.025, 0.02, 0.02]);
  });

  it('treats a NaN metric as no improvement', () => {
    const t = createPlateauTracker(plateau({ factor: 0.5, patience: 1 }), 0.1);
    t.update(1);
    expect(t.update(NaN)).toBe(0.05);
  });
});
