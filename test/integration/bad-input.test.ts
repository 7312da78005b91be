import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeIdx } from '../../src/data/idx.js';
import { keys } from '../../src/storage/keys.js';
import { makeTar, makeZip } from '../fixtures/zip.js';
import { form, startTestService, type TestService } from '../harness/service.js';

let svc: TestService;
let png: Buffer;
beforeAll(async () => {
  svc = await startTestService({
    env: { MAX_ARCHIVE_ENTRIES: '50', MAX_UPLOAD_BYTES: String(4 * 1024 * 1024), MAX_ARCHIVE_TOTAL_BYTES: String(8 * 1024 * 1024) },
  });
  png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#808080' } }).png().toBuffer();
});
afterAll(async () => {
  await svc?.close();
});

const twoClasses = () => [
  { name: 'cat/a.png', data: png },
  { name: 'dog/b.png', data: png },
];

async function post(body: FormData | string, headers: Record<string, string> = {}) {
  const res = await svc.request('/v1/datasets', { method: 'POST', body, headers });
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type'), body: JSON.parse(text) as Record<string, any> };
}

const archive = (data: Uint8Array, fields: Record<string, string> = {}) => form(fields, { file: { data, name: 'upload.zip' } });

/** Asserts a problem+json rejection and that nothing was stored for the tenant. */
async function expectRejected(body: FormData | string, status: number, type: string | RegExp, field?: string) {
  const r = await post(body);
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.type).toContain('application/problem+json');
  expect(r.body.type).toMatch(typeof type === 'string' ? new RegExp(`/${type}$`) : type);
  expect(r.body.title).toBeTruthy();
  expect(r.body.detail.length).toBeGreaterThan(10);
  if (field) expect(r.body.field).toBe(field);
  expect((await svc.storage.list(keys.datasets('tenant-a'))).keys).toEqual([]);
  return r.body;
}

describe('dataset upload rejects bad input with a clear 4xx and stores nothing', () => {
  it('refuses requests without a valid API key', async () => {
    const none = await svc.request('/v1/datasets', { key: null });
    expect(none.status).toBe(401);
    expect(none.headers.get('content-type')).toContain('application/problem+json');
    expect((await svc.request('/v1/datasets', { key: 'not-a-known-key' })).status).toBe(401);
  });

  it('refuses a body that is not multipart', async () => {
    await expectRejected(JSON.stringify({ file: 'x' }), 415, 'unsupported-media-type');
  });

  it('refuses a form with no dataset attached', async () => {
    await expectRejected(form({ name: 'x' }, {}), 400, 'bad-request', 'file');
  });

  it('refuses a file that is not an archive', async () => {
    await expectRejected(archive(randomBytes(2048)), 415, 'not-an-archive', 'file');
    await expectRejected(archive(png), 415, 'not-an-archive', 'file');
  });

  it('refuses an empty archive', async () => {
    await expectRejected(archive(makeZip([])), 422, 'empty-archive');
  });

  it('refuses an archive with one class folder', async () => {
    const body = await expectRejected(archive(makeZip([{ name: 'cat/a.png', data: png }, { name: 'cat/b.png', data: png }])), 422, 'one-class');
    expect(body.detail).toContain('cat');
  });

  it('refuses path traversal and absolute paths in entry names', async () => {
    await expectRejected(archive(makeZip([...twoClasses(), { name: '../evil.png', data: png }])), 400, 'unsafe-entry-name');
    await expectRejected(archive(makeZip([...twoClasses(), { name: 'cat/../../evil.png', data: png }])), 400, 'unsafe-entry-name');
    await expectRejected(archive(makeZip([...twoClasses(), { name: '/etc/evil.png', data: png }])), 400, 'unsafe-entry-name');
    await expectRejected(archive(makeZip([...twoClasses(), { name: 'C:\\evil.png', data: png }])), 400, 'unsafe-entry-name');
    const tar = await makeTar([...twoClasses(), { name: '../../evil.png', data: png }], true);
    await expectRejected(archive(tar), 400, 'unsafe-entry-name');
  });

  it('refuses links inside archives', async () => {
    const tar = await makeTar([...twoClasses(), { name: 'cat/link.png', data: Buffer.alloc(0), type: 'symlink', linkname: '/etc/passwd' }], true);
    await expectRejected(archive(tar), 400, 'unsafe-entry');
  });

  it('refuses a zip bomb by its compression ratio', async () => {
    const bomb = makeZip([...twoClasses(), { name: 'cat/bomb.png', data: Buffer.alloc(6 * 1024 * 1024), method: 'deflate' }]);
    expect(bomb.length).toBeLessThan(4 * 1024 * 1024);
    await expectRejected(archive(bomb), 413, 'compression-ratio');
  });

  it('refuses archives whose real size exceeds the limit (gzip bomb)', async () => {
    const tar = await makeTar([...twoClasses(), { name: 'cat/big.png', data: Buffer.alloc(12 * 1024 * 1024) }], true);
    expect(tar.length).toBeLessThan(4 * 1024 * 1024);
    await expectRejected(archive(tar), 413, /archive-too-large|entry-too-large/);
  });

  it('refuses too many files', async () => {
    const many = Array.from({ length: 51 }, (_, i) => ({ name: `${i % 2 ? 'cat' : 'dog'}/${i}.png`, data: png }));
    await expectRejected(archive(makeZip(many)), 413, 'too-many-entries');
  });

  it('refuses an upload larger than MAX_UPLOAD_BYTES while it streams', async () => {
    const big = makeZip([...twoClasses(), { name: 'cat/noise.png', data: randomBytes(5 * 1024 * 1024) }]);
    await expectRejected(archive(big), 413, 'too-large');
  });

  it('refuses non-image files', async () => {
    const body = await expectRejected(archive(makeZip([...twoClasses(), { name: 'cat/notes.txt', data: Buffer.from('hi') }])), 422, 'non-image-files');
    expect(body.detail).toContain('notes.txt');
  });

  it('refuses IDX files whose counts do not match', async () => {
    const images = encodeIdx([10, 4, 4], new Uint8Array(160));
    const labels = encodeIdx([9], new Uint8Array([0, 1, 0, 1, 0, 1, 0, 1, 0]));
    await expectRejected(
      form({}, { images: { data: images, name: 'i.idx' }, labels: { data: labels, name: 'l.idx' } }),
      422,
      'idx-count-mismatch',
      'labels',
    );
  });

  it('refuses IDX labels of one class, truncated IDX data, and images without labels', async () => {
    const images = encodeIdx([4, 4, 4], new Uint8Array(64));
    const one = encodeIdx([4], new Uint8Array([2, 2, 2, 2]));
    await expectRejected(form({}, { images: { data: images, name: 'i' }, labels: { data: one, name: 'l' } }), 422, 'one-class');
    const truncated = images.subarray(0, images.length - 5);
    const labels = encodeIdx([4], new Uint8Array([0, 1, 0, 1]));
    await expectRejected(form({}, { images: { data: truncated, name: 'i' }, labels: { data: labels, name: 'l' } }), 422, 'idx-truncated');
    await expectRejected(form({}, { images: { data: images, name: 'i' } }), 400, 'bad-request', 'labels');
  });

  it('refuses bad options: split fractions, image size, unknown fields', async () => {
    const zip = makeZip(twoClasses());
    await expectRejected(archive(zip, { split: '0.8,0.3,0.1' }), 400, 'validation', 'split');
    await expectRejected(archive(zip, { imageSize: '4' }), 400, 'bad-request', 'imageSize');
    await expectRejected(archive(zip, { imageSize: 'big' }), 400, 'validation', 'imageSize');
    await expectRejected(archive(zip, { imagesize: '32' }), 400, 'validation');
    await expectRejected(archive(zip, { channels: '2' }), 400, 'validation', 'channels');
  });

  it('refuses a JSON body that is not JSON on every JSON route, with a 400 and not a 500', async () => {
    for (const path of ['/v1/training-jobs', '/v1/evaluations', '/v1/drift-reports', '/v1/drift-schedules']) {
      const res = await svc.request(path, { method: 'POST', body: '{"datasetId":', headers: { 'content-type': 'application/json' } });
      expect(res.status, path).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
      expect(((await res.json()) as any).type).toMatch(/malformed-body$/);
    }
  });
});

describe('archives that lie about their sizes', () => {
  it('fail ingestion with a reason and leave no shards behind', async () => {
    // Declares 100 bytes for an entry that inflates to 1 MiB: the listing passes, extraction must catch it.
    const liar = makeZip([...twoClasses(), { name: 'cat/liar.png', data: Buffer.alloc(1024 * 1024, 1), method: 'deflate', declaredSize: 100 }]);
    const res = await svc.request('/v1/datasets', { method: 'POST', body: archive(liar) });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const done = await svc.waitForDataset(id);
    expect(done.status).toBe('failed');
    expect(done.error.detail.length).toBeGreaterThan(10);
    const stored = (await svc.storage.list(keys.dataset('tenant-a', id))).keys.map((k) => k.key);
    expect(stored.some((k) => k.includes('/shards/'))).toBe(false);
    expect((await svc.request(`/v1/datasets/${id}/samples.png`)).status).toBe(409);
  });
});
