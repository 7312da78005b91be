/**
 * `npm run bench:ensemble -- [--train N] [--epochs E] [--members M] [--preset small|medium]`: trains an ensemble
 * through the HTTP API of the built service on the first N Fashion-MNIST training images, then scores every member
 * and the ensemble on the full 10,000-image test set (models read back from the bucket, preprocessing from the model
 * manifest). Prints wall time, members' accuracy mean ± std and the ensemble's accuracy.
 */
import { loadConfig } from '../src/config.js';
import { selectBackend } from '../src/models/backend.js';
import { normalisationTable } from '../src/models/batches.js';
import { meanProbabilities, predictProbabilities, probabilityMetrics } from '../src/models/evaluate.js';
import { deserializeModel } from '../src/models/serialize.js';
import { keys } from '../src/storage/keys.js';
import { createStorage } from '../src/storage/storage.js';
import { FASHION_CLASSES, fashionSubset, subsetIdx } from './lib/fashion.js';
import { startStack } from './lib/stack.js';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const N = Number(arg('train', '60000'));
const EPOCHS = Number(arg('epochs', '10'));
const MEMBERS = Number(arg('members', '5'));
const PRESET = arg('preset', 'small');

const stack = await startStack({ env: { TRAIN_CONCURRENCY: '2' } });
const headers = { authorization: `Bearer ${stack.apiKey}` };
try {
  const idx = subsetIdx(fashionSubset(N, { set: 'train' }));
  const body = new FormData();
  body.append('classNames', FASHION_CLASSES.join(','));
  body.append('split', '0.9,0.1,0');
  body.append('images', new Blob([idx.images]), 'train-images.idx');
  body.append('labels', new Blob([idx.labels]), 'train-labels.idx');
  const ds = (await (await fetch(`${stack.url}/v1/datasets`, { method: 'POST', body, headers })).json()) as any;
  let d: any;
  do {
    await new Promise((r) => setTimeout(r, 500));
    d = await (await fetch(`${stack.url}/v1/datasets/${ds.id}`, { headers })).json();
  } while (d.status === 'queued' || d.status === 'running');
  if (d.status !== 'ready') throw new Error(JSON.stringify(d.error));

  const started = performance.now();
  const res = await fetch(`${stack.url}/v1/training-jobs`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify({ datasetId: d.id, preset: PRESET, training: { epochs: EPOCHS }, ensemble: { members: MEMBERS } }),
  });
  const job = (await res.json()) as any;
  let j: any;
  do {
    await new Promise((r) => setTimeout(r, 2000));
    j = await (await fetch(`${stack.url}/v1/training-jobs/${job.id}`, { headers })).json();
    process.stdout.write(`\r  ${j.status}: ${j.progress.epochsDone}/${j.progress.epochsTotal} member-epochs`);
  } while (!['succeeded', 'failed', 'cancelled'].includes(j.status));
  const wall = (performance.now() - started) / 1000;
  console.log();
  if (j.status !== 'succeeded') throw new Error(`training ${j.status}: ${JSON.stringify(j.error)}`);

  // Score on the test set in this process, from the objects the service stored.
  await selectBackend('auto');
  const storage = createStorage(loadConfig({ ...process.env, ...stack.env }));
  const model = (await (await fetch(`${stack.url}/v1/models/${j.modelId}`, { headers })).json()) as any;
  const test = fashionSubset(10_000, { set: 't10k' });
  const split = { count: test.count, pixels: test.pixels, labels: Uint16Array.from(test.labels) };
  const table = normalisationTable(model.preprocessing);
  const shape = { height: 28, width: 28, channels: 1 };
  const probs: Float32Array[] = [];
  for (const m of model.members) {
    const modelJson = JSON.parse((await storage.getBytes(keys.modelMember('demo', model.id, m.index, 'model.json')))!.toString());
    const weights = (await storage.getBytes(keys.modelMember('demo', model.id, m.index, 'weights.bin')))!;
    const net = await deserializeModel({ modelJson, weights });
    probs.push(await predictProbabilities(net, split, shape, table));
    net.dispose();
  }
  storage.destroy();
  const accs = probs.map((p) => probabilityMetrics(p, split.labels, 10).accuracy);
  const mean = accs.reduce((a, b) => a + b, 0) / accs.length;
  const std = Math.sqrt(accs.reduce((a, x) => a + (x - mean) ** 2, 0) / Math.max(1, accs.length - 1));
  const ens = probabilityMetrics(meanProbabilities(probs), split.labels, 10);
  const epochsRun = j.members.map((m: any) => m.history.length);
  console.log(`\n${PRESET} preset, ${MEMBERS} members, ${N} training images (90% train / 10% val), up to ${EPOCHS} epochs ` +
    `(run: ${epochsRun.join(', ')}), backend ${model.backend}, TRAIN_CONCURRENCY 2:`);
  console.log(`  wall time of the training job     ${wall.toFixed(0)} s`);
  console.log(`  members' test accuracy            ${accs.map((a) => a.toFixed(4)).join(', ')}`);
  console.log(`  members' mean ± std               ${mean.toFixed(4)} ± ${std.toFixed(4)}`);
  console.log(`  ensemble test accuracy            ${ens.accuracy.toFixed(4)} (gain over the mean member ${(ens.accuracy - mean >= 0 ? '+' : '')}${(ens.accuracy - mean).toFixed(4)})`);
  console.log(`  validation: ensemble ${model.metrics.ensembleValAccuracy.toFixed(4)}, members ${model.metrics.memberValAccuracyMean.toFixed(4)} ± ${model.metrics.memberValAccuracyStd.toFixed(4)}`);
} finally {
  await stack.stop();
}
