/**
 * What follows a scheduled drift report (the parent job of the report job, so it runs once the report is done or has
 * failed for good): the run is recorded on the schedule, and drift is POSTed to the webhook.
 *
 * Only detected drift is sent. A failed report (an empty window, a deleted model) is recorded in `lastRun` with its
 * reason but not sent: an idle model would otherwise page someone at every run. Delivery is at least once: a worker
 * lost mid-delivery sends again, so receivers should treat `report.id` as the delivery's identity.
 */
import type { Config } from '../config.js';
import { driftOutcomeJobSchema } from '../jobs/queues.js';
import type { Logger } from '../logger.js';
import { keys } from '../storage/keys.js';
import { reportSchema } from '../storage/report-manifests.js';
import type { Storage } from '../storage/storage.js';
import { driftAlert } from './alert.js';
import { deliverWebhook } from './delivery.js';
import type { LastRun } from './schemas.js';
import { readSchedule, readState, recordState } from './store.js';

export interface OutcomeDeps {
  config: Pick<Config, 'WEBHOOK_TIMEOUT_MS' | 'WEBHOOK_ATTEMPTS' | 'WEBHOOK_BACKOFF_MS' | 'PUBLIC_URL'>;
  storage: Storage;
  logger: Logger;
  /** Replaceable in tests. */
  fetch?: typeof fetch;
}

/** Records one scheduled report's outcome and alerts on drift; resolves with what it did. */
export async function recordDriftOutcome(deps: OutcomeDeps, data: unknown): Promise<'deleted' | 'recorded' | 'delivered' | 'undelivered'> {
  const { storage, config } = deps;
  const { tenant, scheduleId, reportId } = driftOutcomeJobSchema.parse(data);
  const schedule = await readSchedule(storage, tenant, scheduleId);
  const found = await storage.getJson(keys.report(tenant, reportId), reportSchema);
  const report = found?.kind === 'drift-report' ? found : null;
  if (!schedule) return 'deleted';

  const at = report && 'to' in report.current ? report.current.to : new Date().toISOString();
  const finished = report?.status === 'ready' || report?.status === 'failed';
  const lastRun: LastRun = {
    reportId,
    at,
    status: report?.status === 'ready' ? 'ready' : 'failed',
    driftDetected: report?.status === 'ready' ? (report.driftDetected ?? null) : null,
    ...(report?.status === 'ready'
      ? {}
      : { error: report?.error?.detail ?? (report && !finished ? 'The report job failed repeatedly; see the worker logs.' : 'The report was deleted.') }),
  };
  await recordState(storage, tenant, scheduleId, { lastRun });
  if (!report || report.status !== 'ready' || !report.driftDetected) return 'recorded';

  // A retried job whose delivery already went through does not send again.
  const previous = (await readState(storage, tenant, scheduleId)).lastDelivery;
  if (previous?.reportId === reportId && previous.delivered) return 'delivered';
  const result = await deliverWebhook(schedule.webhookUrl, schedule.secret, driftAlert(schedule, report, config.PUBLIC_URL), {
    timeoutMs: config.WEBHOOK_TIMEOUT_MS,
    attempts: config.WEBHOOK_ATTEMPTS,
    backoffMs: config.WEBHOOK_BACKOFF_MS,
    fetch: deps.fetch,
  });
  await recordState(storage, tenant, scheduleId, { lastDelivery: { ...result, reportId } });
  const log = { scheduleId, reportId, statusCode: result.statusCode, attempts: result.attempts, error: result.error };
  if (result.delivered) deps.logger.info(log, 'drift alert delivered');
  else deps.logger.warn(log, 'drift alert not delivered');
  return result.delivered ? 'delivered' : 'undelivered';
}
