/** The drift alert a schedule's webhook receives: what drifted, in brief, and where the full report is. */
import type { DriftReport } from '../storage/report-manifests.js';
import type { DriftAlert, DriftSchedule } from './schemas.js';

/** The alert for a finished scheduled report that detected drift; links are absolute when `publicUrl` is set. */
export function driftAlert(schedule: DriftSchedule, report: DriftReport, publicUrl?: string): DriftAlert {
  const self = `${publicUrl ? publicUrl.replace(/\/+$/, '') : ''}/v1/drift-reports/${report.id}`;
  const window = 'from' in report.current ? { from: report.current.from, to: report.current.to } : { from: '', to: '' };
  return {
    event: 'drift.detected',
    schedule: { id: schedule.id, name: schedule.name ?? null, modelId: schedule.modelId },
    report: {
      id: report.id,
      modelId: report.modelId,
      driftDetected: true,
      window,
      flaggedTests: report.tests.filter((t) => t.drift).map((t) => ({ name: t.name, pValue: t.pValue, threshold: t.threshold })),
      findings: report.findings.map((f) => ({ rule: f.rule, severity: f.severity, title: f.title })),
    },
    links: { report: self, html: `${self}.html` },
  };
}
