/**
 * `npm run bench:train -- [--steps S] [--warmup W] [--seconds T] [--no-peer]`: training throughput of Quorum's
 * engine (trainMember on the active tfjs backend) against PyTorch, in the same run, on the same Fashion-MNIST images,
 * for the reference CNN (batch 64) and the `small` preset (batch 32). Single process, and the whole machine as one
 * independent training per core (as ensemble members train in production), summed. Also forward-only samples/s of
 * the inference runtime (plan + runner, one member) against PyTorch in eval mode at batch 1, 16 and 256, and the
 * kernels that dominate a training step. The peer is scripts/peer/torch_train.py, run with Debian's python3-torch.
 * Every measurement runs in a fresh child process (scripts/bench-train-worker.ts), one after another.
 */
import { spawn, spawnSync } from 'node:child_process';
import os from 'node:os';
import { createInterface } from 'node:readline';
import { BENCH_MODELS, type BenchModel, type PredictFigures, type TrainFigures } from './bench-train-worker.js';
import { FASHION_DIR } from './lib/fashion.js';

const argv = process.argv.slice(2);
const option = (name: string, def: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : def);
const STEPS = Number(option('--steps', '60'));
const WARMUP = Number(option('--warmup', '5'));
const PREDICT_SECONDS = Number(option('--seconds', '1.5'));
const CORES = os.availableParallelism();
const BATCHES = [1, 16, 256];
const MODELS = Object.keys(BENCH_MODELS) as BenchModel[];
const PYTHON = '/usr/bin/python3'; // Debian's python with python3-torch; `python3` on PATH may be another one
const WORKER = ['--import', 'tsx', 'scripts/bench-train-worker.ts'];
const PEER = ['scripts/peer/torch_train.py'];

interface Command {
  cmd: string;
  args: string[];
}
const quorum = (...args: string[]): Command => ({ cmd: process.execPath, args: [...WORKER, ...args] });
const torch = (...args: string[]): Command => ({ cmd: PYTHON, args: [...PEER, ...args, '--data', FASHION_DIR] });

/**
 * Runs the commands at once and returns each one's JSON line. With `barrier`, each prints "ready" after its warm-up
 * and waits; once all are ready every one is told to go, so the timed windows overlap.
 */
async function together<T>(commands: Command[], barrier = false): Promise<T[]> {
  const children = commands.map(({ cmd, args }) => spawn(cmd, barrier ? [...args, '--barrier'] : args, { stdio: ['pipe', 'pipe', 'inherit'] }));
  let readyCount = 0;
  try {
    return await Promise.all(
      children.map(
        (child, i) =>
          new Promise<T>((resolve, reject) => {
            let result: T | undefined;
            createInterface({ input: child.stdout! }).on('line', (line) => {
              if (line === 'ready') {
                if (++readyCount === children.length) for (const c of children) c.stdin!.write('go\n');
              } else if (line.startsWith('{')) result = JSON.parse(line) as T;
            });
            child.on('error', reject);
            child.on('close', (code) =>
              code === 0 && result ? resolve(result) : reject(new Error(`${commands[i].cmd} ${commands[i].args.join(' ')} exited with ${code}`)),
            );
          }),
      ),
    );
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  }
}

const one = async <T>(command: Command): Promise<T> => (await together<T>([command]))[0];
const sum = (figures: { samplesPerSecond: number }[]) => figures.reduce((a, f) => a + f.samplesPerSecond, 0);
const trainArgs = (model: BenchModel) => ['train', '--model', model, '--steps', String(STEPS), '--warmup', String(WARMUP)];
const fmt = (v: number | undefined, digits = 0) => (v == null || !Number.isFinite(v) ? '—' : v.toFixed(digits));
const cell = (text: string, width = 28) => text.padStart(width);
const step = (f: { samplesPerSecond: number; medianStepMs: number }) => `${fmt(f.samplesPerSecond)} (${fmt(f.medianStepMs)} ms/step)`;

const started = performance.now();
const load0 = os.loadavg()[0];
const hasPeer = !argv.includes('--no-peer') && spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
console.log(`bench:train — ${STEPS} timed steps after ${WARMUP} warm-up steps per training; ${CORES} cores (${os.cpus()[0]?.model ?? 'cpu'}), ` +
  `load average ${load0.toFixed(1)} at start`);
console.log("The reference CNN uses 'same' padding in both engines: Quorum's architecture spec has no 'valid' convolutions.");

// --- Quorum ---------------------------------------------------------------------------------------------------
const single = new Map<BenchModel, TrainFigures>();
const machine = new Map<BenchModel, TrainFigures[]>();
const predictions = new Map<BenchModel, PredictFigures>();
for (const model of MODELS) {
  process.stdout.write(`\r  Quorum: ${model}, 1 process…      `);
  single.set(model, await one<TrainFigures>(quorum(...trainArgs(model), '--bare')));
  process.stdout.write(`\r  Quorum: ${model}, ${CORES} processes…      `);
  machine.set(model, await together<TrainFigures>(Array.from({ length: CORES }, (_, i) => quorum(...trainArgs(model), '--seed', String(i + 1))), true));
  process.stdout.write(`\r  Quorum: ${model}, prediction…      `);
  predictions.set(model, await one<PredictFigures>(quorum('predict', '--model', model, '--batches', BATCHES.join(','), '--seconds', String(PREDICT_SECONDS))));
}

// --- PyTorch ----------------------------------------------------------------------------------------------------
interface PeerTrain {
  samplesPerSecond: number;
  medianStepMs: number;
  threads: number;
  torch: string;
}
interface PeerPredict {
  rows: PredictFigures['rows'];
  threads: number;
  torch: string;
}
const peer = new Map<BenchModel, { twoThreads: PeerTrain; oneThread: PeerTrain; machine: PeerTrain[]; predict1: PeerPredict; predictN: PeerPredict }>();
if (hasPeer) {
  for (const model of MODELS) {
    process.stdout.write(`\r  PyTorch: ${model}…                  `);
    peer.set(model, {
      twoThreads: await one<PeerTrain>(torch(...trainArgs(model), '--threads', '2')),
      oneThread: await one<PeerTrain>(torch(...trainArgs(model), '--threads', '1')),
      machine: await together<PeerTrain>(Array.from({ length: CORES }, (_, i) => torch(...trainArgs(model), '--threads', '1', '--seed', String(i + 1))), true),
      predict1: await one<PeerPredict>(torch('predict', '--model', model, '--threads', '1', '--batches', BATCHES.join(','), '--seconds', String(PREDICT_SECONDS))),
      predictN: await one<PeerPredict>(torch('predict', '--model', model, '--threads', String(CORES), '--batches', BATCHES.join(','), '--seconds', String(PREDICT_SECONDS))),
    });
  }
}
process.stdout.write('\r' + ' '.repeat(50) + '\r');

// --- Report -----------------------------------------------------------------------------------------------------
const backend = single.get(MODELS[0])!.backend;
const torchVersion = peer.get(MODELS[0])?.oneThread.torch ?? '';
const header = (title: string) => console.log(`\n${title.padEnd(44)}${MODELS.map((m) => cell(`${BENCH_MODELS[m].label} (batch ${BENCH_MODELS[m].batch})`)).join('')}`);
const row = (label: string, value: (m: BenchModel) => string) => console.log(`${label.padEnd(44)}${MODELS.map((m) => cell(value(m))).join('')}`);

header('Training, samples/s (median step time)');
row(`Quorum trainMember (${backend}), 1 process`, (m) => step(single.get(m)!));
row(`  same step without trainMember, 1 process`, (m) => step(single.get(m)!.bare!));
row(`Quorum, ${CORES} processes × trainMember, summed`, (m) => fmt(sum(machine.get(m)!)));
if (hasPeer) {
  row(`PyTorch ${torchVersion}, 1 process × 2 threads`, (m) => step(peer.get(m)!.twoThreads));
  row(`PyTorch, 1 process × 1 thread`, (m) => step(peer.get(m)!.oneThread));
  row(`PyTorch, ${CORES} processes × 1 thread, summed`, (m) => fmt(sum(peer.get(m)!.machine)));
  const bestSingle = (m: BenchModel) => Math.max(peer.get(m)!.twoThreads.samplesPerSecond, peer.get(m)!.oneThread.samplesPerSecond);
  const best = (m: BenchModel) => Math.max(bestSingle(m), sum(peer.get(m)!.machine));
  row('Quorum ÷ PyTorch, best single process', (m) => `${fmt(single.get(m)!.samplesPerSecond / bestSingle(m), 2)}×`);
  row("Quorum whole machine ÷ PyTorch's best", (m) => `${fmt(sum(machine.get(m)!) / best(m), 2)}×`);
} else {
  console.log('PyTorch peer skipped: needs /usr/bin/python3 with torch (Debian python3-torch), or was turned off with --no-peer');
}

console.log(`\nWhere a Quorum training step goes (bare step under tf.profile, ms per step and share of the profiled step):`);
for (const m of MODELS) {
  const f = single.get(m)!;
  // "…__op" entries are op scopes (customGrad wrappers) around a kernel listed on its own.
  const top = f.kernels!.filter((k) => !k.name.endsWith('__op')).slice(0, 7);
  console.log(`  ${BENCH_MODELS[m].label}, ${fmt(f.profiledStepMs)} ms/step profiled: ` +
    top.map((k) => `${k.name} ${fmt(k.msPerStep)} (${fmt((100 * k.msPerStep) / f.profiledStepMs!)}%)`).join(', '));
}
console.log('  The wasm conv gradients are composite kernels: their time includes the Conv2D, Transpose and Pad they run, which are also counted on their own.');

console.log(`\nPrediction, forward only, samples/s (Quorum: inference plan + runner, one member, one thread; PyTorch: eval, no_grad)`);
console.log(`${''.padEnd(44)}${BATCHES.map((b) => cell(`batch ${b}`, 14)).join('')}`);
for (const m of MODELS) {
  const rows = (figures: { rows: PredictFigures['rows'] }) => BATCHES.map((b) => cell(fmt(figures.rows.find((r) => r.batch === b)?.samplesPerSecond), 14)).join('');
  console.log(`${`${BENCH_MODELS[m].label}: Quorum (${backend})`.padEnd(44)}${rows(predictions.get(m)!)}`);
  const p = peer.get(m);
  if (!p) continue;
  console.log(`${'  PyTorch, 1 thread'.padEnd(44)}${rows(p.predict1)}`);
  console.log(`${`  PyTorch, ${CORES} threads`.padEnd(44)}${rows(p.predictN)}`);
  console.log(`${"  Quorum ÷ PyTorch's best".padEnd(44)}${BATCHES.map((b) => {
    const q = predictions.get(m)!.rows.find((r) => r.batch === b)!.samplesPerSecond;
    const t = Math.max(...[p.predict1, p.predictN].map((f) => f.rows.find((r) => r.batch === b)!.samplesPerSecond));
    return cell(`${fmt(q / t, 2)}×`, 14);
  }).join('')}`);
}
console.log(`\n${((performance.now() - started) / 1000).toFixed(0)} s in all; load average ${os.loadavg()[0].toFixed(1)} at the end ` +
  '(other work on the machine skews the figures, and multi-threaded PyTorch suffers most from it).');
