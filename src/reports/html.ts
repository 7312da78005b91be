/** The HTML page of any report, by kind. */
import type { Report } from '../storage/report-manifests.js';
import { renderDriftHtml } from './html/drift.js';
import { renderEvaluationHtml } from './html/evaluation.js';

/** A self-contained page (inline CSS and SVG, no network) for the report; `classes` in the model's order. */
export function renderReportHtml(report: Report, classes: string[]): string {
  return report.kind === 'evaluation' ? renderEvaluationHtml(report, classes) : renderDriftHtml(report, classes);
}
