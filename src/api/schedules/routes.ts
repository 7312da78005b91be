/** /v1/drift-schedules: cron-scheduled drift reports of captured predictions, with signed webhook alerts. */
import { OpenAPIHono, createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import type { AuthEnv } from '../auth.js';
import { problemJson } from '../openapi.js';
import { driftAlertSchema, driftScheduleRequestSchema, driftScheduleViewSchema } from '../../schedules/schemas.js';
import { createDriftSchedule, deleteDriftSchedule, getDriftSchedule, listDriftSchedules, type ScheduleDeps } from '../../schedules/service.js';

const idParam = z.object({ id: z.string().min(1).max(70) });

/** How receivers verify an alert; shown on the create route and on the webhook in /openapi.json. */
export const WEBHOOK_SIGNING = `Each alert is a POST of a JSON body (the DriftAlert schema) with headers
\`content-type: application/json\`, \`x-quorum-timestamp: <unix seconds>\` and
\`x-quorum-signature: sha256=<hex>\`, where hex is HMAC-SHA256 of the string \`"<timestamp>.<raw body>"\` keyed with the
schedule's \`webhookSecret\` (its 64 hex characters as ASCII bytes). To verify: recompute the HMAC over the raw body
bytes as received, compare in constant time, and refuse timestamps more than a few minutes from your clock (replays).
Quorum's own \`verifyWebhookSignature(secret, timestamp, body, header, toleranceSeconds)\` (src/schedules/signature.ts)
does exactly this. Alerts are sent only when a scheduled report detects drift (failed runs, such as an empty capture
window, are recorded in \`lastRun\` and not sent); each attempt times out after WEBHOOK_TIMEOUT_MS (5 s), network
errors, timeouts and 5xx answers are retried up to WEBHOOK_ATTEMPTS (3) times with doubling waits, 4xx answers and
redirects are not. Delivery is at least once: use \`report.id\` to drop duplicates. Answer 2xx quickly.`;

const createDef = createRoute({
  method: 'post',
  path: '/',
  tags: ['drift'],
  summary: 'Schedule drift reports of the predictions captured in a trailing window, with a webhook alert on drift',
  description: `Each run compares the predictions captured in [run time − window, run time) with the model's validation
split, as POST /v1/drift-reports does, and links its report to the schedule. The response carries \`webhookSecret\`,
returned only here.\n\n${WEBHOOK_SIGNING}`,
  request: { body: { content: { 'application/json': { schema: driftScheduleRequestSchema } }, required: true } },
  responses: {
    201: { description: 'Scheduled; the only response that shows webhookSecret', content: { 'application/json': { schema: driftScheduleViewSchema } } },
    400: problemJson('Invalid body: a cron pattern that does not parse or runs more often than allowed, a bad window or URL'),
    409: problemJson('The tenant already has the most schedules allowed'),
    422: problemJson('Unknown model or alias'),
    503: problemJson('The queue (Redis) is unreachable'),
  },
});
const listDef = createRoute({
  method: 'get',
  path: '/',
  tags: ['drift'],
  summary: "The tenant's drift schedules, oldest first",
  responses: { 200: { description: 'Every schedule', content: { 'application/json': { schema: z.object({ items: z.array(driftScheduleViewSchema) }) } } } },
});
const getDef = createRoute({
  method: 'get',
  path: '/{id}',
  tags: ['drift'],
  summary: 'A drift schedule: next run, last run and last webhook delivery',
  request: { params: idParam },
  responses: { 200: { description: 'The schedule', content: { 'application/json': { schema: driftScheduleViewSchema } } }, 404: problemJson('No such schedule') },
});
const deleteDef = createRoute({
  method: 'delete',
  path: '/{id}',
  tags: ['drift'],
  summary: 'Stop a drift schedule (its reports are kept)',
  request: { params: idParam },
  responses: { 204: { description: 'Deleted' }, 404: problemJson('No such schedule') },
});

/** The alert as an OpenAPI 3.1 webhook, registered on the app. */
export const driftAlertWebhook = {
  method: 'post' as const,
  path: 'drift.detected',
  tags: ['drift'],
  summary: 'Sent to a drift schedule’s webhookUrl when one of its reports detects drift',
  description: WEBHOOK_SIGNING,
  request: {
    headers: z.object({ 'x-quorum-timestamp': z.string(), 'x-quorum-signature': z.string() }),
    body: { content: { 'application/json': { schema: driftAlertSchema } } },
  },
  responses: { 200: { description: 'Any 2xx acknowledges the alert' } },
};

/** Routes under /v1/drift-schedules. */
export function scheduleRoutes(deps: ScheduleDeps) {
  const app = new OpenAPIHono<AuthEnv>();
  app.openapi(createDef, async (c) => {
    const view = await createDriftSchedule(deps, c.var.tenant, c.req.valid('json'));
    c.header('Location', view.links.self);
    return c.json(view, 201);
  });
  app.openapi(listDef, async (c) => c.json({ items: await listDriftSchedules(deps, c.var.tenant) }, 200));
  app.openapi(getDef, async (c) => c.json(await getDriftSchedule(deps, c.var.tenant, c.req.valid('param').id), 200));
  app.openapi(deleteDef, async (c) => {
    await deleteDriftSchedule(deps, c.var.tenant, c.req.valid('param').id);
    return c.body(null, 204);
  });
  return app;
}
