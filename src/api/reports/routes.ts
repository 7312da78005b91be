/** /v1/evaluations and /v1/drift-reports: queue a report, read it as JSON, or as a self-contained HTML page. */
import { OpenAPIHono, createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import type { AuthEnv } from '../auth.js';
import { problemJson } from '../openapi.js';
import { driftRequestSchema, evaluationRequestSchema } from '../../reports/requests.js';
import { createDriftReport, createEvaluation, getReport, getReportHtml, type ReportDeps } from '../../reports/service.js';
import type { Report } from '../../storage/report-manifests.js';

const idParam = z.object({ id: z.string().min(1).max(70) });
const reportViewSchema = z.record(z.string(), z.unknown()).meta({ description: 'A report: status, results when ready, findings' });

const KINDS = {
  evaluation: {
    path: 'evaluations',
    tag: 'evaluations',
    body: evaluationRequestSchema,
    create: createEvaluation,
    summary: 'Score a model on a labelled dataset split: accuracy, per-class metrics, calibration, seed variance, diagnosis',
  },
  'drift-report': {
    path: 'drift-reports',
    tag: 'drift',
    body: driftRequestSchema,
    create: createDriftReport,
    summary: 'Compare current data (a dataset, or predictions captured between two instants) with the validation split',
  },
} as const;

/** The public shape of a report: the stored record plus links. */
export function toReportView(report: Report) {
  const self = `/v1/${KINDS[report.kind].path}/${report.id}`;
  const { tenant: _tenant, ...rest } = report;
  return { ...rest, links: { self, html: `${self}.html`, model: `/v1/models/${report.modelId}` } };
}

/** Routes under /v1/evaluations or /v1/drift-reports. */
export function reportRoutes(deps: ReportDeps, kind: Report['kind']) {
  const k = KINDS[kind];
  const app = new OpenAPIHono<AuthEnv>();
  const createDef = createRoute({
    method: 'post',
    path: '/',
    tags: [k.tag],
    summary: k.summary,
    request: { body: { content: { 'application/json': { schema: k.body } }, required: true } },
    responses: {
      202: { description: 'Queued', content: { 'application/json': { schema: reportViewSchema } } },
      400: problemJson('Invalid request'),
      409: problemJson('The dataset is not ready'),
      422: problemJson('Unknown model or dataset, or a dataset the model cannot read'),
    },
  });
  const getDef = createRoute({
    method: 'get',
    path: '/{id}',
    tags: [k.tag],
    summary: 'The report (JSON); `{id}.html` gives the same report as a self-contained HTML page',
    request: { params: idParam },
    responses: {
      200: { description: 'The report', content: { 'application/json': { schema: reportViewSchema }, 'text/html': { schema: z.string() } } },
      404: problemJson('No such report'),
    },
  });
  app.openapi(createDef, async (c) => {
    const report = await k.create(deps, c.var.tenant, c.req.valid('json'));
    const view = toReportView(report);
    c.header('Location', view.links.self);
    return c.json(view, 202);
  });
  app.openapi(getDef, async (c) => {
    const id = c.req.valid('param').id;
    if (id.endsWith('.html')) {
      const html = await getReportHtml(deps, c.var.tenant, id.slice(0, -'.html'.length), kind);
      c.header('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; img-src data:");
      return c.html(html, 200);
    }
    return c.json(toReportView(await getReport(deps, c.var.tenant, id, kind)), 200);
  });
  return app;
}
