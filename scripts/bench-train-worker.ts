/**
 * Child-process entry of `npm run bench:train`: one fresh process per measurement, so every figure starts from the
 * same state (a new wasm heap, no warm caches from another model) and the whole-machine runs are independent
 * processes, as ensemble members train in production. Prints one JSON line on stdout when done.
 *
 *   tsx scripts/bench-train-worker.ts train   --model reference|small|fashion --steps S --warmup W [--seed N] [--barrier] [--bare]
 *   tsx scripts/bench-train-worker.ts predict --model reference|small|fashion --batches 1,16,256 --seconds T
 *
 * With --barrier the process prints "ready" after its warm-up steps and waits for a line on stdin before the timed
 * steps, so the parent can start N trainings' timed windows together. --bare also times a minimal training loop on a
 * fresh model (same step, no trainMember bookkeeping) and profiles its kernels.
 */
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { ARCHITECTURE_PRESETS, buildModel, setDropoutStep, type Architecture } from '../src/models/architecture.js';
import { adam } from '../src/models/adam.js';
import { augmentationSchema } from '../src/models/augment.js';
import { selectBackend } from '../src/models/backend.js';
import { imageBatch, labelBatch, normalisationTable, type SplitData } from '../src/models/batches.js';
import { weightedCrossEntropy } from '../src/models/class-weights.js';
import { trainMember, trainingSchema } from '../src/models/train.js';
import { planFromLayers } from '../src/prediction/plan.js';
import { createEnsembleRunner } from '../src/prediction/runtime.js';
import { fashionSubset } from './lib/fashion.js';

/**
 * The two benchmarked networks. The architecture spec always pads convolutions 'same' (buildModel hard-codes it), so
 * the reference CNN, specified with 'valid' padding, runs with 'same' here and in the PyTorch peer: 28→28→14→14→7,
 * a 7·7·64 flatten instead of 5·5·64. `dense: []` makes the head the softmax layer alone.
 */
export const BENCH_MODELS = {
  reference: {
    label: 'reference CNN',
    batch: 64,
    architecture: {
      blocks: [
        { filters: 32, convs: 1, kernelSize: 3, batchNorm: false, pool: 'max', dropout: 0 },
        { filters: 64, convs: 1, kernelSize: 3, batchNorm: false, pool: 'max', dropout: 0 },
      ],
      dense: [],
      denseDropout: 0,
      l2: 0,
      activation: 'relu',
      globalPooling: false,
    } satisfies Architecture as Architecture,
  },
  // The batch size the preset's dropout rates were tuned with (architecture.ts); the service's default is 64.
  small: { label: 'small preset', batch: 32, architecture: ARCHITECTURE_PRESETS.small },
  // The network `npm run fashion` trains, at its batch size (the preset's augmentation and schedule are not part of
  // a step's cost worth comparing: PyTorch would do them in its data loader).
  fashion: { label: 'fashion preset', batch: 128, architecture: ARCHITECTURE_PRESETS.fashion },
} as const;
export type BenchModel = keyof typeof BENCH_MODELS;

/** Fashion-MNIST's pixel mean and standard deviation, as the serving peer uses them. */
export const NORM = { mean: [0.286], std: [0.353] };
export const SHAPE = { height: 28, width: 28, channels: 1, numClasses: 10 };

export interface TrainFigures {
  samplesPerSecond: number;
  medianStepMs: number;
  /** CPU time of this process (all its threads) over the timed steps ÷ their wall time: 1 is one core kept busy. */
  cpuShare: number;
  backend: string;
  /** The minimal loop's figures, with --bare. */
  bare?: { samplesPerSecond: number; medianStepMs: number };
  /** Kernel time over the profiled bare steps, ms per step, largest first, with --bare. */
  kernels?: { name: string; msPerStep: number; calls: number }[];
  profiledStepMs?: number;
}

export interface PredictFigures {
  backend: string;
  rows: { batch: number; samplesPerSecond: number; msPerPass: number }[];
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function trainingData(batch: number, steps: number): SplitData {
  // Enough images that no sample repeats within the run; PyTorch reads the same first N.
  const count = Math.min(60_000, batch * steps);
  const s = fashionSubset(count, { set: 'train' });
  return { count, pixels: s.pixels, labels: Uint16Array.from(s.labels) };
}

/** Resolves when the parent writes a line on stdin. */
function waitForGo(): Promise<void> {
  const rl = createInterface({ input: process.stdin });
  return new Promise((resolve) =>
    rl.once('line', () => {
      // Closing the interface leaves stdin open, which would keep this process alive after its figures.
      rl.close();
      process.stdin.destroy();
      resolve();
    }),
  );
}

/**
 * Times `steps` steps of trainMember after `warmup` untimed ones. trainMember has no per-step hook for timing, but
 * it polls `shouldStop` after every step, so timestamps taken there time exactly the steps (batch assembly, forward,
 * backward, Adam update, loss read-back, the yield to the event loop) and leave out the per-run work around them
 * (model build, the shuffle of the epoch order, the end-of-epoch weight check and snapshot). Timing whole epochs via
 * maxStepsPerEpoch would count that work against the steps, and the warm-up could not be separated.
 */
async function timeTrainMember(model: BenchModel, steps: number, warmup: number, seed: number, barrier: boolean) {
  const { batch, architecture } = BENCH_MODELS[model];
  const stamps: number[] = [];
  let polls = 0;
  let cpu0 = process.cpuUsage();
  const result = await trainMember({
    data: { train: trainingData(batch, warmup + steps), val: { count: 0, pixels: new Uint8Array(0), labels: new Uint16Array(0) }, shape: SHAPE, norm: NORM },
    architecture,
    training: trainingSchema.parse({
      epochs: 1,
      batchSize: batch,
      optimizer: 'adam',
      learningRate: 1e-3,
      classWeights: 'none',
      earlyStopping: { enabled: false, restoreBestWeights: false },
      maxStepsPerEpoch: warmup + steps,
    }),
    augmentation: augmentationSchema.parse({}),
    seed,
    shouldStop: async () => {
      polls++;
      if (polls === warmup && barrier) {
        console.log('ready');
        await waitForGo();
      }
      if (polls === warmup) cpu0 = process.cpuUsage();
      if (polls >= warmup) stamps.push(performance.now());
      return false;
    },
  });
  const cpu = process.cpuUsage(cpu0);
  result.model.dispose();
  const durations = stamps.slice(1).map((t, i) => t - stamps[i]);
  const wallMs = stamps.at(-1)! - stamps[0];
  return { samplesPerSecond: (steps * batch) / (wallMs / 1000), medianStepMs: median(durations), cpuShare: (cpu.user + cpu.system) / 1000 / wallMs };
}

/**
 * The same step without trainMember around it: batch assembly, softmax cross-entropy plus the L2 penalties, Adam.
 * The gap to trainMember's figure is its per-step bookkeeping (accuracy, two read-backs, dropout step, yield).
 */
async function timeBareLoop(model: BenchModel, steps: number, warmup: number, seed: number) {
  const { batch, architecture } = BENCH_MODELS[model];
  const data = trainingData(batch, warmup + steps);
  const table = normalisationTable(NORM);
  const net = buildModel(architecture, SHAPE, seed);
  const optimizer = adam(1e-3);
  const step = (s: number) => {
    const idx = Uint32Array.from({ length: batch }, (_, j) => (s * batch + j) % data.count);
    setDropoutStep(net, s);
    const loss = tf.tidy(() => {
      const x = imageBatch(data, idx, SHAPE, table);
      const y = labelBatch(data, idx, SHAPE.numClasses);
      return optimizer.minimize(() => {
        let l: tf.Scalar = weightedCrossEntropy(y, net.apply(x, { training: true }) as tf.Tensor2D, null, { fromLogits: false });
        for (const penalty of net.calculateLosses()) l = tf.add(l, penalty) as tf.Scalar;
        return l;
      }, true)!;
    });
    loss.dataSync();
    loss.dispose();
  };
  for (let s = 0; s < warmup; s++) step(s);
  const stamps = [performance.now()];
  for (let s = warmup; s < warmup + steps; s++) {
    step(s);
    stamps.push(performance.now());
  }
  // Kernel times of a few more steps. The profiler makes every kernel synchronous and times it on its own; a composite
  // kernel (the wasm conv gradients, written as forward convolutions) is listed with the kernels it runs inside it.
  const profiled = 3;
  const t0 = performance.now();
  const profile = await tf.profile(() => {
    for (let s = 0; s < profiled; s++) step(warmup + steps + s);
  });
  const profiledStepMs = (performance.now() - t0) / profiled;
  const byName = new Map<string, { ms: number; calls: number }>();
  for (const k of profile.kernels) {
    const entry = byName.get(k.name) ?? { ms: 0, calls: 0 };
    entry.ms += k.kernelTimeMs as number;
    entry.calls++;
    byName.set(k.name, entry);
  }
  const kernels = [...byName]
    .map(([name, e]) => ({ name, msPerStep: e.ms / profiled, calls: e.calls / profiled }))
    .sort((a, b) => b.msPerStep - a.msPerStep);
  net.dispose();
  optimizer.dispose();
  const durations = stamps.slice(1).map((t, i) => t - stamps[i]);
  return {
    bare: { samplesPerSecond: (steps * batch) / ((stamps.at(-1)! - stamps[0]) / 1000), medianStepMs: median(durations) },
    kernels,
    profiledStepMs,
  };
}

/** Forward passes through the inference runtime (one-member plan), each batch size for about `seconds`. */
function timePrediction(model: BenchModel, batches: number[], seconds: number): PredictFigures['rows'] {
  const net = buildModel(BENCH_MODELS[model].architecture, SHAPE, 1);
  const runner = createEnsembleRunner([planFromLayers(net)]);
  net.dispose();
  const table = normalisationTable(NORM);
  const test = fashionSubset(Math.max(...batches), { set: 't10k' });
  const rows = batches.map((batch) => {
    const x = Float32Array.from(test.pixels.subarray(0, batch * 784), (v) => table[v]);
    for (let i = 0; i < 3; i++) runner.run(x, batch);
    let passes = 0;
    const t0 = performance.now();
    let elapsed = 0;
    while (elapsed < seconds * 1000 || passes < 3) {
      runner.run(x, batch);
      passes++;
      elapsed = performance.now() - t0;
    }
    return { batch, samplesPerSecond: (passes * batch) / (elapsed / 1000), msPerPass: elapsed / passes };
  });
  runner.dispose();
  return rows;
}

async function main(): Promise<void> {
  const [mode, ...rest] = process.argv.slice(2);
  const option = (name: string, def: string) => (rest.includes(name) ? rest[rest.indexOf(name) + 1] : def);
  const model = option('--model', 'reference') as BenchModel;
  if (!(model in BENCH_MODELS)) throw new Error(`--model must be one of ${Object.keys(BENCH_MODELS).join(', ')}`);
  const { name: backend } = await selectBackend('auto');
  if (mode === 'train') {
    const steps = Number(option('--steps', '60'));
    const warmup = Number(option('--warmup', '5'));
    const seed = Number(option('--seed', '1'));
    // The bare loop runs first, so that a warmer JIT or a wasm heap already grown cannot favour it over trainMember.
    const bare = rest.includes('--bare') ? await timeBareLoop(model, steps, warmup, seed) : {};
    const figures: TrainFigures = { ...(await timeTrainMember(model, steps, warmup, seed, rest.includes('--barrier'))), ...bare, backend };
    console.log(JSON.stringify(figures));
  } else if (mode === 'predict') {
    const batches = option('--batches', '1,16,256').split(',').map(Number);
    const figures: PredictFigures = { backend, rows: timePrediction(model, batches, Number(option('--seconds', '1.5'))) };
    console.log(JSON.stringify(figures));
  } else {
    throw new Error('usage: bench-train-worker.ts train|predict --model reference|small|fashion [options]');
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await main();
}
