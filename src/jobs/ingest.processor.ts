/** The ingestion job: a thin recipe over src/datasets/ingest.ts that maps user-fixable errors to a failed dataset. */
import { UnrecoverableError, type Job } from 'bullmq';
import { AppError } from '../errors.js';
import { ingestDataset, markDatasetFailed, type IngestDeps } from '../datasets/ingest.js';
import { ingestJobSchema, type IngestJob } from './queues.js';

/** Processes one ingestion job; bad input fails the dataset at once (no retry), other errors are retried. */
export async function processIngest(deps: IngestDeps, job: Job<IngestJob>): Promise<string> {
  const { tenant, datasetId } = ingestJobSchema.parse(job.data);
  try {
    return await ingestDataset(deps, tenant, datasetId, (p) => job.updateProgress(p));
  } catch (err) {
    if (err instanceof AppError) {
      await markDatasetFailed(deps.storage, tenant, datasetId, { type: err.type, detail: err.message });
      throw new UnrecoverableError(err.message);
    }
    throw err;
  }
}

/** Called when a job will not be retried again: records why on the dataset. */
export async function onIngestGaveUp(deps: IngestDeps, job: Job<IngestJob>, err: Error): Promise<void> {
  if (err instanceof UnrecoverableError) return; // already recorded with the user's reason
  const { tenant, datasetId } = ingestJobSchema.parse(job.data);
  await markDatasetFailed(deps.storage, tenant, datasetId, {
    type: 'ingest-error',
    detail: `Ingestion failed after ${job.attemptsMade} attempts: ${err.message}`,
  });
}
