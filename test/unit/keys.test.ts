import { describe, expect, it } from 'vitest';
import { newId } from '../../src/ids.js';
import { isAlias, isResourceId, keys } from '../../src/storage/keys.js';

const TENANT = 'acme-2';
const ID = newId('ds');

describe('storage keys', () => {
  it('starts every key with the tenant prefix', () => {
    const built = [
      keys.tenantRoot(TENANT),
      keys.datasets(TENANT),
      keys.dataset(TENANT, ID),
      keys.datasetManifest(TENANT, ID),
      keys.datasetUpload(TENANT, ID, 'upload.zip'),
      keys.datasetShard(TENANT, ID, 'val', 3),
      keys.datasetFiles(TENANT, ID),
      keys.datasetSampleSheet(TENANT, ID, 'test'),
    ];
    for (const key of built) expect(key.startsWith(`tenants/${TENANT}/`)).toBe(true);
    expect(keys.datasetShard(TENANT, ID, 'val', 3)).toBe(`tenants/${TENANT}/datasets/${ID}/shards/val-00003.qshard`);
  });

  it.each(['../x', '', 'Acme', 'acme/evil', '-acme', 'a'.repeat(64), 'acme\n'])('rejects tenant %j', (tenant) => {
    expect(() => keys.tenantRoot(tenant)).toThrow(/invalid tenant/);
    expect(() => keys.datasetManifest(tenant, ID)).toThrow(/invalid tenant/);
  });

  it.each(['../x', 'ds_..%2f', 'ds_../../x1234', 'DS_ABCDEFGHIJKL', '', 'ds_short', 'dataset_abcdefghijkl', 'ds-abcdefghijkl'])(
    'rejects dataset id %j',
    (id) => {
      expect(() => keys.dataset(TENANT, id)).toThrow(/invalid dataset id/);
      expect(() => keys.datasetShard(TENANT, id, 'train', 0)).toThrow(/invalid dataset id/);
    },
  );

  it.each(['../x', 'a/b', 'Upload.zip', ''])('rejects upload name %j', (name) => {
    expect(() => keys.datasetUpload(TENANT, ID, name)).toThrow(/invalid upload name/);
  });

  it('finds the resource id in a listing prefix and nothing in other prefixes', () => {
    expect(keys.idOfPrefix(keys.dataset(TENANT, ID))).toBe(ID);
    expect(keys.idOfPrefix(keys.datasets(TENANT))).toBeNull();
    expect(keys.idOfPrefix(`${keys.datasets(TENANT)}not-an-id/`)).toBeNull();
  });

  it('accepts aliases that cannot be mistaken for ids', () => {
    expect(isAlias('production')).toBe(true);
    expect(isAlias('canary-2.v1')).toBe(true);
    expect(isAlias(ID)).toBe(false);
    expect(isAlias('Production')).toBe(false);
    expect(isAlias('../x')).toBe(false);
  });
});

describe('resource ids', () => {
  it.each(['ds', 'job', 'mdl', 'rep'] as const)('accepts ids issued with prefix %s', (prefix) => {
    for (let k = 0; k < 50; k++) expect(isResourceId(newId(prefix))).toBe(true);
  });

  it('issues distinct ids', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newId('ds')));
    expect(ids.size).toBe(1000);
  });

  it.each(['', '../x', 'ds_..%2f', ID.toUpperCase(), `${ID}/`, `-${ID}`, `${ID} `, 'ds_abc', `ds_${'a'.repeat(41)}`])(
    'rejects %j',
    (id) => {
      expect(isResourceId(id)).toBe(false);
    },
  );
});
