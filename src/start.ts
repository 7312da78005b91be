/**
 * Starts the service's roles. QUORUM_ROLE picks what runs: `api` (HTTP), `worker` (queue processors) or `all`
 * (both, the single-machine default). src/main.ts is the process entry that calls this.
 */
import { serve } from '@hono/node-server';
import { Redis } from 'ioredis';
import { createApp } from './api/app.js';
import type { Config } from './config.js';
import { createQueues } from './jobs/queues.js';
import { createWorkers } from './jobs/worker.js';
import { createLogger } from './logger.js';
import { createStorage } from './storage/storage.js';
import { selectBackend, type BackendInfo } from './models/backend.js';
import { createPredictor } from './prediction/predictor.js';

/** Starts the roles named in `config`; returns a function that stops them. */
export async function start(config: Config) {
  const logger = createLogger(config);
  const storage = createStorage(config);
  if (config.S3_CREATE_BUCKET) await storage.ensureBucket();
  const stops: (() => Promise<unknown>)[] = [];
  // The API predicts and workers train with the same backend choice (workers' children select it again).
  const backend: BackendInfo = await selectBackend(config.TFJS_BACKEND, { wasmFma: config.WASM_FMA });
  logger.info({ backend }, `tensorflow.js backend: ${backend.name} (${backend.device})`);

  if (config.QUORUM_ROLE !== 'worker') {
    const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 3, enableOfflineQueue: true });
    const queues = createQueues({ connection: redis, prefix: config.QUEUE_PREFIX });
    const predictor = createPredictor({ config, storage, logger });
    await predictor.start();
    const app = createApp({ config, storage, queues, redis, logger, backend, predictor });
    const server = serve({ fetch: app.fetch, port: config.PORT, hostname: config.HOST }, (info) =>
      logger.info({ port: info.port, role: config.QUORUM_ROLE }, 'api listening'),
    );
    stops.push(
      () => new Promise((resolve) => server.close(() => resolve(undefined))),
      () => predictor.close(),
      () => queues.close(),
      async () => redis.quit(),
    );
  }
  if (config.QUORUM_ROLE !== 'api') {
    const connection = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null });
    const workers = createWorkers({ config, storage, logger, connection });
    logger.info({ concurrency: config.WORKER_CONCURRENCY }, 'worker started');
    stops.unshift(() => workers.close());
    stops.push(async () => connection.quit());
  }
  return async () => {
    for (const stop of stops) await stop().catch((err) => logger.warn({ err }, 'shutdown step failed'));
    storage.destroy();
  };
}
