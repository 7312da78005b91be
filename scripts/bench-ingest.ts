/**
 * `npm run bench:ingest`: time and peak memory to ingest Fashion-MNIST through the HTTP API of the built service,
 * as a zip of PNG class folders (the full 70,000 images by default) and, as the peer in the same run, as IDX files.
 * Usage: npm run bench:ingest -- [--images N]
 */
import { FASHION_FOLDERS, fashionSubset, samplePng, subsetIdx, type Subset } from './lib/fashion.js';
import { startStack, type Stack } from './lib/stack.js';
import yazl from 'yazl';

const arg = process.argv.indexOf('--images');
const N = arg > 0 ? Number(process.argv[arg + 1]) : 70_000;
const MiB = 1024 * 1024;

function fashion(n: number): Subset[] {
  const fromTrain = Math.min(n, 60_000);
  const parts = [fashionSubset(fromTrain, { set: 'train' })];
  if (n > fromTrain) parts.push(fashionSubset(n - fromTrain, { set: 't10k' }));
  return parts;
}

async function run(stack: Stack, body: FormData, label: string, bytes: number) {
  const auth = { authorization: `Bearer ${stack.apiKey}` };
  const t0 = performance.now();
  const res = await fetch(`${stack.url}/v1/datasets`, { method: 'POST', body, headers: auth });
  const created = (await res.json()) as { id: string };
  if (res.status !== 202) throw new Error(`${label}: ${res.status} ${JSON.stringify(created)}`);
  const accepted = performance.now() - t0;
  let d: any;
  do {
    await new Promise((r) => setTimeout(r, 250));
    d = await (await fetch(`${stack.url}/v1/datasets/${created.id}`, { headers: auth })).json();
  } while (d.status === 'queued' || d.status === 'running');
  const total = performance.now() - t0;
  if (d.status !== 'ready') throw new Error(`${label}: ${d.status} ${JSON.stringify(d.error)}`);
  return { label, bytes, acceptedS: accepted / 1000, ingestS: d.ingest.seconds, totalS: total / 1000, images: d.profile.counts.total, d };
}

const parts = fashion(N);
console.log(`Building a zip of ${N} PNGs in class folders…`);
// yazl writes zip64 records when an archive has more than 65,535 entries, as real zip tools do.
const writer = new yazl.ZipFile();
for (const [p, s] of parts.entries()) {
  for (let i = 0; i < s.count; i++) {
    writer.addBuffer(await samplePng(s, i), `fashion/${FASHION_FOLDERS[s.labels[i]]}/${p}-${i}.png`, { compress: false });
  }
}
writer.end();
const chunks: Buffer[] = [];
for await (const chunk of writer.outputStream) chunks.push(chunk as Buffer);
const zip = Buffer.concat(chunks);

const results = [];
for (const kind of ['zip', 'idx'] as const) {
  // A fresh service per run, so each peak-memory figure belongs to one ingestion.
  const stack = await startStack();
  try {
    const body = new FormData();
    let bytes = 0;
    if (kind === 'zip') {
      body.append('file', new Blob([zip]), 'fashion-mnist.zip');
      bytes = zip.length;
    } else {
      for (const s of parts) {
        const idx = subsetIdx(s);
        body.append('images', new Blob([idx.images]), 'images.idx');
        body.append('labels', new Blob([idx.labels]), 'labels.idx');
        bytes += idx.images.length + idx.labels.length;
      }
    }
    const r = await run(stack, body, kind === 'zip' ? 'PNG zip' : 'IDX (peer)', bytes);
    results.push({ ...r, peakRss: stack.peakRss() });
  } finally {
    await stack.stop();
  }
}

console.log(`\nIngesting ${N} Fashion-MNIST images through POST /v1/datasets (service started fresh for each):`);
console.log(`${'input'.padEnd(12)}${'upload MiB'.padStart(12)}${'202 after s'.padStart(13)}${'ingest s'.padStart(10)}${'total s'.padStart(9)}${'img/s'.padStart(8)}${'peak RSS MiB'.padStart(14)}`);
for (const r of results) {
  console.log(
    `${r.label.padEnd(12)}${(r.bytes / MiB).toFixed(1).padStart(12)}${r.acceptedS.toFixed(1).padStart(13)}${r.ingestS.toFixed(1).padStart(10)}` +
      `${r.totalS.toFixed(1).padStart(9)}${Math.round(r.images / r.totalS).toString().padStart(8)}${(r.peakRss / MiB).toFixed(0).padStart(14)}`,
  );
}
const [z, i] = results;
console.log(`\nPNG zip / IDX: total time ${(z.totalS / i.totalS).toFixed(2)}×, peak memory ${(z.peakRss / i.peakRss).toFixed(2)}×`);
const p = z.d.profile;
console.log(`zip profile: ${p.duplicates.exactGroups} exact and ${p.duplicates.nearGroups} near duplicate groups, ` +
  `${p.leakage.removedFromEvaluation} leaked copies removed from val/test, ${p.leakage.labelConflicts} label conflicts`);
