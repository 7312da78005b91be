/** The HTML page of an evaluation: headline numbers, the diagnosis, then the charts and tables behind it. */
import type { Evaluation, EvaluationMetrics } from '../../storage/report-manifests.js';
import { formatNumber, formatPercent, formatPoints } from './escape.js';
import { charts, renderFindings, renderPage, section, statusNotice, table, tiles } from './page.js';
import { barChart, heatmap, lineChart, PALETTE, reliabilityDiagram, type LineSeries } from './svg.js';

/** Class names for `k` classes: the model's, else the report's own, else "class i". */
function classNames(k: number, classes: string[], metrics: EvaluationMetrics): string[] {
  return Array.from({ length: k }, (_, i) => classes[i] ?? metrics.perClass[i]?.class ?? `class ${i}`);
}

function summary(m: EvaluationMetrics): string {
  return tiles([
    { label: 'Accuracy', value: formatPercent(m.accuracy), hint: `${m.samples} samples` },
    { label: 'Macro F1', value: formatNumber(m.macroF1) },
    { label: 'NLL', value: formatNumber(m.nll), hint: 'nats per sample' },
    { label: 'ECE', value: formatPercent(m.calibration.ece), hint: `MCE ${formatPercent(m.calibration.mce)}` },
    { label: 'Ensemble gain', value: formatPoints(m.ensembleGain), hint: 'over the mean member' },
    {
      label: 'Member accuracy',
      value: `${formatPercent(m.memberAccuracy.mean)} ± ${formatPercent(m.memberAccuracy.std)}`,
      hint: `mean ± std of ${m.members.length} member${m.members.length === 1 ? '' : 's'}`,
    },
  ]);
}

function perClass(m: EvaluationMetrics, names: string[]): string {
  const rows = m.perClass.map((c) => [c.class, c.precision, c.recall, c.f1, c.support]);
  const f1 = barChart({
    title: 'F1 per class',
    categories: m.perClass.map((c) => c.class),
    series: [{ name: 'F1', values: m.perClass.map((c) => c.f1) }],
    yLabel: 'F1',
  });
  const confusion = heatmap({ title: 'Confusion matrix (shaded by share of the true class)', labels: names, matrix: m.confusion });
  const reliability = reliabilityDiagram({ title: 'Reliability of the ensemble’s confidence', bins: m.calibration.bins });
  return (
    section('Per class', table(['Class', 'Precision', 'Recall', 'F1', 'Support'], rows) + charts([f1]), 'per-class') +
    section('Confusion and calibration', charts([confusion, reliability]), 'confusion')
  );
}

function learningCurves(curves: Evaluation['learningCurves']): string {
  if (curves.length === 0) return '';
  const series = (train: 'loss' | 'accuracy', val: 'valLoss' | 'valAccuracy'): LineSeries[] =>
    curves.flatMap((c, i) => {
      const color = PALETTE[i % PALETTE.length];
      return [
        { name: `member ${c.member} training`, color, points: c.history.map((h) => ({ x: h.epoch, y: h[train] })) },
        { name: `member ${c.member} validation`, color, dashed: true, points: c.history.map((h) => ({ x: h.epoch, y: h[val] })) },
      ];
    });
  const loss = lineChart({ title: 'Loss per epoch', xLabel: 'epoch', yLabel: 'loss', series: series('loss', 'valLoss') });
  const accuracy = lineChart({
    title: 'Accuracy per epoch',
    xLabel: 'epoch',
    yLabel: 'accuracy',
    percent: true,
    series: series('accuracy', 'valAccuracy'),
  });
  const note =
    `<p class="muted">Solid: training; dashed: validation. A validation loss that turns up while the training loss ` +
    `keeps falling is overfitting.</p>`;
  return section('Learning curves', note + charts([loss, accuracy]), 'learning-curves');
}

function members(m: EvaluationMetrics): string {
  const rows = m.members.map((x) => [x.index, x.seed, formatPercent(x.accuracy), x.nll, formatPoints(m.accuracy - x.accuracy)]);
  return section('Members', table(['Member', 'Seed', 'Accuracy', 'NLL', 'Ensemble over member'], rows), 'members');
}

/** A self-contained page for an evaluation; `classes` in the model's order (may be empty when the model is gone). */
export function renderEvaluationHtml(report: Evaluation, classes: string[]): string {
  const m = report.metrics;
  const names = m ? classNames(m.confusion.length, classes, m) : [];
  const body = [
    statusNotice(report.status, report.error, m !== undefined),
    m ? summary(m) : '',
    renderFindings(report.findings),
    m ? perClass(m, names) : '',
    learningCurves(report.learningCurves),
    m ? members(m) : '',
  ].join('');
  const meta: [string, string][] = [
    ['model', report.modelId],
    ['dataset', report.datasetId],
    ['split', report.split],
    ['created', report.createdAt],
    ...(report.finishedAt ? [['finished', report.finishedAt] as [string, string]] : []),
  ];
  return renderPage({ title: `Evaluation ${report.id}`, status: report.status, meta, body });
}
