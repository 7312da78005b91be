/**
 * Prediction inputs, from any of the accepted bodies to normalised tensors' worth of floats: encoded images (raw
 * PNG/JPEG bodies, multipart files, JSON base64) go through exactly the preprocessing stored in the model manifest
 * (decode, resize with the dataset's fit, channels, normalisation); JSON pixel arrays must already have the model's
 * input shape. Every problem names the instance it is about.
 */
import { z } from 'zod';
import { decodeImage } from '../data/decode.js';
import { BadRequest } from '../errors.js';
import { normalisationTable, normaliseInto } from '../models/batches.js';
import type { ModelManifest } from '../storage/training-manifests.js';

const pixelValue = z.number().finite().min(0).max(255);
export const predictJsonSchema = z
  .object({
    instances: z
      .array(
        z.union([
          z.object({ image: z.string().min(1).max(16 * 1024 * 1024) }).strict(),
          z.object({ pixels: z.array(z.array(z.union([pixelValue, z.array(pixelValue).min(1).max(4)]))) }).strict(),
        ]),
      )
      .min(1),
    topK: z.number().int().min(1).optional(),
  })
  .strict();

export type PredictJson = z.infer<typeof predictJsonSchema>;

/** One instance before preprocessing. */
export type RawInstance = { kind: 'encoded'; bytes: Buffer } | { kind: 'pixels'; pixels: (number | number[])[][] };

/** Normalised HWC floats of one instance, ready to stack into a batch. */
export type Prepared = Float32Array;

function sampleFromPixels(p: (number | number[])[][], m: ModelManifest, i: number): Uint8Array {
  const { height, width, channels } = m.input;
  const shape = `${height}×${width}${channels > 1 ? `×${channels}` : ''}`;
  if (p.length !== height || p.some((row) => row.length !== width)) {
    throw new BadRequest(`instances[${i}].pixels must be ${shape} (rows × columns${channels > 1 ? ' × channels' : ''}) for this model.`, {
      field: `instances.${i}.pixels`,
    });
  }
  const out = new Uint8Array(height * width * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = p[y][x];
      const values = typeof v === 'number' ? [v] : v;
      if (values.length !== channels) {
        throw new BadRequest(`instances[${i}].pixels has ${values.length} channel(s) per pixel; this model takes ${channels}.`, {
          field: `instances.${i}.pixels`,
        });
      }
      for (let c = 0; c < channels; c++) out[(y * width + x) * channels + c] = Math.round(values[c]);
    }
  }
  return out;
}

/** One preprocessed instance: the uint8 sample at the model's input size (what capture stores) and its normalised floats. */
export interface PreparedInstance {
  sample: Uint8Array;
  input: Prepared;
}

/** Preprocesses every instance for model `m` (decoding runs concurrently in sharp's thread pool). */
export async function prepareInstances(raw: RawInstance[], m: ModelManifest, maxPixels: number): Promise<PreparedInstance[]> {
  const table = normalisationTable(m.preprocessing);
  const { height, width, channels } = m.input;
  const target = { height, width, channels: channels as 1 | 3, fit: m.preprocessing.resize };
  return Promise.all(
    raw.map(async (r, i) => {
      let sample: Uint8Array;
      if (r.kind === 'pixels') sample = sampleFromPixels(r.pixels, m, i);
      else {
        try {
          sample = await decodeImage(r.bytes, target, maxPixels);
        } catch (err) {
          throw new BadRequest(`instances[${i}] is not a readable PNG or JPEG image (${(err as Error).message}).`, {
            field: `instances.${i}`,
            type: 'unreadable-image',
          });
        }
      }
      const input = new Float32Array(sample.length);
      normaliseInto(sample, channels, table, input);
      return { sample, input };
    }),
  );
}

/** Decodes a JSON body's instances (base64 images or pixel arrays). */
export function rawFromJson(body: PredictJson): RawInstance[] {
  return body.instances.map((inst, i) => {
    if ('pixels' in inst) return { kind: 'pixels', pixels: inst.pixels };
    const b64 = inst.image.replace(/^data:image\/[a-z]+;base64,/, '');
    if (!/^[A-Za-z0-9+/\r\n]+={0,2}\s*$/.test(b64)) {
      throw new BadRequest(`instances[${i}].image is not base64.`, { field: `instances.${i}.image` });
    }
    return { kind: 'encoded', bytes: Buffer.from(b64, 'base64') };
  });
}
