/**
 * `npm run bench:predict -- [--seconds S] [--env KEY=VALUE ...] [--no-peer]`: serving figures for a 5-member
 * ensemble of the `small` preset on the built service: requests/s and p50/p95/p99 latency of single-image PNG
 * predictions for 1, 16 and 64 concurrent clients (closed loop, S seconds each, after a 1 s warm-up), the cold start,
 * the memory the loaded ensemble adds, and where the time and CPU go. In the same run, the same load against the
 * peer: a straightforward PyTorch + FastAPI/uvicorn server of the same ensemble (scripts/peer/torch_serve.py), when
 * Debian's python3-torch, python3-fastapi and python3-uvicorn are installed. The load generator runs in this
 * process: on a 2-core machine it shares the cores with the server, which the figures include.
 */
import { spawn, spawnSync } from 'node:child_process';
import { FASHION_CLASSES, fashionSubset, samplePng, subsetIdx } from './lib/fashion.js';
import { freePort } from './lib/local-services.js';
import { cpuSeconds, rssBytes } from './lib/proc.js';
import { startStack } from './lib/stack.js';

const argv = process.argv.slice(2);
const option = (name: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
const SECONDS = Number(option('--seconds') ?? 10);
const CLIENTS = [1, 16, 64];
const env = Object.fromEntries(argv.flatMap((a, i) => (argv[i - 1] === '--env' ? [a.split('=', 2) as [string, string]] : [])));
const PYTHON = '/usr/bin/python3';

interface Phase {
  clients: number;
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  errors: number;
  mean: number;
  /** Server-Timing parts, mean ms per request (Quorum only). */
  parts: Record<string, number>;
  /** CPU ms per request: the server's and this load generator's. */
  serverCpuMs: number;
  clientCpuMs: number;
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

/** Closed-loop load: `clients` callers each sending the next request as soon as the last one answered. */
async function drive(predict: (i: number) => Promise<Response>, clients: number, serverPid: number): Promise<Phase> {
  const latencies: number[] = [];
  const parts: Record<string, number> = {};
  let errors = 0;
  const warmUntil = performance.now() + 1000;
  const end = warmUntil + SECONDS * 1000;
  let cpu0 = { server: 0, client: process.cpuUsage() };
  let measuring = false;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let n = c; performance.now() < end; n += clients) {
        const t0 = performance.now();
        if (!measuring && t0 >= warmUntil) {
          measuring = true;
          cpu0 = { server: cpuSeconds(serverPid), client: process.cpuUsage() };
        }
        const res = await predict(n);
        await res.arrayBuffer();
        if (res.status !== 200) errors++;
        else if (t0 >= warmUntil) {
          latencies.push(performance.now() - t0);
          for (const m of (res.headers.get('server-timing') ?? '').matchAll(/(\w+);dur=([\d.]+)/g)) parts[m[1]] = (parts[m[1]] ?? 0) + Number(m[2]);
        }
      }
    }),
  );
  const client = process.cpuUsage(cpu0.client);
  const serverCpu = cpuSeconds(serverPid) - cpu0.server;
  latencies.sort((a, b) => a - b);
  const n = Math.max(1, latencies.length);
  for (const k of Object.keys(parts)) parts[k] /= n;
  return {
    clients,
    rps: latencies.length / SECONDS,
    p50: pct(latencies, 50),
    p95: pct(latencies, 95),
    p99: pct(latencies, 99),
    errors,
    mean: latencies.reduce((a, b) => a + b, 0) / n,
    parts,
    serverCpuMs: (serverCpu * 1000) / n,
    clientCpuMs: (client.user + client.system) / 1000 / n,
  };
}

function table(title: string, phases: Phase[]): void {
  console.log(`\n${title}`);
  console.log(`${'clients'.padStart(8)}${'req/s'.padStart(8)}${'p50 ms'.padStart(9)}${'p95 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'errors'.padStart(8)}` +
    `${'server CPU ms/req'.padStart(19)}${'client CPU ms/req'.padStart(19)}`);
  for (const p of phases) {
    console.log(
      `${String(p.clients).padStart(8)}${p.rps.toFixed(0).padStart(8)}${p.p50.toFixed(1).padStart(9)}${p.p95.toFixed(1).padStart(9)}` +
        `${p.p99.toFixed(1).padStart(9)}${String(p.errors).padStart(8)}${p.serverCpuMs.toFixed(2).padStart(19)}${p.clientCpuMs.toFixed(2).padStart(19)}`,
    );
  }
}

async function poll(api: (path: string) => Promise<Response>, path: string, done: (b: any) => boolean): Promise<any> {
  for (;;) {
    const b = await (await api(path)).json();
    if (done(b)) return b;
    await new Promise((r) => setTimeout(r, 500));
  }
}

const images = await Promise.all(Array.from({ length: 64 }, (_, i) => samplePng(fashionSubset(64, { offset: 9000 }), i)));
const quorum: Phase[] = [];
let forwardLine = '';
const stack = await startStack({ env });
try {
  const auth = { authorization: `Bearer ${stack.apiKey}` };
  const api = (path: string, init: RequestInit = {}) => fetch(stack.url + path, { ...init, headers: { ...auth, ...(init.headers as Record<string, string>) } });
  const idx = subsetIdx(fashionSubset(1000));
  const body = new FormData();
  body.append('classNames', FASHION_CLASSES.join(','));
  body.append('images', new Blob([idx.images]), 'i.idx');
  body.append('labels', new Blob([idx.labels]), 'l.idx');
  const ds = (await (await api('/v1/datasets', { method: 'POST', body })).json()) as any;
  await poll(api, `/v1/datasets/${ds.id}`, (b) => b.status === 'ready');
  // Latency does not depend on how well the members learned: a short run gives the reference ensemble's shape.
  const job = (await (
    await api('/v1/training-jobs', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ datasetId: ds.id, preset: 'small', training: { epochs: 1, maxStepsPerEpoch: 3 }, ensemble: { members: 5 } }),
    })
  ).json()) as any;
  const done = await poll(api, `/v1/training-jobs/${job.id}`, (b) => ['succeeded', 'failed', 'cancelled'].includes(b.status));
  if (done.status !== 'succeeded') throw new Error(`training ${done.status}`);
  const modelId = done.modelId as string;

  const predict = (i: number) =>
    api(`/v1/models/${modelId}/predict`, { method: 'POST', body: images[i % images.length], headers: { 'content-type': 'image/png' } });
  await new Promise((r) => setTimeout(r, 1000)); // let the training's garbage settle before reading memory
  const rssBefore = rssBytes(stack.pid);
  const first = await predict(0);
  const coldMs = Number(first.headers.get('x-quorum-cold-start-ms'));
  await first.arrayBuffer();
  const rssAfter = rssBytes(stack.pid);
  const metrics = await (await fetch(`${stack.url}/metrics`)).text();
  const figure = (text: string, name: string) => Number(new RegExp(`quorum_serving\\{figure="${name}"\\} ([\\d.]+)`).exec(text)?.[1] ?? 0);
  const threads = figure(metrics, 'inferenceThreads');

  console.log(`\nQuorum: 5-member ensemble of the small preset (${(figure(metrics, 'bytes') / 1024 / 1024).toFixed(1)} MiB of weights), one 28×28 PNG per request` +
    `, ${threads} inference thread(s)${Object.keys(env).length ? `, ${JSON.stringify(env)}` : ''}`);
  console.log(`cold start (load 5 members from storage, upload to every thread, warm-up pass): ${coldMs.toFixed(0)} ms`);
  console.log(`resident memory added by loading the ensemble: ${((rssAfter - rssBefore) / 1024 / 1024).toFixed(1)} MiB (service RSS ${(rssAfter / 1024 / 1024).toFixed(0)} MiB)`);
  for (const clients of CLIENTS) quorum.push(await drive(predict, clients, stack.pid));
  table('Quorum', quorum);
  console.log('where a request\'s time goes (mean ms, from Server-Timing; "outside" = HTTP, auth, body read and the client):');
  for (const p of quorum) {
    const server = Object.values(p.parts).reduce((a, b) => a + b, 0);
    console.log(`  ${String(p.clients).padStart(2)} clients: mean ${p.mean.toFixed(1)} = preprocess ${(p.parts.preprocess ?? 0).toFixed(1)} + queue&forward ${(p.parts.batch ?? 0).toFixed(1)}` +
      ` + ensemble ${(p.parts.ensemble ?? 0).toFixed(2)} + json ${(p.parts.json ?? 0).toFixed(2)} + outside ${(p.mean - server).toFixed(1)}`);
  }
  const after = await (await fetch(`${stack.url}/metrics`)).text();
  const batches = figure(after, 'batches');
  const instances = figure(after, 'instances');
  const forwardMs = figure(after, 'forwardMs');
  forwardLine = `micro-batching: ${instances} instances in ${batches} forward passes (${(instances / Math.max(1, batches)).toFixed(1)} per pass), ` +
    `${(forwardMs / Math.max(1, batches)).toFixed(1)} ms per pass in its thread, ${(forwardMs / Math.max(1, instances)).toFixed(2)} ms of forward per instance (5 members)`;
  console.log(forwardLine);
} finally {
  await stack.stop();
}

const hasPeer = !argv.includes('--no-peer') && spawnSync(PYTHON, ['-c', 'import torch, fastapi, uvicorn, PIL'], { stdio: 'ignore' }).status === 0;
if (!hasPeer) {
  console.log('\npeer skipped: needs python3-torch, python3-fastapi, python3-uvicorn and python3-pil (apt) or was turned off with --no-peer');
} else {
  const port = await freePort();
  const peer = spawn(PYTHON, ['scripts/peer/torch_serve.py', String(port), '5'], { stdio: ['ignore', 'inherit', 'inherit'] });
  try {
    const url = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      if (await fetch(`${url}/healthz`).then((r) => r.ok, () => false)) break;
      if (i > 150 || peer.exitCode !== null) throw new Error('the PyTorch peer did not start');
      await new Promise((r) => setTimeout(r, 200));
    }
    const predict = (i: number) => fetch(`${url}/predict`, { method: 'POST', body: images[i % images.length], headers: { 'content-type': 'image/png' } });
    const phases: Phase[] = [];
    for (const clients of CLIENTS) phases.push(await drive(predict, clients, peer.pid!));
    table(`Peer: PyTorch ${spawnSync(PYTHON, ['-c', 'import torch; print(torch.__version__)']).stdout.toString().trim()} + FastAPI/uvicorn, same ensemble shape, one forward pass per request`, phases);
    console.log('\nQuorum ÷ peer, same run:');
    quorum.forEach((q, i) => {
      const p = phases[i];
      console.log(`  ${String(q.clients).padStart(2)} clients: throughput ${(q.rps / p.rps).toFixed(2)}×, p50 ${(q.p50 / p.p50).toFixed(2)}×, p99 ${(q.p99 / p.p99).toFixed(2)}×, server CPU per request ${(q.serverCpuMs / p.serverCpuMs).toFixed(2)}×`);
    });
  } finally {
    peer.kill('SIGTERM');
  }
}
