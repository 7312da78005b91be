import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FASHION_CLASSES, fashionSubset, subsetIdx } from '../fixtures/fashion.js';
import { KEY_B, form, startTestService, type TestService } from '../harness/service.js';

let svc: TestService;
let datasetId: string;

beforeAll(async () => {
  svc = await startTestService({ env: { TRAIN_CONCURRENCY: '2' } });
  const idx = subsetIdx(fashionSubset(2000));
  const res = await svc.request('/v1/datasets', {
    method: 'POST',
    body: form({ classNames: FASHION_CLASSES.join(',') }, { images: { data: idx.images, name: 'i' }, labels: { data: idx.labels, name: 'l' } }),
  });
  datasetId = ((await res.json()) as { id: string }).id;
  expect((await svc.waitForDataset(datasetId)).status).toBe('ready');
}, 120_000);
afterAll(async () => {
  await svc?.close();
});

const post = (path: string, body: unknown, key?: string) =>
  svc.request(path, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' }, key });

async function waitForJob(id: string, timeoutMs = 600_000): Promise<any> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const job = (await (await svc.request(`/v1/training-jobs/${id}`)).json()) as any;
    if (['succeeded', 'failed', 'cancelled'].includes(job.status)) return job;
    if (Date.now() > until) throw new Error(`job ${id} still ${job.status}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Reads a server-sent-event stream to its end. */
async function readEvents(id: string): Promise<{ event: string; data: any }[]> {
  const res = await svc.request(`/v1/training-jobs/${id}/events`);
  expect(res.headers.get('content-type')).toContain('text/event-stream');
  const text = await res.text();
  return text
    .split('\n\n')
    .filter((block) => block.includes('event:'))
    .map((block) => {
      const event = /event: (.*)/.exec(block)![1];
      const data = JSON.parse(/data: (.*)/.exec(block)![1]);
      return { event, data };
    });
}

describe('training a 3-member ensemble of the small preset on 2,000 Fashion-MNIST images', () => {
  let job: any;
  let events: { event: string; data: any }[];

  beforeAll(async () => {
    const res = await post('/v1/training-jobs', { datasetId, preset: 'small', training: { epochs: 2 }, ensemble: { members: 3 } });
    const created = (await res.json()) as any;
    expect(res.status, JSON.stringify(created)).toBe(202);
    expect(created.status).toBe('queued');
    expect(created.members).toHaveLength(3);
    [events, job] = await Promise.all([readEvents(created.id), waitForJob(created.id)]);
  }, 900_000);

  it('registers a model whose ensemble validation accuracy is above 70%', async () => {
    expect(job.status, JSON.stringify(job.error)).toBe('succeeded');
    const model = (await (await svc.request(`/v1/models/${job.modelId}`)).json()) as any;
    expect(model.classes).toEqual(FASHION_CLASSES);
    expect(model.members).toHaveLength(3);
    expect(new Set(model.members.map((m: any) => m.seed)).size).toBe(3);
    expect(model.metrics.ensembleValAccuracy).toBeGreaterThan(0.7);
    expect(model.metrics.memberValAccuracyMean).toBeGreaterThan(0.6);
    expect(model.metrics.memberValAccuracyStd).toBeGreaterThanOrEqual(0);
    expect(model.backend).toBe('wasm');
    expect(model.preprocessing.mean[0]).toBeGreaterThan(0);
    expect(model.config.training.epochs).toBe(2);
  });

  it('records per-member, per-epoch history with learning rate and epoch time', () => {
    for (const m of job.members) {
      expect(m.status).toBe('succeeded');
      expect(m.history.map((h: any) => h.epoch)).toEqual([1, 2]);
      for (const h of m.history) {
        expect(h.valAccuracy).toBeGreaterThan(0);
        expect(h.learningRate).toBeGreaterThan(0);
        expect(h.seconds).toBeGreaterThan(0);
      }
    }
  });

  it('streams every epoch over server-sent events in order, then the end', () => {
    const epochs = events.filter((e) => e.event === 'epoch');
    expect(epochs).toHaveLength(6);
    for (let k = 0; k < 3; k++) expect(epochs.filter((e) => e.data.member === k).map((e) => e.data.epoch)).toEqual([1, 2]);
    expect(events.at(-1)).toEqual({ event: 'end', data: { status: 'succeeded', modelId: job.modelId } });
  });

  it('lists the model, points an alias at it, and hides it from other tenants', async () => {
    const list = (await (await svc.request('/v1/models')).json()) as any;
    expect(list.items.map((m: any) => m.id)).toContain(job.modelId);
    const put = await svc.request(`/v1/models/${job.modelId}/aliases/production`, { method: 'PUT' });
    expect(put.status).toBe(200);
    expect(((await put.json()) as any).aliases).toEqual(['production']);
    const byAlias = (await (await svc.request('/v1/models/production')).json()) as any;
    expect(byAlias.id).toBe(job.modelId);
    expect((await svc.request(`/v1/models/${job.modelId}`, { key: KEY_B })).status).toBe(404);
    expect((await svc.request('/v1/models/production', { key: KEY_B })).status).toBe(404);
    expect((await svc.request(`/v1/training-jobs/${job.id}`, { key: KEY_B })).status).toBe(404);
  });
});

describe('the backend', () => {
  it('is reported by /healthz with the reasons faster ones were skipped', async () => {
    const health = (await (await svc.request('/healthz', { key: null })).json()) as any;
    expect(health.backend).toMatchObject({ name: 'wasm', device: expect.stringContaining('wasm') });
    expect(Array.isArray(health.backend.fallbackReasons)).toBe(true);
  });
});

describe('training jobs reject bad input', () => {
  const expectProblem = async (body: unknown, status: number, type: RegExp) => {
    const res = await post('/v1/training-jobs', body);
    const problem = (await res.json()) as any;
    expect(res.status, JSON.stringify(problem)).toBe(status);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(problem.type).toMatch(type);
    return problem;
  };

  it('refuses an unknown dataset, 0 or 50 members, and an impossible architecture', async () => {
    await expectProblem({ datasetId: 'ds_00000000000000000000' }, 422, /unknown-dataset$/);
    await expectProblem({ datasetId, ensemble: { members: 0 } }, 400, /validation$/);
    await expectProblem({ datasetId, ensemble: { members: 50 } }, 400, /validation$/);
    const deep = { blocks: Array.from({ length: 6 }, () => ({ filters: 8 })), dense: [16] };
    const p = await expectProblem({ datasetId, architecture: deep }, 400, /impossible-architecture$/);
    expect(p.field).toBe('architecture');
    await expectProblem({ datasetId, training: { epochs: 0 } }, 400, /validation$/);
    await expectProblem({ datasetId, colour: 'blue' }, 400, /validation$/);
  });

  it('refuses a dataset that is not ready yet', async () => {
    const idx = subsetIdx(fashionSubset(40, { offset: 5000 }));
    const svcNoWorker = await startTestService({ worker: false });
    try {
      const res = await svcNoWorker.request('/v1/datasets', {
        method: 'POST',
        body: form({}, { images: { data: idx.images, name: 'i' }, labels: { data: idx.labels, name: 'l' } }),
      });
      const { id } = (await res.json()) as { id: string };
      const train = await svcNoWorker.request('/v1/training-jobs', {
        method: 'POST',
        body: JSON.stringify({ datasetId: id }),
        headers: { 'content-type': 'application/json' },
      });
      expect(train.status).toBe(409);
      expect(((await train.json()) as any).type).toMatch(/dataset-not-ready$/);
    } finally {
      await svcNoWorker.close();
    }
  });
});

describe('augmentation.materialize', () => {
  it('stores the augmented training samples the first member saw as an inspectable dataset', async () => {
    const res = await post('/v1/training-jobs', {
      datasetId,
      training: { epochs: 1, batchSize: 32, maxStepsPerEpoch: 5 },
      augmentation: { shift: 0.15, rotation: 20, probability: 1, materialize: true },
      ensemble: { members: 1 },
    });
    const created = (await res.json()) as any;
    expect(res.status, JSON.stringify(created)).toBe(202);
    const job = await waitForJob(created.id);
    expect(job.status, JSON.stringify(job.error)).toBe('succeeded');
    const augId = job.members[0].augmentedDatasetId;
    expect(job.augmentedDatasetId).toBe(augId);
    const aug = (await (await svc.request(`/v1/datasets/${augId}`)).json()) as any;
    expect(aug).toMatchObject({ status: 'ready', source: { kind: 'augmented', trainingJobId: created.id, images: 160 }, splits: { train: 160 } });
    expect(aug.classes).toEqual(FASHION_CLASSES);
    const sheet = await svc.request(`/v1/datasets/${augId}/samples.png`);
    expect(sheet.status).toBe(200);
    expect(sheet.headers.get('content-type')).toBe('image/png');
    // Shifted and rotated copies are new images: almost none equals a stored original byte for byte.
    const { keys } = await import('../../src/storage/keys.js');
    const { decodeShard } = await import('../../src/data/shards.js');
    const shardBytes = async (id: string) => {
      const m = JSON.parse((await svc.storage.getBytes(keys.datasetManifest('tenant-a', id)))!.toString());
      return Promise.all(m.splits.train.shards.map(async (r: any) => decodeShard((await svc.storage.getBytes(r.key))!)));
    };
    const originals = new Set<string>();
    for (const sh of await shardBytes(datasetId)) for (let i = 0; i < sh.count; i++) originals.add(Buffer.from(sh.pixels.subarray(i * 784, (i + 1) * 784)).toString('base64'));
    let same = 0;
    for (const sh of await shardBytes(augId)) for (let i = 0; i < sh.count; i++) if (originals.has(Buffer.from(sh.pixels.subarray(i * 784, (i + 1) * 784)).toString('base64'))) same++;
    expect(same).toBeLessThan(16);
  }, 300_000);
});

describe('a run whose loss diverges', () => {
  it('ends the member with a clear reason and registers no model', async () => {
    const res = await post('/v1/training-jobs', {
      datasetId,
      training: { epochs: 2, learningRate: 1000, optimizer: 'sgd', maxStepsPerEpoch: 10 },
      ensemble: { members: 1 },
    });
    const { id } = (await res.json()) as any;
    const job = await waitForJob(id);
    expect(job.status).toBe('failed');
    expect(job.error.type).toBe('training-diverged');
    expect(job.error.detail).toMatch(/learning rate/i);
    expect(job.modelId).toBeUndefined();
  }, 300_000);
});
