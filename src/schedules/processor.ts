/**
 * A drift schedule's firing, run in-process by the worker (it only reads a definition and queues a report, so it
 * never holds the event loop). The report covers [run time − window, run time), where the run time is the one the
 * job scheduler planned, so consecutive windows meet even when a worker picks a firing up late.
 */
import type { Job } from 'bullmq';
import { AppError } from '../errors.js';
import { driftScheduleJobSchema } from '../jobs/queues.js';
import { createDriftReport, type ReportDeps } from '../reports/service.js';
import { parseDuration } from './duration.js';
import { readSchedule, recordState } from './store.js';

/** The run time a job scheduler planned (its job ids are `repeat:<scheduler id>:<millis>`), never in the future. */
export function plannedRunTime(job: Pick<Job, 'id'>, now = Date.now()): number {
  const planned = Number(/^repeat:.+:([0-9]{10,})$/.exec(job.id ?? '')?.[1]);
  return Number.isFinite(planned) && planned > 0 && planned <= now ? planned : now;
}

/** Queues the drift report of one firing; resolves with its id, or with why there is none. */
export async function fireDriftSchedule(deps: ReportDeps, job: Pick<Job, 'id' | 'data'>): Promise<string> {
  const { tenant, scheduleId } = driftScheduleJobSchema.parse(job.data);
  const schedule = await readSchedule(deps.storage, tenant, scheduleId);
  if (!schedule) {
    await deps.queues.removeDriftSchedule(scheduleId);
    deps.logger.info({ scheduleId }, 'drift schedule is gone; removed its job scheduler');
    return 'deleted';
  }
  const to = plannedRunTime(job);
  const window = { from: new Date(to - parseDuration(schedule.window)!).toISOString(), to: new Date(to).toISOString() };
  // The report job runs under an outcome job that records the run and sends the alert.
  const queues = { ...deps.queues, enqueueReport: (r: { tenant: string; reportId: string }) => deps.queues.enqueueScheduledReport(r, scheduleId) };
  try {
    const report = await createDriftReport({ ...deps, queues }, tenant, { modelId: schedule.modelId, current: window, options: schedule.options }, scheduleId);
    return report.id;
  } catch (err) {
    // Something the user must fix (the model or alias is gone): recorded on the schedule, not retried.
    if (!(err instanceof AppError)) throw err;
    await recordState(deps.storage, tenant, scheduleId, { lastRun: { reportId: null, at: window.to, status: 'failed', driftDetected: null, error: err.message } });
    deps.logger.warn({ scheduleId, err: err.message }, 'scheduled drift report could not be created');
    return 'failed';
  }
}
