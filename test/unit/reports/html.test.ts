import { describe, expect, it } from 'vitest';
import { renderDriftHtml } from '../../../src/reports/html/drift.js';
import { escapeHtml, formatNumber } from '../../../src/reports/html/escape.js';
import { renderEvaluationHtml } from '../../../src/reports/html/evaluation.js';
import { renderFindings } from '../../../src/reports/html/page.js';
import { barChart, heatmap, histogramPair, lineChart, reliabilityDiagram } from '../../../src/reports/html/svg.js';
import { driftReportSchema, evaluationSchema, type DriftReport, type Evaluation } from '../../../src/storage/report-manifests.js';

// Class names are user data: one carries markup, one every character HTML treats specially.
const CLASSES = ['T-shirt/top', 'Trouser', '<script>alert("x")</script>', `Dress & "Coat" 'n' <b>`];
const stamps = { tenant: 'acme', createdAt: '2025-03-01T10:00:00.000Z', updatedAt: '2025-03-01T10:05:00.000Z', modelId: 'mod_abc' };

const finding = {
  rule: 'overfitting',
  severity: 'warning',
  title: 'Validation loss rose for 6 epochs while training loss fell',
  detail: 'Member 0 reached its lowest validation loss at epoch 4 of 10.',
  evidence: { bestEpoch: 4, epochsRun: 10, gap: 0.1834, member: '0', earlyStopped: false, seed: null },
  nextStep: 'Turn on early stopping or add augmentation.',
};

function evaluation(overrides: Record<string, unknown> = {}): Evaluation {
  const confusion = [
    [50, 3, 0, 2],
    [1, 58, 0, 1],
    [4, 0, 40, 6],
    [0, 0, 0, 0], // a class with no samples: its row must not divide by zero
  ];
  const bins = Array.from({ length: 10 }, (_, i) => {
    const count = i < 3 ? 0 : 10 + i * 3;
    return { lower: i / 10, upper: (i + 1) / 10, count, confidence: count ? i / 10 + 0.05 : null, accuracy: count ? Math.min(1, i / 10 + 0.1) : null };
  });
  const history = (seed: number) =>
    Array.from({ length: 8 }, (_, e) => ({
      epoch: e + 1,
      loss: 1 / (e + 1) + seed * 0.01,
      accuracy: 0.6 + e * 0.04,
      valLoss: e === 3 ? null : 0.8 / (e + 1) + e * 0.03,
      valAccuracy: e === 3 ? null : 0.62 + e * 0.03,
      learningRate: 0.001,
      seconds: 3.2,
    }));
  return evaluationSchema.parse({
    ...stamps,
    id: 'rep_eval',
    kind: 'evaluation',
    status: 'ready',
    finishedAt: '2025-03-01T10:05:00.000Z',
    datasetId: 'ds_fashion',
    split: 'test',
    findings: [{ ...finding, severity: 'info', rule: 'calibration', title: 'Well calibrated' }, finding],
    metrics: {
      samples: 165,
      accuracy: 0.897,
      nll: 0.31,
      macroF1: 0.71,
      perClass: CLASSES.map((c, i) => ({ class: c, precision: i === 3 ? null : 0.9, recall: i === 3 ? null : 0.85, f1: i === 3 ? null : 0.87, support: i === 3 ? 0 : 55 })),
      confusion,
      calibration: { ece: 0.042, mce: 0.11, bins },
      members: [0, 1, 2].map((index) => ({ index, seed: 40 + index, accuracy: 0.88 + index * 0.005, nll: 0.35 })),
      memberAccuracy: { mean: 0.885, std: 0.005 },
      ensembleGain: 0.012,
    },
    learningCurves: [0, 1].map((member) => ({ member, seed: 40 + member, history: history(member) })),
    ...overrides,
  });
}

function drift(overrides: Record<string, unknown> = {}): DriftReport {
  const test = (name: string, family: string, pValue: number, drifted: boolean, inVerdict = true) => ({
    name, family, statistic: 0.21, pValue, threshold: 0.0125, drift: drifted, effectSize: drifted ? 0.8 : null, inVerdict,
  });
  return driftReportSchema.parse({
    ...stamps,
    id: 'rep_drift',
    kind: 'drift-report',
    status: 'ready',
    reference: { datasetId: 'ds_fashion', split: 'val' },
    current: { from: '2025-02-01T00:00:00.000Z', to: '2025-03-01T00:00:00.000Z' },
    alpha: 0.05,
    options: { alpha: 0.05 },
    samples: { reference: 1000, current: 800, mmdReference: 500, mmdCurrent: 500, seed: 7 },
    driftDetected: true,
    tests: [
      test('ks-probability:<script>alert("x")</script>', 'prediction', 1e-9, true),
      test('chi-square-labels', 'labels', 0.2, false),
      test('mmd-embeddings', 'input', 0.001, true),
      test('ks-uncertainty:entropy', 'uncertainty', 0.03, false, false),
    ],
    labelShift: {
      referencePriors: Object.fromEntries(CLASSES.map((c) => [c, 0.25])),
      estimatedPriors: Object.fromEntries(CLASSES.map((c, i) => [c, [0.4, 0.2, 0.1, 0.3][i]])),
      largestChanges: [{ class: CLASSES[0], reference: 0.25, estimated: 0.4 }, { class: CLASSES[2], reference: 0.25, estimated: 0.1 }],
    },
    uncertainty: {
      reference: { entropy: 0.4, mutualInformation: 0.02, confidence: 0.9 },
      current: { entropy: 0.9, mutualInformation: 0.08, confidence: 0.74 },
    },
    predictedLabels: { reference: [250, 250, 250, 250], current: [320, 160, 80, 240] },
    histograms: [
      { name: 'brightness', edges: [0, 0.25, 0.5, 0.75, 1], reference: [0.1, 0.4, 0.4, 0.1], current: [0.05, 0.2, 0.45, 0.3] },
      { name: 'max probability', edges: [0.5, 0.75, 1], reference: [0.2, 0.8], current: [0.5, 0.5] },
    ],
    findings: [{ ...finding, severity: 'critical', rule: 'deployment-shift', title: 'Inputs moved away from the validation split' }],
    ...overrides,
  });
}

/** Text that means a number or a field went missing on its way to the page. */
const BROKEN = /NaN|undefined|Infinity|\[object Object\]/;
/** Anything that could make a browser fetch: attributes that load, CSS urls and imports, absolute addresses. */
const EXTERNAL = /\b(?:src|href|srcset|action|poster|background)\s*=|url\s*\(|@import|https?:\/\//i;
const chartKinds = (html: string) => new Set([...html.matchAll(/<svg data-chart="([^"]+)"[^>]*><title>[^<]+<\/title>/g)].map((m) => m[1]));

describe('evaluation page', () => {
  const html = renderEvaluationHtml(evaluation(), CLASSES);

  it('is one HTML document with its stylesheet inline and a policy that forbids scripts and loads', () => {
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain('<style>');
    expect(html).toContain(`default-src 'none'`);
    expect(html).not.toMatch(/<script|<link|<img|<iframe|\son[a-z]+=/i);
  });

  it('draws the confusion heat map, the reliability diagram, per-class F1 bars and the learning curves, each titled', () => {
    expect(chartKinds(html)).toEqual(new Set(['heatmap', 'reliability', 'bar', 'line']));
  });

  it('shows the headline numbers: accuracy, NLL, macro F1, ECE, ensemble gain and member accuracy mean ± std', () => {
    for (const text of ['89.7%', '0.310', '0.710', '4.2%', '+1.2 pp', '88.5% ± 0.5%']) expect(html).toContain(text);
  });

  it('prints class names as text, so markup in a class name cannot run', () => {
    expect(html).not.toContain('<script>alert');
    expect(html).not.toContain('<b>');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(html).toContain('Dress &amp; &quot;Coat&quot; &#39;n&#39; &lt;b&gt;');
  });

  it('references nothing outside the page', () => {
    expect(html).not.toMatch(EXTERNAL);
  });

  it('prints no NaN, undefined or Infinity even with an empty class, empty bins and missing validation epochs', () => {
    expect(html).not.toMatch(BROKEN);
  });

  it('lists one row per member and per class', () => {
    expect(html.match(/<section id="members">.*?<\/section>/s)?.[0].match(/<tr>/g)).toHaveLength(1 + 3);
    expect(html.match(/<section id="per-class">.*?<\/table>/s)?.[0].match(/<tr>/g)).toHaveLength(1 + CLASSES.length);
  });

  it('falls back to the report’s own class names when the model’s are unknown', () => {
    const page = renderEvaluationHtml(evaluation(), []);
    expect(page).toContain('>Trouser</text>');
    expect(page).not.toMatch(BROKEN);
  });

  it('renders a failed report with its status and error and no charts', () => {
    const failed = evaluation({ status: 'failed', metrics: undefined, learningCurves: [], error: { type: 'dataset-unreadable', detail: 'Shard 3 of <ds_1> is missing.' } });
    const page = renderEvaluationHtml(failed, CLASSES);
    expect(page).toContain('status-failed');
    expect(page).toContain('dataset-unreadable');
    expect(page).toContain('Shard 3 of &lt;ds_1&gt; is missing.');
    expect(chartKinds(page).size).toBe(0);
    expect(page).not.toMatch(BROKEN);
  });

  it('tells the reader a queued report is waiting, and still shows learning curves it already has', () => {
    const page = renderEvaluationHtml(evaluation({ status: 'queued', metrics: undefined, finishedAt: undefined }), CLASSES);
    expect(page).toContain('queued');
    expect(page).toContain('results appear here');
    expect(chartKinds(page)).toEqual(new Set(['line']));
    expect(page).not.toMatch(BROKEN);
  });
});

describe('drift page', () => {
  const html = renderDriftHtml(drift(), CLASSES);

  it('opens with a verdict banner that names the tests that called drift', () => {
    expect(html).toContain('banner-drift');
    expect(html).toMatch(/2 of 3 voting tests/);
    expect(html).toContain('mmd-embeddings');
    expect(renderDriftHtml(drift({ driftDetected: false }), CLASSES)).toContain('No drift detected');
  });

  it('draws a histogram pair for every histogram and bars for priors, uncertainty and predicted labels', () => {
    expect(chartKinds(html)).toEqual(new Set(['histogram-pair', 'bar']));
    expect(html.match(/data-chart="histogram-pair"/g)).toHaveLength(2);
    expect(html.match(/data-chart="bar"/g)).toHaveLength(3);
  });

  it('tabulates every test with its statistic, p-value, threshold, drift and effect size, drifted rows flagged', () => {
    const tests = html.match(/<section id="tests">.*?<\/section>/s)?.[0] ?? '';
    expect(tests.match(/<tr/g)).toHaveLength(1 + 4);
    expect(tests.match(/<tr class="flag">/g)).toHaveLength(2);
    expect(tests).toContain('1.00e-9');
    expect(tests).toContain('0.0125');
  });

  it('lists the largest prior changes in percentage points', () => {
    expect(html).toContain('+15.0 pp');
    expect(html).toContain('-15.0 pp');
  });

  it('escapes class and test names, references nothing outside the page and prints no NaN', () => {
    expect(html).not.toContain('<script>alert');
    expect(html).toContain('ks-probability:&lt;script&gt;');
    expect(html).not.toMatch(EXTERNAL);
    expect(html).not.toMatch(BROKEN);
  });

  it('renders a running report with a notice and no verdict', () => {
    const running = drift({ status: 'running', driftDetected: undefined, tests: [], labelShift: undefined, uncertainty: undefined, predictedLabels: undefined, histograms: [], samples: undefined, findings: [] });
    const page = renderDriftHtml(running, []);
    expect(page).toContain('being computed');
    expect(page).not.toContain('class="banner');
    expect(chartKinds(page).size).toBe(0);
    expect(page).not.toMatch(BROKEN);
  });

  it('renders a failed report with its error', () => {
    const failed = drift({ status: 'failed', driftDetected: undefined, tests: [], error: { type: 'capture-empty', detail: 'No predictions were captured in the window.' } });
    const page = renderDriftHtml(failed, CLASSES);
    expect(page).toContain('capture-empty');
    expect(page).toContain('No predictions were captured in the window.');
  });
});

describe('findings', () => {
  it('lists each finding worst first with its severity badge, title, detail, evidence table and next step', () => {
    const html = renderFindings(evaluation().findings);
    expect(html.indexOf('badge-warning')).toBeLessThan(html.indexOf('badge-info'));
    for (const text of ['Validation loss rose', 'lowest validation loss', '<th scope="row">gap</th><td>0.1834</td>', '<td>no</td>', '<td>—</td>', 'Next step:']) {
      expect(html).toContain(text);
    }
  });

  it('says so when there is nothing to report', () => {
    expect(renderFindings([])).toContain('No findings');
  });
});

describe('chart primitives', () => {
  const charts = {
    line: (points: { x: number; y: number | null }[]) => lineChart({ title: 'loss', xLabel: 'epoch', yLabel: 'loss', series: [{ name: 's', points }] }),
    bar: (values: (number | null)[]) => barChart({ title: 'f1', categories: values.map((_, i) => `c${i}`), series: [{ name: 'F1', values }], yLabel: 'F1' }),
    histogram: (edges: number[], reference: number[], current: number[]) => histogramPair({ name: 'brightness', edges, reference, current }),
    heatmap: (matrix: number[][]) => heatmap({ title: 'confusion', labels: matrix.map((_, i) => `c${i}`), matrix }),
    reliability: (count: number, accuracy: number | null) =>
      reliabilityDiagram({ title: 'reliability', bins: [{ lower: 0, upper: 1, count, confidence: accuracy, accuracy }] }),
  };
  const degenerate = {
    'no data': [charts.line([]), charts.bar([]), charts.histogram([], [], []), charts.heatmap([]), charts.reliability(0, null)],
    'one point': [charts.line([{ x: 1, y: 0.5 }]), charts.bar([0.5]), charts.histogram([0, 1], [1], [1]), charts.heatmap([[7]]), charts.reliability(3, 1)],
    'all values equal': [
      charts.line([1, 2, 3].map((x) => ({ x, y: 2 }))),
      charts.bar([0, 0, 0]),
      charts.histogram([3, 3, 3], [0.5, 0.5], [0.5, 0.5]),
      charts.heatmap([[0, 0], [0, 0]]),
      charts.reliability(5, 0),
    ],
    'NaN, null and infinite values': [
      charts.line([{ x: 1, y: NaN }, { x: 2, y: null }, { x: NaN, y: 3 }, { x: 4, y: Infinity }, { x: 5, y: 1 }]),
      charts.bar([NaN, null, 0.3, -Infinity]),
      charts.histogram([0, NaN, 2, 3], [NaN, 0.5, 0.5], [0, 0, 0]),
      heatmap({ title: 'confusion', labels: [], matrix: [[1, NaN], [null, 2]] }),
      reliabilityDiagram({ title: 'r', bins: [{ lower: NaN, upper: 1, count: 2, confidence: null, accuracy: 0.5 }] }),
    ],
  };

  for (const [name, svgs] of Object.entries(degenerate)) {
    it(`survives ${name}: every chart is a titled <svg> with no NaN, undefined or Infinity in it`, () => {
      for (const svg of svgs) {
        expect(svg).toMatch(/^<svg data-chart="[a-z-]+"[^>]*><title>/);
        expect(svg).not.toMatch(BROKEN);
      }
    });
  }

  it('breaks a line at a missing value and marks a point that stands alone', () => {
    const svg = charts.line([{ x: 1, y: 1 }, { x: 2, y: 2 }, { x: 3, y: null }, { x: 4, y: 3 }]);
    expect(svg.match(/d="[^"]*"/)?.[0].match(/M/g)).toHaveLength(2);
    expect(svg.match(/<circle/g)).toHaveLength(3);
  });

  it('uses whole-number ticks for epochs', () => {
    const svg = charts.line([1, 2, 3].map((x) => ({ x, y: x })));
    const ticks = [...svg.matchAll(/<text[^>]*text-anchor="middle" fill="#444">([^<]+)</g)].map((m) => m[1]);
    expect(ticks).toEqual(['1', '2', '3']);
  });

  it('draws K×K cells for 50 classes in a chart under 900 px wide', () => {
    const k = 50;
    const svg = charts.heatmap(Array.from({ length: k }, (_, r) => Array.from({ length: k }, (_, c) => (r === c ? 90 : 1))));
    expect(svg.match(/class="cell"/g)).toHaveLength(k * k);
    expect(Number(svg.match(/^<svg[^>]* width="([\d.]+)"/)?.[1])).toBeLessThan(900);
    expect(svg).not.toMatch(BROKEN);
  });

  it('shades each confusion row by its own total', () => {
    const svg = charts.heatmap([[90, 10], [1, 1]]);
    const fill = (r: number, c: number) => svg.match(new RegExp(`data-row="${r}" data-col="${c}"[^>]*fill="([^"]+)"`))?.[1];
    expect(fill(1, 0)).toBe(fill(1, 1)); // 50% and 50% of a small row
    expect(fill(0, 0)).not.toBe(fill(1, 0));
  });

  it('draws one reliability bar per non-empty bin and prints its count', () => {
    const bins = [0, 5, 0, 12].map((count, i) => ({ lower: i / 4, upper: (i + 1) / 4, count, confidence: count ? 0.2 + i / 4 : null, accuracy: count ? i / 4 : null }));
    const svg = reliabilityDiagram({ title: 'r', bins });
    expect([...svg.matchAll(/class="bar" data-bin="(\d+)"/g)].map((m) => m[1])).toEqual(['1', '3']);
    expect(svg).toMatch(/>5<\/text>/);
    expect(svg).toMatch(/>12<\/text>/);
  });

  it('shows reference and current of a histogram in one chart with a legend', () => {
    const svg = charts.histogram([0, 1, 2], [0.5, 0.5], [0.2, 0.8]);
    expect(svg.match(/class="bar reference"/g)).toHaveLength(2);
    expect(svg).toContain('class="step current"');
    expect(svg).toMatch(/>reference<\/text>.*>current<\/text>/s);
  });
});

describe('text', () => {
  it('escapes the five characters HTML treats specially', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });

  it('formats missing and non-finite numbers as a dash', () => {
    expect([NaN, Infinity, null, undefined].map((v) => formatNumber(v))).toEqual(['—', '—', '—', '—']);
    expect([3, 0.12345, 1e-9].map((v) => formatNumber(v))).toEqual(['3', '0.123', '1.00e-9']);
  });
});
