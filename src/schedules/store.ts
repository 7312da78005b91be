/**
 * Drift schedules in the bucket, the system of record: definitions (written by the API) and state (written by
 * workers). Redis only holds the job scheduler that fires each one, rebuilt from here (see restore.ts).
 */
import { isResourceId, keys } from '../storage/keys.js';
import type { Storage } from '../storage/storage.js';
import { driftScheduleSchema, driftScheduleStateSchema, type DriftSchedule, type DriftScheduleState } from './schemas.js';

/** The definition, or null when there is none (or `id` is not one of ours). */
export async function readSchedule(storage: Storage, tenant: string, id: string): Promise<DriftSchedule | null> {
  if (!isResourceId(id)) return null;
  return storage.getJson(keys.driftSchedule(tenant, id), driftScheduleSchema);
}

/** The ids of a tenant's schedules, oldest first (ids sort by creation). */
export async function listScheduleIds(storage: Storage, tenant: string): Promise<string[]> {
  const ids: string[] = [];
  let token: string | undefined;
  do {
    const page = await storage.list(keys.driftSchedules(tenant), { token });
    for (const { key } of page.keys) {
      const id = keys.scheduleIdOfKey(key);
      if (id) ids.push(id);
    }
    token = page.nextToken;
  } while (token);
  return ids.sort();
}

/** A tenant's schedules, oldest first. */
export async function listSchedules(storage: Storage, tenant: string): Promise<DriftSchedule[]> {
  const found = await Promise.all((await listScheduleIds(storage, tenant)).map((id) => readSchedule(storage, tenant, id)));
  return found.filter((s): s is DriftSchedule => s !== null);
}

/**
 * Every tenant's schedules (for restoring job schedulers). Tenants are those the bucket lists under `tenants/`, plus
 * `knownTenants` (the configured ones): s3rver, the S3 server of tests and single-machine setups, leaves out common
 * prefixes whose objects all lie two or more levels down, which is where schedules live.
 */
export async function listAllSchedules(storage: Storage, knownTenants: Iterable<string> = []): Promise<DriftSchedule[]> {
  const tenants = new Set(knownTenants);
  let token: string | undefined;
  do {
    const page = await storage.list(keys.tenants(), { delimiter: '/', token });
    for (const prefix of page.prefixes) {
      const tenant = keys.tenantOfPrefix(prefix);
      if (tenant) tenants.add(tenant);
    }
    token = page.nextToken;
  } while (token);
  const all: DriftSchedule[] = [];
  for (const tenant of [...tenants].sort()) all.push(...(await listSchedules(storage, tenant)));
  return all;
}

export async function writeSchedule(storage: Storage, schedule: DriftSchedule): Promise<void> {
  await storage.putJson(keys.driftSchedule(schedule.tenant, schedule.id), schedule);
}

/** Deletes the definition, then the state. */
export async function deleteSchedule(storage: Storage, tenant: string, id: string): Promise<void> {
  await storage.delete(keys.driftSchedule(tenant, id));
  await storage.delete(keys.driftSchedule(tenant, id, 'state'));
}

/** What workers recorded about the schedule's runs ({} before the first). */
export async function readState(storage: Storage, tenant: string, id: string): Promise<DriftScheduleState> {
  return (await storage.getJson(keys.driftSchedule(tenant, id, 'state'), driftScheduleStateSchema)) ?? {};
}

// Updates of one schedule's state are chained in this process, so two finishing runs cannot interleave their
// read-modify-write. Across processes, newer-wins merging keeps the record from going back in time.
const chains = new Map<string, Promise<unknown>>();

function newer(next: DriftScheduleState, current: DriftScheduleState): DriftScheduleState {
  const merged = { ...current };
  if (next.lastRun && (!current.lastRun || next.lastRun.at >= current.lastRun.at)) merged.lastRun = next.lastRun;
  // Report ids begin with their creation time, so they order deliveries by the run that caused them.
  if (next.lastDelivery && (!current.lastDelivery || next.lastDelivery.reportId >= current.lastDelivery.reportId)) {
    merged.lastDelivery = next.lastDelivery;
  }
  return merged;
}

/**
 * Merges `update` into the schedule's state (a field only replaces an older one). A schedule deleted meanwhile keeps
 * no state: the write is undone once the definition is seen to be gone.
 */
export function recordState(storage: Storage, tenant: string, id: string, update: DriftScheduleState): Promise<void> {
  const key = keys.driftSchedule(tenant, id, 'state');
  const run = async () => {
    if (!(await storage.exists(keys.driftSchedule(tenant, id)))) return;
    await storage.putJson(key, newer(update, await readState(storage, tenant, id)));
    if (!(await storage.exists(keys.driftSchedule(tenant, id)))) await storage.delete(key);
  };
  const previous = chains.get(key) ?? Promise.resolve();
  const next = previous.then(run, run);
  chains.set(key, next);
  void next.finally(() => chains.get(key) === next && chains.delete(key)).catch(() => undefined);
  return next;
}
