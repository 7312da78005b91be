/**
 * Rebuilds Redis's job schedulers from the bucket: every stored schedule without one gets it back, so a flushed or
 * replaced Redis loses no schedule. Workers run this at start-up and then every DRIFT_SCHEDULE_RECONCILE_MS; several
 * workers running it at once is harmless (an upsert of the same id). The opposite case, a job scheduler whose
 * schedule was deleted, needs no sweep: its next firing finds no definition and removes it.
 */
import type { Queues } from '../jobs/queues.js';
import type { Logger } from '../logger.js';
import type { Storage } from '../storage/storage.js';
import { listAllSchedules } from './store.js';

export interface RestoreDeps {
  storage: Storage;
  queues: Pick<Queues, 'driftScheduleIds' | 'upsertDriftSchedule'>;
  logger: Logger;
  /** Tenants to look in besides those the bucket lists (the configured ones). */
  tenants?: Iterable<string>;
}

/** Registers the job scheduler of every stored schedule that lacks one; resolves with how many it restored. */
export async function restoreDriftSchedules({ storage, queues, logger, tenants }: RestoreDeps): Promise<number> {
  const registered = new Set(await queues.driftScheduleIds());
  const stored = await listAllSchedules(storage, tenants);
  let restored = 0;
  for (const s of stored) {
    if (registered.has(s.id)) continue;
    try {
      await queues.upsertDriftSchedule({ tenant: s.tenant, scheduleId: s.id }, { pattern: s.cron, timezone: s.timezone });
      restored++;
    } catch (err) {
      logger.error({ err, scheduleId: s.id }, 'could not restore a drift schedule');
    }
  }
  if (restored) logger.info({ restored, schedules: stored.length }, 'drift job schedulers restored from storage');
  return restored;
}
