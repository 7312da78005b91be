/**
 * A trained model as two objects, the layout tfjs's own loaders read: `model.json` (topology and weight manifest)
 * and `weights.bin`. Saving and loading go through tfjs IO handlers in memory; storage is the caller's business.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import './seeded-dropout.js';

export interface SerializedModel {
  modelJson: Record<string, unknown>;
  weights: Uint8Array;
}

/** Serialises a model's topology and weights. */
export async function serializeModel(model: tfl.LayersModel): Promise<SerializedModel> {
  let saved: SerializedModel | null = null;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const data = artifacts.weightData;
      const weights = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(tf.io.concatenateArrayBuffers(data as ArrayBuffer[]));
      saved = {
        modelJson: {
          format: 'layers-model',
          generatedBy: 'quorum',
          modelTopology: artifacts.modelTopology,
          weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
        },
        weights,
      };
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return saved!;
}

/** Rebuilds a model from serialize output. */
export async function deserializeModel(s: SerializedModel): Promise<tfl.LayersModel> {
  const manifest = (s.modelJson.weightsManifest as { weights: tf.io.WeightsManifestEntry[] }[])[0];
  const buffer = s.weights.buffer.slice(s.weights.byteOffset, s.weights.byteOffset + s.weights.byteLength) as ArrayBuffer;
  return tfl.loadLayersModel(
    tf.io.fromMemory({ modelTopology: s.modelJson.modelTopology as tf.io.ModelJSON['modelTopology'], weightSpecs: manifest.weights, weightData: buffer }),
  );
}
