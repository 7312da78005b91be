/**
 * The current side of a drift report: a dataset split, or the deployment data captured for the model between two
 * instants (capture files are stored per model and day; each sample carries its own time).
 */
import { getDataset } from '../datasets/service.js';
import { decodeCapture } from '../prediction/capture-format.js';
import { loadSamples } from '../reports/inference.js';
import { keys } from '../storage/keys.js';
import type { DriftReport } from '../storage/report-manifests.js';
import type { Storage } from '../storage/storage.js';
import type { ModelManifest } from '../storage/training-manifests.js';

/** Uint8 samples at the model's input size. */
export interface Samples {
  count: number;
  pixels: Uint8Array;
}

/** Loads the current data the report names; throws with a clear reason when a window holds no captures. */
export async function loadCurrent(storage: Storage, model: ModelManifest, current: DriftReport['current'], maxSamples: number): Promise<Samples> {
  if ('datasetId' in current) {
    const dataset = await getDataset({ storage }, model.tenant, current.datasetId);
    return loadSamples(storage, dataset, current.split);
  }
  const from = Date.parse(current.from);
  const to = Date.parse(current.to);
  const { height, width, channels } = model.input;
  const size = height * width * channels;
  const chunks: Uint8Array[] = [];
  let count = 0;
  // Newest days first, so a window larger than the cap keeps the most recent deployment data.
  for (const day of days(from, to).reverse()) {
    const files = [];
    let token: string | undefined;
    do {
      const page = await storage.list(keys.captures(model.tenant, model.id, day), { token });
      files.push(...page.keys);
      token = page.nextToken;
    } while (token);
    for (const f of files.sort((a, b) => b.key.localeCompare(a.key))) {
      const bytes = await storage.getBytes(f.key);
      if (!bytes) continue;
      const batch = decodeCapture(bytes);
      if (batch.height !== height || batch.width !== width || batch.channels !== channels) continue;
      batch.times.forEach((t, i) => {
        const at = Date.parse(t);
        if (at < from || at >= to || count >= maxSamples * 4) return;
        chunks.push(batch.samples.subarray(i * size, (i + 1) * size));
        count++;
      });
    }
  }
  if (count === 0) throw new Error(`No captured predictions for model ${model.id} between ${current.from} and ${current.to}. Send predictions first (CAPTURE_FRACTION > 0).`);
  const pixels = new Uint8Array(count * size);
  chunks.forEach((c, i) => pixels.set(c, i * size));
  return { count, pixels };
}

/** UTC days (yyyy-mm-dd) that overlap [from, to). */
function days(from: number, to: number): string[] {
  const out: string[] = [];
  const day = 24 * 3600 * 1000;
  for (let t = Math.floor(from / day) * day; t < to; t += day) out.push(new Date(t).toISOString().slice(0, 10));
  return out.slice(0, 366);
}
