/** Training-job and model-registry use cases behind the HTTP routes. */
import { diagnose } from '../diagnosis/diagnose.js';
import { getDataset, type DatasetDeps } from '../datasets/service.js';
import { Conflict, NotFound, Unprocessable } from '../errors.js';
import { newId } from '../ids.js';
import { checkArchitecture } from '../models/architecture.js';
import { isAlias, isResourceId, keys } from '../storage/keys.js';
import { datasetManifestSchema } from '../storage/manifests.js';
import type { Finding } from '../storage/report-manifests.js';
import {
  aliasSchema,
  memberRecordSchema,
  modelManifestSchema,
  runManifestSchema,
  type MemberRecord,
  type ModelManifest,
  type RunManifest,
} from '../storage/training-manifests.js';
import { resolveRunConfig, trainingJobRequestSchema } from './request.js';
import { updateRun } from './finish.js';

export type TrainingDeps = Pick<DatasetDeps, 'config' | 'storage' | 'queues' | 'logger'>;

/** Validates a request against its dataset, records the run and its members, and queues the member jobs. */
export async function createTrainingJob(deps: TrainingDeps, tenant: string, body: unknown): Promise<RunManifest> {
  const req = trainingJobRequestSchema.parse(body);
  const dataset = await getDataset(deps, tenant, req.datasetId).catch((err) => {
    if (err instanceof NotFound) {
      throw new Unprocessable(`datasetId "${req.datasetId}" names no dataset of yours. Upload one with POST /v1/datasets.`, {
        field: 'datasetId',
        type: 'unknown-dataset',
      });
    }
    throw err;
  });
  if (dataset.status !== 'ready') {
    throw new Conflict(`Dataset "${dataset.id}" is ${dataset.status}; train once it is ready.`, { field: 'datasetId', type: 'dataset-not-ready' });
  }
  const config = resolveRunConfig(req);
  checkArchitecture(config.architecture, { ...dataset.image!, numClasses: dataset.classes!.length });

  const id = newId('job');
  const now = new Date().toISOString();
  const run: RunManifest = {
    id,
    kind: 'training-job',
    tenant,
    datasetId: dataset.id,
    status: 'queued',
    cancelRequested: false,
    createdAt: now,
    updatedAt: now,
    config,
  };
  for (let k = 0; k < config.members; k++) {
    const member: MemberRecord = { index: k, seed: config.seeds[k], status: 'queued', history: [], resumedAt: [], updatedAt: now };
    await deps.storage.putJson(keys.runMember(tenant, id, k), member);
  }
  await deps.storage.putJson(keys.runManifest(tenant, id), run);
  await deps.queues.enqueueTraining({ tenant, jobId: id }, config.members);
  deps.logger.info({ tenant, jobId: id, members: config.members }, 'training job queued');
  return run;
}

export interface TrainingJobView {
  run: RunManifest;
  members: MemberRecord[];
  /** The run's status as a client sees it: `running` once any member has started. */
  status: string;
  /** The diagnosis of the run's learning curves and dataset, once the run has ended. */
  findings?: Finding[];
}

/** A run with its members' records. */
export async function getTrainingJob(deps: Pick<TrainingDeps, 'storage'>, tenant: string, id: string): Promise<TrainingJobView> {
  const run = isResourceId(id) ? await deps.storage.getJson(keys.runManifest(tenant, id), runManifestSchema) : null;
  if (!run) throw new NotFound(`No training job "${id}".`, { field: 'id' });
  const members = await Promise.all(
    run.config.seeds.map(async (seed, k) => {
      const m = await deps.storage.getJson(keys.runMember(tenant, id, k), memberRecordSchema);
      return m ?? { index: k, seed, status: 'queued' as const, history: [], resumedAt: [], updatedAt: run.updatedAt };
    }),
  );
  const active = members.some((m) => m.status !== 'queued');
  const status = run.status === 'queued' && active ? 'running' : run.status;
  if (!['succeeded', 'failed', 'cancelled'].includes(run.status)) return { run, members, status };
  const dataset = await deps.storage.getJson(keys.datasetManifest(tenant, run.datasetId), datasetManifestSchema);
  const findings = diagnose({ classes: dataset?.classes ?? [], config: run.config, profile: dataset?.profile, members });
  return { run, members, status, findings };
}

/** Asks a run's members to stop; the run ends `cancelled` and registers no model. */
export async function cancelTrainingJob(deps: TrainingDeps, tenant: string, id: string): Promise<TrainingJobView> {
  const view = await getTrainingJob(deps, tenant, id);
  if (['succeeded', 'failed', 'cancelled'].includes(view.run.status)) {
    throw new Conflict(`Training job "${id}" has already ${view.run.status === 'succeeded' ? 'succeeded' : 'ended'}.`, { type: 'already-finished' });
  }
  await deps.queues.requestCancel(id);
  await updateRun(deps.storage, view.run, { cancelRequested: true });
  return getTrainingJob(deps, tenant, id);
}

/** A registered model. */
export async function getModel(deps: Pick<TrainingDeps, 'storage'>, tenant: string, idOrAlias: string): Promise<ModelManifest> {
  let id = idOrAlias;
  if (isAlias(idOrAlias)) {
    const alias = await deps.storage.getJson(keys.modelAlias(tenant, idOrAlias), aliasSchema);
    if (alias) id = alias.modelId;
  }
  const model = isResourceId(id) ? await deps.storage.getJson(keys.modelManifest(tenant, id), modelManifestSchema) : null;
  if (!model) throw new NotFound(`No model or alias "${idOrAlias}".`, { field: 'id' });
  return model;
}

/** One page of the tenant's models, newest first within the page. */
export async function listModels(deps: Pick<TrainingDeps, 'storage'>, tenant: string, opts: { limit: number; cursor?: string }) {
  const page = await deps.storage.list(keys.models(tenant), { delimiter: '/', limit: opts.limit, token: opts.cursor });
  const ids = page.prefixes.map(keys.idOfPrefix).filter((id): id is string => id !== null);
  const items = (await Promise.all(ids.map((id) => deps.storage.getJson(keys.modelManifest(tenant, id), modelManifestSchema)))).filter(
    (m): m is ModelManifest => m !== null,
  );
  items.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  return { items, nextCursor: page.nextToken ?? null };
}

/** Points `alias` at a model (moving it from the model that had it). */
export async function setAlias(deps: Pick<TrainingDeps, 'storage'>, tenant: string, id: string, alias: string): Promise<ModelManifest> {
  if (!isAlias(alias)) {
    throw new Unprocessable('An alias is 1–63 lowercase letters, digits, ".", "_" or "-", and must not look like an id.', { field: 'alias' });
  }
  const model = await getModel(deps, tenant, id);
  if (model.id !== id) throw new NotFound(`No model "${id}".`, { field: 'id' });
  const previous = await deps.storage.getJson(keys.modelAlias(tenant, alias), aliasSchema);
  if (previous && previous.modelId !== id) {
    const old = await deps.storage.getJson(keys.modelManifest(tenant, previous.modelId), modelManifestSchema);
    if (old) await deps.storage.putJson(keys.modelManifest(tenant, old.id), { ...old, aliases: old.aliases.filter((a) => a !== alias) });
  }
  await deps.storage.putJson(keys.modelAlias(tenant, alias), { modelId: id });
  const updated = { ...model, aliases: [...new Set([...model.aliases, alias])].sort() };
  await deps.storage.putJson(keys.modelManifest(tenant, id), updated);
  return updated;
}
