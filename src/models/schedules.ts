/**
 * Learning-rate schedules. Epochs are counted from 0; the rate for an epoch holds for all of its steps.
 */
import { z } from 'zod';

export const scheduleSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('constant') }).strict(),
  z
    .object({
      type: z.literal('exponential'),
      decayRate: z.number().gt(0).max(1).default(0.9).describe('Factor applied per decaySteps epochs.'),
      decaySteps: z.number().min(1).default(1).describe('Epochs over which the rate shrinks by decayRate.'),
    })
    .strict(),
  z
    .object({
      type: z.literal('cosine'),
      warmupEpochs: z.number().int().min(0).default(0).describe('Epochs of linear ramp before the cosine.'),
      minLearningRate: z.number().min(0).default(0).describe('Rate of the last epoch.'),
    })
    .strict(),
  // Defaults are those of Keras's ReduceLROnPlateau and PyTorch's ReduceLROnPlateau.
  z
    .object({
      type: z.literal('plateau'),
      factor: z.number().gt(0).lt(1).default(0.1).describe('Multiplier applied to the rate on a plateau.'),
      patience: z.number().int().min(1).default(10).describe('Epochs without improvement before reducing.'),
      minLearningRate: z.number().min(0).default(0).describe('Floor the rate never goes below.'),
      monitor: z.enum(['val_loss', 'val_accuracy']).default('val_loss'),
    })
    .strict(),
]);

export type Schedule = z.infer<typeof scheduleSchema>;
export type PlateauSchedule = Extract<Schedule, { type: 'plateau' }>;

/**
 * The rate for `epoch` (0-based) of `totalEpochs` under an epoch-wise schedule.
 *
 * - exponential: base · decayRate^(epoch / decaySteps), decayed smoothly rather than in steps.
 * - cosine: with W warm-up epochs, epoch e < W trains at base · (e + 1) / (W + 1), a linear ramp whose next
 *   step is the base rate (gradual warm-up, Goyal et al., arXiv:1706.02677, §2.2). The T = totalEpochs − W
 *   remaining epochs follow min + (base − min) · (1 + cos(π · (e − W) / (T − 1))) / 2 (Loshchilov & Hutter,
 *   SGDR, ICLR 2017, eq. 5, one cycle), so the first of them trains at base and the last at exactly min; a single
 *   remaining epoch trains at base, and epochs past the end stay at min.
 *
 * Plateau schedules depend on validation metrics, not on the epoch number: use createPlateauTracker.
 */
export function learningRateAt(schedule: Schedule, baseLr: number, epoch: number, totalEpochs: number): number {
  switch (schedule.type) {
    case 'constant':
      return baseLr;
    case 'exponential':
      return baseLr * schedule.decayRate ** (epoch / schedule.decaySteps);
    case 'cosine': {
      const warmup = schedule.warmupEpochs;
      if (epoch < warmup) return (baseLr * (epoch + 1)) / (warmup + 1);
      const remaining = totalEpochs - warmup;
      if (remaining <= 1) return baseLr;
      // Progress (e − warm-up) / remaining, as PyTorch's CosineAnnealingLR with T_max = remaining epochs: the minimum
      // is the limit the last epoch approaches, not a rate any epoch wastes (a 2-epoch run trains its second at ½).
      const progress = Math.min(1, (epoch - warmup) / remaining);
      const min = schedule.minLearningRate;
      return min + ((baseLr - min) * (1 + Math.cos(Math.PI * progress))) / 2;
    }
    case 'plateau':
      throw new Error('learningRateAt: a plateau schedule follows validation metrics; use createPlateauTracker.');
  }
}

/**
 * Reduce-on-plateau, as Keras's ReduceLROnPlateau with min_delta 0 and no cool-down: after `patience`
 * consecutive epochs whose metric is not strictly below the best so far, the rate becomes
 * max(rate · factor, minLearningRate) and the count starts again.
 *
 * `update` takes the monitored value oriented so that lower is better: val_loss as it is, val_accuracy negated
 * (the training loop knows which metric `schedule.monitor` names). A NaN never counts as an improvement.
 * It returns the rate for the next epoch.
 */
export interface PlateauState {
  lr: number;
  /** Best metric so far; null before the first epoch (JSON has no Infinity). */
  best: number | null;
  waited: number;
}

export function createPlateauTracker(
  schedule: PlateauSchedule,
  baseLr: number,
  from?: PlateauState,
): { update(metric: number): number; state(): PlateauState } {
  let lr = from?.lr ?? baseLr;
  let best = from?.best ?? Infinity;
  let waited = from?.waited ?? 0;
  return {
    /** The bookkeeping to store in a checkpoint and pass back as `from` on resume. */
    state: () => ({ lr, best: Number.isFinite(best) ? best : null, waited }),
    update(metric: number): number {
      if (metric < best) {
        best = metric;
        waited = 0;
      } else if (++waited >= schedule.patience) {
        lr = Math.max(lr * schedule.factor, schedule.minLearningRate);
        waited = 0;
      }
      return lr;
    },
  };
}
