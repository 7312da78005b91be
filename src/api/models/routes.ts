/** /v1/models: the registry of trained ensembles, with aliases (e.g. `production`). */
import { OpenAPIHono, createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import type { AuthEnv } from '../auth.js';
import { problemJson } from '../openapi.js';
import { getModel, listModels, setAlias, type TrainingDeps } from '../../training/service.js';
import type { ModelManifest } from '../../storage/training-manifests.js';

/** The public shape of a model (the manifest without the tenant). */
export function toModelView(m: ModelManifest) {
  const { tenant: _tenant, ...rest } = m;
  return { ...rest, links: { self: `/v1/models/${m.id}`, trainingJob: `/v1/training-jobs/${m.trainingJobId}` } };
}

const modelSchema = z.record(z.string(), z.unknown()).meta({ description: 'A model: classes, members with seeds and metrics, ensemble metrics' });

const listDef = createRoute({
  method: 'get',
  path: '/',
  tags: ['models'],
  summary: "The tenant's models",
  request: { query: z.object({ limit: z.coerce.number().int().min(1).max(100).default(20), cursor: z.string().max(1024).optional() }) },
  responses: { 200: { description: 'One page', content: { 'application/json': { schema: z.object({ items: z.array(modelSchema), nextCursor: z.string().nullable() }) } } } },
});
const getDef = createRoute({
  method: 'get',
  path: '/{id}',
  tags: ['models'],
  summary: 'A model by id or alias',
  request: { params: z.object({ id: z.string().min(1).max(64) }) },
  responses: { 200: { description: 'The model', content: { 'application/json': { schema: modelSchema } } }, 404: problemJson('No such model or alias') },
});
const aliasDef = createRoute({
  method: 'put',
  path: '/{id}/aliases/{alias}',
  tags: ['models'],
  summary: 'Point an alias (e.g. production) at this model; it leaves the model that had it',
  request: { params: z.object({ id: z.string().min(1).max(64), alias: z.string().min(1).max(63) }) },
  responses: {
    200: { description: 'The model with its aliases', content: { 'application/json': { schema: modelSchema } } },
    404: problemJson('No such model'),
    422: problemJson('Invalid alias'),
  },
});

/** Routes under /v1/models. */
export function modelRoutes(deps: TrainingDeps) {
  const app = new OpenAPIHono<AuthEnv>();
  app.openapi(listDef, async (c) => {
    const page = await listModels(deps, c.var.tenant, c.req.valid('query'));
    return c.json({ items: page.items.map(toModelView), nextCursor: page.nextCursor }, 200);
  });
  app.openapi(getDef, async (c) => c.json(toModelView(await getModel(deps, c.var.tenant, c.req.valid('param').id)), 200));
  app.openapi(aliasDef, async (c) => {
    const { id, alias } = c.req.valid('param');
    return c.json(toModelView(await setAlias(deps, c.var.tenant, id, alias)), 200);
  });
  return app;
}
