/**
 * The end of a run, once every member job is done: a cancelled or failed member ends the run with that status;
 * otherwise the members' validation probabilities are averaged into the ensemble's, and the model is registered
 * (member files copied under the model, the manifest written last).
 */
import { meanAndSampleStd } from '../data/stats.js';
import { getDataset } from '../datasets/service.js';
import { loadSplit } from '../datasets/read.js';
import { meanProbabilities, probabilityMetrics } from '../models/evaluate.js';
import { newId } from '../ids.js';
import { keys } from '../storage/keys.js';
import type { Storage } from '../storage/storage.js';
import {
  memberRecordSchema,
  modelManifestSchema,
  runManifestSchema,
  type MemberRecord,
  type ModelManifest,
  type RunManifest,
} from '../storage/training-manifests.js';

/** Updates the run record (the only writers are the API and this module). */
export async function updateRun(storage: Storage, run: RunManifest, patch: Partial<RunManifest>): Promise<RunManifest> {
  const next = { ...run, ...patch, updatedAt: new Date().toISOString() };
  await storage.putJson(keys.runManifest(run.tenant, run.id), next);
  return next;
}

async function readMembers(storage: Storage, run: RunManifest): Promise<MemberRecord[]> {
  return Promise.all(
    run.config.seeds.map(async (_, k) => {
      const m = await storage.getJson(keys.runMember(run.tenant, run.id, k), memberRecordSchema);
      if (!m) throw new Error(`member ${k} of run ${run.id} has no record`);
      return m;
    }),
  );
}

/** Finishes run `jobId`: registers its model, or records why it ended without one. */
export async function finishRun(storage: Storage, tenant: string, jobId: string): Promise<RunManifest | null> {
  const run = await storage.getJson(keys.runManifest(tenant, jobId), runManifestSchema);
  if (!run) return null;
  if (run.status === 'succeeded') return run;
  const members = await readMembers(storage, run);
  const finishedAt = new Date().toISOString();
  const failed = members.find((m) => m.status === 'failed');
  if (failed) {
    return updateRun(storage, run, {
      status: 'failed',
      finishedAt,
      error: { type: failed.error?.type ?? 'member-failed', detail: `Member ${failed.index + 1}: ${failed.error?.detail ?? 'failed'}` },
    });
  }
  if (run.cancelRequested || members.some((m) => m.status !== 'succeeded')) {
    return updateRun(storage, run, { status: 'cancelled', finishedAt });
  }

  const dataset = await getDataset({ storage }, tenant, run.datasetId);
  const val = await loadSplit(storage, dataset, 'val');
  const numClasses = dataset.classes!.length;
  const probs = await Promise.all(
    members.map(async (m) => {
      const bytes = await storage.getBytes(keys.runMemberModel(tenant, jobId, m.index, 'val-probs.bin'));
      if (!bytes) throw new Error(`member ${m.index} has no validation probabilities`);
      return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    }),
  );
  const ensemble = val.count > 0 ? probabilityMetrics(meanProbabilities(probs), val.labels, numClasses) : null;
  const accs = members.map((m) => m.metrics?.valAccuracy).filter((a): a is number => typeof a === 'number');

  const seeds = meanAndSampleStd(accs);
  const modelId = newId('mdl');
  for (const m of members) {
    for (const file of ['model.json', 'weights.bin'] as const) {
      const bytes = await storage.getBytes(keys.runMemberModel(tenant, jobId, m.index, file));
      if (!bytes) throw new Error(`member ${m.index} has no ${file}`);
      await storage.putBytes(keys.modelMember(tenant, modelId, m.index, file), bytes, file === 'model.json' ? 'application/json' : undefined);
    }
  }
  const model: ModelManifest = modelManifestSchema.parse({
    id: modelId,
    kind: 'model',
    tenant,
    status: 'ready',
    createdAt: finishedAt,
    datasetId: run.datasetId,
    trainingJobId: jobId,
    classes: dataset.classes,
    input: dataset.image,
    preprocessing: {
      resize: dataset.options.resize,
      mean: dataset.profile!.channelStats.mean,
      std: dataset.profile!.channelStats.std,
    },
    backend: members[0].backend ?? 'unknown',
    members: members.map((m) => ({ index: m.index, seed: m.seed, metrics: m.metrics })),
    metrics: {
      ensembleValAccuracy: ensemble?.accuracy ?? null,
      ensembleValLoss: ensemble?.loss ?? null,
      memberValAccuracyMean: accs.length ? seeds.mean : null,
      memberValAccuracyStd: accs.length ? seeds.std : null,
      valSamples: val.count,
    },
    config: run.config,
    aliases: [],
  });
  await storage.putJson(keys.modelManifest(tenant, modelId), model);
  return updateRun(storage, run, { status: 'succeeded', finishedAt, modelId });
}
