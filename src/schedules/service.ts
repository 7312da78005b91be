/**
 * Drift schedules as resources: a cron pattern that creates a drift report of the last `window` of captured
 * predictions, and a webhook that hears about drift. The definition is stored first (the bucket is the system of
 * record), then its job scheduler is registered in Redis; deletion goes the other way round, and a firing whose
 * definition is gone removes its own scheduler.
 */
import { BadRequest, Conflict, NotFound, Unavailable, Unprocessable } from '../errors.js';
import { newId } from '../ids.js';
import type { ReportDeps } from '../reports/service.js';
import { getModel } from '../training/service.js';
import { shortestInterval } from './cron.js';
import { driftScheduleRequestSchema, type DriftSchedule, type DriftScheduleState, type DriftScheduleView } from './schemas.js';
import { newWebhookSecret } from './signature.js';
import { deleteSchedule, listScheduleIds, listSchedules, readSchedule, readState, writeSchedule } from './store.js';

export type ScheduleDeps = ReportDeps;

const readable = (ms: number) => (ms % 60_000 === 0 ? `${ms / 60_000} min` : `${ms / 1000} s`);

/** The public shape: the definition without tenant or secret, with what Redis and the workers know. */
export function toScheduleView(s: DriftSchedule, state: DriftScheduleState, next: number | null | undefined): DriftScheduleView {
  // `next` is undefined when Redis could not be asked: the schedule is still taken to be active.
  const active = next !== null;
  return {
    id: s.id,
    status: active ? 'active' : 'unscheduled',
    active,
    name: s.name ?? null,
    modelId: s.modelId,
    cron: s.cron,
    timezone: s.timezone,
    window: s.window,
    options: s.options,
    webhookUrl: s.webhookUrl,
    createdAt: s.createdAt,
    nextRunAt: typeof next === 'number' ? new Date(next).toISOString() : null,
    lastRun: state.lastRun ?? null,
    lastDelivery: state.lastDelivery ?? null,
    links: { self: `/v1/drift-schedules/${s.id}`, reports: '/v1/drift-reports' },
  };
}

async function nextRun(deps: ScheduleDeps, id: string): Promise<number | null | undefined> {
  try {
    return await deps.queues.nextDriftRun(id);
  } catch (err) {
    deps.logger.warn({ err, scheduleId: id }, 'could not read the job scheduler');
    return undefined;
  }
}

async function view(deps: ScheduleDeps, s: DriftSchedule): Promise<DriftScheduleView> {
  const [state, next] = await Promise.all([readState(deps.storage, s.tenant, s.id), nextRun(deps, s.id)]);
  return toScheduleView(s, state, next);
}

/** Checks and stores a schedule and registers its job scheduler; the view carries the webhook secret, this once. */
export async function createDriftSchedule(deps: ScheduleDeps, tenant: string, body: unknown): Promise<DriftScheduleView> {
  const { config, storage } = deps;
  const req = driftScheduleRequestSchema.parse(body);
  const cron = req.cron.trim().split(/\s+/).join(' ');
  const shortest = shortestInterval(cron, req.timezone);
  if (shortest < config.DRIFT_SCHEDULE_MIN_INTERVAL_MS) {
    throw new BadRequest(
      `cron "${cron}" runs as often as every ${readable(shortest)}; schedules may run at most once every ${readable(config.DRIFT_SCHEDULE_MIN_INTERVAL_MS)} (e.g. "*/15 * * * *" for every 15 minutes).`,
      { field: 'cron', type: 'cron-too-frequent', extra: { minIntervalMs: config.DRIFT_SCHEDULE_MIN_INTERVAL_MS } },
    );
  }
  await getModel(deps, tenant, req.modelId).catch((err) => {
    if (err instanceof NotFound) throw new Unprocessable(`modelId "${req.modelId}" names no model or alias of yours.`, { field: 'modelId', type: 'unknown-model' });
    throw err;
  });
  const limit = config.MAX_DRIFT_SCHEDULES_PER_TENANT;
  if ((await listScheduleIds(storage, tenant)).length >= limit) {
    throw new Conflict(`You have ${limit} drift schedules, the most allowed; delete one you no longer need first.`, {
      type: 'too-many-schedules',
      extra: { limit },
    });
  }
  const schedule: DriftSchedule = {
    id: newId('sch'),
    tenant,
    ...(req.name ? { name: req.name } : {}),
    modelId: req.modelId,
    cron,
    timezone: req.timezone,
    window: req.window,
    options: req.options,
    webhookUrl: req.webhookUrl,
    secret: newWebhookSecret(),
    createdAt: new Date().toISOString(),
  };
  await writeSchedule(storage, schedule);
  let next: number | null;
  try {
    next = await deps.queues.upsertDriftSchedule({ tenant, scheduleId: schedule.id }, { pattern: cron, timezone: schedule.timezone });
  } catch (err) {
    deps.logger.error({ err, scheduleId: schedule.id }, 'could not register the job scheduler');
    await deleteSchedule(storage, tenant, schedule.id).catch(() => undefined);
    throw new Unavailable('The schedule could not be registered with the queue (Redis); nothing was kept. Try again shortly.');
  }
  deps.logger.info({ tenant, scheduleId: schedule.id, cron }, 'drift schedule created');
  return { ...toScheduleView(schedule, {}, next), webhookSecret: schedule.secret };
}

/** The tenant's schedules, oldest first. */
export async function listDriftSchedules(deps: ScheduleDeps, tenant: string): Promise<DriftScheduleView[]> {
  return Promise.all((await listSchedules(deps.storage, tenant)).map((s) => view(deps, s)));
}

async function mustRead(deps: ScheduleDeps, tenant: string, id: string): Promise<DriftSchedule> {
  const schedule = await readSchedule(deps.storage, tenant, id);
  if (!schedule) throw new NotFound(`No drift schedule "${id}".`, { field: 'id' });
  return schedule;
}

export async function getDriftSchedule(deps: ScheduleDeps, tenant: string, id: string): Promise<DriftScheduleView> {
  return view(deps, await mustRead(deps, tenant, id));
}

/** Removes the job scheduler, then the stored schedule; reports already made are kept. */
export async function deleteDriftSchedule(deps: ScheduleDeps, tenant: string, id: string): Promise<void> {
  await mustRead(deps, tenant, id);
  try {
    await deps.queues.removeDriftSchedule(id);
  } catch (err) {
    // Deleting anyway is safe: a firing whose definition is gone removes its own job scheduler.
    deps.logger.warn({ err, scheduleId: id }, 'could not remove the job scheduler; its next firing will');
  }
  await deleteSchedule(deps.storage, tenant, id);
  deps.logger.info({ tenant, scheduleId: id }, 'drift schedule deleted');
}
