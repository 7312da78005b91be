/** The parent job of a run: runs once every member job is done, and finishes the run (src/training/finish.ts). */
import type { Job } from 'bullmq';
import type { Storage } from '../storage/storage.js';
import { keys } from '../storage/keys.js';
import { memberRecordSchema, runManifestSchema } from '../storage/training-manifests.js';
import { finishRun, updateRun } from '../training/finish.js';
import { trainJobSchema, trainMemberJobSchema, type TrainJob, type TrainMemberJob } from './queues.js';

/** Registers the model or records why the run ended without one. */
export async function processTrain(storage: Storage, job: Job<TrainJob>): Promise<string> {
  const { tenant, jobId } = trainJobSchema.parse(job.data);
  const run = await finishRun(storage, tenant, jobId);
  return run?.status ?? 'deleted';
}

/** A member job that failed for good (every attempt crashed): the member and its run are marked failed. */
export async function onMemberGaveUp(storage: Storage, job: Job<TrainMemberJob>, err: Error): Promise<void> {
  const { tenant, jobId, index } = trainMemberJobSchema.parse(job.data);
  const detail = `Member ${index + 1} failed after ${job.attemptsMade} attempts: ${err.message}`;
  const member = await storage.getJson(keys.runMember(tenant, jobId, index), memberRecordSchema);
  if (member) {
    await storage.putJson(keys.runMember(tenant, jobId, index), {
      ...member,
      status: 'failed',
      error: { type: 'member-error', detail },
      updatedAt: new Date().toISOString(),
    });
  }
  const run = await storage.getJson(keys.runManifest(tenant, jobId), runManifestSchema);
  if (run && run.status !== 'failed') {
    await updateRun(storage, run, { status: 'failed', finishedAt: new Date().toISOString(), error: { type: 'member-error', detail } });
  }
}
