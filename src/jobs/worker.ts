/** The worker role: BullMQ workers for every queue, sharing one Redis connection. */
import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { IngestDeps } from '../datasets/ingest.js';
import { onIngestGaveUp, processIngest } from './ingest.processor.js';
import { QUEUE_NAMES, type IngestJob } from './queues.js';

export interface WorkerDeps extends IngestDeps {
  /** A connection made with `maxRetriesPerRequest: null`, as BullMQ workers require. */
  connection: Redis;
}

/** Starts the workers; `close()` waits for jobs in progress to finish. */
export function createWorkers(deps: WorkerDeps) {
  const { config, logger, connection } = deps;
  const ingest = new Worker<IngestJob>(QUEUE_NAMES.ingest, (job) => processIngest(deps, job), {
    connection,
    prefix: config.QUEUE_PREFIX,
    concurrency: config.WORKER_CONCURRENCY,
    // Ingestion awaits sharp per image, so the event loop (and lock renewal) keeps running; 60 s leaves margin.
    lockDuration: 60_000,
  });
  ingest.on('failed', (job, err) => {
    if (!job) return;
    logger.warn({ jobId: job.id, attempts: job.attemptsMade, err: err.message }, 'ingest job failed');
    const final = job.attemptsMade >= (job.opts.attempts ?? 1) || err.name === 'UnrecoverableError';
    if (final) void onIngestGaveUp(deps, job, err).catch((e) => logger.error({ err: e }, 'could not record failure'));
  });
  ingest.on('error', (err) => logger.error({ err }, 'ingest worker error'));
  return {
    workers: [ingest],
    async close() {
      await ingest.close();
    },
  };
}
