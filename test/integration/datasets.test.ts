import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeShard } from '../../src/data/shards.js';
import { keys } from '../../src/storage/keys.js';
import { datasetManifestSchema } from '../../src/storage/manifests.js';
import { FASHION_CLASSES, FASHION_FOLDERS, fashionSubset, samplePng, subsetIdx } from '../fixtures/fashion.js';
import { makeZip } from '../fixtures/zip.js';
import { KEY_B, form, startTestService, type TestService } from '../harness/service.js';

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService();
});
afterAll(async () => {
  await svc?.close();
});

async function upload(body: FormData, key?: string) {
  const res = await svc.request('/v1/datasets', { method: 'POST', body, key });
  return { res, body: (await res.json()) as Record<string, any> };
}

/** All samples of a stored split, read back from its shards. */
async function readSplit(tenant: string, id: string, split: 'train' | 'val' | 'test') {
  const m = datasetManifestSchema.parse(JSON.parse((await svc.storage.getBytes(keys.datasetManifest(tenant, id)))!.toString()));
  const out: { pixels: Uint8Array; label: number }[] = [];
  for (const ref of m.splits![split].shards) {
    const buf = (await svc.storage.getBytes(ref.key))!;
    expect(createHash('sha256').update(buf).digest('hex')).toBe(ref.sha256);
    const shard = decodeShard(buf);
    const n = shard.height * shard.width * shard.channels;
    for (let i = 0; i < shard.count; i++) out.push({ pixels: shard.pixels.subarray(i * n, (i + 1) * n), label: shard.labels[i] });
  }
  return out;
}

const digest = (p: Uint8Array) => createHash('sha1').update(p).digest('hex');

describe('dataset upload of a 2,000-image Fashion-MNIST subset as IDX files', () => {
  const subset = fashionSubset(2000);
  let view: Record<string, any>;

  beforeAll(async () => {
    const idx = subsetIdx(subset);
    const { res, body } = await upload(
      form(
        { name: 'fashion-2000', classNames: FASHION_CLASSES.join(','), seed: '7' },
        { images: { data: idx.images, name: 'images.idx' }, labels: { data: idx.labels, name: 'labels.idx' } },
      ),
    );
    expect(res.status, JSON.stringify(body)).toBe(202);
    expect(body.status).toBe('queued');
    expect(res.headers.get('location')).toBe(`/v1/datasets/${body.id}`);
    view = await svc.waitForDataset(body.id);
  }, 180_000);

  it('becomes ready with every image accounted for', () => {
    expect(view.status, JSON.stringify(view.error)).toBe('ready');
    expect(view.classes).toEqual(FASHION_CLASSES);
    expect(view.image).toEqual({ height: 28, width: 28, channels: 1 });
    const p = view.profile;
    expect(p.counts.total + p.leakage.removedFromEvaluation).toBe(2000);
    expect(view.splits.train + view.splits.val + view.splits.test).toBe(p.counts.total);
    const perClass = new Array(10).fill(0);
    for (const l of subset.labels) perClass[l]++;
    expect(p.imbalanceRatio).toBeGreaterThanOrEqual(1);
  });

  it('splits each class 0.8/0.1/0.1 within one sample of its share before removing leaked duplicates', () => {
    const p = view.profile;
    const removed: Record<string, Record<string, number>> = { train: {}, val: {}, test: {} };
    for (const r of p.leakage.removed) removed[r.split][r.label] = (removed[r.split][r.label] ?? 0) + 1;
    const perClass = new Array(10).fill(0);
    for (const l of subset.labels) perClass[l]++;
    FASHION_CLASSES.forEach((c, k) => {
      for (const [split, share] of [['train', 0.8], ['val', 0.1], ['test', 0.1]] as const) {
        const before = p.counts.perSplit[split][c] + (removed[split][c] ?? 0);
        expect(Math.abs(before - perClass[k] * share)).toBeLessThanOrEqual(1);
      }
    });
  });

  it('computes channel statistics from the training split only', async () => {
    const train = await readSplit('tenant-a', view.id, 'train');
    let sum = 0;
    let sq = 0;
    let n = 0;
    for (const s of train) for (const v of s.pixels) {
      sum += v / 255;
      sq += (v / 255) ** 2;
      n++;
    }
    const mean = sum / n;
    expect(view.profile.channelStats.split).toBe('train');
    expect(view.profile.channelStats.mean[0]).toBeCloseTo(mean, 4);
    expect(view.profile.channelStats.std[0]).toBeCloseTo(Math.sqrt(sq / n - mean * mean), 4);
  });

  it('stores shards whose samples are the uploaded pixels with their labels', async () => {
    const byDigest = new Map<string, number>();
    for (let i = 0; i < subset.count; i++) byDigest.set(digest(subset.pixels.subarray(i * 784, (i + 1) * 784)), subset.labels[i]);
    for (const split of ['train', 'val', 'test'] as const) {
      const samples = await readSplit('tenant-a', view.id, split);
      expect(samples.length).toBe(view.splits[split]);
      for (const s of samples) expect(byDigest.get(digest(s.pixels))).toBe(s.label);
    }
  });

  it('leaves no evaluation image that is byte-identical to a training image', async () => {
    const train = new Set((await readSplit('tenant-a', view.id, 'train')).map((s) => digest(s.pixels)));
    for (const split of ['val', 'test'] as const) {
      for (const s of await readSplit('tenant-a', view.id, split)) expect(train.has(digest(s.pixels))).toBe(false);
    }
  });

  it('serves a sample sheet with a row per class', async () => {
    const res = await svc.request(`/v1/datasets/${view.id}/samples.png`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
    expect(meta.format).toBe('png');
    expect(meta.height!).toBeGreaterThan(10 * 56);
    const val = await svc.request(`/v1/datasets/${view.id}/samples.png?split=val`);
    expect(val.status).toBe(200);
    const bad = await svc.request(`/v1/datasets/${view.id}/samples.png?split=holdout`);
    expect(bad.status).toBe(400);
  });
});

describe('dataset upload of a PNG class-folder zip with duplicates and a corrupt file', () => {
  const subset = fashionSubset(2000, { offset: 3000 });
  let view: Record<string, any>;
  const copies = 30;

  beforeAll(async () => {
    const entries = [];
    for (let i = 0; i < subset.count; i++) {
      entries.push({ name: `fashion/${FASHION_FOLDERS[subset.labels[i]]}/img${i}.png`, data: await samplePng(subset, i) });
    }
    // Exact copies under new names (the same photo saved twice), plus a brightened near copy of each.
    for (let i = 0; i < copies; i++) {
      const png = await samplePng(subset, i);
      entries.push({ name: `fashion/${FASHION_FOLDERS[subset.labels[i]]}/copy${i}.png`, data: png });
    }
    entries.push({ name: 'fashion/bag/broken.png', data: Buffer.from('\x89PNG\r\n\x1a\nthis is not really a png') });
    entries.push({ name: '__MACOSX/fashion/._img0.png', data: Buffer.from('junk') });
    const { res, body } = await upload(form({ seed: '3' }, { file: { data: makeZip(entries), name: 'fashion.zip' } }));
    expect(res.status, JSON.stringify(body)).toBe(202);
    view = await svc.waitForDataset(body.id);
  }, 240_000);

  it('becomes ready with folder names as classes and the common root folder stripped', () => {
    expect(view.status, JSON.stringify(view.error)).toBe('ready');
    expect(view.classes).toEqual([...FASHION_FOLDERS].sort());
    expect(view.source).toMatchObject({ kind: 'archive', format: 'zip', filename: 'fashion.zip', images: 2000 + copies + 1 });
    expect(view.image).toEqual({ height: 28, width: 28, channels: 1 });
    expect(view.profile.source.formats).toEqual({ png: 2000 + copies });
  });

  it('lists the unreadable file with its reason and skips it', () => {
    expect(view.profile.unreadable.count).toBe(1);
    expect(view.profile.unreadable.files[0].file).toBe('fashion/bag/broken.png');
    expect(view.profile.unreadable.files[0].reason.length).toBeGreaterThan(3);
  });

  it('finds the planted exact duplicates and removes leaked copies from val/test', async () => {
    const p = view.profile;
    expect(p.duplicates.exactGroups).toBeGreaterThanOrEqual(copies);
    const planted = p.duplicates.groups.filter((g: any) => g.members.some((m: any) => /copy\d+\.png$/.test(m.file)));
    expect(planted.length).toBeGreaterThanOrEqual(Math.min(copies, 100) - 5);
    expect(p.counts.total + p.leakage.removedFromEvaluation).toBe(2000 + copies);
    for (const r of p.leakage.removed) expect(r.split).not.toBe('train');
    const train = new Set((await readSplit('tenant-a', view.id, 'train')).map((s) => digest(s.pixels)));
    for (const split of ['val', 'test'] as const) {
      for (const s of await readSplit('tenant-a', view.id, split)) expect(train.has(digest(s.pixels))).toBe(false);
    }
  });

  it('lists datasets newest first and deletes one with everything stored for it', async () => {
    const list = await svc.request('/v1/datasets?limit=50');
    const items = ((await list.json()) as any).items as any[];
    expect(items.map((d) => d.id)).toContain(view.id);
    const del = await svc.request(`/v1/datasets/${view.id}`, { method: 'DELETE' });
    expect(del.status).toBe(204);
    expect((await svc.request(`/v1/datasets/${view.id}`)).status).toBe(404);
    expect((await svc.storage.list(keys.dataset('tenant-a', view.id))).keys).toEqual([]);
  });
});

describe('tenant isolation', () => {
  it("answers 404 to another tenant's dataset, and lists only the tenant's own", async () => {
    const s = fashionSubset(60, { offset: 6000 });
    const idx = subsetIdx(s);
    const { body } = await upload(form({}, { images: { data: idx.images, name: 'i' }, labels: { data: idx.labels, name: 'l' } }));
    const ready = await svc.waitForDataset(body.id);
    expect(ready.status).toBe('ready');
    for (const path of [`/v1/datasets/${body.id}`, `/v1/datasets/${body.id}/samples.png`]) {
      const res = await svc.request(path, { key: KEY_B });
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
    }
    expect((await svc.request(`/v1/datasets/${body.id}`, { method: 'DELETE', key: KEY_B })).status).toBe(404);
    const listB = (await (await svc.request('/v1/datasets', { key: KEY_B })).json()) as any;
    expect(listB.items.map((d: any) => d.id)).not.toContain(body.id);
    expect((await svc.request(`/v1/datasets/${body.id}`)).status).toBe(200);
    const objects = await svc.storage.list('tenants/tenant-b/');
    expect(objects.keys).toEqual([]);
  });
});
