/**
 * The quick start's main job, end to end against the built service: start Redis, the S3-protocol server and
 * the built service; upload a Fashion-MNIST subset over HTTP; follow ingestion; print the dataset profile; save the
 * sample sheet; train a 3-member ensemble of the `small` preset with a progress bar per member (fed by the job's
 * server-sent events); print the registered model's accuracies; predict unseen images; evaluate the model on 1,000
 * unseen test images; and run a drift report against darkened test images, printing findings and saving both HTML
 * reports. `--keep` leaves everything running so you can explore http://127.0.0.1:<port>/docs.
 */
import { writeFile } from 'node:fs/promises';
import { FASHION_CLASSES, fashionSubset, samplePng, subsetIdx } from './lib/fashion.js';
import { connect } from './lib/client.js';
import { readSse } from './lib/sse.js';
import { startStack } from './lib/stack.js';

const COUNT = Number(process.env.DEMO_IMAGES ?? 2000);
const keep = process.argv.includes('--keep');
const EPOCHS = Number(process.env.DEMO_EPOCHS ?? 3);
const MEMBERS = 3;

const stack = await startStack({ env: { TRAIN_CONCURRENCY: '2' } });
const { auth, api, uploadFashion, report } = connect(stack);

try {
  console.log(`Quorum is up at ${stack.url} (API docs: ${stack.url}/docs)\n`);
  const subset = fashionSubset(COUNT);
  const idx = subsetIdx(subset);
  const body = new FormData();
  body.append('name', `fashion-mnist-${COUNT}`);
  body.append('classNames', FASHION_CLASSES.join(','));
  body.append('images', new Blob([idx.images]), 't10k-images.idx');
  body.append('labels', new Blob([idx.labels]), 't10k-labels.idx');
  const res = await api('/v1/datasets', { method: 'POST', body });
  const created = (await res.json()) as { id: string; status: string };
  if (res.status !== 202) throw new Error(`upload failed: ${res.status} ${JSON.stringify(created)}`);
  console.log(`Uploaded ${COUNT} Fashion-MNIST images as IDX → dataset ${created.id} (${created.status})`);

  let d: any;
  for (;;) {
    d = await (await api(`/v1/datasets/${created.id}`)).json();
    if (d.status !== 'queued' && d.status !== 'running') break;
    const p = d.progress ? ` ${d.progress.stage} ${d.progress.done}/${d.progress.total}` : '';
    process.stdout.write(`\r  ${d.status}${p}`.padEnd(60));
    await new Promise((r) => setTimeout(r, 250));
  }
  process.stdout.write('\r'.padEnd(60) + '\r');
  if (d.status !== 'ready') throw new Error(`ingestion ${d.status}: ${JSON.stringify(d.error)}`);

  const p = d.profile;
  console.log(`Dataset ${d.id} is ready in ${d.ingest.seconds.toFixed(1)} s: ${p.counts.total} images, ` +
    `${d.image.height}×${d.image.width}×${d.image.channels}, ${d.classes.length} classes`);
  console.log(`\n  ${'class'.padEnd(14)}${'train'.padStart(7)}${'val'.padStart(6)}${'test'.padStart(6)}${'brightness'.padStart(12)}`);
  for (const c of d.classes) {
    const s = p.counts.perSplit;
    console.log(`  ${c.padEnd(14)}${String(s.train[c]).padStart(7)}${String(s.val[c]).padStart(6)}${String(s.test[c]).padStart(6)}` +
      `${p.classBrightness[c].toFixed(3).padStart(12)}`);
  }
  console.log(`\n  imbalance ratio        ${p.imbalanceRatio.toFixed(2)} (largest ${p.majorityClass}, smallest ${p.minorityClass})`);
  console.log(`  channel mean / std     ${p.channelStats.mean.map((x: number) => x.toFixed(4)).join(',')} / ` +
    `${p.channelStats.std.map((x: number) => x.toFixed(4)).join(',')} (training split only)`);
  console.log(`  duplicates             ${p.duplicates.exactGroups} exact groups, ${p.duplicates.nearGroups} near groups`);
  console.log(`  leakage                ${p.leakage.crossSplitGroups} groups cross splits; ${p.leakage.removedFromEvaluation} removed from val/test`);
  console.log(`  label conflicts        ${p.leakage.labelConflicts}`);
  console.log(`  unreadable files       ${p.unreadable.count}`);

  const png = Buffer.from(await (await api(`/v1/datasets/${d.id}/samples.png`)).arrayBuffer());
  await writeFile('quorum-samples.png', png);
  console.log(`\nSample sheet: ${stack.url}/v1/datasets/${d.id}/samples.png (saved to ./quorum-samples.png)`);
  console.log(`Full profile: curl -H 'Authorization: Bearer ${stack.apiKey}' ${stack.url}/v1/datasets/${d.id}`);
  const modelId = await train(d.id);
  await predict(modelId);
  await evaluate(modelId);
  await drift(modelId);
  if (keep) {
    console.log('\n--keep: the stack stays up; press Ctrl-C to stop it.');
    await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  }
} finally {
  await stack.stop();
}

/** Trains the ensemble and draws one progress bar per member from the job's event stream. */
async function train(datasetId: string) {
  const res = await api('/v1/training-jobs', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ datasetId, preset: 'small', training: { epochs: EPOCHS }, ensemble: { members: MEMBERS } }),
  });
  const job = (await res.json()) as any;
  if (res.status !== 202) throw new Error(`training request failed: ${res.status} ${JSON.stringify(job)}`);
  console.log(`\nTraining ${MEMBERS} members of the small preset for ${EPOCHS} epochs → job ${job.id} (backend ${job.members[0]?.backend ?? 'chosen by the worker'})`);
  const tty = process.stdout.isTTY;
  const lines = Array.from({ length: MEMBERS }, (_, k) => `  member ${k + 1} [${' '.repeat(20)}] waiting`);
  const draw = (k: number) => {
    if (tty) {
      process.stdout.write(`\x1b[${MEMBERS - k}A\r\x1b[2K${lines[k]}\x1b[${MEMBERS - k}B\r`);
    } else console.log(lines[k]);
  };
  if (tty) console.log(lines.join('\n'));
  let end: any = null;
  for await (const ev of readSse(`${stack.url}/v1/training-jobs/${job.id}/events`, auth)) {
    const data = JSON.parse(ev.data);
    if (ev.event === 'epoch') {
      const filled = Math.round((20 * data.epoch) / EPOCHS);
      lines[data.member] =
        `  member ${data.member + 1} [${'#'.repeat(filled)}${'-'.repeat(20 - filled)}] epoch ${data.epoch}/${EPOCHS}` +
        `  loss ${data.loss.toFixed(3)}  val_acc ${(data.valAccuracy ?? 0).toFixed(3)}  ${data.seconds.toFixed(1)} s`;
      draw(data.member);
    } else if (ev.event === 'member' && data.status === 'failed') {
      lines[data.member] = `  member ${data.member + 1} failed: ${data.error?.detail}`;
      draw(data.member);
    } else if (ev.event === 'end') {
      end = data;
      break;
    }
  }
  if (end?.status !== 'succeeded') throw new Error(`training ${end?.status}`);
  const model = (await (await api(`/v1/models/${end.modelId}`)).json()) as any;
  const m = model.metrics;
  console.log(`\nModel ${model.id} registered (${model.classes.length} classes, backend ${model.backend}):`);
  for (const member of model.members) {
    console.log(`  member ${member.index + 1} (seed ${member.seed}): val accuracy ${member.metrics.valAccuracy.toFixed(3)}, best epoch ${member.metrics.bestEpoch}`);
  }
  console.log(`  members: ${m.memberValAccuracyMean.toFixed(3)} ± ${m.memberValAccuracyStd.toFixed(3)} (mean ± std over seeds)`);
  console.log(`  ensemble: ${m.ensembleValAccuracy.toFixed(3)} on ${m.valSamples} validation images`);
  console.log(`  ${stack.url}/v1/models/${model.id}`);
  return model.id as string;
}

/** Predicts a few Fashion-MNIST test images the model never saw, one PNG per request, as a client would. */
async function predict(modelId: string) {
  const unseen = fashionSubset(6, { offset: 9000 });
  console.log(`\nPredicting ${unseen.count} unseen test images (POST /v1/models/${modelId}/predict, image/png):`);
  console.log(`  ${'truth'.padEnd(12)}${'predicted'.padEnd(12)}${'confidence'.padStart(11)}${'member std'.padStart(12)}${'entropy'.padStart(9)}${'mutual inf'.padStart(12)}${'agree'.padStart(7)}`);
  for (let i = 0; i < unseen.count; i++) {
    const res = await api(`/v1/models/${modelId}/predict`, { method: 'POST', body: await samplePng(unseen, i), headers: { 'content-type': 'image/png' } });
    const p = ((await res.json()) as any).predictions[0];
    const u = p.uncertainty;
    const cold = res.headers.get('x-quorum-cold-start-ms');
    console.log(
      `  ${FASHION_CLASSES[unseen.labels[i]].padEnd(12)}${p.label.padEnd(12)}${p.confidence.toFixed(3).padStart(11)}${u.memberStd.toFixed(3).padStart(12)}` +
        `${u.entropy.toFixed(3).padStart(9)}${u.mutualInformation.toFixed(3).padStart(12)}${u.agreement.toFixed(2).padStart(7)}` +
        (cold ? `   (cold start: ensemble loaded in ${cold} ms)` : ''),
    );
  }
}

/** Uploads Fashion-MNIST test images (all to the train split, so none is dropped as a cross-split duplicate). */
async function uploadTestImages(name: string, subset: ReturnType<typeof fashionSubset>): Promise<string> {
  return (await uploadFashion(name, subset, '1,0,0')).id;
}

function printFindings(findings: any[]) {
  console.log('  findings:');
  for (const f of findings) {
    console.log(`    [${f.severity}] ${f.title}`);
    console.log(`      ${f.detail}`);
    console.log(`      next: ${f.nextStep}`);
  }
}

async function saveHtml(path: string, file: string) {
  const html = await (await api(path)).text();
  await writeFile(file, html);
  console.log(`  HTML report: ${stack.url}${path} (saved to ./${file})`);
}

/** Scores the ensemble on 1,000 test images it never saw: accuracy, calibration, seed variance, diagnosis. */
async function evaluate(modelId: string) {
  const unseen = fashionSubset(1000, { offset: 8000 });
  const datasetId = await uploadTestImages('fashion-mnist-test-1000', unseen);
  console.log(`\nEvaluating the model on ${unseen.count} unseen test images (POST /v1/evaluations) …`);
  const e = await report('/v1/evaluations', { modelId, datasetId, split: 'all' });
  const m = e.metrics;
  console.log(`  accuracy ${m.accuracy.toFixed(3)}, macro F1 ${m.macroF1.toFixed(3)}, NLL ${m.nll.toFixed(3)}, ECE ${m.calibration.ece.toFixed(3)}`);
  console.log(`  members ${m.memberAccuracy.mean.toFixed(3)} ± ${m.memberAccuracy.std.toFixed(3)} (seed variance); ensemble gain ${(m.ensembleGain >= 0 ? '+' : '')}${m.ensembleGain.toFixed(3)}`);
  const worst = [...m.perClass].sort((a: any, b: any) => (a.f1 ?? 0) - (b.f1 ?? 0)).slice(0, 3);
  console.log(`  hardest classes: ${worst.map((c: any) => `${c.class} (F1 ${(c.f1 ?? 0).toFixed(2)})`).join(', ')}`);
  printFindings(e.findings);
  await saveHtml(`/v1/evaluations/${e.id}.html`, 'quorum-evaluation.html');
}

/** Compares darkened test images (a camera in worse light) with the validation split. */
async function drift(modelId: string) {
  const base = fashionSubset(500, { offset: 9500 });
  const darkened = { ...base, pixels: Uint8Array.from(base.pixels, (v) => Math.round(v * 0.6)) };
  const datasetId = await uploadTestImages('fashion-mnist-test-darkened', darkened);
  console.log(`\nDrift report: ${darkened.count} darkened test images against the validation split (POST /v1/drift-reports) …`);
  const r = await report('/v1/drift-reports', { modelId, current: { datasetId } });
  console.log(`  drift detected: ${r.driftDetected ? 'YES' : 'no'} (alpha ${r.alpha}, ${r.samples.reference} reference vs ${r.samples.current} current images)`);
  const flagged = r.tests.filter((t: any) => t.drift && t.inVerdict);
  for (const t of flagged.slice(0, 6)) {
    const effect = t.effectSize == null ? '' : `, effect ${t.effectSize.toFixed(2)} sd`;
    console.log(`    ${t.name.padEnd(30)} p=${t.pValue.toExponential(2)} < ${t.threshold.toExponential(2)}${effect}`);
  }
  if (flagged.length > 6) console.log(`    … and ${flagged.length - 6} more of ${r.tests.length} tests`);
  const moved = r.labelShift.largestChanges.slice(0, 2).map((c: any) => `${c.class} ${c.reference.toFixed(2)}→${c.estimated.toFixed(2)}`);
  console.log(`  estimated class priors (BBSE), largest changes: ${moved.join(', ')}`);
  printFindings(r.findings);
  await saveHtml(`/v1/drift-reports/${r.id}.html`, 'quorum-drift.html');
}
