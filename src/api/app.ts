/**
 * The HTTP application, built from its dependencies so tests call `app.request()` against real or small deps.
 * Operations routes (/healthz, /readyz, /metrics, /openapi.json, /docs) are public; everything under /v1 needs a key.
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import type { Redis } from 'ioredis';
import type { Config } from '../config.js';
import { NotFound } from '../errors.js';
import type { Queues } from '../jobs/queues.js';
import type { Logger } from '../logger.js';
import type { Storage } from '../storage/storage.js';
import type { BackendInfo } from '../models/backend.js';
import { bearerAuth, type AuthEnv } from './auth.js';
import { datasetRoutes } from './datasets/routes.js';
import { modelRoutes } from './models/routes.js';
import { predictionRoutes } from './prediction/routes.js';
import { reportRoutes } from './reports/routes.js';
import { driftAlertWebhook, scheduleRoutes } from './schedules/routes.js';
import { createPredictor, type Predictor } from '../prediction/predictor.js';
import { trainingRoutes } from './training/routes.js';
import { createMetrics } from './metrics.js';
import { docsHtml } from './openapi.js';
import { errorHandler, problemResponse, toProblem } from './problem.js';

export interface AppDeps {
  config: Config;
  storage: Storage;
  queues: Queues;
  redis: Redis;
  logger: Logger;
  /** The tfjs backend this process predicts and trains with. */
  backend?: BackendInfo | null;
  /** The serving side; made from the other dependencies when not given. */
  predictor?: Predictor;
}

const VERSION = '0.1.0';

async function check(name: string, probe: () => Promise<unknown>, ms = 2000): Promise<[string, string]> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    await Promise.race([probe(), timeout]);
    return [name, 'ok'];
  } catch (err) {
    return [name, `unreachable: ${(err as Error).message || String(err)}`];
  } finally {
    clearTimeout(timer);
  }
}

/** Builds the Hono app. */
export function createApp(deps: AppDeps) {
  const { config, logger } = deps;
  const predictor = deps.predictor ?? createPredictor(deps);
  const metrics = createMetrics(() => deps.queues.depths(), () => predictor.stats());
  const app = new OpenAPIHono<AuthEnv>({
    // zod validation failures from route definitions become problem+json like every other error.
    defaultHook: (result, c) => {
      if (!result.success) return problemResponse(c, toProblem(result.error));
    },
  });
  app.onError(errorHandler(logger));
  app.notFound((c) => problemResponse(c, toProblem(new NotFound(`No route ${c.req.method} ${c.req.path}. See /docs.`))));
  app.use('*', metrics.middleware);

  app.get('/healthz', (c) =>
    c.json({ status: 'ok', role: config.QUORUM_ROLE, version: VERSION, uptimeSeconds: process.uptime(), backend: deps.backend ?? null }),
  );
  app.get('/readyz', async (c) => {
    const checks = Object.fromEntries(
      await Promise.all([check('redis', () => deps.redis.ping()), check('storage', () => deps.storage.ping())]),
    );
    const ready = Object.values(checks).every((v) => v === 'ok');
    return c.json({ status: ready ? 'ready' : 'unready', checks }, ready ? 200 : 503);
  });
  app.get('/metrics', async (c) =>
    c.body(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType }),
  );
  app.get('/docs', (c) => c.html(docsHtml));
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer' });
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'Quorum',
      version: VERSION,
      description: 'Trains CNN image classifiers, serves ensembled predictions, and explains low or drifting accuracy.',
    },
    security: [{ bearer: [] }],
  });

  app.use('/v1/*', bearerAuth(config.API_KEYS));
  app.route('/v1/datasets', datasetRoutes(deps));
  app.route('/v1/training-jobs', trainingRoutes(deps));
  app.route('/v1/models', predictionRoutes({ config, predictor }));
  app.route('/v1/models', modelRoutes(deps));
  app.route('/v1/evaluations', reportRoutes(deps, 'evaluation'));
  app.route('/v1/drift-reports', reportRoutes(deps, 'drift-report'));
  app.route('/v1/drift-schedules', scheduleRoutes(deps));
  app.openAPIRegistry.registerWebhook(driftAlertWebhook);
  return app;
}

export type App = ReturnType<typeof createApp>;
