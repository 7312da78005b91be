/**
 * The report pages in a real browser: Debian's Chromium, driven by playwright-core, with every network request
 * intercepted. Proves the pages need nothing but themselves and that the charts lay out with a size.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderDriftHtml } from '../../../src/reports/html/drift.js';
import { renderEvaluationHtml } from '../../../src/reports/html/evaluation.js';
import { driftReportSchema, evaluationSchema } from '../../../src/storage/report-manifests.js';

const CHROMIUM = '/usr/bin/chromium';
const LAUNCH_TIMEOUT = 60_000;
const CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', '<script>window.pwned = 1</script>'];
const K = CLASSES.length;
const stamps = { tenant: 'acme', createdAt: '2025-03-01T10:00:00.000Z', updatedAt: '2025-03-01T10:05:00.000Z', finishedAt: '2025-03-01T10:05:00.000Z', modelId: 'mod_abc', status: 'ready' };
const finding = {
  rule: 'class-confusion',
  severity: 'warning',
  title: 'Shirt is mistaken for T-shirt/top',
  detail: '18% of shirts are predicted as T-shirt/top.',
  evidence: { trueClass: 'Shirt', predicted: 'T-shirt/top', share: 0.18 },
  nextStep: 'Add more shirt images with visible collars.',
};

// 15 confidence bins; nothing below 0.2, as with a 10-class softmax maximum.
const BINS = Array.from({ length: 15 }, (_, i) => {
  const [lower, upper] = [i / 15, (i + 1) / 15];
  const count = lower < 0.2 ? 0 : 20 + i * 40;
  const confidence = (lower + upper) / 2;
  return { lower, upper, count, confidence: count ? confidence : null, accuracy: count ? Math.min(1, confidence * 0.95 + 0.02) : null };
});

const evaluation = evaluationSchema.parse({
  ...stamps,
  id: 'rep_eval',
  kind: 'evaluation',
  datasetId: 'ds_fashion',
  split: 'test',
  findings: [finding],
  metrics: {
    samples: 1000,
    accuracy: 0.87,
    nll: 0.36,
    macroF1: 0.86,
    perClass: CLASSES.map((c, i) => ({ class: c, precision: 0.8 + i * 0.015, recall: 0.78 + i * 0.018, f1: 0.79 + i * 0.016, support: 100 })),
    confusion: CLASSES.map((_, r) => CLASSES.map((_, c) => (r === c ? 80 + r : (r * 7 + c * 3) % 5))),
    calibration: { ece: 0.03, mce: 0.09, bins: BINS },
    members: [0, 1, 2].map((index) => ({ index, seed: index + 1, accuracy: 0.85 + index * 0.004, nll: 0.41 })),
    memberAccuracy: { mean: 0.854, std: 0.004 },
    ensembleGain: 0.016,
  },
  learningCurves: [0, 1, 2].map((member) => ({
    member,
    seed: member + 1,
    history: Array.from({ length: 12 }, (_, e) => ({
      epoch: e + 1,
      loss: 0.9 / Math.sqrt(e + 1) - member * 0.01,
      accuracy: 0.7 + 0.2 * (1 - 1 / (e + 1)),
      valLoss: 0.75 / Math.sqrt(e + 1) + (e > 7 ? (e - 7) * 0.02 : 0),
      valAccuracy: 0.72 + 0.15 * (1 - 1 / (e + 1)),
      learningRate: 0.001,
      seconds: 4,
    })),
  })),
});

const histogram = (name: string, lo: number, hi: number, shift: number) => {
  const edges = Array.from({ length: 21 }, (_, i) => lo + ((hi - lo) * i) / 20);
  const bump = (centre: number) => {
    const raw = edges.slice(1).map((_, i) => Math.exp(-(((i - centre) / 4) ** 2)));
    const total = raw.reduce((s, v) => s + v, 0);
    return raw.map((v) => v / total);
  };
  return { name, edges, reference: bump(9), current: bump(9 + shift) };
};

const drift = driftReportSchema.parse({
  ...stamps,
  id: 'rep_drift',
  kind: 'drift-report',
  reference: { datasetId: 'ds_fashion', split: 'val' },
  current: { datasetId: 'ds_field', split: 'all' },
  alpha: 0.05,
  options: {},
  samples: { reference: 1000, current: 900, mmdReference: 500, mmdCurrent: 500, seed: 1 },
  driftDetected: true,
  tests: [
    { name: 'ks-image:brightness', family: 'image-statistics', statistic: 0.31, pValue: 1e-12, threshold: 0.0125, drift: true, effectSize: 1.2, inVerdict: true },
    { name: 'chi-square-labels', family: 'labels', statistic: 12.4, pValue: 0.19, threshold: 0.0125, drift: false, effectSize: 0.1, inVerdict: true },
    { name: 'ks-uncertainty:entropy', family: 'uncertainty', statistic: 0.12, pValue: 0.002, threshold: 0.0125, drift: true, inVerdict: false },
  ],
  labelShift: {
    referencePriors: Object.fromEntries(CLASSES.map((c) => [c, 1 / K])),
    estimatedPriors: Object.fromEntries(CLASSES.map((c, i) => [c, (i + 1) / 55])),
    largestChanges: [{ class: 'Bag', reference: 0.1, estimated: 0.164 }],
  },
  uncertainty: { reference: { entropy: 0.35, mutualInformation: 0.03, confidence: 0.88 }, current: { entropy: 0.7, mutualInformation: 0.09, confidence: 0.76 } },
  predictedLabels: { reference: CLASSES.map(() => 100), current: CLASSES.map((_, i) => 50 + i * 10) },
  histograms: [histogram('brightness', 0, 1, 3), histogram('contrast', 0, 0.5, 0), histogram('max probability', 0.1, 1, -2)],
  findings: [{ ...finding, severity: 'critical', rule: 'deployment-shift', title: 'Images are brighter than the validation split' }],
});

describe('report pages in headless Chromium', () => {
  let browser: Browser;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`No Chromium at ${CHROMIUM}: install it with "apt-get install chromium" (.ci/run does).`);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], timeout: LAUNCH_TIMEOUT });
  }, LAUNCH_TIMEOUT);

  afterAll(async () => {
    await browser?.close();
  });

  /** A fresh page that aborts and records every request, and records console errors and uncaught exceptions. */
  async function open(html: string): Promise<{ page: Page; requests: string[]; errors: string[] }> {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const requests: string[] = [];
    const errors: string[] = [];
    await page.route('**/*', (route) => {
      requests.push(route.request().url());
      return route.abort();
    });
    page.on('console', (m) => void (m.type() === 'error' && errors.push(m.text())));
    page.on('pageerror', (e) => void errors.push(e.message));
    await page.setContent(html, { waitUntil: 'load' });
    return { page, requests, errors };
  }

  /** Every chart on the page has a laid-out box; returns how many there are of each kind. */
  async function visibleCharts(page: Page): Promise<Record<string, number>> {
    const kinds: Record<string, number> = {};
    const svgs = page.locator('svg[data-chart]');
    for (let i = 0; i < (await svgs.count()); i++) {
      const svg = svgs.nth(i);
      const kind = (await svg.getAttribute('data-chart')) as string;
      const box = await svg.boundingBox();
      expect(box?.width, `${kind} chart ${i} width`).toBeGreaterThan(0);
      expect(box?.height, `${kind} chart ${i} height`).toBeGreaterThan(0);
      kinds[kind] = (kinds[kind] ?? 0) + 1;
    }
    return kinds;
  }

  it('counts a request when a page does reference the network (the interception works)', async () => {
    const { page, requests } = await open('<p>control</p><img src="http://quorum.invalid/pixel.png">');
    expect(requests).toEqual(['http://quorum.invalid/pixel.png']);
    await page.close();
  }, 30_000);

  it('shows an evaluation with no requests, no console errors and every chart laid out', async () => {
    const { page, requests, errors } = await open(renderEvaluationHtml(evaluation, CLASSES));
    expect(requests).toEqual([]);
    expect(errors).toEqual([]);
    expect(await visibleCharts(page)).toEqual({ bar: 1, heatmap: 1, reliability: 1, line: 2 });

    const heatmap = page.locator('svg[data-chart="heatmap"]');
    expect(await heatmap.locator('rect.cell').count()).toBe(K * K);
    const chartBox = (await heatmap.boundingBox())!;
    const lastCell = (await heatmap.locator(`rect.cell[data-row="${K - 1}"][data-col="${K - 1}"]`).boundingBox())!;
    expect(lastCell.width).toBeGreaterThan(0);
    expect(lastCell.x + lastCell.width).toBeLessThanOrEqual(chartBox.x + chartBox.width);
    expect(lastCell.y + lastCell.height).toBeLessThanOrEqual(chartBox.y + chartBox.height);

    const bars = page.locator('svg[data-chart="reliability"] rect.bar');
    expect(await bars.count()).toBe(BINS.filter((b) => b.count > 0).length);
    expect((await bars.first().boundingBox())?.height).toBeGreaterThan(0);

    // The class named like a script is text on the page, not an element.
    expect(await page.locator('script').count()).toBe(0);
    expect(await page.getByText(CLASSES[K - 1]).first().isVisible()).toBe(true);
    expect(await page.evaluate('typeof window.pwned')).toBe('undefined');
    await page.close();
  }, 30_000);

  it('shows a drift report with no requests, no console errors and every chart laid out', async () => {
    const { page, requests, errors } = await open(renderDriftHtml(drift, CLASSES));
    expect(requests).toEqual([]);
    expect(errors).toEqual([]);
    expect(await visibleCharts(page)).toEqual({ 'histogram-pair': drift.histograms.length, bar: 3 });
    expect(await page.locator('.banner-drift').isVisible()).toBe(true);
    expect(await page.locator('section#tests tbody tr').count()).toBe(drift.tests.length);
    expect(await page.locator('svg[data-chart="histogram-pair"] path.current').count()).toBe(drift.histograms.length);
    await page.close();
  }, 30_000);
});
