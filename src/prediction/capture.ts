/**
 * Deployment-data capture: a sampled fraction of what the service predicts (preprocessed input and ensemble output)
 * is buffered per tenant, model and day, and written to storage as capture files when a buffer reaches
 * CAPTURE_FLUSH_BYTES, every CAPTURE_FLUSH_MS, and on shutdown. `record` never waits on storage: past
 * CAPTURE_MAX_BUFFER_BYTES samples are dropped and counted, so capture cannot slow or grow a request.
 */
import { randomBytes } from 'node:crypto';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { keys } from '../storage/keys.js';
import type { Storage } from '../storage/storage.js';
import type { ModelManifest } from '../storage/training-manifests.js';
import { encodeCapture } from './capture-format.js';

interface Buffered {
  tenant: string;
  model: ModelManifest;
  day: string;
  samples: Uint8Array[];
  probabilities: Float32Array[];
  times: string[];
  bytes: number;
}

export type Capture = ReturnType<typeof createCapture>;

/** Creates the capture buffer; `random` is injectable so tests can pin the sampling. */
export function createCapture(
  deps: { config: Config; storage: Storage; logger: Logger },
  random: () => number = Math.random,
) {
  const { config, storage, logger } = deps;
  const buffers = new Map<string, Buffered>();
  const counters = { captured: 0, dropped: 0, flushedFiles: 0, flushFailures: 0 };
  let buffered = 0;
  let writing: Promise<void> = Promise.resolve();
  const timer = setInterval(() => void flushAll(), config.CAPTURE_FLUSH_MS);
  timer.unref();

  async function write(b: Buffered) {
    const samples = new Uint8Array(b.samples.reduce((s, x) => s + x.length, 0));
    let at = 0;
    for (const s of b.samples) {
      samples.set(s, at);
      at += s.length;
    }
    const probabilities = new Float32Array(b.probabilities.reduce((s, x) => s + x.length, 0));
    at = 0;
    for (const p of b.probabilities) {
      probabilities.set(p, at);
      at += p.length;
    }
    const { height, width, channels } = b.model.input;
    const body = encodeCapture({ modelId: b.model.id, height, width, channels, classes: b.model.classes, times: b.times, samples, probabilities });
    const name = `${b.times[0].replace(/[:.]/g, '-')}-${randomBytes(4).toString('hex')}`;
    try {
      await storage.putBytes(keys.captureFile(b.tenant, b.model.id, b.day, name), body);
      counters.flushedFiles++;
    } catch (err) {
      // A lost capture file loses monitoring data, never a prediction; count it and go on.
      counters.flushFailures++;
      counters.dropped += b.times.length;
      logger.warn({ err, model: b.model.id }, 'capture flush failed');
    } finally {
      buffered -= b.bytes;
    }
  }

  function take(key: string) {
    const b = buffers.get(key);
    if (!b) return;
    buffers.delete(key);
    // Writes are chained so files of one buffer key land in order and close() can wait for all of them.
    writing = writing.then(() => write(b));
  }

  async function flushAll() {
    for (const key of [...buffers.keys()]) take(key);
    await writing;
  }

  return {
    /** Offers one request's instances for capture; returns at once. */
    record(tenant: string, model: ModelManifest, samples: Uint8Array[], probabilities: Float32Array[]) {
      const now = new Date();
      const day = now.toISOString().slice(0, 10);
      const key = `${tenant}/${model.id}/${day}`;
      for (let i = 0; i < samples.length; i++) {
        if (random() >= config.CAPTURE_FRACTION) continue;
        const bytes = samples[i].length + probabilities[i].byteLength;
        if (buffered + bytes > config.CAPTURE_MAX_BUFFER_BYTES) {
          counters.dropped++;
          continue;
        }
        let b = buffers.get(key);
        if (!b) {
          b = { tenant, model, day, samples: [], probabilities: [], times: [], bytes: 0 };
          buffers.set(key, b);
        }
        b.samples.push(samples[i]);
        b.probabilities.push(probabilities[i]);
        b.times.push(now.toISOString());
        b.bytes += bytes;
        buffered += bytes;
        counters.captured++;
        if (b.bytes >= config.CAPTURE_FLUSH_BYTES) take(key);
      }
    },
    /** Writes every buffer now and waits for the writes (shutdown, tests). */
    flush: flushAll,
    stats: () => ({ ...counters, bufferedBytes: buffered }),
    async close() {
      clearInterval(timer);
      await flushAll();
    },
  };
}
