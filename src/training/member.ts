/**
 * One ensemble member's job: load the dataset, resume from the member's checkpoint when a previous attempt was
 * lost, train, and after every epoch write the checkpoint and the member record (history) to object storage.
 * Runs inside a sandboxed child process, so the worker's event loop keeps renewing the job lock.
 */
import type { Redis } from 'ioredis';
import type { Config } from '../config.js';
import { getDataset } from '../datasets/service.js';
import { loadSplit } from '../datasets/read.js';
import { cancelKey } from '../jobs/queues.js';
import { currentBackend } from '../models/backend.js';
import { normalisationTable } from '../models/batches.js';
import { decodeCheckpoint, encodeCheckpoint } from '../models/checkpoint.js';
import { predictProbabilities, probabilityMetrics } from '../models/evaluate.js';
import { serializeModel } from '../models/serialize.js';
import { trainMember, TrainingDiverged, type EpochLog } from '../models/train.js';
import { keys } from '../storage/keys.js';
import type { Storage } from '../storage/storage.js';
import { memberRecordSchema, runManifestSchema, type MemberRecord } from '../storage/training-manifests.js';
import { createAugmentedCollector } from './materialize.js';

export interface MemberDeps {
  config: Config;
  storage: Storage;
  redis: Redis;
}

export type MemberOutcome = 'succeeded' | 'cancelled' | 'failed' | 'deleted';

/** Trains member `index` of run `jobId`; `progress` receives every epoch log as it happens. */
export async function runMemberJob(
  deps: MemberDeps,
  job: { tenant: string; jobId: string; index: number },
  progress: (p: { member: number } & EpochLog) => Promise<void> | void = () => {},
): Promise<MemberOutcome> {
  const { storage, redis, config } = deps;
  const { tenant, jobId, index } = job;
  const run = await storage.getJson(keys.runManifest(tenant, jobId), runManifestSchema);
  if (!run) return 'deleted';
  const memberKey = keys.runMember(tenant, jobId, index);
  let record = (await storage.getJson(memberKey, memberRecordSchema)) as MemberRecord;
  const save = async (patch: Partial<MemberRecord>) => {
    record = { ...record, ...patch, updatedAt: new Date().toISOString() };
    await storage.putJson(memberKey, record);
  };
  const cancelled = async () => run.cancelRequested || (await redis.exists(cancelKey(config.QUEUE_PREFIX, jobId))) === 1;
  if (record.status === 'succeeded') return 'succeeded';
  if (await cancelled()) {
    await save({ status: 'cancelled' });
    return 'cancelled';
  }

  const dataset = await getDataset(deps, tenant, run.datasetId);
  const [train, val] = await Promise.all([loadSplit(storage, dataset, 'train'), loadSplit(storage, dataset, 'val')]);
  const shape = { ...dataset.image!, numClasses: dataset.classes!.length };
  const norm = { mean: dataset.profile!.channelStats.mean, std: dataset.profile!.channelStats.std };
  const checkpoint = await storage.getBytes(keys.runMemberCheckpoint(tenant, jobId, index));
  const resume = checkpoint ? decodeCheckpoint(checkpoint) : undefined;
  await save({
    status: 'running',
    backend: currentBackend()?.name,
    history: resume?.history ?? [],
    resumedAt: resume ? [...record.resumedAt, resume.epoch] : record.resumedAt,
  });

  // Polling Redis on every step would cost a round trip per batch; once a second is prompt enough for a cancel.
  let lastCheck = 0;
  let stop = false;
  const shouldStop = async () => {
    if (!stop && Date.now() - lastCheck > 1000) {
      lastCheck = Date.now();
      stop = await cancelled();
    }
    return stop;
  };

  // The first member stores the augmented samples of its first epoch when asked to (not again after a resume).
  const collector = run.config.augmentation.materialize && index === 0 && !resume ? createAugmentedCollector(dataset) : null;

  let result;
  try {
    result = await trainMember({
      data: { train, val, shape, norm },
      architecture: run.config.architecture,
      training: run.config.training,
      augmentation: run.config.augmentation,
      seed: run.config.seeds[index],
      resume,
      shouldStop,
      onAugmentedBatch: collector ? ({ images, indices }) => collector.add(images, Array.from(indices, (i) => train.labels[i])) : undefined,
      onEpoch: async (log, state) => {
        if (collector && log.epoch === 1 && collector.count > 0) {
          await save({ augmentedDatasetId: await collector.save(storage, run, index) });
        }
        const s = await state();
        await storage.putBytes(keys.runMemberCheckpoint(tenant, jobId, index), encodeCheckpoint(s));
        await save({ history: s.history });
        await progress({ member: index, ...log });
      },
    });
  } catch (err) {
    if (err instanceof TrainingDiverged) {
      await save({ status: 'failed', error: { type: 'training-diverged', detail: err.message } });
      return 'failed';
    }
    throw err;
  }

  try {
    if (result.stopReason === 'cancelled') {
      await save({ status: 'cancelled', history: result.history });
      return 'cancelled';
    }
    const serialized = await serializeModel(result.model);
    const probs = await predictProbabilities(result.model, val, shape, normalisationTable(norm));
    const metrics = val.count > 0 ? probabilityMetrics(probs, val.labels, shape.numClasses) : null;
    await storage.putJson(keys.runMemberModel(tenant, jobId, index, 'model.json'), serialized.modelJson);
    await storage.putBytes(keys.runMemberModel(tenant, jobId, index, 'weights.bin'), serialized.weights);
    await storage.putBytes(keys.runMemberModel(tenant, jobId, index, 'val-probs.bin'), Buffer.from(probs.buffer, probs.byteOffset, probs.byteLength));
    await save({
      status: 'succeeded',
      history: result.history,
      classWeights: result.classWeights,
      metrics: {
        valAccuracy: metrics?.accuracy ?? null,
        valLoss: metrics?.loss ?? null,
        bestEpoch: result.bestEpoch,
        epochsRun: result.history.length,
        stopReason: result.stopReason,
      },
    });
    return 'succeeded';
  } finally {
    result.model.dispose();
  }
}
