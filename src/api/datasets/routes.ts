/** /v1/datasets: upload, read, list, delete, sample sheet. Handlers validate, call src/datasets/service.ts, shape. */
import { tmpdir } from 'node:os';
import { OpenAPIHono, createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import type { AuthEnv } from '../auth.js';
import { receiveMultipart } from '../multipart.js';
import {
  createDataset,
  deleteDataset,
  getDataset,
  getSampleSheet,
  ingestProgress,
  listDatasets,
  type DatasetDeps,
} from '../../datasets/service.js';
import { uploadFieldsSchema } from '../../datasets/upload-fields.js';
import { datasetViewSchema, toDatasetView } from './views.js';
import { problemJson } from '../openapi.js';

const idParam = z.object({ id: z.string().min(1).max(64) });
const accepted = z.object({ id: z.string(), status: z.string(), links: z.object({ self: z.string(), samples: z.string() }) });

const getRoute = createRoute({
  method: 'get',
  path: '/{id}',
  tags: ['datasets'],
  summary: 'A dataset: status, profile (classes, counts, imbalance, duplicates, leakage, image statistics), splits',
  request: { params: idParam },
  responses: {
    200: { description: 'The dataset', content: { 'application/json': { schema: datasetViewSchema } } },
    404: problemJson('No such dataset for this tenant'),
  },
});

const listRoute = createRoute({
  method: 'get',
  path: '/',
  tags: ['datasets'],
  summary: "The tenant's datasets",
  request: {
    query: z.object({
      limit: z.coerce.number().int().min(1).max(100).default(20),
      cursor: z.string().max(1024).optional(),
    }),
  },
  responses: {
    200: {
      description: 'One page of datasets',
      content: { 'application/json': { schema: z.object({ items: z.array(datasetViewSchema), nextCursor: z.string().nullable() }) } },
    },
  },
});

const deleteRoute = createRoute({
  method: 'delete',
  path: '/{id}',
  tags: ['datasets'],
  summary: 'Deletes a dataset and every object stored for it',
  request: { params: idParam },
  responses: { 204: { description: 'Deleted' }, 404: problemJson('No such dataset for this tenant') },
});

const samplesRoute = createRoute({
  method: 'get',
  path: '/{id}/samples.png',
  tags: ['datasets'],
  summary: 'A grid of sample images per class with their labels, as the model will see them',
  request: { params: idParam, query: z.object({ split: z.enum(['train', 'val', 'test']).default('train') }) },
  responses: {
    200: { description: 'PNG image', content: { 'image/png': { schema: z.string().meta({ format: 'binary' }) } } },
    404: problemJson('No such dataset'),
    409: problemJson('The dataset is not ready yet'),
  },
});

/** Routes under /v1/datasets. */
export function datasetRoutes(deps: DatasetDeps) {
  const app = new OpenAPIHono<AuthEnv>();
  const tmpRoot = deps.config.TMP_DIR ?? tmpdir();

  app.openAPIRegistry.registerPath({
    method: 'post',
    path: '/',
    tags: ['datasets'],
    summary: 'Upload a dataset: a zip/tar.gz of <class>/<image> folders, or IDX images+labels; ingestion is queued',
    request: {
      body: {
        content: {
          'multipart/form-data': {
            schema: uploadFieldsSchema.extend({
              file: z.string().meta({ format: 'binary', description: 'zip, tar or tar.gz of class folders of PNG/JPEG' }).optional(),
              images: z.string().meta({ format: 'binary', description: 'IDX images (N×H×W or N×H×W×C), gzipped or not; repeatable' }).optional(),
              labels: z.string().meta({ format: 'binary', description: 'IDX labels (N), one per images file' }).optional(),
            }),
          },
        },
      },
    },
    responses: {
      202: { description: 'Accepted; poll the dataset until ready', content: { 'application/json': { schema: accepted } } },
      400: problemJson('Bad fields, unsafe entry names'),
      413: problemJson('A size or count limit was exceeded'),
      415: problemJson('Not multipart, or the file is not an archive'),
      422: problemJson('The content cannot make a dataset (one class, non-image files, IDX count mismatch)'),
    },
  });
  app.post('/', async (c) => {
    const upload = await receiveMultipart(c.req.raw, tmpRoot, {
      maxBytes: deps.config.MAX_UPLOAD_BYTES,
      maxFiles: 16,
      fileFields: ['file', 'images', 'labels'],
    });
    try {
      const d = await createDataset(deps, c.var.tenant, upload);
      const view = toDatasetView(d);
      c.header('Location', view.links.self);
      return c.json({ id: d.id, status: d.status, links: view.links }, 202);
    } finally {
      await upload.cleanup();
    }
  });

  app.openapi(listRoute, async (c) => {
    const { limit, cursor } = c.req.valid('query');
    const page = await listDatasets(deps, c.var.tenant, { limit, cursor });
    return c.json({ items: page.items.map((d) => toDatasetView(d)), nextCursor: page.nextCursor }, 200);
  });

  app.openapi(getRoute, async (c) => {
    const d = await getDataset(deps, c.var.tenant, c.req.valid('param').id);
    return c.json(toDatasetView(d, await ingestProgress(deps, d)), 200);
  });

  app.openapi(deleteRoute, async (c) => {
    await deleteDataset(deps, c.var.tenant, c.req.valid('param').id);
    return c.body(null, 204);
  });

  app.openapi(samplesRoute, async (c) => {
    const png = await getSampleSheet(deps, c.var.tenant, c.req.valid('param').id, c.req.valid('query').split);
    return c.body(new Uint8Array(png), 200, { 'content-type': 'image/png', 'cache-control': 'private, max-age=300' });
  });

  return app;
}
