/**
 * Forward passes off the event loop: a fixed set of inference threads, each holding every loaded ensemble (weights
 * are small next to a thread's runtime) and running one pass at a time. A pass goes to the thread with the fewest
 * passes outstanding. A thread that dies fails only its own outstanding passes and is replaced, with the loaded
 * ensembles sent to its successor. With `threads: 0` the passes run inline on the calling thread: the choice for
 * the native tensorflow backend, which has its own thread pool and cannot be loaded into several threads.
 */
import { Worker, type TransferListItem } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import type { BackendPreference } from '../models/backend.js';
import type { MemberPlan } from './plan.js';
import { createEnsembleRunner, type EnsembleRunner } from './runtime.js';
import type { WorkerCommand, WorkerDone, WorkerReply } from './inference-worker.js';

const KILL = Symbol('kill');

export interface PassResult {
  /** M × n × K member-major probabilities (see EnsembleRunner.run). */
  out: Float32Array;
  /** Milliseconds the forward pass itself took, queueing in the thread excluded. */
  ms: number;
}

export interface InferencePool {
  /** Inference threads; 0 means inline. */
  readonly threads: number;
  load(key: string, plans: MemberPlan[]): Promise<void>;
  unload(key: string): Promise<void>;
  run(key: string, x: Float32Array, n: number): Promise<PassResult>;
  stats(): PoolStats;
  close(): Promise<void>;
}

export interface PoolStats {
  threads: number;
  /** Threads replaced after dying. */
  restarts: number;
  /** Passes sent and not yet answered. */
  outstanding: number;
  /** Live tensors in each thread (or in this thread, inline) at its last answer. */
  tensors: number[];
}

export interface PoolOptions {
  threads: number;
  /** Backend the threads select; the API thread's own choice. */
  backend: BackendPreference;
  onThreadExit?: (info: { thread: number; code: number | null; error?: string }) => void;
}

/** Creates a pool; resolves once every thread has its backend ready, so the first request pays no start-up. */
export async function createInferencePool(opts: PoolOptions): Promise<InferencePool> {
  if (!Number.isInteger(opts.threads) || opts.threads < 0) throw new RangeError(`threads must be an integer ≥ 0, got ${opts.threads}.`);
  return opts.threads === 0 ? inlinePool() : threadPool(opts);
}

function inlinePool(): InferencePool {
  const runners = new Map<string, EnsembleRunner>();
  let outstanding = 0;
  return {
    threads: 0,
    async load(key, plans) {
      runners.get(key)?.dispose();
      runners.set(key, createEnsembleRunner(plans));
    },
    async unload(key) {
      runners.get(key)?.dispose();
      runners.delete(key);
    },
    async run(key, x, n) {
      const runner = runners.get(key);
      if (!runner) throw new Error(`model ${key} is not loaded`);
      outstanding++;
      try {
        const started = performance.now();
        const out = runner.run(x, n);
        return { out, ms: performance.now() - started };
      } finally {
        outstanding--;
      }
    },
    stats: () => ({ threads: 0, restarts: 0, outstanding, tensors: [tf.memory().numTensors] }),
    async close() {
      for (const r of runners.values()) r.dispose();
      runners.clear();
    },
  };
}

interface Thread {
  index: number;
  worker: Worker;
  ready: Promise<void>;
  pending: Map<number, { resolve: (reply: WorkerDone) => void; reject: (err: Error) => void }>;
  tensors: number;
}

/** The worker entry: compiled JS in production; in development and tests, TypeScript registered through tsx. */
function workerEntry(): { file: string | URL; eval: boolean } {
  const here = fileURLToPath(import.meta.url);
  if (!here.endsWith('.ts')) return { file: new URL('./inference-worker.js', import.meta.url), eval: false };
  const target = JSON.stringify(new URL('./inference-worker.ts', import.meta.url).href);
  return { file: `import('tsx/esm/api').then(({ register }) => { register(); return import(${target}); })`, eval: true };
}

async function threadPool(opts: PoolOptions): Promise<InferencePool & { [KILL]: (i: number) => Promise<void> }> {
  const entry = workerEntry();
  const plans = new Map<string, MemberPlan[]>();
  const threads: Thread[] = [];
  let nextId = 1;
  let restarts = 0;
  let closing = false;

  function spawn(index: number): Thread {
    const worker = new Worker(entry.file, { eval: entry.eval, workerData: { backend: opts.backend } });
    let markReady!: () => void;
    let failStart!: (err: Error) => void;
    const thread: Thread = {
      index,
      worker,
      ready: new Promise<void>((resolve, reject) => {
        markReady = resolve;
        failStart = reject;
      }),
      pending: new Map(),
      tensors: 0,
    };
    thread.ready.catch(() => undefined); // a start failure is reported to whoever awaits it
    worker.on('message', (reply: WorkerReply) => {
      if ('ready' in reply) return markReady();
      const waiter = thread.pending.get(reply.id);
      if (!waiter) return;
      thread.pending.delete(reply.id);
      if (reply.ok) thread.tensors = reply.tensors;
      if (reply.ok) waiter.resolve(reply);
      else waiter.reject(new Error(reply.error));
    });
    let lastError: string | undefined;
    worker.on('error', (err) => {
      lastError = err.message;
    });
    worker.on('exit', (code) => {
      const reason = new Error(`inference thread ${index} exited (code ${code})${lastError ? `: ${lastError}` : ''}`);
      failStart(reason);
      for (const waiter of thread.pending.values()) waiter.reject(reason);
      thread.pending.clear();
      if (closing) return;
      opts.onThreadExit?.({ thread: index, code, error: lastError });
      restarts++;
      const successor = spawn(index);
      threads[index] = successor;
      for (const [key, p] of plans) void send(successor, { type: 'load', key, plans: p }).catch(() => undefined);
    });
    return thread;
  }

  function send(thread: Thread, msg: WorkerCommand, transfer: TransferListItem[] = []): Promise<WorkerDone> {
    const id = nextId++;
    return new Promise((resolve, reject) => {
      thread.pending.set(id, { resolve, reject });
      thread.worker.postMessage({ ...msg, id }, transfer);
    });
  }

  for (let i = 0; i < opts.threads; i++) threads.push(spawn(i));
  await Promise.all(threads.map((t) => t.ready));

  return {
    threads: opts.threads,
    async load(key, memberPlans) {
      plans.set(key, memberPlans);
      await Promise.all(threads.map((t) => send(t, { type: 'load', key, plans: memberPlans })));
    },
    async unload(key) {
      plans.delete(key);
      await Promise.all(threads.map((t) => send(t, { type: 'unload', key }).catch(() => undefined)));
    },
    async run(key, x, n) {
      let best = threads[0];
      for (const t of threads) if (t.pending.size < best.pending.size) best = t;
      const reply = await send(best, { type: 'run', key, x, n }, [x.buffer as ArrayBuffer]);
      return { out: reply.out!, ms: reply.ms! };
    },
    [KILL]: async (i: number) => {
      await threads[i].worker.terminate();
    },
    stats: () => ({
      threads: threads.length,
      restarts,
      outstanding: threads.reduce((s, t) => s + t.pending.size, 0),
      tensors: threads.map((t) => t.tensors),
    }),
    async close() {
      closing = true;
      await Promise.all(threads.map((t) => t.worker.terminate()));
      plans.clear();
    },
  };
}

/** Test hook: ends one thread abruptly, as a crash in native code would. */
export async function killThreadForTest(pool: InferencePool, index: number): Promise<void> {
  const kill = (pool as InferencePool & { [KILL]?: (i: number) => Promise<void> })[KILL];
  if (!kill) throw new Error('inline pools have no threads');
  await kill(index);
}
