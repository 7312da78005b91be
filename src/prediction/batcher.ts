/**
 * Dynamic micro-batching for one model: concurrent requests are queued and run together in one forward pass,
 * the way TensorFlow Serving's batching (`max_batch_size`, `batch_timeout_micros`, `max_enqueued_batches`) and
 * Triton's dynamic batcher (`max_queue_delay_microseconds`, `max_queue_size`) do. Only the forward pass goes
 * through here; decoding and preprocessing stay per request.
 *
 * Requests are served first in, first out and never reordered, so a small request cannot starve a large one.
 * A pass holds whole requests, except that a request larger than maxBatchSize is cut into consecutive passes of
 * maxBatchSize (its last, shorter piece may share a pass with the requests behind it) and reassembled.
 */
import { Overloaded, Unavailable } from '../errors.js';


export interface BatcherOptions {
  /** Most instances in one forward pass. */
  maxBatchSize: number;
  /** How long the first queued instance may wait for others while the runner is idle; 0 runs at once. */
  maxWaitMicros: number;
  /** Most instances waiting for a pass (those running are not counted); beyond it submit() rejects with Overloaded. */
  maxQueuedInstances: number;
  /** Passes that may run at once (one per inference thread); 1 by default. */
  maxConcurrentPasses?: number;
}

export interface BatcherStats {
  /** Instances waiting for a pass. */
  queuedInstances: number;
  /** Forward passes started, failed ones included. */
  batches: number;
  /** Instances sent to forward passes. */
  instances: number;
  /** Submits refused with Overloaded. */
  rejected: number;
  /** Largest forward pass so far. */
  maxBatchSeen: number;
}

export interface Batcher<I, O> {
  /** Queues a request's instances; resolves with exactly its own outputs, in order. */
  submit(instances: I[]): Promise<O[]>;
  /** Counters for metrics and tests. */
  stats(): BatcherStats;
  /** Stops accepting requests (new ones reject with Unavailable) and resolves once queued work has run. */
  close(): Promise<void>;
}

interface Pending<I, O> {
  instances: I[];
  outputs: O[];
  /** Instances already handed to a pass. */
  dispatched: number;
  /** Instances whose outputs have come back. */
  completed: number;
  failed: boolean;
  resolve(outputs: O[]): void;
  reject(err: unknown): void;
}

/** A contiguous slice of one request inside a pass. */
interface Part<I, O> {
  request: Pending<I, O>;
  start: number;
  count: number;
}

/** Weight of the newest pass in the moving average of pass durations used for Retry-After. */
const DURATION_SMOOTHING = 0.2;

/** Creates a batcher that calls `run` one batch at a time; `run` must return one output per input, in order. */
export function createBatcher<I, O>(run: (batch: I[]) => Promise<O[]>, opts: BatcherOptions): Batcher<I, O> {
  checkOptions(opts);
  const { maxBatchSize, maxWaitMicros, maxQueuedInstances } = opts;
  const maxConcurrentPasses = opts.maxConcurrentPasses ?? 1;
  const queue: Pending<I, O>[] = [];
  const counters: BatcherStats = { queuedInstances: 0, batches: 0, instances: 0, rejected: 0, maxBatchSeen: 0 };
  let running = 0;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let averagePassMs: number | undefined;
  let drained: Promise<void> | undefined;
  let onDrained: (() => void) | undefined;

  function retryAfterSeconds(): number {
    const passes = Math.ceil(counters.queuedInstances / maxBatchSize) + running;
    return Math.max(1, Math.ceil((passes * (averagePassMs ?? 0)) / maxConcurrentPasses / 1000));
  }

  /** Starts a pass now if a runner is free, or arms the wait timer when a pass should wait for company. */
  function schedule(): void {
    if (running >= maxConcurrentPasses || queue.length === 0) return;
    if (closed || maxWaitMicros === 0 || counters.queuedInstances >= maxBatchSize) return startPass();
    // setTimeout has millisecond resolution; a shorter wait rounds up to 1 ms.
    timer ??= setTimeout(startPass, Math.ceil(maxWaitMicros / 1000));
  }

  function startPass(): void {
    clearTimeout(timer);
    timer = undefined;
    const parts = takeBatch();
    if (parts.length === 0) return;
    const size = parts.reduce((sum, p) => sum + p.count, 0);
    counters.queuedInstances -= size;
    counters.batches += 1;
    counters.instances += size;
    counters.maxBatchSeen = Math.max(counters.maxBatchSeen, size);
    running += 1;
    void runPass(parts, size).finally(() => {
      running -= 1;
      // The next pass is formed at once from whatever queued meanwhile: the timer only applies to idle runners.
      if (queue.length > 0) return startPass();
      if (running === 0) onDrained?.();
    });
    // Another free runner takes the rest of the queue at once rather than waiting for this pass.
    if (queue.length > 0 && running < maxConcurrentPasses) startPass();
  }

  /** Takes whole requests from the head of the queue, or the next maxBatchSize slice of an oversized head. */
  function takeBatch(): Part<I, O>[] {
    const parts: Part<I, O>[] = [];
    let size = 0;
    while (queue.length > 0) {
      const request = queue[0];
      const remaining = request.instances.length - request.dispatched;
      if (size + remaining > maxBatchSize) {
        if (size === 0) parts.push(dispatch(request, maxBatchSize));
        break;
      }
      parts.push(dispatch(request, remaining));
      queue.shift();
      size += remaining;
    }
    return parts;
  }

  async function runPass(parts: Part<I, O>[], size: number): Promise<void> {
    const batch = parts.flatMap((p) => p.request.instances.slice(p.start, p.start + p.count));
    const started = performance.now();
    let outputs: O[];
    try {
      outputs = await run(batch);
      if (!Array.isArray(outputs) || outputs.length !== size) {
        const got = Array.isArray(outputs) ? `${outputs.length} outputs` : 'a non-array';
        throw new Error(`The model returned ${got} for a batch of ${size} instances.`);
      }
    } catch (err) {
      parts.forEach((p) => fail(p.request, err));
      return;
    } finally {
      const ms = performance.now() - started;
      averagePassMs = averagePassMs === undefined ? ms : averagePassMs + DURATION_SMOOTHING * (ms - averagePassMs);
    }
    let offset = 0;
    for (const { request, start, count } of parts) {
      for (let i = 0; i < count; i++) request.outputs[start + i] = outputs[offset + i];
      offset += count;
      request.completed += count;
      if (request.completed === request.instances.length) request.resolve(request.outputs);
    }
  }

  /** Rejects a request and drops any of its instances still queued, so a failed request costs no further passes. */
  function fail(request: Pending<I, O>, err: unknown): void {
    if (request.failed) return;
    request.failed = true;
    request.reject(err);
    const undispatched = request.instances.length - request.dispatched;
    if (undispatched > 0) {
      // Only the head can be partly dispatched: requests are taken in order and split only at the head.
      queue.splice(queue.indexOf(request), 1);
      counters.queuedInstances -= undispatched;
      request.dispatched = request.instances.length;
    }
  }

  return {
    submit(instances) {
      if (closed) {
        return Promise.reject(new Unavailable('This model is shutting down and accepts no more predictions; retry.'));
      }
      if (instances.length === 0) return Promise.resolve([]);
      if (counters.queuedInstances + instances.length > maxQueuedInstances) {
        counters.rejected += 1;
        const detail =
          instances.length > maxQueuedInstances
            ? `A request may hold at most ${maxQueuedInstances} instances; send ${instances.length} as smaller requests.`
            : 'The model has more queued predictions than it accepts; retry after the time in Retry-After.';
        return Promise.reject(new Overloaded(detail, retryAfterSeconds()));
      }
      return new Promise<O[]>((resolve, reject) => {
        const outputs = new Array<O>(instances.length);
        queue.push({ instances, outputs, dispatched: 0, completed: 0, failed: false, resolve, reject });
        counters.queuedInstances += instances.length;
        schedule();
      });
    },

    stats: () => ({ ...counters }),

    close() {
      closed = true;
      drained ??= new Promise<void>((resolve) => {
        onDrained = resolve;
        if (running === 0 && queue.length === 0) resolve();
      });
      // Queued work runs now rather than waiting out maxWaitMicros.
      schedule();
      return drained;
    },
  };
}

function dispatch<I, O>(request: Pending<I, O>, count: number): Part<I, O> {
  const part = { request, start: request.dispatched, count };
  request.dispatched += count;
  return part;
}

function checkOptions({ maxBatchSize, maxWaitMicros, maxQueuedInstances, maxConcurrentPasses = 1 }: BatcherOptions): void {
  if (!Number.isInteger(maxConcurrentPasses) || maxConcurrentPasses < 1) {
    throw new RangeError(`maxConcurrentPasses must be a positive integer, got ${maxConcurrentPasses}.`);
  }
  if (!Number.isInteger(maxBatchSize) || maxBatchSize < 1) {
    throw new RangeError(`maxBatchSize must be a positive integer, got ${maxBatchSize}.`);
  }
  if (!Number.isFinite(maxWaitMicros) || maxWaitMicros < 0) {
    throw new RangeError(`maxWaitMicros must be a finite number ≥ 0, got ${maxWaitMicros}.`);
  }
  if (!Number.isInteger(maxQueuedInstances) || maxQueuedInstances < 1) {
    throw new RangeError(`maxQueuedInstances must be a positive integer, got ${maxQueuedInstances}.`);
  }
}
