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
