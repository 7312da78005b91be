/** The worker role: BullMQ workers for every queue, sharing one Redis connection. */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { IngestDeps } from '../datasets/ingest.js';
import { recordDriftOutcome } from '../schedules/outcome.js';
import { fireDriftSchedule } from '../schedules/processor.js';
import { restoreDriftSchedules } from '../schedules/restore.js';
import { onIngestGaveUp, processIngest } from './ingest.processor.js';
import {
  QUEUE_NAMES,
  createQueues,
  type DriftOutcomeJob,
  type DriftScheduleJob,
  type IngestJob,
  type ReportJob,
  type TrainJob,
  type TrainMemberJob,
} from './queues.js';
import { onMemberGaveUp, processTrain } from './train.processor.js';

export interface WorkerDeps extends IngestDeps {
  /** A connection made with `maxRetriesPerRequest: null`, as BullMQ workers require. */
  connection: Redis;
  /** The environment the member child processes start with (they parse their own configuration from it). */
  env?: Record<string, string | undefined>;
}

/** Where a sandboxed processor lives: compiled JS in production, TypeScript (run through tsx) in development. */
function sandboxed(name: 'train-member' | 'report') {
  const here = fileURLToPath(import.meta.url);
  const ts = here.endsWith('.ts');
  return { file: join(dirname(here), `${name}.sandbox.${ts ? 'ts' : 'js'}`), execArgv: ts ? ['--import', 'tsx'] : [] };
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

  const sandbox = sandboxed('train-member');
  const locks = { lockDuration: config.WORKER_LOCK_DURATION_MS, stalledInterval: config.WORKER_STALLED_INTERVAL_MS, maxStalledCount: 2 };
  const members = new Worker<TrainMemberJob>(QUEUE_NAMES.trainMember, sandbox.file, {
    connection,
    prefix: config.QUEUE_PREFIX,
    concurrency: config.TRAIN_CONCURRENCY,
    useWorkerThreads: false,
    workerForkOptions: { execArgv: sandbox.execArgv, env: { ...process.env, ...deps.env } },
    ...locks,
  });
  members.on('failed', (job, err) => {
    if (!job) return;
    logger.warn({ jobId: job.id, attempts: job.attemptsMade, err: err.message }, 'training member failed');
    if (job.attemptsMade >= (job.opts.attempts ?? 1) || err.name === 'UnrecoverableError') {
      void onMemberGaveUp(deps.storage, job, err).catch((e) => logger.error({ err: e }, 'could not record member failure'));
    }
  });
  members.on('error', (err) => logger.error({ err }, 'training member worker error'));
  const train = new Worker<TrainJob>(QUEUE_NAMES.train, (job) => processTrain(deps.storage, job), {
    connection,
    prefix: config.QUEUE_PREFIX,
    concurrency: 2,
    ...locks,
  });
  train.on('error', (err) => logger.error({ err }, 'training worker error'));

  const reportSandbox = sandboxed('report');
  const reports = new Worker<ReportJob>(QUEUE_NAMES.report, reportSandbox.file, {
    connection,
    prefix: config.QUEUE_PREFIX,
    concurrency: 1,
    useWorkerThreads: false,
    workerForkOptions: { execArgv: reportSandbox.execArgv, env: { ...process.env, ...deps.env } },
    ...locks,
  });
  reports.on('failed', (job, err) => logger.warn({ jobId: job?.id, err: err.message }, 'report job failed'));
  reports.on('error', (err) => logger.error({ err }, 'report worker error'));

  // Drift schedules: firings queue reports, outcomes record runs and send alerts. Both only wait on I/O, so they run
  // in-process, several at once (an outcome may wait on a slow webhook for up to attempts × timeout).
  const queues = createQueues({ connection, prefix: config.QUEUE_PREFIX });
  const scheduleDeps = { config, storage: deps.storage, logger, queues };
  const schedules = new Worker<DriftScheduleJob | DriftOutcomeJob>(
    QUEUE_NAMES.driftSchedule,
    (job) => (job.name === 'outcome' ? recordDriftOutcome(scheduleDeps, job.data) : fireDriftSchedule(scheduleDeps, job)),
    { connection, prefix: config.QUEUE_PREFIX, concurrency: 8 },
  );
  schedules.on('failed', (job, err) => logger.warn({ jobId: job?.id, err: err.message }, 'drift schedule job failed'));
  schedules.on('error', (err) => logger.error({ err }, 'drift schedule worker error'));
  // The bucket is the system of record: job schedulers Redis lost are restored now, and then periodically.
  const tenants = new Set(config.API_KEYS.values());
  const reconcile = () => restoreDriftSchedules({ ...scheduleDeps, tenants }).catch((err) => logger.error({ err }, 'could not restore drift schedules'));
  const restored = reconcile();
  const timer = config.DRIFT_SCHEDULE_RECONCILE_MS > 0 ? setInterval(() => void reconcile(), config.DRIFT_SCHEDULE_RECONCILE_MS).unref() : null;

  const all = [ingest, members, train, reports, schedules];
  return {
    workers: all,
    /** Settles once the start-up restore of drift schedules is done (with how many it restored; undefined on failure). */
    restored,
    async close() {
      if (timer) clearInterval(timer);
      // Let a start-up restore finish, but do not hang shutdown on it while Redis is unreachable.
      await Promise.race([restored, new Promise((r) => setTimeout(r, 5000).unref())]);
      await Promise.all(all.map((w) => w.close()));
      await queues.close();
    },
  };
}
