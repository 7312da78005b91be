/**
 * Builds the whole service for an integration test: the real app, a real worker, a bucket and a queue prefix
 * of the test file's own on the shared Redis and S3 servers. `close()` stops everything and empties the bucket.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { inject } from 'vitest';
import { createApp } from '../../src/api/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createQueues } from '../../src/jobs/queues.js';
import { createWorkers } from '../../src/jobs/worker.js';
import { createLogger } from '../../src/logger.js';
import { createStorage } from '../../src/storage/storage.js';
import { selectBackend } from '../../src/models/backend.js';
import { createPredictor } from '../../src/prediction/predictor.js';

export const KEY_A = 'test-key-tenant-a';
export const KEY_B = 'test-key-tenant-b';

export interface TestService {
  app: ReturnType<typeof createApp>;
  /** The environment the service was configured from (what a separate worker process would need). */
  env: Record<string, string>;
  predictor: ReturnType<typeof createPredictor>;
  config: Config;
  storage: ReturnType<typeof createStorage>;
  /** app.request with tenant A's key unless `key` is given (null sends no key). */
  request(path: string, init?: RequestInit & { key?: string | null }): Promise<Response>;
  /** Polls a dataset until it leaves queued/running; returns its body. */
  waitForDataset(id: string, opts?: { key?: string; timeoutMs?: number }): Promise<Record<string, any>>;
  close(): Promise<void>;
}

/** Starts an isolated service; `worker: false` leaves jobs queued. */
export async function startTestService(
  opts: { env?: Record<string, string>; worker?: boolean; /** leave the bucket's objects on close (it is shared) */ keepBucket?: boolean } = {},
): Promise<TestService> {
  const suffix = randomBytes(5).toString('hex');
  const env: Record<string, string> = {
    REDIS_URL: inject('redisUrl'),
    S3_ENDPOINT: inject('s3Url'),
    S3_BUCKET: `test-${suffix}`,
    QUEUE_PREFIX: `qt-${suffix}`,
    API_KEYS: `${KEY_A}:tenant-a,${KEY_B}:tenant-b`,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    TFJS_BACKEND: 'wasm',
    ...opts.env,
  };
  const config = loadConfig(env);
  const logger = createLogger(config);
  const storage = createStorage(config);
  await storage.ensureBucket();
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 3 });
  const queues = createQueues({ connection: redis, prefix: config.QUEUE_PREFIX });
  const backend = await selectBackend(config.TFJS_BACKEND);
  const predictor = createPredictor({ config, storage, logger });
  const app = createApp({ config, storage, queues, redis, logger, backend, predictor });
  const workerConn = opts.worker === false ? null : new Redis(config.REDIS_URL, { maxRetriesPerRequest: null });
  const workers = workerConn ? createWorkers({ config, storage, logger, connection: workerConn, env }) : null;

  const request: TestService['request'] = (path, init = {}) => {
    const { key = KEY_A, ...rest } = init;
    const headers = new Headers(rest.headers);
    if (key) headers.set('authorization', `Bearer ${key}`);
    return Promise.resolve(app.request(path, { ...rest, headers }));
  };

  return {
    app,
    env,
    predictor,
    config,
    storage,
    request,
    async waitForDataset(id, { key = KEY_A, timeoutMs = 120_000 } = {}) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const res = await request(`/v1/datasets/${id}`, { key });
        const body = (await res.json()) as Record<string, any>;
        if (res.status !== 200) throw new Error(`GET dataset ${id}: ${res.status} ${JSON.stringify(body)}`);
        if (body.status !== 'queued' && body.status !== 'running') return body;
        if (Date.now() > until) throw new Error(`dataset ${id} still ${body.status} after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async close() {
      await predictor.close();
      await workers?.close();
      await queues.close();
      await redis.quit();
      await workerConn?.quit();
      if (!opts.keepBucket) await storage.deletePrefix('');
      storage.destroy();
    },
  };
}

/** A multipart body from fields and files. */
export function form(fields: Record<string, string>, files: Record<string, { data: Uint8Array; name: string }[] | { data: Uint8Array; name: string }>) {
  const fd = new FormData();
  for (const [k, v] of Object.entries(fields)) fd.append(k, v);
  for (const [k, list] of Object.entries(files)) {
    for (const f of Array.isArray(list) ? list : [list]) fd.append(k, new Blob([f.data]), f.name);
  }
  return fd;
}
