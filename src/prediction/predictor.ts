/**
 * Serving ensembles: members loaded once from storage and kept in memory (least recently used first out, bounded
 * by weight bytes), aliases resolved with a short TTL so re-pointing one takes effect without a restart, and one
 * micro-batcher per loaded ensemble so concurrent requests share forward passes.
 */
import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { isResourceId } from '../storage/keys.js';
import type { Storage } from '../storage/storage.js';
import type { ModelManifest } from '../storage/training-manifests.js';
import { getModel } from '../training/service.js';
import { createBatcher, type Batcher } from './batcher.js';
import { ensemblePredictions, type InstancePrediction } from './ensemble.js';
import { createCapture } from './capture.js';
import { createInferencePool, type InferencePool } from './inference-pool.js';
import { loadMemberPlans } from './load.js';
import { planBytes } from './plan.js';
import { prepareInstances, type Prepared, type RawInstance } from './input.js';

export interface PredictorDeps {
  config: Config;
  storage: Storage;
  logger: Logger;
}

interface Entry {
  key: string;
  model: ModelManifest;
  /** Weight bytes of one copy of the ensemble (each inference thread holds one). */
  bytes: number;
  batcher: Batcher<Prepared, Float32Array[]>;
}

export interface PredictResult {
  model: ModelManifest;
  predictions: InstancePrediction[];
  /** Milliseconds spent loading the ensemble when this request had to (a cold start), else null. */
  coldStartMs: number | null;
  /** Where this request's time went, in milliseconds (sent as a Server-Timing header). */
  timings: { preprocess: number; batch: number; ensemble: number };
}

export type Predictor = ReturnType<typeof createPredictor>;

/** Creates the serving side of the service. */
export function createPredictor(deps: PredictorDeps) {
  const { config, storage, logger } = deps;
  const entries = new Map<string, Entry>(); // Map order is recency order: a hit moves the entry to the end.
  const loading = new Map<string, Promise<{ entry: Entry; ms: number }>>();
  const aliases = new Map<string, { id: string; until: number }>();
  const counters = { hits: 0, loads: 0, evictions: 0, coldStartMs: [] as number[], forwardMs: 0, forwardPasses: 0 };
  let totalBytes = 0;
  const capture = createCapture(deps);
  let pool: Promise<InferencePool> | undefined;
  let running: InferencePool | undefined;

  /** The inference threads, started on first use (or by start()). */
  function inference(): Promise<InferencePool> {
    if (!pool) {
      const backend = tf.getBackend();
      const threads =
        config.PREDICT_THREADS !== 'auto' ? config.PREDICT_THREADS : backend === 'tensorflow' ? 0 : Math.min(availableParallelism(), 8);
      pool = createInferencePool({
        threads,
        backend: backend === 'tensorflow' || backend === 'wasm' || backend === 'cpu' ? backend : 'auto',
        onThreadExit: (info) => logger.error(info, 'inference thread exited; a new one replaces it'),
      });
      pool.then(
        (p) => (running = p),
        () => (pool = undefined), // a failed start is retried by the next request
      );
    }
    return pool;
  }

  async function resolveId(tenant: string, idOrAlias: string): Promise<string> {
    if (isResourceId(idOrAlias)) return idOrAlias;
    const cached = aliases.get(`${tenant}/${idOrAlias}`);
    if (cached && cached.until > Date.now()) return cached.id;
    const model = await getModel({ storage }, tenant, idOrAlias);
    aliases.set(`${tenant}/${idOrAlias}`, { id: model.id, until: Date.now() + config.ALIAS_CACHE_MS });
    return model.id;
  }

  /** One forward pass in an inference thread; per instance, one row of class probabilities per member. */
  function forward(threads: InferencePool, key: string, model: ModelManifest) {
    const { height, width, channels } = model.input;
    const sample = height * width * channels;
    const k = model.classes.length;
    const m = model.members.length;
    return async (batch: Prepared[]): Promise<Float32Array[][]> => {
      const n = batch.length;
      const x = new Float32Array(n * sample);
      batch.forEach((p, i) => x.set(p, i * sample));
      const { out, ms } = await threads.run(key, x, n);
      counters.forwardMs += ms;
      counters.forwardPasses++;
      return batch.map((_, i) => Array.from({ length: m }, (_, j) => out.subarray((j * n + i) * k, (j * n + i + 1) * k)));
    };
  }

  async function load(tenant: string, id: string): Promise<{ entry: Entry; ms: number }> {
    const started = performance.now();
    const model = await getModel({ storage }, tenant, id);
    const threads = await inference();
    const plans = await loadMemberPlans(storage, model);
    const key = `${tenant}/${id}`;
    // Every thread uploads the weights and runs one blank pass, so the first real request pays no warm-up.
    await threads.load(key, plans);
    const entry: Entry = {
      key,
      model,
      bytes: plans.reduce((sum, p) => sum + planBytes(p), 0),
      batcher: createBatcher(forward(threads, key, model), {
        maxBatchSize: config.PREDICT_MAX_BATCH,
        maxWaitMicros: config.PREDICT_MAX_WAIT_MICROS,
        maxQueuedInstances: config.PREDICT_MAX_QUEUED,
        maxConcurrentPasses: Math.max(1, threads.threads),
      }),
    };
    return { entry, ms: performance.now() - started };
  }

  async function evict() {
    for (const [key, e] of entries) {
      if (totalBytes <= config.MODEL_CACHE_MAX_BYTES || entries.size <= 1) break;
      if (e.batcher.stats().queuedInstances > 0) continue; // in use: evict something idle first
      entries.delete(key);
      totalBytes -= e.bytes;
      counters.evictions++;
      await e.batcher.close();
      await (await inference()).unload(key);
      logger.info({ model: key, bytes: e.bytes }, 'model evicted from the cache');
    }
  }

  async function get(tenant: string, idOrAlias: string): Promise<{ entry: Entry; coldStartMs: number | null }> {
    const id = await resolveId(tenant, idOrAlias);
    const key = `${tenant}/${id}`;
    const hit = entries.get(key);
    if (hit) {
      counters.hits++;
      entries.delete(key);
      entries.set(key, hit);
      return { entry: hit, coldStartMs: null };
    }
    let pending = loading.get(key);
    const mine = !pending;
    if (!pending) {
      pending = load(tenant, id).finally(() => loading.delete(key));
      loading.set(key, pending);
    }
    const { entry, ms } = await pending;
    if (mine) {
      counters.loads++;
      counters.coldStartMs.push(ms);
      entries.set(key, entry);
      totalBytes += entry.bytes;
      logger.info({ model: key, members: entry.model.members.length, bytes: entry.bytes, ms: Math.round(ms) }, 'model loaded');
      await evict();
    }
    return { entry, coldStartMs: mine ? ms : null };
  }

  return {
    /** Starts the inference threads now rather than on the first request (the API calls this at start-up). */
    async start(): Promise<void> {
      await inference();
    },
    /** Predicts every instance with the ensemble named by id or alias. */
    async predict(tenant: string, idOrAlias: string, raw: RawInstance[], opts: { topK?: number } = {}): Promise<PredictResult> {
      const { entry, coldStartMs } = await get(tenant, idOrAlias);
      const t0 = performance.now();
      const prepared = await prepareInstances(raw, entry.model, config.MAX_IMAGE_PIXELS);
      const t1 = performance.now();
      const outputs = await entry.batcher.submit(prepared.map((p) => p.input));
      const t2 = performance.now();
      const members = entry.model.members.map((_, m) => {
        const k = entry.model.classes.length;
        const arr = new Float32Array(outputs.length * k);
        outputs.forEach((perMember, i) => arr.set(perMember[m], i * k));
        return arr;
      });
      const predictions = ensemblePredictions(members, outputs.length, entry.model.classes, { topK: opts.topK });
      const k = entry.model.classes.length;
      capture.record(
        tenant,
        entry.model,
        prepared.map((p) => p.sample),
        predictions.map((p) => Float32Array.from(entry.model.classes, (c) => p.probabilities[c]).subarray(0, k)),
      );
      const timings = { preprocess: t1 - t0, batch: t2 - t1, ensemble: performance.now() - t2 };
      return { model: entry.model, predictions, coldStartMs, timings };
    },
    /** Cache and batching figures for /metrics. */
    stats() {
      let batches = 0;
      let instances = 0;
      let rejected = 0;
      for (const e of entries.values()) {
        const s = e.batcher.stats();
        batches += s.batches;
        instances += s.instances;
        rejected += s.rejected;
      }
      const c = capture.stats();
      return {
        hits: counters.hits,
        loads: counters.loads,
        evictions: counters.evictions,
        forwardMs: Math.round(counters.forwardMs),
        forwardPasses: counters.forwardPasses,
        coldStartMs: counters.coldStartMs,
        inferenceThreads: running?.threads ?? 0,
        inferenceThreadRestarts: running?.stats().restarts ?? 0,
        threads: running?.stats() ?? null,
        entries: entries.size,
        bytes: totalBytes,
        batches,
        instances,
        rejected,
        captured: c.captured,
        captureDropped: c.dropped,
        captureFiles: c.flushedFiles,
        captureBufferedBytes: c.bufferedBytes,
      };
    },
    /** Writes buffered capture data now (tests, shutdown). */
    flushCapture: () => capture.flush(),
    async close() {
      await capture.close();
      for (const e of entries.values()) await e.batcher.close();
      entries.clear();
      totalBytes = 0;
      const threads = await pool?.catch(() => undefined);
      pool = undefined;
      running = undefined;
      await threads?.close();
    },
  };
}
