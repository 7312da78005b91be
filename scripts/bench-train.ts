/**
 * `npm run bench:train -- [--steps S] [--warmup W] [--repeats R] [--seconds T] [--models reference,small,fashion] [--no-peer]`:
 * training throughput of Quorum's engine (trainMember on the active tfjs backend) against PyTorch, in the same run, on
 * the same Fashion-MNIST images, for the reference CNN (batch 64), the `small` preset (batch 32) and the `fashion`
 * preset's network (batch 128). Single process, and the whole machine as one
 * independent training per core (as ensemble members train in production), summed. Also forward-only samples/s of
 * the inference runtime (plan + runner, one member) against PyTorch in eval mode at batch 1, 16 and 256, and the
 * kernels that dominate a training step. The peer is scripts/peer/torch_train.py, run with Debian's python3-torch.
 * Every measurement runs in a fresh child process (scripts/bench-train-worker.ts), one after another.
 */
import { spawn, spawnSync } from 'node:child_process';
import os from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { BENCH_MODELS, type BenchModel, type PredictFigures, type TrainFigures } from './bench-train-worker.js';
import { FASHION_DIR } from './lib/fashion.js';

const argv = process.argv.slice(2);
const option = (name: string, def: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : def);
/**
 * Timed and warm-up steps per training, per model, unless --steps/--warmup set them for all. The short-step models
 * get more of both: V8 compiles wasm in tiers (a baseline compiler first, the optimising one for hot functions in the
 * background), and with 5 warm-up and 60 timed steps (2 s) two reference-CNN trainings side by side reached 1.58× one
 * alone, with 20 and 200 1.85×; a real training runs for minutes, past all of that.
 */
const STEPS_FOR: Record<BenchModel, { steps: number; warmup: number }> = {
  reference: { steps: 240, warmup: 30 },
  small: { steps: 240, warmup: 30 },
  fashion: { steps: 60, warmup: 8 },
};
const STEPS = argv.includes('--steps') ? Number(option('--steps', '')) : undefined;
const WARMUP = argv.includes('--warmup') ? Number(option('--warmup', '')) : undefined;
const stepsOf = (m: BenchModel) => ({ steps: STEPS ?? STEPS_FOR[m].steps, warmup: WARMUP ?? STEPS_FOR[m].warmup });
const PREDICT_SECONDS = Number(option('--seconds', '1.5'));
/**
 * The whole-machine measurements, which the target compares, run this many times, the engines alternating, and
 * report the run with the median sum: on this VM one such figure moved by 20% between runs of the same code while
 * single-process figures held (Quorum's fashion network 674 and 811 samples/s, PyTorch's 762 and 769).
 */
const REPEATS = Number(option('--repeats', '3'));
const CORES = os.availableParallelism();
const BATCHES = [1, 16, 256];
const MODELS = option('--models', Object.keys(BENCH_MODELS).join(',')).split(',') as BenchModel[];
for (const m of MODELS) {
  if (!(m in BENCH_MODELS)) throw new Error(`--models: unknown model '${m}' (known: ${Object.keys(BENCH_MODELS).join(', ')})`);
}
const PYTHON = '/usr/bin/python3'; // Debian's python with python3-torch; `python3` on PATH may be another one
// Children run from the repository root, where `--import tsx` resolves, whatever directory this was started in.
const ROOT = fileURLToPath(new URL('..', import.meta.url));
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
  const children = commands.map(({ cmd, args }) =>
    spawn(cmd, barrier ? [...args, '--barrier'] : args, { cwd: ROOT, stdio: [barrier ? 'pipe' : 'ignore', 'pipe', 'inherit'] }),
  );
  let readyCount = 0;
  try {
    return await Promise.all(
      children.map(
        (child, i) =>
          new Promise<T>((resolve, reject) => {
            let result: T | undefined;
            createInterface({ input: child.stdout! }).on('line', (line) => {
              if (line === 'ready') {
                if (++readyCount === children.length) for (const c of children) c.stdin!.end('go\n');
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
const trainArgs = (model: BenchModel) => ['train', '--model', model, '--steps', String(stepsOf(model).steps), '--warmup', String(stepsOf(model).warmup)];
const fmt = (v: number | undefined, digits = 0) => (v == null || !Number.isFinite(v) ? '—' : v.toFixed(digits));
const cell = (text: string, width = 34) => text.padStart(width);
const cpu = (share: number) => `CPU ${fmt(share, 2)}`;
const step = (f: { samplesPerSecond: number; medianStepMs: number; cpuShare?: number }) =>
  `${fmt(f.samplesPerSecond)} (${fmt(f.medianStepMs)} ms/step${f.cpuShare == null ? '' : `, ${cpu(f.cpuShare)}`})`;
/** The run (a set of simultaneous trainings) whose summed samples/s is the median of the runs'. */
const medianRun = <T extends { samplesPerSecond: number }>(runs: T[][]): T[] => [...runs].sort((a, b) => sum(a) - sum(b))[(runs.length - 1) >> 1];
const summed = (figures: { samplesPerSecond: number; cpuShare: number }[]) =>
  `${fmt(sum(figures))} (${cpu(figures.reduce((a, f) => a + f.cpuShare, 0) / figures.length)} each)`;
const runSums = (sums: number[]) => sums.map((v) => fmt(v)).join(' / ');

const started = performance.now();
const load0 = os.loadavg()[0];
const hasPeer = !argv.includes('--no-peer') && spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
const stepsText = MODELS.map((m) => `${BENCH_MODELS[m].label} ${stepsOf(m).steps} after ${stepsOf(m).warmup}`).join(', ');
console.log(`bench:train — timed steps after warm-up steps per training: ${stepsText}; whole-machine runs ${REPEATS}× each, alternating; ${CORES} cores (${os.cpus()[0]?.model ?? 'cpu'}), ` +
  `load average ${load0.toFixed(1)} at start`);
console.log("The reference CNN uses 'same' padding in both engines: Quorum's architecture spec has no 'valid' convolutions.");

interface PeerTrain {
  samplesPerSecond: number;
  medianStepMs: number;
  cpuShare: number;
  threads: number;
  torch: string;
}
interface PeerPredict {
  rows: PredictFigures['rows'];
  threads: number;
  torch: string;
}
interface Results {
  single: TrainFigures;
  /** The whole-machine run with the median sum, and every run's sum in order. */
  machine: TrainFigures[];
  machineSums: number[];
  predict: PredictFigures;
  peer?: { twoThreads: PeerTrain; oneThread: PeerTrain; machine: PeerTrain[]; machineSums: number[]; predict1: PeerPredict; predict2: PeerPredict };
}

// The engines' measurements alternate, so that a change in the machine's other load mid-run skews both alike.
const results = new Map<BenchModel, Results>();
for (const model of MODELS) {
  const stage = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
    process.stdout.write(`\r  ${BENCH_MODELS[model].label}: ${what}…`.padEnd(70));
    return run();
  };
  const predictArgs = ['predict', '--model', model, '--batches', BATCHES.join(','), '--seconds', String(PREDICT_SECONDS)];
  const r: Omit<Partial<Results>, 'peer'> & { peer?: Partial<NonNullable<Results['peer']>> } = {};
  r.single = await stage('Quorum, 1 process', () => one<TrainFigures>(quorum(...trainArgs(model), '--bare')));
  if (hasPeer) {
    r.peer = {};
    r.peer.oneThread = await stage('PyTorch, 1 thread', () => one<PeerTrain>(torch(...trainArgs(model), '--threads', '1')));
    r.peer.twoThreads = await stage('PyTorch, 2 threads', () => one<PeerTrain>(torch(...trainArgs(model), '--threads', '2')));
  }
  const quorumRuns: TrainFigures[][] = [];
  const peerRuns: PeerTrain[][] = [];
  for (let k = 0; k < REPEATS; k++) {
    const of = REPEATS > 1 ? ` (${k + 1} of ${REPEATS})` : '';
    quorumRuns.push(
      await stage(`Quorum, ${CORES} processes${of}`, () =>
        together<TrainFigures>(Array.from({ length: CORES }, (_, i) => quorum(...trainArgs(model), '--seed', String(i + 1))), true),
      ),
    );
    if (r.peer) {
      peerRuns.push(
        await stage(`PyTorch, ${CORES} processes${of}`, () =>
          together<PeerTrain>(Array.from({ length: CORES }, (_, i) => torch(...trainArgs(model), '--threads', '1', '--seed', String(i + 1))), true),
        ),
      );
    }
  }
  r.machine = medianRun(quorumRuns);
  r.machineSums = quorumRuns.map(sum);
  if (r.peer) {
    r.peer.machine = medianRun(peerRuns);
    r.peer.machineSums = peerRuns.map(sum);
  }
  r.predict = await stage('Quorum, prediction', () => one<PredictFigures>(quorum(...predictArgs)));
  if (r.peer) {
    r.peer.predict1 = await stage('PyTorch, prediction', () => one<PeerPredict>(torch(...predictArgs, '--threads', '1')));
    r.peer.predict2 = await stage('PyTorch, prediction', () => one<PeerPredict>(torch(...predictArgs, '--threads', '2')));
  }
  results.set(model, r as Results);
}
process.stdout.write('\r' + ' '.repeat(70) + '\r');

// --- Report -----------------------------------------------------------------------------------------------------
const res = (m: BenchModel) => results.get(m)!;
const backend = res(MODELS[0]).single.backend;
const torchVersion = res(MODELS[0]).peer?.oneThread.torch ?? '';
const header = (title: string) => console.log(`\n${title.padEnd(44)}${MODELS.map((m) => cell(`${BENCH_MODELS[m].label} (batch ${BENCH_MODELS[m].batch})`)).join('')}`);
const row = (label: string, value: (m: BenchModel) => string) => console.log(`${label.padEnd(44)}${MODELS.map((m) => cell(value(m))).join('')}`);

header('Training, samples/s');
console.log("(median step time; CPU = the process's CPU time over the timed steps ÷ their wall time, 1.00 = one core kept busy)");
row(`Quorum trainMember (${backend}), 1 process`, (m) => step(res(m).single));
row('  same step without trainMember, 1 process', (m) => step(res(m).single.bare!));
row(`Quorum, ${CORES} processes × trainMember, summed`, (m) => summed(res(m).machine));
if (REPEATS > 1) row('  every run, in order (the median above)', (m) => runSums(res(m).machineSums));
if (hasPeer) {
  const peerOf = (m: BenchModel) => res(m).peer!;
  row(`PyTorch ${torchVersion}, 1 process × 2 threads`, (m) => step(peerOf(m).twoThreads));
  row('PyTorch, 1 process × 1 thread', (m) => step(peerOf(m).oneThread));
  row(`PyTorch, ${CORES} processes × 1 thread, summed`, (m) => summed(peerOf(m).machine));
  if (REPEATS > 1) row('  every run, in order (the median above)', (m) => runSums(peerOf(m).machineSums));
  const bestSingle = (m: BenchModel) => Math.max(peerOf(m).twoThreads.samplesPerSecond, peerOf(m).oneThread.samplesPerSecond);
  const best = (m: BenchModel) => Math.max(bestSingle(m), sum(peerOf(m).machine));
  row('Quorum ÷ PyTorch, best single process', (m) => `${fmt(res(m).single.samplesPerSecond / bestSingle(m), 2)}×`);
  row("Quorum's best ÷ PyTorch's best", (m) => `${fmt(Math.max(res(m).single.samplesPerSecond, sum(res(m).machine)) / best(m), 2)}×`);
} else {
  console.log('PyTorch peer skipped: needs /usr/bin/python3 with torch (Debian python3-torch), or was turned off with --no-peer');
}

console.log('\nWhere a Quorum training step goes (the step without trainMember under tf.profile; ms per step, share of the step):');
for (const m of MODELS) {
  const f = res(m).single;
  // "…__op" entries are op scopes (customGrad wrappers) around a kernel listed on its own.
  const top = f.kernels!.filter((k) => !k.name.endsWith('__op')).slice(0, 7);
  console.log(`  ${BENCH_MODELS[m].label}, ${fmt(f.profiledStepMs)} ms/step profiled: ` +
    top.map((k) => `${k.name} ${fmt(k.msPerStep)} (${fmt((100 * k.msPerStep) / f.profiledStepMs!)}%)`).join(', '));
}
console.log('  The wasm conv gradients are composite kernels: their time includes the Conv2D, Transpose and Pad they run, which are also');
console.log("  listed on their own. trainMember's own cost per step is the gap between its median step and the bare loop's.");

console.log('\nPrediction, forward only, samples/s (Quorum: inference plan + runner, one member, one thread; PyTorch: eval, no_grad)');
console.log(`${''.padEnd(44)}${BATCHES.map((b) => cell(`batch ${b}`, 14)).join('')}`);
const at = (f: { rows: PredictFigures['rows'] }, b: number) => f.rows.find((r) => r.batch === b)?.samplesPerSecond ?? NaN;
for (const m of MODELS) {
  const line = (label: string, value: (b: number) => string) => console.log(`${label.padEnd(44)}${BATCHES.map((b) => cell(value(b), 14)).join('')}`);
  const q = res(m).predict;
  line(`${BENCH_MODELS[m].label}: Quorum (${backend})`, (b) => fmt(at(q, b)));
  const p = res(m).peer;
  if (!p) continue;
  line('  PyTorch, 1 thread', (b) => fmt(at(p.predict1, b)));
  line('  PyTorch, 2 threads', (b) => fmt(at(p.predict2, b)));
  line("  Quorum ÷ PyTorch's best", (b) => `${fmt(at(q, b) / Math.max(at(p.predict1, b), at(p.predict2, b)), 2)}×`);
}
console.log(`\n${((performance.now() - started) / 1000).toFixed(0)} s in all; load average ${os.loadavg()[0].toFixed(1)} at the end. Other work on ` +
  'the machine skews the figures (multi-threaded PyTorch most); compare within a run, and rerun when the load average was high.');
