import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fashionSubset, type Subset } from '../fixtures/fashion.js';
import { uploadSubset, untilFinished } from '../harness/resources.js';
import { startTestService, type TestService } from '../harness/service.js';

let svc: TestService;
const json = (body: unknown) => ({ method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });



async function train(body: Record<string, unknown>): Promise<any> {
  const res = await svc.request('/v1/training-jobs', json(body));
  expect(res.status).toBe(202);
  return untilFinished(svc, `/v1/training-jobs/${((await res.json()) as any).id}`);
}

/** Images of Fashion-MNIST's training set, `perClass[k]` of class k. */
function byClass(perClass: number[], offset = 0): Subset {
  const pool = fashionSubset(6000, { set: 'train', offset });
  const picked = perClass.flatMap((n, k) => Array.from({ length: pool.count }, (_, i) => i).filter((i) => pool.labels[i] === k).slice(0, n));
  const pixels = new Uint8Array(picked.length * 784);
  picked.forEach((src, i) => pixels.set(pool.pixels.subarray(src * 784, (src + 1) * 784), i * 784));
  return { count: picked.length, pixels, labels: Uint8Array.from(picked, (i) => pool.labels[i]) };
}

const rules = (findings: any[]) => findings.map((f) => f.rule);

beforeAll(async () => {
  svc = await startTestService({ env: { TRAIN_CONCURRENCY: '2' } });
}, 120_000);
afterAll(async () => {
  await svc?.close();
});

describe('the diagnosis on real runs', () => {
  it('calls a run made to overfit overfitting, with the epochs and gap as evidence', async () => {
    // 12 training images per class, a wide head, no dropout, no early stopping, many epochs: memorisation.
    const datasetId = await uploadSubset(svc, byClass(new Array(10).fill(24)), '0.5,0.5,0');
    const job = await train({
      datasetId,
      architecture: { blocks: [{ filters: 16, batchNorm: false, dropout: 0 }], dense: [256], denseDropout: 0, l2: 0 },
      training: { epochs: 14, batchSize: 16, schedule: { type: 'constant' }, earlyStopping: { enabled: false } },
      ensemble: { members: 2 },
    });
    expect(job.status).toBe('succeeded');
    const finding = job.findings.find((f: any) => f.rule === 'overfitting');
    expect(finding, JSON.stringify(job.findings)).toBeDefined();
    expect(finding.evidence.gap).toBeGreaterThan(0.1);
    expect(finding.evidence.trainLoss).toBeLessThan(finding.evidence.lastValLoss);
    expect(finding.evidence.trainAccuracy).toBeGreaterThan(finding.evidence.valAccuracy);
    expect(finding.nextStep).toMatch(/augmentation/);
  }, 600_000);

  it('calls a run that diverged a learning rate that is too high', async () => {
    const datasetId = await uploadSubset(svc, byClass(new Array(10).fill(20), 6000), '0.8,0.2,0');
    const job = await train({ datasetId, training: { epochs: 2, optimizer: 'sgd', learningRate: 5000, momentum: 0.9 }, ensemble: { members: 2 } });
    expect(job.status).toBe('failed');
    const finding = job.findings.find((f: any) => f.rule === 'learning-rate-too-high');
    expect(finding, JSON.stringify(job.findings)).toBeDefined();
    expect(finding.severity).toBe('critical');
    expect(finding.evidence.learningRate).toBe(5000);
  }, 300_000);

  it('finds the class imbalance in an evaluation of a model trained on imbalanced data', async () => {
    // Trousers 30× more common than bags; the evaluation set is balanced.
    const counts = [60, 300, 60, 60, 60, 60, 60, 60, 10, 60];
    const datasetId = await uploadSubset(svc, byClass(counts, 12_000), '0.8,0.2,0');
    const job = await train({ datasetId, training: { epochs: 1, classWeights: 'none' }, ensemble: { members: 2 } });
    expect(job.status).toBe('succeeded');
    expect(rules(job.findings)).toContain('class-imbalance');
    const balanced = await uploadSubset(svc, byClass(new Array(10).fill(20), 30_000), '1,0,0');
    const res = await svc.request('/v1/evaluations', json({ modelId: job.modelId, datasetId: balanced, split: 'all' }));
    const evaluation = await untilFinished(svc, `/v1/evaluations/${((await res.json()) as any).id}`);
    expect(evaluation.status).toBe('ready');
    const finding = evaluation.findings.find((f: any) => f.rule === 'class-imbalance');
    expect(finding, JSON.stringify(evaluation.findings)).toBeDefined();
    expect(finding.evidence.imbalanceRatio).toBeCloseTo(30, 0);
    expect(finding.evidence.minorityClass).toBe('Bag');
  }, 600_000);
});
