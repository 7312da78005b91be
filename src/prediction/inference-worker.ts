/**
 * Entry of an inference thread: selects the backend it is told to, keeps the ensembles it is sent, and runs forward
 * passes on request, so the API's event loop keeps decoding images and answering HTTP meanwhile. Messages are
 * answered in the order they arrive; every reply carries the id of its request.
 */
import { parentPort, workerData, type TransferListItem } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend, type BackendPreference } from '../models/backend.js';
import type { MemberPlan } from './plan.js';
import { createEnsembleRunner, type EnsembleRunner } from './runtime.js';

/** What the pool asks of a thread; the pool adds the request id. */
export type WorkerCommand =
  | { type: 'load'; key: string; plans: MemberPlan[] }
  | { type: 'unload'; key: string }
  | { type: 'run'; key: string; x: Float32Array; n: number };
export type WorkerRequest = WorkerCommand & { id: number };

/** A successful answer; `out` and `ms` come with runs. `tensors` is the thread's live tensor count, for leak checks. */
export interface WorkerDone {
  id: number;
  ok: true;
  out?: Float32Array;
  ms?: number;
  tensors: number;
}
export type WorkerReply = WorkerDone | { id: number; ok: false; error: string } | { id: 0; ok: true; ready: string };

const port = parentPort;
if (!port) throw new Error('inference-worker.ts runs only as a worker thread');
const { backend } = workerData as { backend: BackendPreference };
const runners = new Map<string, EnsembleRunner>();
const ready = selectBackend(backend).then((info) => {
  port.postMessage({ id: 0, ok: true, ready: info.name } satisfies WorkerReply);
});

port.on('message', (msg: WorkerRequest) => {
  void ready.then(() => port.postMessage(...handle(msg)));
});

function handle(msg: WorkerRequest): [WorkerReply, TransferListItem[]?] {
  try {
    switch (msg.type) {
      case 'load':
        runners.get(msg.key)?.dispose();
        runners.set(msg.key, createEnsembleRunner(msg.plans));
        return [{ id: msg.id, ok: true, tensors: tf.memory().numTensors }];
      case 'unload':
        runners.get(msg.key)?.dispose();
        runners.delete(msg.key);
        return [{ id: msg.id, ok: true, tensors: tf.memory().numTensors }];
      case 'run': {
        const runner = runners.get(msg.key);
        if (!runner) throw new Error(`model ${msg.key} is not loaded in this inference thread`);
        const started = performance.now();
        // A copy the reply can hand over whole, whatever kind of array the backend returned.
        const out = Float32Array.from(runner.run(msg.x, msg.n));
        return [{ id: msg.id, ok: true, out, ms: performance.now() - started, tensors: tf.memory().numTensors }, [out.buffer]];
      }
    }
  } catch (err) {
    return [{ id: msg.id, ok: false, error: err instanceof Error ? err.message : String(err) }];
  }
}
