/**
 * `npm run fashion`: the `fashion` preset end to end through the service, timed from the first upload to the finished
 * evaluation. Starts Redis, the S3-protocol server and the built service (TRAIN_CONCURRENCY = cores, so the two
 * members train side by side on a 2-core machine); uploads all 60,000 Fashion-MNIST training images as IDX over HTTP
 * (95% train, 5% validation) and the 10,000 test images as a second dataset; trains the preset; evaluates the model on
 * the whole test set; prints each member's and the ensemble's test accuracy and where the time went, and writes the
 * figures to fashion-run.json (or `--out FILE`). Options: `--epochs E` and `--members M` override the preset,
 * `--architecture JSON` replaces its network (a complete spec, as the API takes it), `--augmentation JSON` and `--training JSON`
 * override its augmentation and training options field by field; `--images N` trains on the first N training images only (a quick check of the path, not
 * the documented run).
 */
import os from 'node:os';
import { writeFile } from 'node:fs/promises';
import { connect } from './lib/client.js';
import { fashionSubset } from './lib/fashion.js';
import { readSse } from './lib/sse.js';
import { startStack } from './lib/stack.js';

const argv = process.argv.slice(2);
const option = (name: string) => (argv.includes(name) ? Number(argv[argv.indexOf(name) + 1]) : undefined);
const epochs = option('--epochs');
const members = option('--members');
const json = (name: string) => (argv.includes(name) ? JSON.parse(argv[argv.indexOf(name) + 1]) : undefined);
const architecture = json('--architecture');
const augmentation = json('--augmentation');
const trainingOverrides = json('--training');
// A smaller training set for a quick check of the whole path; the documented run uses all 60,000.
const images = option('--images') ?? 60_000;
const cores = os.availableParallelism();

const started = performance.now();
const seconds = () => (performance.now() - started) / 1000;
const stack = await startStack({ env: { TRAIN_CONCURRENCY: String(cores) } });
const { auth, api, post, uploadFashion, report } = connect(stack);
const phases: Record<string, number> = {};
const phase = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
  const t0 = seconds();
  const value = await fn();
  phases[name] = seconds() - t0;
  return value;
};

async function upload(name: string, subset: Parameters<typeof uploadFashion>[1], split: string): Promise<string> {
  const d = await uploadFashion(name, subset, split);
  console.log(`  ${name}: ${d.profile.counts.total} images ready in ${d.ingest.seconds.toFixed(1)} s (dataset ${d.id})`);
  return d.id as string;
}

async function train(datasetId: string): Promise<{ modelId: string; job: any }> {
  const body: Record<string, unknown> = { datasetId, preset: 'fashion' };
  if (epochs || trainingOverrides) body.training = { ...trainingOverrides, ...(epochs ? { epochs } : {}) };
  if (members) body.ensemble = { members };
  if (architecture) body.architecture = architecture;
  if (augmentation) body.augmentation = augmentation;
  const res = await post('/v1/training-jobs', body);
  const job = (await res.json()) as any;
  if (res.status !== 202) throw new Error(`training request failed: ${res.status} ${JSON.stringify(job)}`);
  console.log(`Training job ${job.id}: ${job.config.members} members × ${job.config.training.epochs} epochs, batch ${job.config.training.batchSize}`);
  let end: any = null;
  for await (const ev of readSse(`${stack.url}/v1/training-jobs/${job.id}/events`, auth)) {
    const data = JSON.parse(ev.data);
    if (ev.event === 'epoch') {
      console.log(
        `  [${seconds().toFixed(0).padStart(5)} s] member ${data.member + 1} epoch ${data.epoch}: loss ${data.loss.toFixed(4)}, ` +
          `train acc ${data.accuracy.toFixed(4)}, val acc ${(data.valAccuracy ?? 0).toFixed(4)}, lr ${data.learningRate.toExponential(2)}, ` +
          `${data.seconds.toFixed(0)} s (${((images * 0.95) / data.seconds).toFixed(0)} samples/s)`,
      );
    } else if (ev.event === 'end') {
      end = data;
      break;
    }
  }
  if (end?.status !== 'succeeded') throw new Error(`training ${end?.status}: ${JSON.stringify(end)}`);
  return { modelId: end.modelId as string, job: await (await api(`/v1/training-jobs/${job.id}`)).json() };
}

try {
  console.log(`Quorum is up at ${stack.url}; ${cores} cores, TRAIN_CONCURRENCY ${cores}`);
  const trainId = await phase('upload', async () => {
    const [id, testId] = await Promise.all([
      upload('fashion-mnist-train', fashionSubset(images, { set: 'train' }), '0.95,0.05,0'),
      upload('fashion-mnist-test', fashionSubset(10_000, { set: 't10k' }), '0.8,0.1,0.1'),
    ]);
    return { id, testId };
  });
  const { modelId, job } = await phase('training', () => train(trainId.id));
  const e = await phase('evaluation', () => report('/v1/evaluations', { modelId, datasetId: trainId.testId, split: 'all' }));
  const total = seconds();
  const m = e.metrics;
  console.log(`\nFashion-MNIST test set (${m.samples} images), model ${modelId}, backend ${job.members?.[0]?.backend ?? '?'}:`);
  for (const member of m.members) console.log(`  member ${member.index + 1} (seed ${member.seed}): accuracy ${member.accuracy.toFixed(4)}`);
  console.log(`  ensemble: accuracy ${m.accuracy.toFixed(4)} (gain ${m.ensembleGain >= 0 ? '+' : ''}${m.ensembleGain.toFixed(4)}), NLL ${m.nll.toFixed(4)}, ECE ${m.calibration.ece.toFixed(4)}`);
  console.log(`  wall time ${(total / 60).toFixed(1)} min: ${Object.entries(phases).map(([k, v]) => `${k} ${v.toFixed(0)} s`).join(', ')}`);
  const target = 0.939;
  console.log(`  target (Google AutoML Vision, 24 compute hours): accuracy > ${target} within 30 min: ${m.accuracy > target && total <= 1800 ? 'met' : 'not met'}`);
  await writeFile(
    argv.includes('--out') ? argv[argv.indexOf('--out') + 1] : 'fashion-run.json',
    JSON.stringify({ modelId, cores, seconds: total, phases, accuracy: m.accuracy, members: m.members, config: job.config, history: job.members?.map((x: any) => x.history) }, null, 2),
  );
} finally {
  await stack.stop();
}
