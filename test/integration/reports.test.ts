import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRng } from '../../src/data/random.js';
import { FASHION_CLASSES, fashionSubset, type Subset } from '../fixtures/fashion.js';
import { uploadSubset, untilFinished } from '../harness/resources.js';
import { startTestService, type TestService } from '../harness/service.js';

let svc: TestService;
let modelId: string;
let trainingJobId: string;
const json = (body: unknown) => ({ method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

/** A copy of `s` with every pixel passed through `f(value, image, pixelIndex)`. */
function mapPixels(s: Subset, f: (v: number, image: number, p: number) => number): Subset {
  return { ...s, pixels: Uint8Array.from(s.pixels, (v, j) => Math.max(0, Math.min(255, Math.round(f(v, Math.floor(j / 784), j % 784))))) };
}

/** `count` images whose classes follow `priors`, drawn from `pool` without replacement. */
function withPriors(pool: Subset, priors: number[], count: number): Subset {
  const byClass = FASHION_CLASSES.map((_, k) => Array.from({ length: pool.count }, (_, i) => i).filter((i) => pool.labels[i] === k));
  const picked: number[] = [];
  priors.forEach((p, k) => picked.push(...byClass[k].slice(0, Math.round(p * count))));
  const pixels = new Uint8Array(picked.length * 784);
  picked.forEach((src, i) => pixels.set(pool.pixels.subarray(src * 784, (src + 1) * 784), i * 784));
  return { count: picked.length, pixels, labels: Uint8Array.from(picked, (i) => pool.labels[i]) };
}

// Training data and its validation split come from the first 3,000 test images; current data from the rest.
const current = fashionSubset(1000, { offset: 6000 });

beforeAll(async () => {
  svc = await startTestService({ env: { TRAIN_CONCURRENCY: '2' } });
  // A large validation split: it is the drift reference and the confusion matrix label-shift estimation inverts.
  const datasetId = await uploadSubset(svc, fashionSubset(3000), '0.5,0.45,0.05');
  const res = await svc.request('/v1/training-jobs', json({ datasetId, training: { epochs: 2, maxStepsPerEpoch: 30 }, ensemble: { members: 3 } }));
  trainingJobId = ((await res.json()) as any).id;
  const job = await untilFinished(svc, `/v1/training-jobs/${trainingJobId}`);
  expect(job.status).toBe('succeeded');
  modelId = job.modelId;
}, 900_000);
afterAll(async () => {
  await svc?.close();
});

describe('evaluations', () => {
  let evaluation: any;
  let testSet: string;

  beforeAll(async () => {
    testSet = await uploadSubset(svc, fashionSubset(600, { offset: 4000 }));
    const res = await svc.request('/v1/evaluations', json({ modelId, datasetId: testSet, split: 'all' }));
    expect(res.status).toBe(202);
    expect(res.headers.get('location')).toMatch(/^\/v1\/evaluations\/rep_/);
    evaluation = await untilFinished(svc, `/v1/evaluations/${((await res.json()) as any).id}`);
  }, 300_000);

  it('score the ensemble exactly as the prediction endpoint does', async () => {
    expect(evaluation.status).toBe('ready');
    const s = fashionSubset(600, { offset: 4000 });
    let correct = 0;
    for (let start = 0; start < s.count; start += 60) {
      const instances = Array.from({ length: 60 }, (_, i) => ({
        pixels: Array.from({ length: 28 }, (_, y) => Array.from(s.pixels.subarray((start + i) * 784 + y * 28, (start + i) * 784 + (y + 1) * 28))),
      }));
      const body = (await (await svc.request(`/v1/models/${modelId}/predict`, json({ instances }))).json()) as any;
      body.predictions.forEach((p: any, i: number) => (correct += p.label === FASHION_CLASSES[s.labels[start + i]] ? 1 : 0));
    }
    expect(evaluation.metrics.samples).toBe(600);
    expect(evaluation.metrics.accuracy).toBeCloseTo(correct / 600, 10);
  });

  it('report per-class metrics, a confusion matrix that adds up, calibration, and every member', () => {
    const m = evaluation.metrics;
    expect(m.perClass.map((c: any) => c.class)).toEqual(FASHION_CLASSES);
    const s = fashionSubset(600, { offset: 4000 });
    FASHION_CLASSES.forEach((_, k) => expect(m.perClass[k].support).toBe(s.labels.filter((l) => l === k).length));
    expect(m.confusion.flat().reduce((a: number, b: number) => a + b, 0)).toBe(600);
    const diagonal = m.confusion.reduce((a: number, row: number[], k: number) => a + row[k], 0);
    expect(diagonal / 600).toBeCloseTo(m.accuracy, 10);
    expect(m.calibration.bins.reduce((a: number, b: any) => a + b.count, 0)).toBe(600);
    expect(m.calibration.ece).toBeGreaterThanOrEqual(0);
    expect(m.members).toHaveLength(3);
    const mean = m.members.reduce((a: number, x: any) => a + x.accuracy, 0) / 3;
    expect(m.memberAccuracy.mean).toBeCloseTo(mean, 10);
    expect(m.ensembleGain).toBeCloseTo(m.accuracy - mean, 10);
    expect(evaluation.learningCurves).toHaveLength(3);
    expect(evaluation.learningCurves[0].history).toHaveLength(2);
    expect(evaluation.findings.map((f: any) => f.rule)).toContain('seed-variance');
    for (const f of evaluation.findings) expect(f.nextStep.length).toBeGreaterThan(10);
  });

  it('render as a self-contained HTML page with its charts', async () => {
    const res = await svc.request(`/v1/evaluations/${evaluation.id}.html`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    for (const chart of ['heatmap', 'reliability', 'line']) expect(html).toContain(`data-chart="${chart}"`);
    expect(html).not.toMatch(/(src|href)="https?:/);
  });

  it('refuse what cannot be evaluated, with a clear 4xx', async () => {
    const other = await svc.request('/v1/evaluations', json({ modelId: 'mdl_nosuchmodel0000000', datasetId: testSet }));
    expect(other.status).toBe(422);
    expect(((await other.json()) as any).type).toMatch(/unknown-model/);
    expect((await svc.request('/v1/evaluations', json({ modelId, datasetId: 'ds_nosuchdataset00000' }))).status).toBe(422);
    expect((await svc.request('/v1/evaluations', json({ modelId }))).status).toBe(400);
    expect((await svc.request('/v1/evaluations', json({ modelId, datasetId: testSet, split: 'everything' }))).status).toBe(400);
    expect((await svc.request('/v1/evaluations/rep_nosuchreport000000')).status).toBe(404);
    expect((await svc.request(`/v1/drift-reports/${evaluation.id}`)).status).toBe(404); // an evaluation is not a drift report
    expect((await svc.request('/v1/evaluations/..%2F..%2Fsecrets')).status).toBe(404);
  });
});

describe('drift reports through the HTTP API', () => {
  const report = async (current: unknown, options: Record<string, unknown> = {}) => {
    const res = await svc.request('/v1/drift-reports', json({ modelId, current, options }));
    expect(res.status).toBe(202);
    return untilFinished(svc, `/v1/drift-reports/${((await res.json()) as any).id}`);
  };
  const base = fashionSubset(400, { offset: 6000 });

  it('find no drift between the validation split and fresh images of the same distribution', async () => {
    const r = await report({ datasetId: await uploadSubset(svc, base) });
    expect(r.status).toBe('ready');
    expect(r.driftDetected).toBe(false);
    expect(r.samples.current).toBe(400);
    expect(r.findings.map((f: any) => f.rule)).toContain('no-drift');
    for (const t of r.tests) {
      expect(t.pValue).toBeGreaterThan(0);
      expect(t.pValue).toBeLessThanOrEqual(1);
      expect(t.threshold).toBeLessThanOrEqual(0.05);
    }
  });

  it('detect darkened images and say they are darker', async () => {
    const r = await report({ datasetId: await uploadSubset(svc, mapPixels(base, (v) => v * 0.5)) });
    expect(r.driftDetected).toBe(true);
    const brightness = r.tests.find((t: any) => t.name === 'ks-image:brightness');
    expect(brightness.drift).toBe(true);
    expect(brightness.effectSize).toBeLessThan(0);
    const finding = r.findings.find((f: any) => f.rule === 'deployment-shift');
    expect(finding.severity).toBe('critical');
    expect(finding.detail).toMatch(/darker/);
  });

  it('detect gaussian noise and rotation', async () => {
    const rng = createRng(5);
    const gauss = () => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
    const noisy = await report({ datasetId: await uploadSubset(svc, mapPixels(base, (v) => v + 40 * gauss())) });
    expect(noisy.driftDetected).toBe(true);
    const rotate = (s: Subset): Subset => mapPixels(s, (_, i, p) => s.pixels[i * 784 + (p % 28) * 28 + (27 - Math.floor(p / 28))]);
    const rotated = await report({ datasetId: await uploadSubset(svc, rotate(base)) });
    expect(rotated.driftDetected).toBe(true);
    expect(rotated.tests.filter((t: any) => t.family === 'prediction' && t.drift).length).toBeGreaterThan(0);
  });

  it('detect a change of class priors and estimate the new priors within 0.05', async () => {
    const priors = [0.3, 0.3, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05];
    const shifted = withPriors(current, priors, 600);
    const r = await report({ datasetId: await uploadSubset(svc, shifted) });
    expect(r.driftDetected).toBe(true);
    const truth = FASHION_CLASSES.map((_, k) => shifted.labels.filter((l) => l === k).length / shifted.count);
    FASHION_CLASSES.forEach((c, k) => expect(Math.abs(r.labelShift.estimatedPriors[c] - truth[k])).toBeLessThan(0.05));
    expect(r.findings.map((f: any) => f.rule)).toContain('label-shift');
  });

  it('compare the predictions captured in a time window, and render the report as HTML', async () => {
    const from = new Date(Date.now() - 1000).toISOString();
    const dark = mapPixels(fashionSubset(120, { offset: 7000 }), (v) => v * 0.4);
    const instances = Array.from({ length: dark.count }, (_, i) => ({
      pixels: Array.from({ length: 28 }, (_, y) => Array.from(dark.pixels.subarray(i * 784 + y * 28, i * 784 + (y + 1) * 28))),
    }));
    for (let i = 0; i < instances.length; i += 40) {
      expect((await svc.request(`/v1/models/${modelId}/predict`, json({ instances: instances.slice(i, i + 40) }))).status).toBe(200);
    }
    await svc.predictor.flushCapture();
    const to = new Date(Date.now() + 1000).toISOString();
    const r = await report({ from, to });
    expect(r.status).toBe('ready');
    expect(r.samples.current).toBe(120);
    expect(r.driftDetected).toBe(true);
    const html = await (await svc.request(`/v1/drift-reports/${r.id}.html`)).text();
    expect(html).toContain('data-chart="histogram-pair"');
    const empty = await report({ from: '2020-01-01T00:00:00Z', to: '2020-01-02T00:00:00Z' });
    expect(empty.status).toBe('failed');
    expect(empty.error.detail).toMatch(/No captured predictions/);
  });

  it('refuse a window that ends before it starts, and unknown fields', async () => {
    const res = await svc.request('/v1/drift-reports', json({ modelId, current: { from: '2026-01-02T00:00:00Z', to: '2026-01-01T00:00:00Z' } }));
    expect(res.status).toBe(422);
    expect((await svc.request('/v1/drift-reports', json({ modelId, current: { from: 'yesterday', to: 'today' } }))).status).toBe(400);
    expect((await svc.request('/v1/drift-reports', json({ modelId, current: { datasetId: 'x' }, extra: 1 }))).status).toBe(400);
  });
});

describe('training-job diagnosis', () => {
  it('lists findings on a finished training job', async () => {
    const job = (await (await svc.request(`/v1/training-jobs/${trainingJobId}`)).json()) as any;
    expect(Array.isArray(job.findings)).toBe(true);
  });
});
