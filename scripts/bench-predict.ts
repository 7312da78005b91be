/**
 * `npm run bench:predict -- [--seconds S]`: serving figures for a 5-member ensemble of the `small` preset on the built
 * service: requests/s and p50/p95/p99 latency of single-image PNG predictions for 1, 16 and 64 concurrent clients
 * (closed loop, S seconds each, after a warm-up), plus the cold-start time and the ensemble's size. The load generator
 * runs in this process, the service in its own: on a 2-core machine they share the cores, which the figures include.
 */
import { FASHION_CLASSES, fashionSubset, samplePng, subsetIdx } from './lib/fashion.js';
import { startStack } from './lib/stack.js';

const arg = process.argv.indexOf('--seconds');
const SECONDS = arg > 0 ? Number(process.argv[arg + 1]) : 10;

const stack = await startStack();
const auth = { authorization: `Bearer ${stack.apiKey}` };
const api = (path: string, init: RequestInit = {}) => fetch(stack.url + path, { ...init, headers: { ...auth, ...(init.headers as Record<string, string>) } });

async function poll<T>(path: string, done: (b: any) => boolean): Promise<any> {
  for (;;) {
    const b = await (await api(path)).json();
    if (done(b)) return b;
    await new Promise((r) => setTimeout(r, 500));
  }
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

try {
  const idx = subsetIdx(fashionSubset(1000));
  const body = new FormData();
  body.append('classNames', FASHION_CLASSES.join(','));
  body.append('images', new Blob([idx.images]), 'i.idx');
  body.append('labels', new Blob([idx.labels]), 'l.idx');
  const ds = (await (await api('/v1/datasets', { method: 'POST', body })).json()) as any;
  await poll(`/v1/datasets/${ds.id}`, (b) => b.status === 'ready');
  // Latency does not depend on how well the members learned: a short run gives the reference ensemble's shape.
  const job = (await (
    await api('/v1/training-jobs', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ datasetId: ds.id, preset: 'small', training: { epochs: 1, maxStepsPerEpoch: 3 }, ensemble: { members: 5 } }),
    })
  ).json()) as any;
  const done = await poll(`/v1/training-jobs/${job.id}`, (b) => ['succeeded', 'failed', 'cancelled'].includes(b.status));
  if (done.status !== 'succeeded') throw new Error(`training ${done.status}`);
  const modelId = done.modelId as string;

  const images = await Promise.all(Array.from({ length: 64 }, (_, i) => samplePng(fashionSubset(64, { offset: 9000 }), i)));
  const predict = (i: number) =>
    api(`/v1/models/${modelId}/predict`, { method: 'POST', body: images[i % images.length], headers: { 'content-type': 'image/png' } });
  const first = await predict(0);
  const coldMs = Number(first.headers.get('x-quorum-cold-start-ms'));
  await first.arrayBuffer();
  const metrics = await (await fetch(`${stack.url}/metrics`)).text();
  const modelBytes = Number(/quorum_serving\{figure="bytes"\} (\d+)/.exec(metrics)?.[1] ?? 0);

  console.log(`\nServing a 5-member ensemble of the small preset (${(modelBytes / 1024 / 1024).toFixed(1)} MiB of weights), single 28×28 PNG per request`);
  console.log(`cold start (first request: load 5 members from storage + warm-up pass): ${coldMs.toFixed(0)} ms`);
  console.log(`${'clients'.padStart(8)}${'requests/s'.padStart(12)}${'p50 ms'.padStart(9)}${'p95 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'errors'.padStart(8)}`);
  for (const clients of [1, 16, 64]) {
    const latencies: number[] = [];
    const parts: Record<string, number> = { preprocess: 0, batch: 0, ensemble: 0, json: 0 };
    let errors = 0;
    const warmUntil = performance.now() + 1000;
    const end = warmUntil + SECONDS * 1000;
    await Promise.all(
      Array.from({ length: clients }, async (_, c) => {
        for (let n = c; performance.now() < end; n += clients) {
          const t0 = performance.now();
          const res = await predict(n);
          await res.arrayBuffer();
          if (res.status !== 200) errors++;
          else if (t0 >= warmUntil) {
            latencies.push(performance.now() - t0);
            for (const m of (res.headers.get('server-timing') ?? '').matchAll(/(\w+);dur=([\d.]+)/g)) parts[m[1]] += Number(m[2]);
          }
        }
      }),
    );
    latencies.sort((a, b) => a - b);
    const rps = latencies.length / SECONDS;
    const n = Math.max(1, latencies.length);
    const mean = latencies.reduce((a, b) => a + b, 0) / n;
    const server = Object.values(parts).reduce((a, b) => a + b, 0) / n;
    console.log(
      `${String(clients).padStart(8)}${rps.toFixed(0).padStart(12)}${pct(latencies, 50).toFixed(1).padStart(9)}` +
        `${pct(latencies, 95).toFixed(1).padStart(9)}${pct(latencies, 99).toFixed(1).padStart(9)}${String(errors).padStart(8)}` +
        `   mean ${mean.toFixed(1)} ms = preprocess ${(parts.preprocess / n).toFixed(1)} + queue&forward ${(parts.batch / n).toFixed(1)}` +
        ` + ensemble ${(parts.ensemble / n).toFixed(2)} + json ${(parts.json / n).toFixed(2)} + outside the handler ${(mean - server).toFixed(1)}`,
    );
  }
  const after = await (await fetch(`${stack.url}/metrics`)).text();
  const batches = Number(/quorum_serving\{figure="batches"\} (\d+)/.exec(after)?.[1] ?? 0);
  const instances = Number(/quorum_serving\{figure="instances"\} (\d+)/.exec(after)?.[1] ?? 0);
  const forwardMs = Number(/quorum_serving\{figure="forwardMs"\} (\d+)/.exec(after)?.[1] ?? 0);
  console.log(`micro-batching: ${instances} instances in ${batches} forward passes (${(instances / Math.max(1, batches)).toFixed(1)} per pass), ` +
    `${(forwardMs / Math.max(1, batches)).toFixed(1)} ms per pass (5 members), ${(forwardMs / Math.max(1, instances)).toFixed(2)} ms of forward per instance`);
} finally {
  await stack.stop();
}
