import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRng } from '../../../src/data/random.js';
import { ARCHITECTURE_PRESETS, buildModel } from '../../../src/models/architecture.js';
import { selectBackend } from '../../../src/models/backend.js';
import { createInferencePool, killThreadForTest, type InferencePool } from '../../../src/prediction/inference-pool.js';
import { planFromLayers, type MemberPlan } from '../../../src/prediction/plan.js';
import { createEnsembleRunner } from '../../../src/prediction/runtime.js';

const shape = { height: 28, width: 28, channels: 1, numClasses: 10 };
const size = 28 * 28;

function batch(n: number, seed: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n * size }, () => rng());
}

describe('inference pool', () => {
  let plans: MemberPlan[];
  let pool: InferencePool;

  beforeAll(async () => {
    await selectBackend('wasm');
    const models = [1, 2].map((s) => buildModel(ARCHITECTURE_PRESETS.small, shape, s));
    plans = models.map(planFromLayers);
    models.forEach((m) => m.dispose());
    pool = await createInferencePool({ threads: 2, backend: 'wasm' });
    await pool.load('t/mdl_a', plans);
  });
  afterAll(() => pool.close());

  it('answers in threads exactly what the same plans answer inline', async () => {
    const inline = createEnsembleRunner(plans);
    const want = inline.run(batch(3, 1), 3);
    inline.dispose();
    const got = await pool.run('t/mdl_a', batch(3, 1), 3);
    expect(got.out.length).toBe(2 * 3 * 10);
    expect(Array.from(got.out)).toEqual(Array.from(want));
    expect(got.ms).toBeGreaterThan(0);
  });

  it('gives each of many concurrent passes its own result, spread over both threads', async () => {
    const runs = Array.from({ length: 12 }, (_, i) => pool.run('t/mdl_a', batch(1 + (i % 3), i), 1 + (i % 3)));
    expect(pool.stats().outstanding).toBe(12);
    const results = await Promise.all(runs);
    const inline = createEnsembleRunner(plans);
    results.forEach((r, i) => expect(Array.from(r.out)).toEqual(Array.from(inline.run(batch(1 + (i % 3), i), 1 + (i % 3)))));
    inline.dispose();
  });

  it('fails a pass for an unknown model with a clear error, and keeps serving', async () => {
    await expect(pool.run('t/mdl_missing', batch(1, 0), 1)).rejects.toThrow(/not loaded/);
    await expect(pool.run('t/mdl_a', batch(1, 0), 1)).resolves.toBeDefined();
  });

  it('replaces a thread that dies, fails only its outstanding passes, and reloads its models', async () => {
    const before = pool.stats().restarts;
    const inFlight = pool.run('t/mdl_a', batch(256, 5), 256);
    await killThreadForTest(pool, 0);
    const settled = await inFlight.then(() => 'ok', (err: Error) => err.message);
    // The pass went to thread 0 (both idle, first wins) and died with it.
    expect(settled).toMatch(/inference thread 0 exited/);
    expect(pool.stats().restarts).toBe(before + 1);
    const after = await Promise.all([1, 2, 3, 4].map((i) => pool.run('t/mdl_a', batch(1, i), 1)));
    expect(after).toHaveLength(4);
  });

  it('unloads, after which passes for that model fail', async () => {
    await pool.load('t/mdl_b', plans.slice(0, 1));
    expect((await pool.run('t/mdl_b', batch(1, 1), 1)).out.length).toBe(10);
    await pool.unload('t/mdl_b');
    await expect(pool.run('t/mdl_b', batch(1, 1), 1)).rejects.toThrow(/not loaded/);
  });

  it('inline pools run on the calling thread and leave no tensors behind', async () => {
    const inline = await createInferencePool({ threads: 0, backend: 'wasm' });
    const tensors = tf.memory().numTensors;
    await inline.load('k', plans);
    expect((await inline.run('k', batch(2, 3), 2)).out.length).toBe(40);
    await inline.close();
    expect(tf.memory().numTensors).toBe(tensors);
    await expect(killThreadForTest(inline, 0)).rejects.toThrow(/no threads/);
  });
});
