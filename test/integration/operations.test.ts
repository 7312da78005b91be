import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/api/app.js';
import { loadConfig } from '../../src/config.js';
import { createQueues } from '../../src/jobs/queues.js';
import { createLogger } from '../../src/logger.js';
import { createStorage } from '../../src/storage/storage.js';
import { startTestService, type TestService } from '../harness/service.js';

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService({ worker: false });
});
afterAll(async () => {
  await svc?.close();
});

describe('operations endpoints', () => {
  it('reports the process alive on /healthz without a key', async () => {
    const res = await svc.request('/healthz', { key: null });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok', role: 'all' });
  });

  it('reports Redis and the bucket reachable on /readyz', async () => {
    const res = await svc.request('/readyz', { key: null });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ready', checks: { redis: 'ok', storage: 'ok' } });
  });

  it('says which dependency is down when not ready', async () => {
    const config = loadConfig({ S3_ENDPOINT: 'http://127.0.0.1:9', REDIS_URL: 'redis://127.0.0.1:9', API_KEYS: 'k-123456789:t', LOG_LEVEL: 'silent' });
    const redis = new Redis(config.REDIS_URL, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
    redis.on('error', () => {});
    const storage = createStorage(config);
    const queues = createQueues({ connection: redis, prefix: 'unused' });
    const app = createApp({ config, storage, queues, redis, logger: createLogger(config) });
    const res = await app.request('/readyz');
    expect(res.status).toBe(503);
    const body = (await res.json()) as { status: string; checks: Record<string, string> };
    expect(body.status).toBe('unready');
    expect(body.checks.redis).toMatch(/^unreachable/);
    expect(body.checks.storage).toMatch(/^unreachable/);
    storage.destroy();
    redis.disconnect();
  });

  it('exposes request counts, latency histograms per route and queue depths on /metrics', async () => {
    await svc.request('/v1/datasets');
    await svc.request('/v1/datasets/ds_00000000000000000000');
    const text = await (await svc.request('/metrics', { key: null })).text();
    expect(text).toMatch(/quorum_http_requests_total\{method="GET",route="\/v1\/datasets\/:id",status="404"\} 1/);
    expect(text).toMatch(/quorum_http_request_duration_seconds_bucket\{le="[0-9.]+",method="GET",route="\/v1\/datasets"/);
    expect(text).toMatch(/quorum_queue_jobs\{queue="ingest",state="waiting"\} 0/);
  });

  it('describes the API in /openapi.json and renders /docs', async () => {
    const doc = (await (await svc.request('/openapi.json', { key: null })).json()) as any;
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/v1/datasets', '/v1/datasets/{id}', '/v1/datasets/{id}/samples.png']),
    );
    expect(doc.paths['/v1/datasets'].post.requestBody.content['multipart/form-data']).toBeDefined();
    const docs = await svc.request('/docs', { key: null });
    expect(docs.headers.get('content-type')).toContain('text/html');
    expect(await docs.text()).toContain('/openapi.json');
  });

  it('answers unknown routes and malformed ids with problem+json', async () => {
    const res = await svc.request('/v1/nothing-here');
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    const bad = await svc.request('/v1/datasets/..%2F..%2Fetc');
    expect(bad.status).toBe(404);
    const limit = await svc.request('/v1/datasets?limit=5000');
    expect(limit.status).toBe(400);
    expect(((await limit.json()) as any).field).toBe('limit');
  });

  it('keeps an upload queued with its manifest stored until a worker takes it', async () => {
    const { encodeIdx } = await import('../../src/data/idx.js');
    const fd = new FormData();
    fd.append('images', new Blob([encodeIdx([4, 8, 8], new Uint8Array(256).map((_, i) => i))]), 'i');
    fd.append('labels', new Blob([encodeIdx([4], new Uint8Array([0, 1, 0, 1]))]), 'l');
    const res = await svc.request('/v1/datasets', { method: 'POST', body: fd });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const view = (await (await svc.request(`/v1/datasets/${id}`)).json()) as any;
    expect(view).toMatchObject({ id, status: 'queued', source: { kind: 'idx', images: 4 } });
  });
});
