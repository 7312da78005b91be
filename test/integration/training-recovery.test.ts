import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keys } from '../../src/storage/keys.js';
import { memberRecordSchema } from '../../src/storage/training-manifests.js';
import { FASHION_CLASSES, fashionSubset, subsetIdx } from '../fixtures/fashion.js';
import { form, startTestService, type TestService } from '../harness/service.js';

// The API runs in the test process; workers are real processes started as `QUORUM_ROLE=worker`, so a crash is a
// real SIGKILL of the worker and of the child process training the member.
let svc: TestService;
let datasetId: string;
const workers: ChildProcess[] = [];

function startWorker(): ChildProcess {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: {
      ...process.env,
      ...svc.env,
      QUORUM_ROLE: 'worker',
      WORKER_LOCK_DURATION_MS: '3000',
      WORKER_STALLED_INTERVAL_MS: '1000',
    },
    detached: true, // its own process group, so the kill reaches the sandboxed trainer too
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  workers.push(proc);
  return proc;
}

const killGroup = (proc: ChildProcess, signal: NodeJS.Signals) => {
  try {
    process.kill(-proc.pid!, signal);
  } catch {
    /* already gone */
  }
};

beforeAll(async () => {
  svc = await startTestService({ worker: false });
  const idx = subsetIdx(fashionSubset(600, { offset: 7000 }));
  const res = await svc.request('/v1/datasets', {
    method: 'POST',
    body: form({ classNames: FASHION_CLASSES.join(',') }, { images: { data: idx.images, name: 'i' }, labels: { data: idx.labels, name: 'l' } }),
  });
  datasetId = ((await res.json()) as { id: string }).id;
  startWorker(); // ingestion runs on the worker process too
  expect((await svc.waitForDataset(datasetId)).status).toBe('ready');
}, 120_000);

afterAll(async () => {
  for (const w of workers) killGroup(w, 'SIGKILL');
  await svc?.close();
});

const member = (jobId: string, k: number) => svc.storage.getJson(keys.runMember('tenant-a', jobId, k), memberRecordSchema);

async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs = 240_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const createJob = async (body: Record<string, unknown>) => {
  const res = await svc.request('/v1/training-jobs', {
    method: 'POST',
    body: JSON.stringify({ datasetId, ensemble: { members: 1 }, ...body }),
    headers: { 'content-type': 'application/json' },
  });
  expect(res.status).toBe(202);
  return ((await res.json()) as { id: string }).id;
};

describe('crash safety of training jobs', () => {
  it('resumes a member from its last checkpoint after its worker is killed (kill -9), losing at most one epoch', async () => {
    const jobId = await createJob({ training: { epochs: 5, maxStepsPerEpoch: 6, earlyStopping: { enabled: false } } });
    await until('two epochs', async () => ((await member(jobId, 0))?.history.length ?? 0) >= 2);
    killGroup(workers[0], 'SIGKILL');
    const beforeCrash = (await member(jobId, 0))!.history.length;
    startWorker();
    const job = await until('the job to finish', async () => {
      const j = (await (await svc.request(`/v1/training-jobs/${jobId}`)).json()) as any;
      return ['succeeded', 'failed', 'cancelled'].includes(j.status) ? j : null;
    });
    expect(job.status, JSON.stringify(job.error)).toBe('succeeded');
    const m = job.members[0];
    expect(m.history.map((h: any) => h.epoch)).toEqual([1, 2, 3, 4, 5]);
    expect(m.resumedAt).toHaveLength(1);
    expect(m.resumedAt[0]).toBeGreaterThanOrEqual(beforeCrash - 1);
    expect(m.resumedAt[0]).toBeGreaterThanOrEqual(2);
    expect(job.modelId).toMatch(/^mdl_/);
  }, 300_000);

  it('cancels running members: the job ends cancelled without a model', async () => {
    const jobId = await createJob({ training: { epochs: 50, maxStepsPerEpoch: 6, earlyStopping: { enabled: false } } });
    await until('the member to start', async () => ((await member(jobId, 0))?.history.length ?? 0) >= 1);
    const res = await svc.request(`/v1/training-jobs/${jobId}/cancel`, { method: 'POST' });
    expect(res.status).toBe(202);
    expect(((await res.json()) as any).cancelRequested).toBe(true);
    const job = await until('the job to end', async () => {
      const j = (await (await svc.request(`/v1/training-jobs/${jobId}`)).json()) as any;
      return ['succeeded', 'failed', 'cancelled'].includes(j.status) ? j : null;
    }, 60_000);
    expect(job.status).toBe('cancelled');
    expect(job.members[0].status).toBe('cancelled');
    expect(job.members[0].history.length).toBeLessThan(50);
    expect(job.modelId).toBeUndefined();
    const again = await svc.request(`/v1/training-jobs/${jobId}/cancel`, { method: 'POST' });
    expect(again.status).toBe(409);
  }, 120_000);
});
