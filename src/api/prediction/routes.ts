/** POST /v1/models/:idOrAlias/predict — raw image bodies, multipart files, or JSON instances. */
import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { z } from 'zod';
import type { AuthEnv } from '../auth.js';
import { problemJson } from '../openapi.js';
import { BadRequest, TooLarge, UnsupportedMediaType } from '../../errors.js';
import type { Config } from '../../config.js';
import { predictJsonSchema, rawFromJson, type RawInstance } from '../../prediction/input.js';
import type { Predictor } from '../../prediction/predictor.js';

const topKQuery = z.coerce.number().int().min(1).optional();

async function readInstances(c: Context, config: Config): Promise<{ raw: RawInstance[]; topK?: number }> {
  const type = (c.req.header('content-type') ?? '').split(';')[0].trim().toLowerCase();
  const queryTopK = topKQuery.parse(c.req.query('topK'));
  if (type === 'image/png' || type === 'image/jpeg') {
    const bytes = Buffer.from(await c.req.arrayBuffer());
    if (bytes.length === 0) throw new BadRequest('The request body is empty; send the image bytes.');
    return { raw: [{ kind: 'encoded', bytes }], topK: queryTopK };
  }
  if (type === 'multipart/form-data') {
    const form = await c.req.parseBody({ all: true });
    const raw: RawInstance[] = [];
    for (const value of Object.values(form).flat()) {
      if (value instanceof File) raw.push({ kind: 'encoded', bytes: Buffer.from(await value.arrayBuffer()) });
    }
    if (raw.length === 0) throw new BadRequest('The form holds no image files.', { field: 'image' });
    const topK = typeof form.topK === 'string' ? topKQuery.parse(form.topK) : queryTopK;
    return { raw, topK };
  }
  if (type === 'application/json') {
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      throw new BadRequest('The body is not valid JSON.');
    }
    const parsed = predictJsonSchema.parse(body);
    return { raw: rawFromJson(parsed), topK: parsed.topK ?? queryTopK };
  }
  throw new UnsupportedMediaType(
    'Send image/png or image/jpeg bytes, multipart/form-data with image files, or JSON {"instances":[{"image":"<base64>"}|{"pixels":[[…]]}]}.',
  );
}

/** The predict route (mounted under /v1/models). */
export function predictionRoutes(deps: { config: Config; predictor: Predictor }) {
  const { config, predictor } = deps;
  const app = new OpenAPIHono<AuthEnv>();
  app.openAPIRegistry.registerPath({
    method: 'post',
    path: '/{id}/predict',
    tags: ['prediction'],
    summary:
      'Ensembled class probabilities with uncertainty (member std, entropy, mutual information, agreement) for one or many images',
    request: {
      params: z.object({ id: z.string() }),
      query: z.object({ topK: z.number().int().optional() }),
      body: { content: { 'application/json': { schema: predictJsonSchema } } },
    },
    responses: {
      200: { description: 'Predictions, one per instance, in order' },
      400: problemJson('Unreadable image, wrong pixel shape, NaN'),
      404: problemJson('No such model or alias'),
      413: problemJson('Body or instance count over the limit'),
      415: problemJson('Unsupported body type'),
      429: problemJson('The model is overloaded; retry after the Retry-After seconds'),
    },
  });
  app.post(
    '/:id/predict',
    bodyLimit({
      maxSize: config.PREDICT_MAX_BODY_BYTES,
      onError: () => {
        throw new TooLarge(`The body exceeds ${config.PREDICT_MAX_BODY_BYTES} bytes (PREDICT_MAX_BODY_BYTES).`);
      },
    }),
    async (c) => {
      const { raw, topK } = await readInstances(c, config);
      if (raw.length > config.PREDICT_MAX_INSTANCES) {
        throw new TooLarge(`At most ${config.PREDICT_MAX_INSTANCES} instances per request (PREDICT_MAX_INSTANCES); got ${raw.length}.`, {
          field: 'instances',
        });
      }
      const result = await predictor.predict(c.var.tenant, c.req.param('id'), raw, { topK });
      if (result.coldStartMs !== null) c.header('x-quorum-cold-start-ms', result.coldStartMs.toFixed(0));
      const t = result.timings;
      const json0 = performance.now();
      const body = JSON.stringify({ modelId: result.model.id, predictions: result.predictions });
      // Server-Timing (W3C): where this request's time went, readable in browser dev tools and by the benchmark.
      c.header(
        'server-timing',
        `preprocess;dur=${t.preprocess.toFixed(2)}, batch;dur=${t.batch.toFixed(2)}, ensemble;dur=${t.ensemble.toFixed(2)}, json;dur=${(performance.now() - json0).toFixed(2)}`,
      );
      return c.body(body, 200, { 'content-type': 'application/json' });
    },
  );
  return app;
}
