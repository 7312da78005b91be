/**
 * Evaluations and drift reports as resources: requests are checked against the model and the data before anything
 * is queued (a model that cannot read the dataset is a 4xx now, not a failed job later), the record is stored, and a
 * report job computes it. Reads return the record; the HTML page is the stored one, or rendered from the record
 * while the report is still queued or running.
 */
import { Conflict, NotFound, Unprocessable } from '../errors.js';
import { getDataset, type DatasetDeps } from '../datasets/service.js';
import { newId } from '../ids.js';
import { isResourceId, keys } from '../storage/keys.js';
import type { DatasetManifest } from '../storage/manifests.js';
import { reportSchema, type DriftReport, type Evaluation, type Report } from '../storage/report-manifests.js';
import type { ModelManifest } from '../storage/training-manifests.js';
import { getModel } from '../training/service.js';
import { renderReportHtml } from './html.js';
import { driftRequestSchema, evaluationRequestSchema } from './requests.js';

export type ReportDeps = Pick<DatasetDeps, 'config' | 'storage' | 'queues' | 'logger'>;

async function modelFor(deps: Pick<ReportDeps, 'storage'>, tenant: string, idOrAlias: string): Promise<ModelManifest> {
  return getModel(deps, tenant, idOrAlias).catch((err) => {
    if (err instanceof NotFound) {
      throw new Unprocessable(`modelId "${idOrAlias}" names no model or alias of yours.`, { field: 'modelId', type: 'unknown-model' });
    }
    throw err;
  });
}

/** A ready dataset the model can score: same image size and channels, and only classes the model knows. */
async function datasetFor(deps: Pick<ReportDeps, 'storage'>, tenant: string, id: string, model: ModelManifest, field: string): Promise<DatasetManifest> {
  const dataset = await getDataset(deps, tenant, id).catch((err) => {
    if (err instanceof NotFound) throw new Unprocessable(`${field} "${id}" names no dataset of yours.`, { field, type: 'unknown-dataset' });
    throw err;
  });
  if (dataset.status !== 'ready') throw new Conflict(`Dataset "${id}" is ${dataset.status}; ask again once it is ready.`, { field, type: 'dataset-not-ready' });
  const got = dataset.image!;
  const want = model.input;
  if (got.height !== want.height || got.width !== want.width || got.channels !== want.channels) {
    throw new Unprocessable(
      `Dataset "${id}" holds ${got.height}×${got.width}×${got.channels} images; model "${model.id}" reads ${want.height}×${want.width}×${want.channels}. ` +
        `Upload the images again with imageSize [${want.height}, ${want.width}] and channels ${want.channels}.`,
      { field, type: 'incompatible-dataset' },
    );
  }
  const unknown = dataset.classes!.filter((c) => !model.classes.includes(c));
  if (unknown.length > 0) {
    throw new Unprocessable(
      `Dataset "${id}" has classes the model was not trained on: ${unknown.slice(0, 5).join(', ')}${unknown.length > 5 ? ', …' : ''}. ` +
        `The model knows: ${model.classes.join(', ')}.`,
      { field, type: 'unknown-classes' },
    );
  }
  return dataset;
}

function base(tenant: string, model: ModelManifest) {
  const now = new Date().toISOString();
  return { id: newId('rep'), tenant, status: 'queued' as const, createdAt: now, updatedAt: now, modelId: model.id, findings: [] };
}

/** Checks and queues an evaluation of a model on a labelled dataset split. */
export async function createEvaluation(deps: ReportDeps, tenant: string, body: unknown): Promise<Evaluation> {
  const req = evaluationRequestSchema.parse(body);
  const model = await modelFor(deps, tenant, req.modelId);
  const dataset = await datasetFor(deps, tenant, req.datasetId, model, 'datasetId');
  const count = req.split === 'all' ? Object.values(dataset.splits!).reduce((s, p) => s + p.count, 0) : dataset.splits![req.split].count;
  if (count === 0) {
    throw new Unprocessable(`Split "${req.split}" of dataset "${dataset.id}" holds no images; choose another split or "all".`, {
      field: 'split',
      type: 'empty-split',
    });
  }
  const report: Evaluation = { ...base(tenant, model), kind: 'evaluation', datasetId: dataset.id, split: req.split, learningCurves: [] };
  return queue(deps, report);
}

/** Checks and queues a drift report of current data (a dataset, or a captured window) against the validation split. */
export async function createDriftReport(deps: ReportDeps, tenant: string, body: unknown, scheduleId?: string): Promise<DriftReport> {
  const req = driftRequestSchema.parse(body);
  const model = await modelFor(deps, tenant, req.modelId);
  if ('datasetId' in req.current) await datasetFor(deps, tenant, req.current.datasetId, model, 'current.datasetId');
  else if (Date.parse(req.current.from) >= Date.parse(req.current.to)) {
    throw new Unprocessable('current.from must be before current.to.', { field: 'current.from', type: 'empty-window' });
  }
  const report: DriftReport = {
    ...base(tenant, model),
    kind: 'drift-report',
    ...(scheduleId ? { scheduleId } : {}),
    reference: { datasetId: model.datasetId, split: 'val' },
    current: req.current,
    alpha: req.options.alpha,
    options: req.options,
    tests: [],
    histograms: [],
  };
  return queue(deps, report);
}

async function queue<R extends Report>(deps: ReportDeps, report: R): Promise<R> {
  await deps.storage.putJson(keys.report(report.tenant, report.id), report);
  await deps.queues.enqueueReport({ tenant: report.tenant, reportId: report.id });
  deps.logger.info({ tenant: report.tenant, reportId: report.id, kind: report.kind }, 'report queued');
  return report;
}

/** The report with this id and kind, or NotFound (an evaluation id is not a drift report). */
export async function getReport<K extends Report['kind']>(deps: Pick<ReportDeps, 'storage'>, tenant: string, id: string, kind: K) {
  const noun = kind === 'evaluation' ? 'evaluation' : 'drift report';
  const report = isResourceId(id) ? await deps.storage.getJson(keys.report(tenant, id), reportSchema) : null;
  if (!report || report.kind !== kind) throw new NotFound(`No ${noun} "${id}".`, { field: 'id' });
  return report as Extract<Report, { kind: K }>;
}

/** The report's HTML page: stored once it is finished, rendered from the record before that. */
export async function getReportHtml(deps: Pick<ReportDeps, 'storage'>, tenant: string, id: string, kind: Report['kind']): Promise<string> {
  const report = await getReport(deps, tenant, id, kind);
  if (report.status === 'ready' || report.status === 'failed') {
    const stored = await deps.storage.getBytes(keys.report(tenant, id, 'html'));
    if (stored) return stored.toString('utf8');
  }
  const model = await getModel(deps, tenant, report.modelId).catch(() => null);
  return renderReportHtml(report, model?.classes ?? []);
}
