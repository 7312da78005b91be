import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage } from '../../src/data/decode.js';
import { normalisationTable } from '../../src/models/batches.js';
import { deserializeModel } from '../../src/models/serialize.js';
import { keys } from '../../src/storage/keys.js';
import { decodeCapture } from '../../src/prediction/capture-format.js';
import { FASHION_CLASSES, fashionSubset, samplePng, subsetIdx } from '../fixtures/fashion.js';
import { KEY_B, form, startTestService, type TestService } from '../harness/service.js';

let svc: TestService;
let modelId: string;
let secondModelId: string;
const test = fashionSubset(64, { offset: 9000 });
const pngs: Buffer[] = [];

async function trainModel(datasetId: string, members: number) {
  const res = await svc.request('/v1/training-jobs', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ datasetId, training: { epochs: 1, maxStepsPerEpoch: 15 }, ensemble: { members } }),
  });
  const { id } = (await res.json()) as { id: string };
  for (;;) {
    const job = (await (await svc.request(`/v1/training-jobs/${id}`)).json()) as any;
    if (job.status === 'succeeded') return job.modelId as string;
    if (['failed', 'cancelled'].includes(job.status)) throw new Error(JSON.stringify(job.error));
    await new Promise((r) => setTimeout(r, 250));
  }
}

beforeAll(async () => {
  svc = await startTestService({ env: { TRAIN_CONCURRENCY: '2', ALIAS_CACHE_MS: '0' } });
  const idx = subsetIdx(fashionSubset(800, { offset: 8000 }));
  const res = await svc.request('/v1/datasets', {
    method: 'POST',
    body: form({ classNames: FASHION_CLASSES.join(',') }, { images: { data: idx.images, name: 'i' }, labels: { data: idx.labels, name: 'l' } }),
  });
  const { id } = (await res.json()) as { id: string };
  expect((await svc.waitForDataset(id)).status).toBe('ready');
  [modelId, secondModelId] = await Promise.all([trainModel(id, 3), trainModel(id, 1)]);
  for (let i = 0; i < test.count; i++) pngs.push(await samplePng(test, i));
}, 600_000);
afterAll(async () => {
  await svc?.close();
});

const predictPng = (png: Buffer, path = `/v1/models/${modelId}/predict`) =>
  svc.request(path, { method: 'POST', body: png, headers: { 'content-type': 'image/png' } });
const json = (body: unknown) => ({ method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

describe('ensembled predictions', () => {
  it("return the mean of the members' softmax outputs computed directly, with uncertainty", async () => {
    const res = await predictPng(pngs[0]);
    expect(res.status).toBe(200);
    expect(res.headers.get('server-timing')).toMatch(/^preprocess;dur=[\d.]+, batch;dur=[\d.]+, ensemble;dur=[\d.]+, json;dur=[\d.]+$/);
    const body = (await res.json()) as any;
    expect(body.modelId).toBe(modelId);
    const p = body.predictions[0];

    const model = (await (await svc.request(`/v1/models/${modelId}`)).json()) as any;
    const pixels = await decodeImage(pngs[0], { height: 28, width: 28, channels: 1, fit: 'stretch' }, 1e7);
    const table = normalisationTable(model.preprocessing);
    const x = tf.tensor4d(Float32Array.from(pixels, (v) => table[v]), [1, 28, 28, 1]);
    const members: number[][] = [];
    for (const m of model.members) {
      const json = JSON.parse((await svc.storage.getBytes(keys.modelMember('tenant-a', modelId, m.index, 'model.json')))!.toString());
      const weights = (await svc.storage.getBytes(keys.modelMember('tenant-a', modelId, m.index, 'weights.bin')))!;
      const net = await deserializeModel({ modelJson: json, weights });
      const out = net.predict(x) as tf.Tensor;
      members.push(Array.from(await out.data()));
      out.dispose();
      net.dispose();
    }
    x.dispose();
    FASHION_CLASSES.forEach((c, k) => {
      const mean = members.reduce((s, m) => s + m[k], 0) / members.length;
      expect(p.probabilities[c]).toBeCloseTo(mean, 5);
    });
    const best = FASHION_CLASSES.reduce((a, c) => (p.probabilities[c] > p.probabilities[a] ? c : a));
    expect(p.label).toBe(best);
    expect(p.confidence).toBeCloseTo(p.probabilities[best], 6);
    expect(p.uncertainty.agreement).toBeGreaterThan(0);
    expect(p.uncertainty.entropy).toBeGreaterThanOrEqual(p.uncertainty.mutualInformation);
    expect(p.uncertainty.memberStd).toBeGreaterThanOrEqual(0);
  });

  it('give the same answer for raw, multipart, base64 and pixel-array bodies', async () => {
    const raw = ((await (await predictPng(pngs[1])).json()) as any).predictions[0];
    const multipart = (await (await svc.request(`/v1/models/${modelId}/predict?topK=3`, { method: 'POST', body: form({}, { image: [{ data: pngs[1], name: 'a.png' }, { data: pngs[2], name: 'b.png' }] }) })).json()) as any;
    const rows = Array.from({ length: 28 }, (_, y) => Array.from(test.pixels.subarray(784 + y * 28, 784 + (y + 1) * 28)));
    const viaJson = (await (await svc.request(`/v1/models/${modelId}/predict`, json({ instances: [{ image: pngs[1].toString('base64') }, { pixels: rows }] }))).json()) as any;
    expect(multipart.predictions).toHaveLength(2);
    expect(multipart.predictions[0].topK).toHaveLength(3);
    for (const p of [multipart.predictions[0], viaJson.predictions[0], viaJson.predictions[1]]) {
      expect(p.label).toBe(raw.label);
      for (const c of FASHION_CLASSES) expect(p.probabilities[c]).toBeCloseTo(raw.probabilities[c], 5);
    }
  });

  it('give every concurrent caller its own result when requests are batched together', async () => {
    const sequential: any[] = [];
    for (let i = 0; i < 32; i++) sequential.push(((await (await predictPng(pngs[i])).json()) as any).predictions[0]);
    const concurrent = await Promise.all(pngs.slice(0, 32).map(async (png) => ((await (await predictPng(png)).json()) as any).predictions[0]));
    concurrent.forEach((p, i) => {
      expect(p.label).toBe(sequential[i].label);
      expect(p.confidence).toBeCloseTo(sequential[i].confidence, 5);
    });
    const metrics = await (await svc.request('/metrics', { key: null })).text();
    const batches = Number(/quorum_serving\{figure="batches"\} (\d+)/.exec(metrics)![1]);
    const instances = Number(/quorum_serving\{figure="instances"\} (\d+)/.exec(metrics)![1]);
    expect(batches).toBeLessThan(instances);
  });

  it('follow an alias to its new model without a restart', async () => {
    await svc.request(`/v1/models/${modelId}/aliases/production`, { method: 'PUT' });
    expect(((await (await predictPng(pngs[0], '/v1/models/production/predict')).json()) as any).modelId).toBe(modelId);
    await svc.request(`/v1/models/${secondModelId}/aliases/production`, { method: 'PUT' });
    expect(((await (await predictPng(pngs[0], '/v1/models/production/predict')).json()) as any).modelId).toBe(secondModelId);
    expect((await svc.request(`/v1/models/production/predict`, { method: 'POST', body: pngs[0], headers: { 'content-type': 'image/png' }, key: KEY_B })).status).toBe(404);
  });

  it('do not grow the tensor count, in the API thread or any inference thread, across a thousand predictions', async () => {
    // Two rounds of many concurrent requests so every inference thread has answered at least once.
    for (let r = 0; r < 2; r++) await Promise.all(pngs.slice(0, 20).map((p) => predictPng(p)));
    const before = { api: tf.memory().numTensors, threads: svc.predictor.stats().threads!.tensors };
    expect(before.threads).toHaveLength(svc.predictor.stats().threads!.threads);
    expect(before.threads.every((t) => t > 0)).toBe(true); // each thread holds the ensembles' weights
    for (let i = 0; i < 1000; i += 50) await Promise.all(pngs.slice(0, 50).map((_, j) => predictPng(pngs[(i + j) % pngs.length])));
    expect(tf.memory().numTensors).toBe(before.api);
    expect(svc.predictor.stats().threads!.tensors).toEqual(before.threads);
  }, 120_000);
});

describe('deployment-data capture', () => {
  it('stores what was served (preprocessed input and ensemble output) under the model and day', async () => {
    const rows = (i: number) => Array.from({ length: 28 }, (_, y) => Array.from(test.pixels.subarray(i * 784 + y * 28, i * 784 + (y + 1) * 28)));
    const res = await svc.request(`/v1/models/${secondModelId}/predict`, json({ instances: [{ pixels: rows(10) }, { pixels: rows(11) }] }));
    const served = ((await res.json()) as any).predictions;
    await svc.predictor.flushCapture();
    const day = new Date().toISOString().slice(0, 10);
    const files = (await svc.storage.list(keys.captures('tenant-a', secondModelId, day))).keys;
    expect(files.length).toBeGreaterThan(0);
    const batches = await Promise.all(files.map(async (f) => decodeCapture((await svc.storage.getBytes(f.key))!)));
    const found = [10, 11].map((i, j) => {
      const want = Buffer.from(test.pixels.subarray(i * 784, (i + 1) * 784));
      for (const b of batches) {
        for (let s = 0; s < b.times.length; s++) {
          if (Buffer.from(b.samples.subarray(s * 784, (s + 1) * 784)).equals(want)) {
            FASHION_CLASSES.forEach((c, k) => expect(b.probabilities[s * 10 + k]).toBeCloseTo(served[j].probabilities[c], 6));
            expect(b.classes).toEqual(FASHION_CLASSES);
            return true;
          }
        }
      }
      return false;
    });
    expect(found).toEqual([true, true]);
  });

  it('drops and counts samples instead of waiting when its buffer is full', async () => {
    const tiny = await startTestService({
      // Inline forward passes (no inference threads), the native-backend configuration, served end to end.
      env: { S3_BUCKET: svc.config.S3_BUCKET, CAPTURE_MAX_BUFFER_BYTES: '1024', CAPTURE_FLUSH_MS: '60000', PREDICT_THREADS: '0' },
      worker: false,
      keepBucket: true,
    });
    try {
      for (let i = 0; i < 3; i++) {
        const r = await tiny.request(`/v1/models/${modelId}/predict`, { method: 'POST', body: pngs[i], headers: { 'content-type': 'image/png' } });
        expect(r.status).toBe(200);
      }
      const metrics = await (await tiny.request('/metrics', { key: null })).text();
      expect(Number(/quorum_serving\{figure="captured"\} (\d+)/.exec(metrics)![1])).toBe(1);
      expect(Number(/quorum_serving\{figure="captureDropped"\} (\d+)/.exec(metrics)![1])).toBe(2);
      expect(metrics).toContain('quorum_serving{figure="inferenceThreads"} 0');
    } finally {
      await tiny.close();
    }
  });
});

describe('prediction rejects bad input with a clear 4xx and keeps serving', () => {
  const expectProblem = async (res: Response, status: number, type?: RegExp) => {
    const body = (await res.json()) as any;
    expect(res.status, JSON.stringify(body)).toBe(status);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    if (type) expect(body.type).toMatch(type);
    return body;
  };
  const path = () => `/v1/models/${modelId}/predict`;

  it('refuses non-images, truncated PNGs, wrong shapes and channels, bad values, and unknown models', async () => {
    await expectProblem(await svc.request(path(), { method: 'POST', body: 'hello', headers: { 'content-type': 'image/png' } }), 400, /unreadable-image$/);
    await expectProblem(await predictPng(pngs[0].subarray(0, pngs[0].length >> 1)), 400, /unreadable-image$/);
    await expectProblem(await svc.request(path(), json({ instances: [{ pixels: [[1, 2], [3, 4]] }] })), 400);
    const rgb = Array.from({ length: 28 }, () => Array.from({ length: 28 }, () => [1, 2, 3]));
    const wrongChannels = await expectProblem(await svc.request(path(), json({ instances: [{ pixels: rgb }] })), 400);
    expect(wrongChannels.detail).toMatch(/channel/);
    const nan = await svc.request(path(), { method: 'POST', body: '{"instances":[{"pixels":[[NaN]]}]}', headers: { 'content-type': 'application/json' } });
    await expectProblem(nan, 400);
    const big = Array.from({ length: 28 }, () => Array.from({ length: 28 }, () => 300));
    await expectProblem(await svc.request(path(), json({ instances: [{ pixels: big }] })), 400, /validation$/);
    await expectProblem(await svc.request(path(), json({ instances: [] })), 400);
    await expectProblem(await svc.request(path(), { method: 'POST', body: 'x', headers: { 'content-type': 'text/plain' } }), 415);
    await expectProblem(await predictPng(pngs[0], '/v1/models/mdl_00000000000000000000/predict'), 404);
    await expectProblem(await predictPng(pngs[0], '/v1/models/no-such-alias/predict'), 404);
    expect((await predictPng(pngs[0])).status).toBe(200);
  });

  it('refuses oversized bodies and too many instances', async () => {
    const huge = Buffer.alloc(svc.config.PREDICT_MAX_BODY_BYTES + 1, 1);
    await expectProblem(await svc.request(path(), { method: 'POST', body: huge, headers: { 'content-type': 'image/png' } }), 413);
    const many = { instances: Array.from({ length: svc.config.PREDICT_MAX_INSTANCES + 1 }, () => ({ image: pngs[0].toString('base64') })) };
    await expectProblem(await svc.request(path(), json(many)), 413);
  });

  it('answers 429 with Retry-After when the queue is full, instead of growing without bound', async () => {
    const small = await startTestService({
      env: { S3_BUCKET: svc.config.S3_BUCKET, PREDICT_MAX_QUEUED: '8', PREDICT_MAX_BATCH: '1', PREDICT_MAX_WAIT_MICROS: '0' },
      worker: false,
      keepBucket: true,
    });
    try {
      const p = `/v1/models/${modelId}/predict`;
      await small.request(p, { method: 'POST', body: pngs[0], headers: { 'content-type': 'image/png' } }); // load the model
      // Pixel arrays skip decoding, so 40 requests of 4 instances reach the queue together; one instance per pass.
      const rows = Array.from({ length: 28 }, (_, y) => Array.from(test.pixels.subarray(y * 28, (y + 1) * 28)));
      const body = JSON.stringify({ instances: Array.from({ length: 4 }, () => ({ pixels: rows })) });
      const results = await Promise.all(
        Array.from({ length: 40 }, () => small.request(p, { method: 'POST', body, headers: { 'content-type': 'application/json' } })),
      );
      const statuses = results.map((r) => r.status);
      expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
      expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(0);
      const rejected = results.find((r) => r.status === 429)!;
      expect(Number(rejected.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(((await rejected.json()) as any).type).toMatch(/overloaded$/);
    } finally {
      await small.close();
    }
  });
});
