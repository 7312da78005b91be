import { describe, expect, it } from 'vitest';
import { Overloaded, Unavailable } from '../../../src/errors.js';
import { createBatcher, type BatcherOptions } from '../../../src/prediction/batcher.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
/** Lets settled passes hand over to the next one (promise callbacks and the next event-loop turn). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

const options = (overrides: Partial<BatcherOptions> = {}): BatcherOptions => ({
  maxBatchSize: 8,
  maxWaitMicros: 0,
  maxQueuedInstances: 10_000,
  ...overrides,
});

/** A model that doubles numbers after a delay, recording each batch and how many passes ever overlapped. */
function doublingModel(delayMs = 0) {
  const batches: number[][] = [];
  let active = 0;
  let mostActive = 0;
  async function run(batch: number[]): Promise<number[]> {
    batches.push([...batch]);
    active += 1;
    mostActive = Math.max(mostActive, active);
    await sleep(delayMs);
    active -= 1;
    return batch.map((x) => x * 2);
  }
  return { run, batches, mostActive: () => mostActive };
}

/** A model whose passes finish only when the test says so, making grouping deterministic. */
function gatedModel() {
  const passes: { batch: number[]; finish(): void }[] = [];
  function run(batch: number[]): Promise<number[]> {
    return new Promise((resolve) => passes.push({ batch, finish: () => resolve(batch.map((x) => x * 2)) }));
  }
  return { run, passes, sizes: () => passes.map((p) => p.batch.length) };
}

/** Deterministic pseudo-random integers in [1, max] (mulberry32). */
function randomSizes(count: number, max: number, seed = 7): number[] {
  let a = seed;
  return Array.from({ length: count }, () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return 1 + Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * max);
  });
}

/** Request r's instances are r·1000 + i, so any mix-up between callers shows in the outputs. */
const instancesOf = (request: number, size: number) => Array.from({ length: size }, (_, i) => request * 1000 + i);

describe('micro-batcher: correctness under concurrency', () => {
  const sizes = randomSizes(200, 12);

  it('gives each of 200 concurrent callers exactly its own outputs, in order', async () => {
    const model = doublingModel(2);
    const batcher = createBatcher(model.run, options());
    const results = await Promise.all(sizes.map((size, r) => batcher.submit(instancesOf(r, size))));
    results.forEach((outputs, r) => expect(outputs).toEqual(instancesOf(r, sizes[r]).map((x) => x * 2)));
  });

  it('never runs more than maxBatchSize instances, nor two passes at once', async () => {
    const model = doublingModel(2);
    const batcher = createBatcher(model.run, options({ maxBatchSize: 8 }));
    await Promise.all(sizes.map((size, r) => batcher.submit(instancesOf(r, size))));
    expect(Math.max(...model.batches.map((b) => b.length))).toBeLessThanOrEqual(8);
    expect(batcher.stats().maxBatchSeen).toBeLessThanOrEqual(8);
    expect(model.mostActive()).toBe(1);
    expect(batcher.stats().instances).toBe(sizes.reduce((a, b) => a + b, 0));
  });

  it('groups requests that arrive while the runner is busy into fewer passes than requests', async () => {
    const model = doublingModel(20);
    const batcher = createBatcher(model.run, options({ maxBatchSize: 16 }));
    await Promise.all(Array.from({ length: 50 }, (_, r) => batcher.submit([r])));
    // The first request runs alone; the 49 queued behind it fill passes of 16, 16, 16 and 1.
    expect(model.batches.map((b) => b.length)).toEqual([1, 16, 16, 16, 1]);
    expect(batcher.stats().batches).toBe(5);
  });

  it('keeps requests whole and in arrival order within and across passes', async () => {
    const model = gatedModel();
    const batcher = createBatcher(model.run, options({ maxBatchSize: 5 }));
    const first = batcher.submit([1]);
    const rest = [batcher.submit([2, 3]), batcher.submit([4, 5]), batcher.submit([6, 7])];
    model.passes[0].finish();
    await settle();
    // [6, 7] would not fit beside [2, 3] and [4, 5], so it waits for the next pass rather than being split.
    expect(model.passes[1].batch).toEqual([2, 3, 4, 5]);
    model.passes[1].finish();
    await settle();
    expect(model.passes[2].batch).toEqual([6, 7]);
    model.passes[2].finish();
    expect(await Promise.all([first, ...rest])).toEqual([[2], [4, 6], [8, 10], [12, 14]]);
  });
});

describe('micro-batcher: waiting for company (maxWaitMicros)', () => {
  it('holds a lone request about maxWaitMicros before running it', async () => {
    const startedAt: number[] = [];
    const batcher = createBatcher(
      async (batch: number[]) => {
        startedAt.push(performance.now());
        return batch;
      },
      options({ maxWaitMicros: 60_000 }),
    );
    const submittedAt = performance.now();
    await batcher.submit([1]);
    const waited = startedAt[0] - submittedAt;
    expect(waited).toBeGreaterThanOrEqual(55); // timers may fire up to a millisecond early
    expect(waited).toBeLessThan(1_000);
  });

  it('runs a full batch at once without waiting', async () => {
    const model = gatedModel();
    const batcher = createBatcher(model.run, options({ maxBatchSize: 4, maxWaitMicros: 60_000_000 }));
    const pending = [batcher.submit([1, 2]), batcher.submit([3, 4])];
    expect(model.sizes()).toEqual([4]);
    model.passes[0].finish();
    expect(await Promise.all(pending)).toEqual([
      [2, 4],
      [6, 8],
    ]);
  });

  it('puts requests that arrive during the wait into the same pass', async () => {
    const model = doublingModel();
    const batcher = createBatcher(model.run, options({ maxWaitMicros: 40_000 }));
    const first = batcher.submit([1]);
    await sleep(5);
    const second = batcher.submit([2]);
    await Promise.all([first, second]);
    expect(model.batches).toEqual([[1, 2]]);
  });

  it('does not wait after a pass: what queued meanwhile runs as soon as the runner is free', async () => {
    const model = gatedModel();
    const batcher = createBatcher(model.run, options({ maxWaitMicros: 60_000_000, maxBatchSize: 2 }));
    const pending = [batcher.submit([1, 2]), batcher.submit([3])];
    model.passes[0].finish();
    await settle();
    expect(model.sizes()).toEqual([2, 1]);
    model.passes[1].finish();
    await Promise.all(pending);
  });
});

describe('micro-batcher: requests larger than maxBatchSize', () => {
  it('splits the request across consecutive passes and reassembles its outputs in order', async () => {
    const model = doublingModel(1);
    const batcher = createBatcher(model.run, options({ maxBatchSize: 4 }));
    const instances = instancesOf(3, 10);
    expect(await batcher.submit(instances)).toEqual(instances.map((x) => x * 2));
    expect(model.batches.map((b) => b.length)).toEqual([4, 4, 2]);
  });

  it('lets the last, shorter piece share a pass with the requests behind it', async () => {
    const model = gatedModel();
    const batcher = createBatcher(model.run, options({ maxBatchSize: 4 }));
    const big = batcher.submit(instancesOf(1, 10));
    const small = batcher.submit([7, 8]);
    for (let pass = 0; pass < 3; pass++) {
      model.passes[pass].finish();
      await settle();
    }
    expect(model.sizes()).toEqual([4, 4, 4]);
    expect(model.passes[2].batch).toEqual([1008, 1009, 7, 8]);
    expect(await big).toEqual(instancesOf(1, 10).map((x) => x * 2));
    expect(await small).toEqual([14, 16]);
  });
});

describe('micro-batcher: back-pressure', () => {
  it('rejects with Overloaded (429, Retry-After ≥ 1 s) beyond maxQueuedInstances while queued requests complete', async () => {
    const model = gatedModel();
    const batcher = createBatcher(model.run, options({ maxBatchSize: 8, maxQueuedInstances: 8 }));
    const running = batcher.submit([1, 2, 3, 4]); // starts at once, so it is no longer queued
    const queued = batcher.submit(instancesOf(2, 8)); // fills the queue exactly
    const refused = await batcher.submit([9]).catch((err: unknown) => err);

    expect(refused).toBeInstanceOf(Overloaded);
    const overloaded = refused as Overloaded;
    expect(overloaded.status).toBe(429);
    expect(overloaded.type).toBe('overloaded');
    expect(overloaded.title).toBe('Too many requests');
    expect(Number.isInteger(overloaded.retryAfterSeconds)).toBe(true);
    expect(overloaded.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(batcher.stats()).toMatchObject({ queuedInstances: 8, rejected: 1 });

    model.passes[0].finish();
    await settle();
    model.passes[1].finish();
    expect(await running).toEqual([2, 4, 6, 8]);
    expect(await queued).toEqual(instancesOf(2, 8).map((x) => x * 2));
  });

  it('rejects a request that could never fit in the queue, even when idle', async () => {
    const model = doublingModel();
    const batcher = createBatcher(model.run, options({ maxQueuedInstances: 10 }));
    await expect(batcher.submit(instancesOf(1, 11))).rejects.toBeInstanceOf(Overloaded);
    expect(model.batches).toEqual([]);
    expect(await batcher.submit(instancesOf(1, 10))).toHaveLength(10);
  });

  it('accepts again once the queue has drained', async () => {
    const model = gatedModel();
    const batcher = createBatcher(model.run, options({ maxQueuedInstances: 2 }));
    const first = batcher.submit([1]);
    const second = batcher.submit([2, 3]);
    await expect(batcher.submit([4])).rejects.toBeInstanceOf(Overloaded);
    model.passes[0].finish();
    await settle();
    const third = batcher.submit([4]);
    model.passes[1].finish();
    await settle();
    model.passes[2].finish();
    expect(await Promise.all([first, second, third])).toEqual([[2], [4, 6], [8]]);
  });
});

describe('micro-batcher: failures', () => {
  it('rejects only the requests in the pass whose run threw', async () => {
    const poison = -1;
    const batcher = createBatcher(async (batch: number[]) => {
      await sleep(5);
      if (batch.includes(poison)) throw new Error('the model failed');
      return batch.map((x) => x * 2);
    }, options({ maxBatchSize: 4 }));
    const before = batcher.submit([1]); // runs alone
    const sameBatch = [batcher.submit([2]), batcher.submit([poison])]; // queued together behind it
    await expect(before).resolves.toEqual([2]);
    for (const request of sameBatch) await expect(request).rejects.toThrow('the model failed');
    await expect(batcher.submit([3])).resolves.toEqual([6]);
  });

  it('rejects the pass when run returns the wrong number of outputs', async () => {
    const batcher = createBatcher(async (batch: number[]) => batch.slice(1), options());
    await expect(batcher.submit([1, 2, 3])).rejects.toThrow('returned 2 outputs for a batch of 3 instances');
  });

  it('drops the unrun pieces of a split request whose first piece failed', async () => {
    const calls: number[] = [];
    const batcher = createBatcher(async (batch: number[]) => {
      calls.push(batch.length);
      throw new Error('out of memory');
    }, options({ maxBatchSize: 4 }));
    await expect(batcher.submit(instancesOf(1, 12))).rejects.toThrow('out of memory');
    await settle();
    expect(calls).toEqual([4]);
    expect(batcher.stats().queuedInstances).toBe(0);
  });
});

describe('micro-batcher: close', () => {
  it('waits for queued work, then rejects new submits with a clear error', async () => {
    const model = doublingModel(5);
    const batcher = createBatcher(model.run, options({ maxBatchSize: 2 }));
    const settled: number[] = [];
    const pending = [1, 2, 3, 4, 5].map((r) => batcher.submit([r]).then(() => settled.push(r)));
    await batcher.close();
    expect(settled.sort()).toEqual([1, 2, 3, 4, 5]);
    await Promise.all(pending);
    const refused = await batcher.submit([6]).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(Unavailable);
    expect((refused as Error).message).toMatch(/shutting down/);
  });

  it('runs a waiting request at once instead of waiting out maxWaitMicros, leaving no timer behind', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
    const before = timers();
    const batcher = createBatcher(async (batch: number[]) => batch, options({ maxWaitMicros: 60_000_000 }));
    const pending = batcher.submit([1]);
    expect(timers()).toBe(before + 1);
    await batcher.close();
    expect(await pending).toEqual([1]);
    expect(timers()).toBe(before);
  });
});

describe('micro-batcher: options', () => {
  it('refuses sizes that could never form a pass', () => {
    const run = async (batch: number[]) => batch;
    expect(() => createBatcher(run, options({ maxBatchSize: 0 }))).toThrow(RangeError);
    expect(() => createBatcher(run, options({ maxQueuedInstances: 0.5 }))).toThrow(RangeError);
    expect(() => createBatcher(run, options({ maxWaitMicros: -1 }))).toThrow(RangeError);
    expect(() => createBatcher(run, options({ maxConcurrentPasses: 0 }))).toThrow(RangeError);
  });
});

describe('micro-batcher: several runners (maxConcurrentPasses)', () => {
  it('runs up to maxConcurrentPasses passes at once and never more, each caller getting its own outputs', async () => {
    const model = doublingModel(3);
    const batcher = createBatcher(model.run, options({ maxBatchSize: 4, maxConcurrentPasses: 3 }));
    const sizes = randomSizes(120, 6, 11);
    const results = await Promise.all(sizes.map((n, r) => batcher.submit(instancesOf(r, n))));
    results.forEach((out, r) => expect(out).toEqual(instancesOf(r, sizes[r]).map((x) => x * 2)));
    expect(model.mostActive()).toBe(3);
    expect(Math.max(...model.batches.map((b) => b.length))).toBeLessThanOrEqual(4);
  });

  it('starts a second pass for a request that arrives while the first runs, without waiting for it', async () => {
    const model = gatedModel();
    const batcher = createBatcher(model.run, options({ maxConcurrentPasses: 2 }));
    const first = batcher.submit([1]);
    await settle();
    const second = batcher.submit([2, 3]);
    await settle();
    expect(model.sizes()).toEqual([1, 2]);
    const third = batcher.submit([4]);
    await settle();
    expect(model.sizes()).toEqual([1, 2]); // both runners busy: the third waits
    model.passes[1].finish();
    await expect(second).resolves.toEqual([4, 6]);
    await settle();
    expect(model.sizes()).toEqual([1, 2, 1]);
    model.passes[0].finish();
    model.passes[2].finish();
    await expect(Promise.all([first, third])).resolves.toEqual([[2], [8]]);
  });

  it('fills every free runner at once from a backlog larger than one pass', async () => {
    const model = gatedModel();
    const batcher = createBatcher(model.run, options({ maxBatchSize: 2, maxWaitMicros: 50_000, maxConcurrentPasses: 3 }));
    const all = [1, 2, 3, 4, 5, 6, 7].map((x) => batcher.submit([x]));
    await settle();
    // 7 queued with 50 ms of wait: the first full batch starts at once and pulls the next two runners along.
    expect(model.sizes()).toEqual([2, 2, 2]);
    model.passes.forEach((p) => p.finish());
    await settle();
    expect(model.sizes()).toEqual([2, 2, 2, 1]);
    model.passes[3].finish();
    await expect(Promise.all(all)).resolves.toEqual([2, 4, 6, 8, 10, 12, 14].map((x) => [x]));
    await batcher.close();
  });
});
