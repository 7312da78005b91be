/**
 * The object-store key layout (../shared/DESIGN.md, "Storage is the system of record"). Nothing else builds keys:
 * every key starts with the tenant's prefix, so a tenant can only ever address its own objects.
 */
import type { SplitName } from '../data/split.js';

const ID = /^[a-z]{2,4}_[0-9a-z]{10,40}$/;
const TENANT = /^[a-z0-9][a-z0-9-]{0,62}$/;
const ALIAS = /^[a-z0-9][a-z0-9._-]{0,62}$/;

function check(value: string, re: RegExp, what: string): string {
  if (!re.test(value)) throw new Error(`invalid ${what} for a storage key: ${JSON.stringify(value)}`);
  return value;
}

const tenantRoot = (t: string) => `tenants/${check(t, TENANT, 'tenant')}/`;
const memberIndex = (k: number) => {
  if (!Number.isInteger(k) || k < 0 || k > 99) throw new Error(`invalid member index for a storage key: ${k}`);
  return String(k);
};
const dataset = (t: string, id: string) => `${tenantRoot(t)}datasets/${check(id, ID, 'dataset id')}/`;

export const keys = {
  /** The prefix above every tenant's root; listed with a delimiter it names the tenants. */
  tenants: () => 'tenants/',
  tenantRoot,
  datasets: (t: string) => `${tenantRoot(t)}datasets/`,
  dataset,
  datasetManifest: (t: string, id: string) => `${dataset(t, id)}manifest.json`,
  /** The raw upload (archive or IDX file) as the user sent it. */
  datasetUpload: (t: string, id: string, name: string) =>
    `${dataset(t, id)}upload/${check(name, /^[a-z0-9._-]{1,64}$/, 'upload name')}`,
  datasetShard: (t: string, id: string, split: SplitName, index: number) =>
    `${dataset(t, id)}shards/${split}-${String(index).padStart(5, '0')}.qshard`,
  datasetFiles: (t: string, id: string) => `${dataset(t, id)}files.json`,
  datasetSampleSheet: (t: string, id: string, split: SplitName) => `${dataset(t, id)}samples-${split}.png`,
  runs: (t: string) => `${tenantRoot(t)}runs/`,
  run: (t: string, id: string) => `${tenantRoot(t)}runs/${check(id, ID, 'training job id')}/`,
  runManifest: (t: string, id: string) => `${keys.run(t, id)}run.json`,
  /** A member's own record (status, seed, per-epoch history), written only by that member's job. */
  runMember: (t: string, id: string, k: number) => `${keys.run(t, id)}members/${memberIndex(k)}/member.json`,
  runMemberCheckpoint: (t: string, id: string, k: number) => `${keys.run(t, id)}members/${memberIndex(k)}/checkpoint.qckp`,
  runMemberModel: (t: string, id: string, k: number, file: 'model.json' | 'weights.bin' | 'val-probs.bin') =>
    `${keys.run(t, id)}members/${memberIndex(k)}/${file}`,
  models: (t: string) => `${tenantRoot(t)}models/`,
  model: (t: string, id: string) => `${tenantRoot(t)}models/${check(id, ID, 'model id')}/`,
  modelManifest: (t: string, id: string) => `${keys.model(t, id)}manifest.json`,
  modelMember: (t: string, id: string, k: number, file: 'model.json' | 'weights.bin') => `${keys.model(t, id)}members/${memberIndex(k)}/${file}`,
  modelAlias: (t: string, alias: string) => `${tenantRoot(t)}aliases/${check(alias, ALIAS, 'alias')}.json`,
  captures: (t: string, modelId: string, day?: string) =>
    `${tenantRoot(t)}captures/${check(modelId, ID, 'model id')}/${day ? `${check(day, /^\d{4}-\d{2}-\d{2}$/, 'day')}/` : ''}`,
  captureFile: (t: string, modelId: string, day: string, name: string) =>
    `${keys.captures(t, modelId, day)}${check(name, /^[0-9A-Za-z._-]{1,100}$/, 'capture name')}.qcap`,
  reports: (t: string) => `${tenantRoot(t)}reports/`,
  /** An evaluation or drift report: its JSON record, and the self-contained HTML page rendered from it. */
  report: (t: string, id: string, format: 'json' | 'html' = 'json') => `${tenantRoot(t)}reports/${check(id, ID, 'report id')}.${format}`,
  driftSchedules: (t: string) => `${tenantRoot(t)}drift-schedules/`,
  /**
   * A drift schedule: its definition (written once, by the API) and its state (last run and delivery, written only by
   * workers), kept apart so a worker's update can never overwrite or revive a definition the API deleted.
   */
  driftSchedule: (t: string, id: string, part: 'definition' | 'state' = 'definition') =>
    `${tenantRoot(t)}drift-schedules/${check(id, ID, 'schedule id')}${part === 'state' ? '.state' : ''}.json`,
  /** The schedule id of a listed definition key (null for state objects and anything else). */
  scheduleIdOfKey(key: string): string | null {
    const name = key.split('/').at(-1) ?? '';
    const id = name.endsWith('.json') && !name.endsWith('.state.json') ? name.slice(0, -'.json'.length) : '';
    return ID.test(id) ? id : null;
  },
  /** The tenant of a listing prefix such as `tenants/t/`, or null when it is not one. */
  tenantOfPrefix(prefix: string): string | null {
    const m = /^tenants\/([^/]+)\/$/.exec(prefix);
    return m && TENANT.test(m[1]) ? m[1] : null;
  },
  /** The resource id of a listing prefix such as `tenants/t/models/{id}/`, or null when it is not one of ours. */
  idOfPrefix(prefix: string): string | null {
    const id = prefix.split('/').at(-2) ?? '';
    return ID.test(id) ? id : null;
  },
};

/** True for ids the service issues; routes check this before building keys from user input. */
export const isResourceId = (id: string) => ID.test(id);

/** True for names usable as model aliases (and never mistaken for an id). */
export const isAlias = (name: string) => ALIAS.test(name) && !ID.test(name);
