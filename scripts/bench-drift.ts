/**
 * `npm run bench:drift -- [--repeats R] [--sizes 200,1000]`: how often drift reports say "drift" through the HTTP
 * API of the built service. Trains a 3-member `small` ensemble on 3,000 Fashion-MNIST training images, then for each
 * sample size and repetition draws a fresh sample of Fashion-MNIST test images (seeded, disjoint within a
 * repetition), applies one condition — none, gaussian noise (σ 25 grey levels), darkening (×0.7), rotation (20°),
 * a class-prior change (two classes at 30% each) — uploads it and asks for a drift report. Prints the detection
 * rate per condition and size (for "none" that is the false-positive rate), and for the prior change the largest
 * error of the estimated class priors.
 */
import { createRng, shuffleInPlace } from '../src/data/random.js';
import { FASHION_CLASSES, fashionSubset, type Subset } from './lib/fashion.js';
import { connect } from './lib/client.js';
import { startStack } from './lib/stack.js';

const argv = process.argv.slice(2);
const option = (name: string, fallback: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
const REPEATS = Number(option('--repeats', '10'));
const SIZES = option('--sizes', '200,1000').split(',').map(Number);
const PRIORS = [0.3, 0.3, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05];

type Condition = 'none' | 'noise' | 'darken' | 'rotate' | 'priors';
const CONDITIONS: Condition[] = ['none', 'noise', 'darken', 'rotate', 'priors'];

const stack = await startStack({ env: { TRAIN_CONCURRENCY: '2' } });
const { api, post, uploadFashion } = connect(stack);

async function poll(path: string): Promise<any> {
  for (;;) {
    const b = (await (await api(path)).json()) as any;
    if (['ready', 'failed', 'succeeded', 'cancelled'].includes(b.status)) return b;
    await new Promise((r) => setTimeout(r, 200));
  }
}

let uploads = 0;
async function upload(s: Subset, split: string): Promise<string> {
  return (await uploadFashion(`drift-bench-${++uploads}`, s, split)).id;
}

/** n images of the 10,000-image test set, drawn without replacement; with priors, drawn class by class. */
function draw(pool: Subset, n: number, rng: () => number, priors?: number[]): Subset {
  const order = Array.from({ length: pool.count }, (_, i) => i);
  shuffleInPlace(order, rng);
  const picked = priors
    ? priors.flatMap((p, k) => order.filter((i) => pool.labels[i] === k).slice(0, Math.round(p * n)))
    : order.slice(0, n);
  const pixels = new Uint8Array(picked.length * 784);
  picked.forEach((src, i) => pixels.set(pool.pixels.subarray(src * 784, (src + 1) * 784), i * 784));
  return { count: picked.length, pixels, labels: Uint8Array.from(picked, (i) => pool.labels[i]) };
}

function apply(s: Subset, c: Condition, rng: () => number): Subset {
  const clamp = (v: number) => Math.max(0, Math.min(255, Math.round(v)));
  if (c === 'noise') {
    const gauss = () => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
    return { ...s, pixels: Uint8Array.from(s.pixels, (v) => clamp(v + 25 * gauss())) };
  }
  if (c === 'darken') return { ...s, pixels: Uint8Array.from(s.pixels, (v) => clamp(v * 0.7)) };
  if (c === 'rotate') {
    const [cos, sin] = [Math.cos((20 * Math.PI) / 180), Math.sin((20 * Math.PI) / 180)];
    const out = new Uint8Array(s.pixels.length);
    for (let i = 0; i < s.count; i++) {
      for (let y = 0; y < 28; y++) {
        for (let x = 0; x < 28; x++) {
          // Inverse mapping about the centre with bilinear sampling; outside the image is black.
          const sx = cos * (x - 13.5) + sin * (y - 13.5) + 13.5;
          const sy = -sin * (x - 13.5) + cos * (y - 13.5) + 13.5;
          const x0 = Math.floor(sx);
          const y0 = Math.floor(sy);
          let v = 0;
          for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
            const xx = x0 + dx;
            const yy = y0 + dy;
            if (xx < 0 || yy < 0 || xx > 27 || yy > 27) continue;
            v += s.pixels[i * 784 + yy * 28 + xx] * (dx ? sx - x0 : 1 - (sx - x0)) * (dy ? sy - y0 : 1 - (sy - y0));
          }
          out[i * 784 + y * 28 + x] = clamp(v);
        }
      }
    }
    return { ...s, pixels: out };
  }
  return s;
}

try {
  const started = performance.now();
  const datasetId = await upload(fashionSubset(3000, { set: 'train' }), '0.6,0.4,0');
  const job = (await (await post('/v1/training-jobs', { datasetId, preset: 'small', training: { epochs: 2 }, ensemble: { members: 3 } })).json()) as any;
  const trained = await poll(`/v1/training-jobs/${job.id}`);
  if (trained.status !== 'succeeded') throw new Error(`training ${trained.status}`);
  const model = (await (await api(`/v1/models/${trained.modelId}`)).json()) as any;
  console.log(`model ${model.id}: ensemble val accuracy ${model.metrics.ensembleValAccuracy.toFixed(3)} on ${model.metrics.valSamples} images (the drift reference)`);

  const pool = fashionSubset(10_000);
  const rows: string[] = [];
  for (const size of SIZES) {
    const detected: Record<Condition, number> = { none: 0, noise: 0, darken: 0, rotate: 0, priors: 0 };
    const priorErrors: number[] = [];
    for (let r = 0; r < REPEATS; r++) {
      for (const c of CONDITIONS) {
        const rng = createRng(1000 * size + 10 * r + CONDITIONS.indexOf(c));
        const sample = apply(draw(pool, size, rng, c === 'priors' ? PRIORS : undefined), c, rng);
        const current = await upload(sample, '1,0,0');
        const created = (await (await post('/v1/drift-reports', { modelId: model.id, current: { datasetId: current }, options: { seed: r + 1 } })).json()) as any;
        const report = await poll(`/v1/drift-reports/${created.id}`);
        if (report.status !== 'ready') throw new Error(`report ${created.id}: ${report.error?.detail}`);
        if (report.driftDetected) detected[c]++;
        if (c === 'priors') {
          const truth = FASHION_CLASSES.map((_, k) => sample.labels.filter((l) => l === k).length / sample.count);
          priorErrors.push(Math.max(...FASHION_CLASSES.map((name, k) => Math.abs(report.labelShift.estimatedPriors[name] - truth[k]))));
        }
        await api(`/v1/datasets/${current}`, { method: 'DELETE' });
      }
      process.stdout.write(`\r  size ${size}: ${r + 1}/${REPEATS} repetitions`);
    }
    process.stdout.write('\n');
    const meanErr = priorErrors.reduce((a, b) => a + b, 0) / priorErrors.length;
    rows.push(
      `${String(size).padStart(6)}` +
        CONDITIONS.map((c) => `${(detected[c] / REPEATS).toFixed(2)}`.padStart(9)).join('') +
        `${meanErr.toFixed(3).padStart(12)}${Math.max(...priorErrors).toFixed(3).padStart(10)}`,
    );
  }
  console.log(`\nFraction of ${REPEATS} drift reports per cell that said "drift" (alpha 0.05; for "none" this is the false-positive rate):`);
  console.log(`${'size'.padStart(6)}${CONDITIONS.map((c) => c.padStart(9)).join('')}${'prior err'.padStart(12)}${'max'.padStart(10)}`);
  for (const row of rows) console.log(row);
  console.log('prior err: mean over repetitions of the largest |estimated − true| class prior (BBSE), for the prior change');
  console.log(`wall time ${((performance.now() - started) / 1000).toFixed(0)} s`);
} finally {
  await stack.stop();
}
