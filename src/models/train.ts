/**
 * Training one ensemble member: seeded shuffling, on-the-fly augmentation, class-weighted loss plus L2, Adam or
 * SGD with momentum, a learning-rate schedule, early stopping that restores the best epoch's weights, a
 * resumable state after every epoch, and a clear failure when the loss stops being finite.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { z } from 'zod';
import { createRng, shuffleInPlace } from '../data/random.js';
import { buildModel, setDropoutStep, type Architecture, type ModelShape } from './architecture.js';
import { augmentBatch, type Augmentation } from './augment.js';
import { imageBatch, labelBatch, normalisationTable, type Normalisation, type SplitData } from './batches.js';
import { classWeightsSchema, resolveClassWeights, weightedCrossEntropy } from './class-weights.js';
import { predictProbabilities, probabilityMetrics } from './evaluate.js';
import { createPlateauTracker, learningRateAt, scheduleSchema, type PlateauState } from './schedules.js';
import { adam } from './adam.js';

export const earlyStoppingSchema = z
  .object({
    enabled: z.boolean().default(true),
    monitor: z.enum(['val_loss', 'val_accuracy']).default('val_loss'),
    patience: z.number().int().min(1).max(100).default(5),
    minDelta: z.number().min(0).max(1).default(0),
    restoreBestWeights: z.boolean().default(true),
  })
  .strict();

export const trainingSchema = z
  .object({
    epochs: z.number().int().min(1).max(500).default(10),
    batchSize: z.number().int().min(1).max(1024).default(64),
    optimizer: z.enum(['adam', 'sgd']).default('adam'),
    learningRate: z.number().positive().max(1e4).default(1e-3),
    momentum: z.number().min(0).max(0.999).default(0.9),
    schedule: scheduleSchema.prefault({ type: 'constant' }),
    earlyStopping: earlyStoppingSchema.prefault({}),
    classWeights: classWeightsSchema.default('auto'),
    /** With classWeights 'auto', balanced weights apply when the largest class is this many times the smallest. */
    imbalanceThreshold: z.number().min(1).max(1000).default(3),
    /**
     * Label smoothing ε (Szegedy et al. 2016): the training loss takes (1 − ε)·one-hot + ε/K as targets, so the
     * network is not pushed towards certainty on every training image. Accuracy, validation loss and reports use
     * the true labels; the training loss in the epoch log is the smoothed one (it cannot fall below the smoothed
     * targets' entropy, about 0.5 for ε = 0.1 and 10 classes).
     */
    labelSmoothing: z.number().min(0).max(0.5).default(0),
    /** Caps steps per epoch (quick experiments and tests); all samples are used when absent. */
    maxStepsPerEpoch: z.number().int().min(1).optional(),
  })
  .strict();

export type Training = z.infer<typeof trainingSchema>;

/** (1 − ε)·y + ε/K for one-hot rows y of K classes; y itself when ε is 0. */
export function smoothLabels(y: tf.Tensor2D, epsilon: number): tf.Tensor2D {
  if (epsilon === 0) return y;
  return tf.tidy(() => tf.add(tf.mul(y, 1 - epsilon), epsilon / y.shape[1]));
}

export interface EpochLog {
  epoch: number;
  loss: number;
  accuracy: number;
  valLoss: number | null;
  valAccuracy: number | null;
  learningRate: number;
  seconds: number;
}

interface NamedArray {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** Everything needed to continue training after the last completed epoch (stored as a checkpoint). */
export interface TrainState {
  /** Completed epochs. */
  epoch: number;
  weights: NamedArray[];
  optimizer: NamedArray[];
  best: { metric: number; epoch: number; weights: NamedArray[] } | null;
  epochsSinceBest: number;
  learningRate: number;
  /** Reduce-on-plateau bookkeeping, so a resumed run reduces the rate exactly when an uninterrupted one would. */
  plateau: PlateauState | null;
  history: EpochLog[];
}

export interface TrainInput {
  data: { train: SplitData; val: SplitData; shape: ModelShape; norm: Normalisation };
  architecture: Architecture;
  training: Training;
  augmentation: Augmentation;
  seed: number;
  resume?: TrainState;
  /** Called after every epoch with its log and a function that captures the resumable state. */
  onEpoch?: (log: EpochLog, state: () => Promise<TrainState>) => Promise<void> | void;
  /** Polled between steps; true stops training (the result says 'cancelled'). */
  shouldStop?: () => boolean | Promise<boolean>;
  /**
   * Receives every augmented training batch of the run's first epoch (normalised values, NHWC, with the sample
   * indices), so the job can store what the model really saw. Only called when some augmentation is on.
   */
  onAugmentedBatch?: (batch: { images: Float32Array; indices: Uint32Array }) => Promise<void> | void;
}

export interface TrainResult {
  model: tfl.LayersModel;
  history: EpochLog[];
  bestEpoch: number | null;
  stopReason: 'completed' | 'early-stopping' | 'cancelled';
  classWeights: number[] | null;
}

/** Thrown when training blows up (non-finite loss or weights, or a loss far above chance); says what to change. */
export class TrainingDiverged extends Error {
  constructor(readonly epoch: number, readonly what: string, readonly learningRate: number) {
    super(
      `Training diverged in epoch ${epoch + 1}: ${what} (learning rate ${learningRate}). ` +
        'The learning rate is almost certainly too high: lower it 10× (for Adam, 1e-3 is a safe start).',
    );
    this.name = 'TrainingDiverged';
  }
}

/**
 * A loss this far above chance level (ln K, what uniform guessing scores) means the run has blown up even when
 * probability clipping keeps it finite; healthy runs start near ln K and fall.
 */
const divergedLoss = (numClasses: number) => 10 * Math.log(numClasses) + 10;

function nonFiniteWeight(model: tfl.LayersModel): string | null {
  for (const w of model.trainableWeights) {
    const values = w.read().dataSync();
    for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return w.name;
  }
  return null;
}

const yieldToLoop = () => new Promise<void>((r) => setImmediate(r));

/** A seed for (member seed, epoch, purpose) so resumed runs draw the same shuffles and augmentations. */
const epochSeed = (seed: number, epoch: number, purpose: number) =>
  (Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(epoch + 1, 0x85ebca6b) ^ Math.imul(purpose + 1, 0xc2b2ae35)) >>> 0;

function snapshot(model: tfl.LayersModel): NamedArray[] {
  return model.weights.map((w) => {
    const v = w.read();
    return { name: w.name, shape: v.shape, data: v.dataSync().slice() as Float32Array };
  });
}

function restore(model: tfl.LayersModel, arrays: NamedArray[]): void {
  if (arrays.length !== model.weights.length) throw new Error(`checkpoint holds ${arrays.length} weights, model has ${model.weights.length}`);
  const tensors = arrays.map((a) => tf.tensor(a.data, a.shape));
  model.setWeights(tensors);
  tensors.forEach((t) => t.dispose());
}

function setLearningRate(optimizer: tf.Optimizer, lr: number): void {
  // SGD and momentum expose setLearningRate; Adam reads a field (typed protected) on every step.
  const o = optimizer as unknown as { learningRate: number; setLearningRate?: (lr: number) => void };
  if (typeof o.setLearningRate === 'function') o.setLearningRate(lr);
  else o.learningRate = lr;
}

/** Trains one member; returns the model with the best (or last) weights and the per-epoch history. */
export async function trainMember(input: TrainInput): Promise<TrainResult> {
  const { data, training: t, augmentation: aug, seed } = input;
  const { shape } = data;
  const model = buildModel(input.architecture, shape, seed);
  const table = normalisationTable(data.norm);
  const counts = new Array<number>(shape.numClasses).fill(0);
  for (const l of data.train.labels) counts[l]++;
  const classWeights = resolveClassWeights(t.classWeights, counts, { imbalanceThreshold: t.imbalanceThreshold });
  const optimizer = t.optimizer === 'adam' ? adam(t.learningRate) : tf.train.momentum(t.learningRate, t.momentum);
  const plateau = t.schedule.type === 'plateau' ? createPlateauTracker(t.schedule, t.learningRate, input.resume?.plateau ?? undefined) : null;
  // Options that are not training-time transforms do not make a run "augmenting".
  const notTransforms = new Set(['materialize', 'probability', 'testTimeFlip']);
  const augmenting = Object.entries(aug).some(([k, v]) => !notTransforms.has(k) && v !== false && v !== 0);

  const history: EpochLog[] = [...(input.resume?.history ?? [])];
  let best = input.resume?.best ?? null;
  let sinceBest = input.resume?.epochsSinceBest ?? 0;
  let lr = input.resume?.learningRate ?? t.learningRate;
  if (input.resume) {
    restore(model, input.resume.weights);
    await optimizer.setWeights(input.resume.optimizer.map((a) => ({ name: a.name, tensor: tf.tensor(a.data, a.shape) })));
  }
  // With no validation split, early stopping and the best epoch fall back to training metrics.
  const monitorVal = data.val.count > 0;
  const lossMonitor = t.earlyStopping.monitor === 'val_loss';
  const n = data.train.count;
  const steps = Math.min(Math.ceil(n / t.batchSize), t.maxStepsPerEpoch ?? Infinity);
  let stopReason: TrainResult['stopReason'] = 'completed';

  for (let epoch = input.resume?.epoch ?? 0; epoch < t.epochs; epoch++) {
    const started = performance.now();
    if (!plateau) lr = learningRateAt(t.schedule, t.learningRate, epoch, t.epochs);
    setLearningRate(optimizer, lr);
    const order = Uint32Array.from({ length: n }, (_, i) => i);
    shuffleInPlace(order, createRng(epochSeed(seed, epoch, 1)));
    const augRng = createRng(epochSeed(seed, epoch, 2));
    let lossSum = 0;
    let accSum = 0;
    let seen = 0;
    for (let s = 0; s < steps; s++) {
      const idx = order.subarray(s * t.batchSize, Math.min(n, (s + 1) * t.batchSize));
      setDropoutStep(model, epoch * steps + s);
      let accTensor: tf.Scalar | null = null;
      let seenBatch: tf.Tensor | null = null;
      const cost = tf.tidy(() => {
        const raw = imageBatch(data.train, idx, shape, table);
        const x = augmenting ? augmentBatch(raw, aug, augRng, data.norm) : raw;
        if (augmenting && epoch === 0 && input.onAugmentedBatch) seenBatch = tf.keep(x);
        const y = labelBatch(data.train, idx, shape.numClasses);
        return optimizer.minimize(() => {
          const probs = model.apply(x, { training: true }) as tf.Tensor2D;
          accTensor = tf.keep(tf.mean(tf.cast(tf.equal(tf.argMax(probs, 1), tf.argMax(y, 1)), 'float32'))) as tf.Scalar;
          let loss: tf.Scalar = weightedCrossEntropy(smoothLabels(y, t.labelSmoothing), probs, classWeights, { fromLogits: false });
          for (const penalty of model.calculateLosses()) loss = tf.add(loss, penalty) as tf.Scalar;
          return loss;
        }, true)!;
      });
      if (seenBatch) {
        const images = (await (seenBatch as tf.Tensor).data()) as Float32Array;
        (seenBatch as tf.Tensor).dispose();
        await input.onAugmentedBatch!({ images, indices: Uint32Array.from(idx) });
      }
      const [lossValue] = await cost.data();
      const [accValue] = accTensor ? await (accTensor as tf.Scalar).data() : [0];
      cost.dispose();
      (accTensor as tf.Scalar | null)?.dispose();
      if (!Number.isFinite(lossValue)) {
        model.dispose();
        optimizer.dispose();
        throw new TrainingDiverged(epoch, `the loss became ${lossValue} at step ${s + 1}`, lr);
      }
      lossSum += lossValue * idx.length;
      accSum += accValue * idx.length;
      seen += idx.length;
      await yieldToLoop();
      if (input.shouldStop && (await input.shouldStop())) {
        stopReason = 'cancelled';
        break;
      }
    }
    if (stopReason === 'cancelled') break;
    const badWeight = nonFiniteWeight(model);
    const meanLoss = lossSum / seen;
    if (badWeight || meanLoss > divergedLoss(shape.numClasses)) {
      model.dispose();
      optimizer.dispose();
      throw new TrainingDiverged(
        epoch,
        badWeight ? `weights of ${badWeight} became non-finite` : `the mean loss reached ${meanLoss.toPrecision(3)}, far above chance (${Math.log(shape.numClasses).toFixed(2)})`,
        lr,
      );
    }

    const val = monitorVal
      ? probabilityMetrics(await predictProbabilities(model, data.val, shape, table), data.val.labels, shape.numClasses)
      : null;
    const log: EpochLog = {
      epoch: epoch + 1,
      loss: lossSum / seen,
      accuracy: accSum / seen,
      valLoss: val?.loss ?? null,
      valAccuracy: val?.accuracy ?? null,
      learningRate: lr,
      seconds: (performance.now() - started) / 1000,
    };
    history.push(log);

    const metric = lossMonitor ? (val?.loss ?? log.loss) : (val?.accuracy ?? log.accuracy);
    const improved =
      best === null || (lossMonitor ? metric < best.metric - t.earlyStopping.minDelta : metric > best.metric + t.earlyStopping.minDelta);
    if (improved) {
      best = { metric, epoch: epoch + 1, weights: snapshot(model) };
      sinceBest = 0;
    } else sinceBest++;
    if (plateau && t.schedule.type === 'plateau') {
      lr = plateau.update(t.schedule.monitor === 'val_loss' ? (val?.loss ?? log.loss) : -(val?.accuracy ?? log.accuracy));
    }

    const completed = epoch + 1;
    const bestNow = best;
    const lrNow = lr;
    const sinceNow = sinceBest;
    const plateauNow = plateau?.state() ?? null;
    await input.onEpoch?.(log, async () => ({
      epoch: completed,
      weights: snapshot(model),
      optimizer: await Promise.all(
        (await optimizer.getWeights()).map(async (w) => ({ name: w.name, shape: w.tensor.shape, data: Float32Array.from(await w.tensor.data()) })),
      ),
      best: bestNow,
      epochsSinceBest: sinceNow,
      learningRate: lrNow,
      plateau: plateauNow,
      history: [...history],
    }));
    if (t.earlyStopping.enabled && sinceBest >= t.earlyStopping.patience) {
      stopReason = 'early-stopping';
      break;
    }
  }
  if (t.earlyStopping.restoreBestWeights && best) restore(model, best.weights);
  optimizer.dispose();
  return { model, history, bestEpoch: best?.epoch ?? null, stopReason, classWeights };
}
