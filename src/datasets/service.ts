/**
 * Dataset use cases behind the HTTP routes: accept an upload (checked before anything is queued, so bad input is a
 * 4xx and never a half-made dataset), read, list and delete. The manifest in object storage is the record.
 */
import { open, readFile } from 'node:fs/promises';
import type { Config } from '../config.js';
import { listArchive, detectArchiveKind, type ArchiveLimits } from '../data/archive.js';
import { parseIdx, readIdxPair, concatIdxPairs } from '../data/idx.js';
import { classFolders } from '../data/layout.js';
import type { SplitName } from '../data/split.js';
import { BadRequest, Conflict, NotFound, Unprocessable, UnsupportedMediaType } from '../errors.js';
import { newId } from '../ids.js';
import type { Queues } from '../jobs/queues.js';
import type { Logger } from '../logger.js';
import { isResourceId, keys } from '../storage/keys.js';
import { datasetManifestSchema, type DatasetManifest, type DatasetSource } from '../storage/manifests.js';
import type { Storage } from '../storage/storage.js';
import { toIngestOptions, uploadFieldsSchema } from './upload-fields.js';

/** A received upload: its text fields and the files it carried, already on local disk. */
export interface Upload {
  fields: Record<string, string>;
  files: UploadedFile[];
}
export interface UploadedFile {
  field: string;
  filename: string;
  path: string;
  bytes: number;
}

export interface DatasetDeps {
  config: Config;
  storage: Storage;
  queues: Queues;
  logger: Logger;
}

/** Archive limits from configuration. */
export function archiveLimits(config: Config): ArchiveLimits {
  return {
    maxEntries: config.MAX_ARCHIVE_ENTRIES,
    maxEntryBytes: config.MAX_ARCHIVE_ENTRY_BYTES,
    maxTotalBytes: config.MAX_ARCHIVE_TOTAL_BYTES,
    maxCompressionRatio: config.MAX_COMPRESSION_RATIO,
  };
}

async function readHead(path: string, n = 512): Promise<Uint8Array> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

const ARCHIVE_EXT = { zip: 'zip', 'tar.gz': 'tar.gz', tar: 'tar' } as const;

async function acceptArchive(deps: DatasetDeps, tenant: string, id: string, file: UploadedFile): Promise<DatasetSource> {
  const format = detectArchiveKind(await readHead(file.path));
  if (!format) {
    throw new UnsupportedMediaType(
      `"${file.filename}" is not a zip, tar or tar.gz archive. Pack class folders (<class>/<image>.png) into a zip or tar.gz.`,
      { field: 'file', type: 'not-an-archive' },
    );
  }
  const listing = await listArchive(file.path, archiveLimits(deps.config));
  const layout = classFolders(listing.entries, { maxClasses: deps.config.MAX_CLASSES });
  const key = keys.datasetUpload(tenant, id, `archive.${ARCHIVE_EXT[format]}`);
  await deps.storage.putFile(key, file.path);
  return { kind: 'archive', format, key, filename: file.filename, bytes: file.bytes, entries: layout.items.length };
}

async function acceptIdx(
  deps: DatasetDeps,
  tenant: string,
  id: string,
  images: UploadedFile[],
  labels: UploadedFile[],
  classNames: string[] | null,
): Promise<DatasetSource> {
  if (images.length !== labels.length) {
    throw new BadRequest(`Send one "labels" file for each "images" file (got ${images.length} and ${labels.length}).`, {
      field: labels.length < images.length ? 'labels' : 'images',
    });
  }
  const max = deps.config.MAX_IDX_BYTES;
  const pairs = [];
  for (let i = 0; i < images.length; i++) {
    const img = parseIdx(await readFile(images[i].path), { maxBytes: max, field: 'images' });
    const lab = parseIdx(await readFile(labels[i].path), { maxBytes: max, field: 'labels' });
    pairs.push(readIdxPair(img, lab));
  }
  const all = concatIdxPairs(pairs);
  const distinct = new Set(all.labels);
  let maxLabel = 0;
  for (const l of distinct) maxLabel = Math.max(maxLabel, l);
  if (distinct.size < 2) {
    throw new Unprocessable(`The labels hold one class only (${[...distinct][0]}); at least two are needed.`, {
      field: 'labels',
      type: 'one-class',
    });
  }
  if (maxLabel + 1 > deps.config.MAX_CLASSES) {
    throw new Unprocessable(`Labels go up to ${maxLabel}; at most ${deps.config.MAX_CLASSES} classes are allowed.`, {
      field: 'labels',
    });
  }
  if (classNames && classNames.length < maxLabel + 1) {
    throw new BadRequest(`classNames names ${classNames.length} classes but the labels go up to ${maxLabel}.`, {
      field: 'classNames',
    });
  }
  const stored = [];
  for (let i = 0; i < images.length; i++) {
    const imagesKey = keys.datasetUpload(tenant, id, `images-${i}.idx`);
    const labelsKey = keys.datasetUpload(tenant, id, `labels-${i}.idx`);
    await deps.storage.putFile(imagesKey, images[i].path);
    await deps.storage.putFile(labelsKey, labels[i].path);
    stored.push({ imagesKey, labelsKey, count: pairs[i].count });
  }
  const bytes = [...images, ...labels].reduce((s, f) => s + f.bytes, 0);
  return { kind: 'idx', pairs: stored, bytes };
}

/** Validates an upload, stores it, writes a `queued` manifest and enqueues ingestion. */
export async function createDataset(deps: DatasetDeps, tenant: string, upload: Upload): Promise<DatasetManifest> {
  const fields = uploadFieldsSchema.parse(upload.fields);
  const file = upload.files.filter((f) => f.field === 'file');
  const images = upload.files.filter((f) => f.field === 'images');
  const labels = upload.files.filter((f) => f.field === 'labels');
  if (file.length > 1) throw new BadRequest('Send one archive in the "file" field.', { field: 'file' });
  if (file.length === 1 && images.length + labels.length > 0) {
    throw new BadRequest('Send either an archive ("file") or IDX files ("images" and "labels"), not both.', { field: 'file' });
  }
  if (file.length === 0 && images.length === 0) {
    throw new BadRequest('Attach a dataset: a "file" field with a zip or tar.gz of class folders, or "images" and "labels" IDX files.', {
      field: 'file',
    });
  }
  const maxSize = deps.config.MAX_IMAGE_SIZE;
  if (fields.imageSize?.some((side) => side < 8 || side > maxSize)) {
    throw new BadRequest(`imageSize must be between 8 and ${maxSize} on each side (MAX_IMAGE_SIZE).`, { field: 'imageSize' });
  }
  if (file.length === 1 && fields.classNames) {
    throw new BadRequest('classNames is for IDX uploads; archive class names come from folder names.', { field: 'classNames' });
  }

  const id = newId('ds');
  const source =
    file.length === 1
      ? await acceptArchive(deps, tenant, id, file[0])
      : await acceptIdx(deps, tenant, id, images, labels, fields.classNames ?? null);
  const defaultName = file.length === 1 ? file[0].filename : images[0].filename;
  const now = new Date().toISOString();
  const manifest: DatasetManifest = {
    id,
    kind: 'dataset',
    tenant,
    name: toIngestOptions(fields, defaultName).name,
    status: 'queued',
    createdAt: now,
    updatedAt: now,
    source,
    options: toIngestOptions(fields, defaultName),
  };
  await deps.storage.putJson(keys.datasetManifest(tenant, id), manifest);
  await deps.queues.enqueueIngest({ tenant, datasetId: id });
  deps.logger.info({ tenant, datasetId: id, source: source.kind }, 'dataset accepted');
  return manifest;
}

/** The manifest of one of the tenant's datasets; 404 for unknown ids and for other tenants' ids alike. */
export async function getDataset(deps: Pick<DatasetDeps, 'storage'>, tenant: string, id: string): Promise<DatasetManifest> {
  const manifest = isResourceId(id)
    ? await deps.storage.getJson(keys.datasetManifest(tenant, id), datasetManifestSchema)
    : null;
  if (!manifest) throw new NotFound(`No dataset "${id}".`, { field: 'id' });
  return manifest;
}

/** Live progress of a queued or running ingestion, from its job in Redis (absent when there is none). */
export async function ingestProgress(deps: Pick<DatasetDeps, 'queues'>, d: DatasetManifest) {
  if (d.status !== 'queued' && d.status !== 'running') return undefined;
  const job = await deps.queues.ingest.getJob(d.id).catch(() => undefined);
  const p = job?.progress as { stage?: unknown; done?: unknown; total?: unknown } | undefined;
  if (!p || typeof p !== 'object' || typeof p.stage !== 'string') return undefined;
  return { stage: p.stage, done: Number(p.done) || 0, total: Number(p.total) || 0 };
}

/** One page of the tenant's datasets, newest first within the page. */
export async function listDatasets(deps: Pick<DatasetDeps, 'storage'>, tenant: string, opts: { limit: number; cursor?: string }) {
  const page = await deps.storage.list(keys.datasets(tenant), { delimiter: '/', limit: opts.limit, token: opts.cursor });
  const ids = page.prefixes.map(keys.idOfPrefix).filter((id): id is string => id !== null);
  const manifests = await Promise.all(ids.map((id) => deps.storage.getJson(keys.datasetManifest(tenant, id), datasetManifestSchema)));
  const items = manifests.filter((m): m is DatasetManifest => m !== null);
  items.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  return { items, nextCursor: page.nextToken ?? null };
}

/** Deletes a dataset and everything stored under it. A queued ingestion is removed; a running one cleans up after itself. */
export async function deleteDataset(deps: DatasetDeps, tenant: string, id: string): Promise<void> {
  await getDataset(deps, tenant, id);
  const job = await deps.queues.ingest.getJob(id);
  if (job && (await job.isWaiting().catch(() => false))) await job.remove().catch(() => undefined);
  await deps.storage.deletePrefix(keys.dataset(tenant, id));
}

/** The stored sample sheet PNG for a split of a ready dataset. */
export async function getSampleSheet(deps: Pick<DatasetDeps, 'storage'>, tenant: string, id: string, split: SplitName) {
  const manifest = await getDataset(deps, tenant, id);
  if (manifest.status !== 'ready') {
    throw new Conflict(`Dataset "${id}" is ${manifest.status}; its sample sheet exists once it is ready.`);
  }
  const png = await deps.storage.getBytes(keys.datasetSampleSheet(tenant, id, split));
  if (!png) throw new NotFound(`Dataset "${id}" has no sample sheet for the ${split} split.`);
  return png;
}
