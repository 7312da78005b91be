import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createQueues } from '../../src/jobs/queues.js';
import { verifyWebhookSignature } from '../../src/schedules/signature.js';
import { FASHION_CLASSES, fashionSubset, subsetIdx } from '../fixtures/fashion.js';
import { KEY_B, form, startTestService, type TestService } from '../harness/service.js';

// Schedules here fire within seconds: 6-field patterns, and a minimum interval lowered from 1 minute to 2 s.
const ENV = { TRAIN_CONCURRENCY: '2', DRIFT_SCHEDULE_MIN_INTERVAL_MS: '2000', MAX_DRIFT_SCHEDULES_PER_TENANT: '3', WEBHOOK_BACKOFF_MS: '100' };
const FAST_DRIFT = { permutations: 50, maxMmdSamples: 100 };

let svc: TestService;
let modelId: string;
const json = (body: unknown, method = 'POST') => ({ method, body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

/** A webhook receiver on a free loopback port: records every request; answers with `status(n)` for the n-th (0-based). */
class Receiver {
  readonly requests: { headers: IncomingHttpHeaders; body: string }[] = [];
  private server: Server;
  url = '';

  constructor(private status: (n: number) => number = () => 200) {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.requests.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(this.status(this.requests.length - 1)).end();
      });
    });
  }

  async start() {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hooks/quorum`;
    return this;
  }

  async stop() {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

async function until<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 90_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function getJson(path: string, s = svc): Promise<any> {
  const res = await s.request(path);
  return { status: res.status, ...((await res.json()) as object) };
}

/** A 6-field pattern that fires once a day, `ms` from now (UTC): one run, soon, and none after it in the test. */
function onceIn(ms: number): string {
  const d = new Date(Date.now() + ms);
  return `${d.getUTCSeconds()} ${d.getUTCMinutes()} ${d.getUTCHours()} * * *`;
}

async function createSchedule(body: Record<string, unknown>, s = svc) {
  const res = await s.request('/v1/drift-schedules', json({ modelId, window: '1h', options: FAST_DRIFT, ...body }));
  const view = (await res.json()) as any;
  expect(res.status, JSON.stringify(view)).toBe(201);
  return view;
}

/** The next run Redis holds for a schedule, read straight from the service's queue prefix. */
async function nextRunInRedis(s: TestService, id: string): Promise<number | null> {
  const redis = new Redis(s.env.REDIS_URL);
  const queues = createQueues({ connection: redis, prefix: s.env.QUEUE_PREFIX });
  try {
    return await queues.nextDriftRun(id);
  } finally {
    await queues.close();
    await redis.quit();
  }
}

beforeAll(async () => {
  // The bucket outlives this service: the restart test starts another on it.
  svc = await startTestService({ env: ENV, keepBucket: true });
  const idx = subsetIdx(fashionSubset(600));
  const upload = await svc.request('/v1/datasets', {
    method: 'POST',
    body: form({ classNames: FASHION_CLASSES.join(','), split: '0.6,0.35,0.05' }, { images: { data: idx.images, name: 'i' }, labels: { data: idx.labels, name: 'l' } }),
  });
  const datasetId = ((await upload.json()) as any).id;
  expect((await svc.waitForDataset(datasetId)).status).toBe('ready');
  const res = await svc.request('/v1/training-jobs', json({ datasetId, training: { epochs: 1, maxStepsPerEpoch: 15 }, ensemble: { members: 2 } }));
  const jobId = ((await res.json()) as any).id;
  const job = await until('training', async () => {
    const body = await getJson(`/v1/training-jobs/${jobId}`);
    return ['succeeded', 'failed', 'cancelled'].includes(body.status) && body;
  }, 240_000);
  expect(job.status).toBe('succeeded');
  modelId = job.modelId;
}, 300_000);

afterAll(async () => {
  await svc?.close();
});

describe('drift schedule requests', () => {
  const body = () => ({ modelId, cron: '0 * * * *', window: '24h', webhookUrl: 'https://hooks.example.com/q' });
  const problem = async (b: unknown, status: number, field?: string) => {
    const res = await svc.request('/v1/drift-schedules', typeof b === 'string' ? { method: 'POST', body: b, headers: { 'content-type': 'application/json' } } : json(b));
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    const p = (await res.json()) as any;
    if (field) expect(p.field).toBe(field);
    expect(p.detail.length).toBeGreaterThan(10);
    return p;
  };

  it('refuse bad cron patterns, windows, URLs and options with a 400 naming the field', async () => {
    expect((await problem({ ...body(), cron: '0 * * *' }, 400, 'cron')).detail).toMatch(/4 fields/);
    expect((await problem({ ...body(), cron: '61 * * * *' }, 400, 'cron')).detail).toMatch(/not a cron pattern/);
    const tooOften = await problem({ ...body(), cron: '* * * * * *' }, 400, 'cron');
    expect(tooOften.type).toMatch(/cron-too-frequent$/);
    expect(tooOften.detail).toMatch(/every 1 s/);
    await problem({ ...body(), window: '1 day' }, 400, 'window');
    await problem({ ...body(), window: '400d' }, 400, 'window');
    await problem({ ...body(), webhookUrl: 'file:///etc/passwd' }, 400, 'webhookUrl');
    await problem({ ...body(), webhookUrl: `https://example.com/${'x'.repeat(2048)}` }, 400, 'webhookUrl');
    await problem({ ...body(), timezone: 'Nowhere/Land' }, 400, 'timezone');
    await problem({ ...body(), options: { permutations: 5 } }, 400, 'options.permutations');
    await problem({ ...body(), secret: 'mine' }, 400);
    await problem({ cron: '0 * * * *' }, 400);
    expect((await problem('{"modelId":', 400)).type).toMatch(/malformed-body$/);
  });

  it('refuse an unknown model with a 422, and other tenants see none of the schedules', async () => {
    expect((await problem({ ...body(), modelId: 'no-such-alias' }, 422, 'modelId')).type).toMatch(/unknown-model$/);
    const created = await createSchedule({ ...body(), name: 'hourly' });
    expect((await svc.request(`/v1/drift-schedules/${created.id}`, { key: KEY_B })).status).toBe(404);
    expect((await svc.request(`/v1/drift-schedules/${created.id}`, { method: 'DELETE', key: KEY_B })).status).toBe(404);
    expect(((await getJson('/v1/drift-schedules', svc)) as any).items.map((s: any) => s.id)).toContain(created.id);
    expect((await (await svc.request('/v1/drift-schedules', { key: KEY_B })).json()) as any).toEqual({ items: [] });
    expect((await svc.request('/v1/drift-schedules/sch_nosuchschedule0000')).status).toBe(404);
    expect((await svc.request('/v1/drift-schedules/..%2F..%2Fsecrets')).status).toBe(404);
    expect((await svc.request(`/v1/drift-schedules/${created.id}`, { method: 'DELETE' })).status).toBe(204);
  });

  it('return the secret only on creation, and honour the per-tenant limit with a 409', async () => {
    const made = [];
    for (let i = 0; i < 3; i++) made.push(await createSchedule({ ...body(), cron: '0 0 1 1 *' }));
    expect(made[0].webhookSecret).toMatch(/^[0-9a-f]{64}$/);
    expect(made[1].webhookSecret).not.toBe(made[0].webhookSecret);
    expect(made[0]).toMatchObject({ status: 'active', active: true, cron: '0 0 1 1 *', timezone: 'UTC', lastRun: null, lastDelivery: null });
    expect(Date.parse(made[0].nextRunAt)).toBeGreaterThan(Date.now());
    const read = await getJson(`/v1/drift-schedules/${made[0].id}`);
    expect(read.webhookSecret).toBeUndefined();
    expect(JSON.stringify(read)).not.toContain(made[0].webhookSecret);
    const list = await getJson('/v1/drift-schedules');
    expect(JSON.stringify(list)).not.toContain(made[0].webhookSecret);
    expect((await problem({ ...body() }, 409)).type).toMatch(/too-many-schedules$/);
    for (const s of made) expect((await svc.request(`/v1/drift-schedules/${s.id}`, { method: 'DELETE' })).status).toBe(204);
    expect(await nextRunInRedis(svc, made[0].id)).toBeNull();
    expect((await getJson('/v1/drift-schedules')).items).toEqual([]);
  });
});

describe('scheduled drift reports', () => {
  let receiver: Receiver;
  beforeAll(async () => {
    // The first delivery attempt meets a 503, so the alert below arrives on the retry.
    receiver = await new Receiver((n) => (n === 0 ? 503 : 200)).start();
  });
  afterAll(() => receiver.stop());

  it('record an empty capture window as a failed run and send no alert', async () => {
    const schedule = await createSchedule({ cron: onceIn(3000), window: '5m', webhookUrl: receiver.url });
    const ran = await until('the run', async () => (await getJson(`/v1/drift-schedules/${schedule.id}`)).lastRun);
    expect(ran).toMatchObject({ status: 'failed', driftDetected: null });
    expect(ran.error).toMatch(/No captured predictions/);
    const report = await getJson(`/v1/drift-reports/${ran.reportId}`);
    expect(report).toMatchObject({ status: 'failed', scheduleId: schedule.id });
    expect(Date.parse(report.current.to) - Date.parse(report.current.from)).toBe(5 * 60_000);
    expect(receiver.requests).toHaveLength(0);
    expect((await getJson(`/v1/drift-schedules/${schedule.id}`)).lastDelivery).toBeNull();
    expect((await svc.request(`/v1/drift-schedules/${schedule.id}`, { method: 'DELETE' })).status).toBe(204);
  });

  it('compare the captured window, POST a signed alert on drift (retrying a 5xx) and record both', async () => {
    // Deployment traffic: darkened images, sent through the prediction endpoint and captured.
    const dark = fashionSubset(120, { offset: 7000 });
    const instances = Array.from({ length: dark.count }, (_, i) => ({
      pixels: Array.from({ length: 28 }, (_, y) => Array.from(dark.pixels.subarray(i * 784 + y * 28, i * 784 + (y + 1) * 28), (v) => Math.round(v * 0.4))),
    }));
    for (let i = 0; i < instances.length; i += 40) {
      expect((await svc.request(`/v1/models/${modelId}/predict`, json({ instances: instances.slice(i, i + 40) }))).status).toBe(200);
    }
    await svc.predictor.flushCapture();

    const schedule = await createSchedule({ cron: onceIn(4000), webhookUrl: receiver.url, name: 'dark-watch' });
    const secret = schedule.webhookSecret;
    const delivered = await until('the delivery', async () => (await getJson(`/v1/drift-schedules/${schedule.id}`)).lastDelivery);
    expect(delivered).toMatchObject({ delivered: true, statusCode: 200, error: null, attempts: 2 });
    expect(receiver.requests).toHaveLength(2);

    const { headers, body } = receiver.requests[1];
    expect(headers['content-type']).toBe('application/json');
    const timestamp = headers['x-quorum-timestamp'] as string;
    const signature = headers['x-quorum-signature'] as string;
    expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(120);
    expect(verifyWebhookSignature(secret, timestamp, body, signature, 300)).toBe(true);
    expect(verifyWebhookSignature(secret, timestamp, body.replace('drift.detected', 'drift.detectet'), signature, 300)).toBe(false);
    expect(verifyWebhookSignature('0'.repeat(64), timestamp, body, signature, 300)).toBe(false);

    const alert = JSON.parse(body);
    expect(alert).toMatchObject({ event: 'drift.detected', schedule: { id: schedule.id, name: 'dark-watch', modelId } });
    const report = await getJson(`/v1/drift-reports/${alert.report.id}`);
    expect(report).toMatchObject({ status: 'ready', driftDetected: true, scheduleId: schedule.id, options: { permutations: 50 } });
    expect(Date.parse(report.current.to) - Date.parse(report.current.from)).toBe(3_600_000);
    expect(report.samples.current).toBe(120);
    expect(alert.report).toMatchObject({ id: report.id, driftDetected: true, window: report.current });
    expect(alert.report.flaggedTests.length).toBeGreaterThan(0);
    expect(alert.report.flaggedTests).toEqual(report.tests.filter((t: any) => t.drift).map((t: any) => ({ name: t.name, pValue: t.pValue, threshold: t.threshold })));
    expect(alert.report.flaggedTests.map((t: any) => t.name)).toContain('ks-image:brightness');
    expect(alert.report.findings).toEqual(report.findings.map((f: any) => ({ rule: f.rule, severity: f.severity, title: f.title })));
    expect(alert.links).toEqual({ report: `/v1/drift-reports/${report.id}`, html: `/v1/drift-reports/${report.id}.html` });

    const view = await getJson(`/v1/drift-schedules/${schedule.id}`);
    expect(view.lastRun).toEqual({ reportId: report.id, at: report.current.to, status: 'ready', driftDetected: true });
    expect(view.lastDelivery.reportId).toBe(report.id);
    // Once a day: the next run is tomorrow's.
    expect(Date.parse(view.nextRunAt) - Date.parse(report.current.to)).toBe(86_400_000);
    expect((await svc.request(`/v1/drift-schedules/${schedule.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await svc.request(`/v1/drift-schedules/${schedule.id}`)).status).toBe(404);
  });
});

describe('schedules across restarts', () => {
  it('come back from the bucket when the service starts on an empty Redis, and fire again', async () => {
    const receiver = await new Receiver().start();
    try {
      const schedule = await createSchedule({ cron: '*/3 * * * * *', webhookUrl: receiver.url });
      expect(await nextRunInRedis(svc, schedule.id)).not.toBeNull();
      const bucket = svc.env.S3_BUCKET;
      await svc.close();
      svc = undefined as unknown as TestService;
      receiver.requests.length = 0;

      // Same bucket, a fresh queue prefix: Redis knows nothing of the schedule, and without a worker nothing restores it.
      const apiOnly = await startTestService({ env: { ...ENV, S3_BUCKET: bucket }, worker: false, keepBucket: true });
      const lost = await getJson(`/v1/drift-schedules/${schedule.id}`, apiOnly);
      expect(lost).toMatchObject({ status: 'unscheduled', active: false, nextRunAt: null });
      await apiOnly.close();

      svc = await startTestService({ env: { ...ENV, S3_BUCKET: bucket } });
      const back = await until('the restored scheduler', async () => {
        const view = await getJson(`/v1/drift-schedules/${schedule.id}`);
        return view.status === 'active' && view;
      }, 30_000);
      expect(Date.parse(back.nextRunAt)).toBeGreaterThan(Date.now() - 5000);
      expect(await nextRunInRedis(svc, schedule.id)).not.toBeNull();

      // The restored scheduler fires: a new report over the captured window, and an alert.
      await until('an alert after the restart', async () => receiver.requests.length > 0, 60_000);
      const alert = JSON.parse(receiver.requests[0].body);
      expect(alert.schedule.id).toBe(schedule.id);
      expect(verifyWebhookSignature(schedule.webhookSecret, receiver.requests[0].headers['x-quorum-timestamp'] as string, receiver.requests[0].body, receiver.requests[0].headers['x-quorum-signature'] as string, 300)).toBe(true);

      expect((await svc.request(`/v1/drift-schedules/${schedule.id}`, { method: 'DELETE' })).status).toBe(204);
      expect(await nextRunInRedis(svc, schedule.id)).toBeNull();
    } finally {
      await receiver.stop();
    }
  }, 120_000);
});
