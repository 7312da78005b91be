import { beforeAll, describe, expect, it } from 'vitest';
import { ARCHITECTURE_PRESETS, buildModel, checkArchitecture } from '../../../src/models/architecture.js';
import { augmentationSchema } from '../../../src/models/augment.js';
import { selectBackend } from '../../../src/models/backend.js';
import type { SplitData } from '../../../src/models/batches.js';
import { trainMember, trainingSchema } from '../../../src/models/train.js';
import { resolveRunConfig, trainingJobRequestSchema } from '../../../src/training/request.js';

describe('the fashion preset', () => {
  it('resolves to two members of the three-block network, Adam at 2e-3, batch 128, cosine, label smoothing, flips in training and at test time', () => {
    const config = resolveRunConfig(trainingJobRequestSchema.parse({ datasetId: 'ds_x', preset: 'fashion' }));
    expect(config.preset).toBe('fashion');
    expect(config.members).toBe(2);
    expect(new Set(config.seeds).size).toBe(2);
    expect(config.architecture.blocks.map((b) => b.filters)).toEqual([32, 64, 128]);
    expect(config.architecture.blocks.map((b) => b.convs)).toEqual([1, 2, 3]);
    expect(config.architecture.blocks.every((b) => b.batchNorm && b.pool === 'max')).toBe(true);
    expect(config.training).toMatchObject({ epochs: 9, batchSize: 128, optimizer: 'adam', learningRate: 2e-3, labelSmoothing: 0.1, schedule: { type: 'cosine', minLearningRate: 1e-5 } });
    // Early stopping only restores the best epoch: its patience outlasts the run.
    expect(config.training.earlyStopping.patience).toBeGreaterThan(config.training.epochs);
    expect(config.augmentation).toMatchObject({ horizontalFlip: true, shift: 0, testTimeFlip: true });
  });

  it('fits 28×28 grey images: 28→14→7→3, 575,274 parameters, as many as the built model holds', async () => {
    await selectBackend('cpu');
    // convs without bias (batch norm follows), batch norm 4 per channel: 9·1·32+4·32; 9·32·64+4·64, 9·64·64+4·64;
    // 9·64·128+4·128, 2 × (9·128·128+4·128); dense 1152·128+128, softmax 128·10+10
    const shape = { height: 28, width: 28, channels: 1, numClasses: 10 };
    const { params } = checkArchitecture(ARCHITECTURE_PRESETS.fashion, shape);
    expect(params).toBe(416 + 18_688 + 37_120 + 74_240 + 2 * 147_968 + 147_584 + 1_290);
    for (const arch of [ARCHITECTURE_PRESETS.fashion, ARCHITECTURE_PRESETS.small, ARCHITECTURE_PRESETS.medium]) {
      const model = buildModel(arch, shape, 1);
      expect(model.countParams()).toBe(checkArchitecture(arch, shape).params);
      model.dispose();
    }
  });

  it('keeps request overrides field by field', () => {
    const config = resolveRunConfig(
      trainingJobRequestSchema.parse({ datasetId: 'ds_x', preset: 'fashion', training: { epochs: 3 }, augmentation: { testTimeFlip: false } }),
    );
    expect(config.training.epochs).toBe(3);
    expect(config.training.batchSize).toBe(128);
    expect(config.augmentation.testTimeFlip).toBe(false);
    expect(config.augmentation.horizontalFlip).toBe(true);
  });
});

describe('testTimeFlip', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it('defaults to off and, on its own, does not make training augment', async () => {
    expect(augmentationSchema.parse({}).testTimeFlip).toBe(false);
    const pixels = Uint8Array.from({ length: 32 * 64 }, (_, i) => (i * 37) % 256);
    const data: SplitData = { count: 32, pixels, labels: Uint16Array.from({ length: 32 }, (_, i) => i % 2) };
    let batches = 0;
    const run = (testTimeFlip: boolean, horizontalFlip: boolean) =>
      trainMember({
        data: { train: data, val: { count: 0, pixels: new Uint8Array(0), labels: new Uint16Array(0) }, shape: { height: 8, width: 8, channels: 1, numClasses: 2 }, norm: { mean: [0.5], std: [0.3] } },
        architecture: { blocks: [{ filters: 4, convs: 1, kernelSize: 3, batchNorm: false, pool: 'max', dropout: 0 }], dense: [], denseDropout: 0, l2: 0, activation: 'relu', globalPooling: false },
        training: trainingSchema.parse({ epochs: 1, batchSize: 16 }),
        augmentation: augmentationSchema.parse({ testTimeFlip, horizontalFlip }),
        seed: 3,
        onAugmentedBatch: () => {
          batches++;
        },
      }).then((r) => r.model.dispose());
    await run(true, false);
    expect(batches).toBe(0);
    // The same callback fires as soon as a training-time transform is on, so the count above could have moved.
    await run(true, true);
    expect(batches).toBe(2);
  });
});
