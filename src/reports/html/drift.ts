/** The HTML page of a drift report: the verdict, the diagnosis, then the tests and the distributions behind them. */
import type { DriftReport } from '../../storage/report-manifests.js';
import { escapeHtml, formatPercent, formatPoints, isFiniteNumber } from './escape.js';
import { charts, renderFindings, renderPage, section, statusNotice, table } from './page.js';
import { barChart, histogramPair, PALETTE } from './svg.js';

const [REFERENCE, CURRENT] = [PALETTE[0], PALETTE[3]];

function verdict(r: DriftReport): string {
  if (r.driftDetected === undefined) return '';
  const voting = r.tests.filter((t) => t.inVerdict);
  const drifted = voting.filter((t) => t.drift);
  const named = drifted.slice(0, 6).map((t) => t.name).join(', ') + (drifted.length > 6 ? ', …' : '');
  const counts = `${drifted.length} of ${voting.length} voting tests fell below their threshold (α = ${r.alpha})`;
  const text = r.driftDetected
    ? `<strong>Drift detected</strong><p>${counts}: ${escapeHtml(named)}.</p>`
    : `<strong>No drift detected</strong><p>${counts}.</p>`;
  return `<div class="banner ${r.driftDetected ? 'banner-drift' : 'banner-clear'}" role="status">${text}</div>`;
}

function tests(r: DriftReport): string {
  if (r.tests.length === 0) return '';
  const rows = r.tests.map((t) => [t.name, t.family, t.statistic, t.pValue, t.threshold, t.drift, t.effectSize, t.inVerdict]);
  const flagged = new Set(r.tests.flatMap((t, i) => (t.drift ? [i] : [])));
  const headers = ['Test', 'Family', 'Statistic', 'p-value', 'Threshold', 'Drift', 'Effect size', 'In verdict'];
  const note =
    `<p class="muted">A test calls drift when its p-value is below its threshold (α after correction for the number ` +
    `of tests). The uncertainty family is reported but does not vote.</p>`;
  return section('Tests', note + table(headers, rows, flagged), 'tests');
}

function histograms(r: DriftReport): string {
  if (r.histograms.length === 0) return '';
  return section('Distributions', charts(r.histograms.map((h) => histogramPair(h))), 'distributions');
}

/** Classes in the model's order, then any the priors name that the model's list lacks. */
function classOrder(classes: string[], ...priors: Record<string, number>[]): string[] {
  const extra = priors.flatMap((p) => Object.keys(p)).filter((c) => !classes.includes(c));
  return [...classes.filter((c) => priors.some((p) => c in p)), ...new Set(extra)];
}

function labelShift(r: DriftReport, classes: string[]): string {
  const ls = r.labelShift;
  if (!ls) return '';
  const names = classOrder(classes, ls.referencePriors, ls.estimatedPriors);
  const chart = barChart({
    title: 'Class priors: reference against estimated on current data',
    categories: names,
    series: [
      { name: 'reference', color: REFERENCE, values: names.map((c) => ls.referencePriors[c] ?? null) },
      { name: 'estimated current', color: CURRENT, values: names.map((c) => ls.estimatedPriors[c] ?? null) },
    ],
    yLabel: 'prior',
    percent: true,
  });
  const rows = ls.largestChanges.map((c) => [
    c.class,
    formatPercent(c.reference),
    formatPercent(c.estimated),
    formatPoints(c.estimated - c.reference),
  ]);
  const changes = `<h3>Largest changes</h3>${table(['Class', 'Reference', 'Estimated', 'Change'], rows)}`;
  return section('Label shift', charts([chart, `<div>${changes}</div>`]), 'label-shift');
}

function uncertainty(r: DriftReport): string {
  const u = r.uncertainty;
  if (!u) return '';
  const metrics = [
    ['mean entropy (nats)', u.reference.entropy, u.current.entropy],
    ['mean mutual information (nats)', u.reference.mutualInformation, u.current.mutualInformation],
    ['mean confidence', u.reference.confidence, u.current.confidence],
  ] as const;
  const rows = metrics.map(([name, ref, cur]) => [name, ref, cur, cur - ref]);
  const chart = barChart({
    title: 'Uncertainty of the ensemble',
    categories: ['entropy', 'mutual info.', 'confidence'],
    series: [
      { name: 'reference', color: REFERENCE, values: metrics.map(([, ref]) => ref) },
      { name: 'current', color: CURRENT, values: metrics.map(([, , cur]) => cur) },
    ],
    yLabel: 'mean per sample',
  });
  const note = `<p class="muted">Higher entropy with higher mutual information means the members disagree: inputs unlike the training data.</p>`;
  return section('Uncertainty', note + charts([`<div>${table(['Quantity', 'Reference', 'Current', 'Change'], rows)}</div>`, chart]), 'uncertainty');
}

/** Each side's values as shares of its total (as they are when the total is not positive). */
function shares(values: number[]): (number | null)[] {
  const total = values.reduce((s, v) => s + (isFiniteNumber(v) ? v : 0), 0);
  return values.map((v) => (isFiniteNumber(v) ? (total > 0 ? v / total : v) : null));
}

function predictedLabels(r: DriftReport, classes: string[]): string {
  const p = r.predictedLabels;
  if (!p) return '';
  const k = Math.max(p.reference.length, p.current.length);
  const chart = barChart({
    title: 'Share of predictions per class',
    categories: Array.from({ length: k }, (_, i) => classes[i] ?? `class ${i}`),
    series: [
      { name: 'reference', color: REFERENCE, values: shares(p.reference) },
      { name: 'current', color: CURRENT, values: shares(p.current) },
    ],
    yLabel: 'share of predictions',
    percent: true,
  });
  return section('Predicted labels', charts([chart]), 'predicted-labels');
}

/** A self-contained page for a drift report; `classes` in the model's order (may be empty when the model is gone). */
export function renderDriftHtml(report: DriftReport, classes: string[]): string {
  const c = report.current;
  const current = 'datasetId' in c ? `${c.datasetId} (${c.split})` : `captured ${c.from} – ${c.to}`;
  const s = report.samples;
  const meta: [string, string][] = [
    ['model', report.modelId],
    ['reference', `${report.reference.datasetId} (${report.reference.split})`],
    ['current', current],
    ['α', String(report.alpha)],
    ...(s ? [['samples', `${s.reference} reference, ${s.current} current (seed ${s.seed})`] as [string, string]] : []),
    ['created', report.createdAt],
    ...(report.finishedAt ? [['finished', report.finishedAt] as [string, string]] : []),
  ];
  const hasResults = report.driftDetected !== undefined || report.tests.length > 0;
  const body = [
    statusNotice(report.status, report.error, hasResults),
    verdict(report),
    renderFindings(report.findings),
    tests(report),
    labelShift(report, classes),
    uncertainty(report),
    predictedLabels(report, classes),
    histograms(report),
  ].join('');
  return renderPage({ title: `Drift report ${report.id}`, status: report.status, meta, body });
}
