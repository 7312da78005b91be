/** /v1/training-jobs: create, read, follow (server-sent events), cancel. */
import { OpenAPIHono, createRoute } from '@hono/zod-openapi';
import { streamSSE } from 'hono/streaming';
import { z } from 'zod';
import type { AuthEnv } from '../auth.js';
import { problemJson } from '../openapi.js';
import { trainingJobRequestSchema } from '../../training/request.js';
import { followTrainingJob } from '../../training/progress.js';
import { cancelTrainingJob, createTrainingJob, getTrainingJob, type TrainingDeps, type TrainingJobView } from '../../training/service.js';

const idParam = z.object({ id: z.string().min(1).max(64) });

/** The public shape of a training job. */
export function toTrainingJobView({ run, members, status, findings }: TrainingJobView) {
  const self = `/v1/training-jobs/${run.id}`;
  const epochsTotal = run.config.training.epochs * members.length;
  return {
    id: run.id,
    status,
    datasetId: run.datasetId,
    createdAt: run.createdAt,
    updatedAt: run.updatedAt,
    ...(run.finishedAt ? { finishedAt: run.finishedAt } : {}),
    ...(run.error ? { error: run.error } : {}),
    cancelRequested: run.cancelRequested,
    ...(run.modelId ? { modelId: run.modelId } : {}),
    ...(members.find((m) => m.augmentedDatasetId) ? { augmentedDatasetId: members.find((m) => m.augmentedDatasetId)!.augmentedDatasetId } : {}),
    config: run.config,
    progress: { epochsDone: members.reduce((s, m) => s + m.history.length, 0), epochsTotal },
    members: members.map((m) => ({
      index: m.index,
      seed: m.seed,
      status: m.status,
      ...(m.backend ? { backend: m.backend } : {}),
      ...(m.error ? { error: m.error } : {}),
      ...(m.metrics ? { metrics: m.metrics } : {}),
      ...(m.classWeights ? { classWeights: m.classWeights } : {}),
      ...(m.augmentedDatasetId ? { augmentedDatasetId: m.augmentedDatasetId } : {}),
      resumedAt: m.resumedAt,
      history: m.history,
    })),
    ...(findings ? { findings } : {}),
    links: { self, events: `${self}/events`, cancel: `${self}/cancel`, ...(run.modelId ? { model: `/v1/models/${run.modelId}` } : {}) },
  };
}

const jobViewSchema = z.record(z.string(), z.unknown()).meta({ description: 'A training job: status, config, members with per-epoch history' });

const createRouteDef = createRoute({
  method: 'post',
  path: '/',
  tags: ['training'],
  summary: 'Train a seed ensemble on a ready dataset; each member is its own queued job',
  request: { body: { content: { 'application/json': { schema: trainingJobRequestSchema } }, required: true } },
  responses: {
    202: { description: 'Queued', content: { 'application/json': { schema: jobViewSchema } } },
    400: problemJson('Invalid options or an architecture the image size cannot carry'),
    409: problemJson('The dataset is not ready'),
    422: problemJson('Unknown dataset'),
  },
});
const getRouteDef = createRoute({
  method: 'get',
  path: '/{id}',
  tags: ['training'],
  summary: 'Status and per-member, per-epoch history',
  request: { params: idParam },
  responses: { 200: { description: 'The job', content: { 'application/json': { schema: jobViewSchema } } }, 404: problemJson('No such job') },
});
const cancelRouteDef = createRoute({
  method: 'post',
  path: '/{id}/cancel',
  tags: ['training'],
  summary: 'Stop every member; the job ends cancelled and registers no model',
  request: { params: idParam },
  responses: {
    202: { description: 'Cancelling', content: { 'application/json': { schema: jobViewSchema } } },
    404: problemJson('No such job'),
    409: problemJson('The job has already finished'),
  },
});

/** Routes under /v1/training-jobs. */
export function trainingRoutes(deps: TrainingDeps) {
  const app = new OpenAPIHono<AuthEnv>();
  app.openapi(createRouteDef, async (c) => {
    const run = await createTrainingJob(deps, c.var.tenant, c.req.valid('json'));
    const view = toTrainingJobView(await getTrainingJob(deps, c.var.tenant, run.id));
    c.header('Location', view.links.self);
    return c.json(view, 202);
  });
  app.openapi(getRouteDef, async (c) => c.json(toTrainingJobView(await getTrainingJob(deps, c.var.tenant, c.req.valid('param').id)), 200));
  app.openapi(cancelRouteDef, async (c) =>
    c.json(toTrainingJobView(await cancelTrainingJob(deps, c.var.tenant, c.req.valid('param').id)), 202),
  );

  app.openAPIRegistry.registerPath({
    method: 'get',
    path: '/{id}/events',
    tags: ['training'],
    summary: 'Live progress as server-sent events: `epoch` (member, epoch log) in order, `member` and `status` changes, then `end`',
    request: { params: idParam },
    responses: { 200: { description: 'text/event-stream' }, 404: problemJson('No such job') },
  });
  app.get('/:id/events', async (c) => {
    const id = c.req.param('id');
    await getTrainingJob(deps, c.var.tenant, id); // a 404 before the stream starts, not inside it
    return streamSSE(c, async (stream) => {
      let closed = false;
      stream.onAbort(() => {
        closed = true;
      });
      let eventId = 0;
      for await (const e of followTrainingJob(deps, c.var.tenant, id, { stopped: () => closed })) {
        await stream.writeSSE({ event: e.event, id: String(++eventId), data: JSON.stringify(e.data) });
      }
    });
  });
  return app;
}
