/**
 * Computes an evaluation: the ensemble and each member scored on a labelled split, calibration, seed variance, the
 * learning curves of the run that made the model, and the diagnosis over all of it.
 */
import { meanAndSampleStd } from '../data/stats.js';
import { diagnose } from '../diagnosis/diagnose.js';
import { getDataset } from '../datasets/service.js';
import { labelMap, loadRunner, loadSamples, scoreSamples } from '../reports/inference.js';
import { keys } from '../storage/keys.js';
import type { Evaluation, EvaluationMetrics } from '../storage/report-manifests.js';
import type { Storage } from '../storage/storage.js';
import { memberRecordSchema, type MemberRecord, type ModelManifest } from '../storage/training-manifests.js';
import { getModel } from '../training/service.js';
import { calibration } from './calibration.js';
import { classificationMetrics } from './metrics.js';

/** The run's member records (per-epoch history, stop reason), or none when the run is gone. */
export async function runMembers(storage: Storage, model: ModelManifest): Promise<MemberRecord[]> {
  const records = await Promise.all(model.members.map((m) => storage.getJson(keys.runMember(model.tenant, model.trainingJobId, m.index), memberRecordSchema)));
  return records.filter((r): r is MemberRecord => r !== null);
}

/** Scores the report's model on its dataset split and returns the finished report. */
export async function runEvaluation(storage: Storage, report: Evaluation): Promise<Evaluation> {
  const model = await getModel({ storage }, report.tenant, report.modelId);
  const dataset = await getDataset({ storage }, report.tenant, report.datasetId);
  const data = await loadSamples(storage, dataset, report.split);
  const toModel = labelMap(dataset.classes!, model.classes);
  const labels = Int32Array.from(data.labels, (l) => toModel[l]);

  const runner = await loadRunner(storage, model);
  let scored;
  try {
    scored = await scoreSamples(runner, model, data.pixels, data.count);
  } finally {
    runner.dispose();
  }
  const ensemble = classificationMetrics(scored.ensemble, labels, model.classes);
  const members = scored.members.map((probs, i) => {
    const m = classificationMetrics(probs, labels, model.classes);
    return { index: model.members[i].index, seed: model.members[i].seed, accuracy: m.accuracy, nll: m.nll };
  });
  const seeds = meanAndSampleStd(members.map((m) => m.accuracy));
  const metrics: EvaluationMetrics = {
    ...ensemble,
    calibration: calibration(scored.ensemble, labels, model.classes.length),
    members,
    memberAccuracy: seeds,
    ensembleGain: ensemble.accuracy - seeds.mean,
  };
  const history = await runMembers(storage, model);
  const trainingDataset = report.datasetId === model.datasetId ? dataset : await getDataset({ storage }, report.tenant, model.datasetId).catch(() => null);
  const findings = diagnose({ classes: model.classes, config: model.config, profile: trainingDataset?.profile, members: history, evaluation: metrics });
  return {
    ...report,
    metrics,
    learningCurves: history.map((h) => ({ member: h.index, seed: h.seed, history: h.history })),
    findings,
  };
}
