/**
 * The ensemble-member processor, run by BullMQ in a child process of the worker (a "sandboxed processor").
 * Training is CPU-bound for minutes; in its own process it cannot starve the worker's lock renewal, and a crash
 * here is a crash of this job only. The child reads its configuration from the environment it inherits.
 */
import type { SandboxedJob } from 'bullmq';
import { Redis } from 'ioredis';
import { loadConfig } from '../config.js';
import { createStorage } from '../storage/storage.js';
import { selectBackend } from '../models/backend.js';
import { runMemberJob } from '../training/member.js';
import { trainMemberJobSchema, type TrainMemberJob } from './queues.js';

let ready: Promise<{ deps: Parameters<typeof runMemberJob>[0] }> | null = null;

function init() {
  ready ??= (async () => {
    const config = loadConfig();
    await selectBackend(config.TFJS_BACKEND, { wasmFma: config.WASM_FMA });
    return { deps: { config, storage: createStorage(config), redis: new Redis(config.REDIS_URL, { maxRetriesPerRequest: 3 }) } };
  })();
  return ready;
}

/** Trains one member; resolves with its outcome ('succeeded', 'cancelled', 'failed' or 'deleted'). */
export default async function processTrainMember(job: SandboxedJob<TrainMemberJob>): Promise<string> {
  const { deps } = await init();
  const data = trainMemberJobSchema.parse(job.data);
  return runMemberJob(deps, data, (log) => job.updateProgress(log));
}
