/**
 * Queues and their typed payloads. A payload names what to work on; the inputs themselves live in object storage
 * (the manifest is the system of record), so a lost Redis loses no data, only queued work.
 */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { z } from 'zod';

export const QUEUE_NAMES = { ingest: 'ingest' } as const;

export const ingestJobSchema = z.object({
  tenant: z.string(),
  datasetId: z.string(),
});
export type IngestJob = z.infer<typeof ingestJobSchema>;

export interface QueueDeps {
  connection: Redis;
  prefix: string;
}

/** Creates the producers the API uses. Jobs are retried twice with backoff; finished ones are trimmed. */
export function createQueues({ connection, prefix }: QueueDeps) {
  const ingest = new Queue<IngestJob>(QUEUE_NAMES.ingest, {
    connection,
    prefix,
    defaultJobOptions: {
      attempts: 3,
      backoff: { type: 'exponential', delay: 2000 },
      removeOnComplete: { age: 24 * 3600, count: 1000 },
      removeOnFail: { age: 7 * 24 * 3600 },
    },
  });
  return {
    ingest,
    /** Enqueues the ingestion of one dataset; the job id is the dataset id so a retry of the request cannot double it. */
    async enqueueIngest(job: IngestJob) {
      await ingest.add('ingest', ingestJobSchema.parse(job), { jobId: job.datasetId });
    },
    /** Waiting + active + delayed jobs per queue, for /metrics. */
    async depths(): Promise<Record<string, Record<string, number>>> {
      return { [QUEUE_NAMES.ingest]: await ingest.getJobCounts('waiting', 'active', 'delayed', 'failed') };
    },
    async close() {
      await ingest.close();
    },
  };
}

export type Queues = ReturnType<typeof createQueues>;
