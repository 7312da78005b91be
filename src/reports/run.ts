/**
 * The report job: computes the evaluation or drift report its record describes, then stores the finished record
 * and its HTML page. A report that cannot be computed (its model or data was deleted, the capture window is empty)
 * is marked failed with the reason, rather than retried; a worker lost mid-report leaves it running, and BullMQ's
 * stalled-job check runs it again from the start.
 */
import { runDrift } from '../drift/run.js';
import { runEvaluation } from '../evaluation/run.js';
import type { ReportJob } from '../jobs/queues.js';
import type { Logger } from '../logger.js';
import { keys } from '../storage/keys.js';
import { reportSchema, type Report } from '../storage/report-manifests.js';
import type { Storage } from '../storage/storage.js';
import { getModel } from '../training/service.js';
import { renderReportHtml } from './html.js';

export interface ReportJobDeps {
  storage: Storage;
  logger?: Logger;
}

async function save(storage: Storage, report: Report): Promise<Report> {
  const next = { ...report, updatedAt: new Date().toISOString() } as Report;
  await storage.putJson(keys.report(report.tenant, report.id), next);
  return next;
}

/** Computes one report; resolves with its final status. */
export async function runReportJob(deps: ReportJobDeps, job: ReportJob): Promise<Report['status'] | 'deleted'> {
  const { storage } = deps;
  const report = await storage.getJson(keys.report(job.tenant, job.reportId), reportSchema);
  if (!report) return 'deleted';
  if (report.status === 'ready' || report.status === 'failed') return report.status;
  const running = await save(storage, { ...report, status: 'running' });
  let finished: Report;
  try {
    const done = running.kind === 'evaluation' ? await runEvaluation(storage, running) : await runDrift(storage, running);
    finished = { ...done, status: 'ready', finishedAt: new Date().toISOString() };
  } catch (err) {
    deps.logger?.warn({ err, reportId: report.id }, 'report failed');
    const detail = err instanceof Error ? err.message : String(err);
    finished = { ...running, status: 'failed', finishedAt: new Date().toISOString(), error: { type: 'report-failed', detail } };
  }
  const model = await getModel({ storage }, report.tenant, report.modelId).catch(() => null);
  await storage.putBytes(keys.report(report.tenant, report.id, 'html'), Buffer.from(renderReportHtml(finished, model?.classes ?? []), 'utf8'), 'text/html; charset=utf-8');
  await save(storage, finished);
  deps.logger?.info({ reportId: report.id, kind: report.kind, status: finished.status }, 'report finished');
  return finished.status;
}
