/**
 * The diagnosis: a rule engine over what Quorum knows about a model — the dataset profile, the run's per-epoch
 * history, an evaluation and a drift report — that answers "why is accuracy low, why does it vary, why did it drop".
 * Each rule is a pure function returning findings with the numbers that triggered it and a concrete next step;
 * a rule whose inputs are absent stays silent.
 */
import type { DatasetProfile } from '../storage/manifests.js';
import type { DriftReport, EvaluationMetrics, Finding } from '../storage/report-manifests.js';
import type { MemberRecord, RunConfig } from '../storage/training-manifests.js';
import { dataRules } from './data.js';
import { driftRules } from './drift.js';
import { evaluationRules } from './evaluation.js';
import { trainingRules } from './training.js';

export interface DiagnosisInput {
  /** Class names in the model's order. */
  classes: string[];
  /** The run's resolved configuration. */
  config?: RunConfig;
  /** Profile of the dataset the model was trained on. */
  profile?: DatasetProfile;
  /** The run's member records (per-epoch history, status, stop reason). */
  members?: MemberRecord[];
  evaluation?: EvaluationMetrics;
  drift?: DriftReport;
}

export type Rule = (input: DiagnosisInput) => Finding[];

const SEVERITY_ORDER = { critical: 0, warning: 1, info: 2 } as const;

/** Every finding of every rule, most severe first (ties keep rule order). */
export function diagnose(input: DiagnosisInput): Finding[] {
  const rules: Rule[] = [...trainingRules, ...dataRules, ...evaluationRules, ...driftRules];
  return rules
    .flatMap((rule) => rule(input))
    .map((f, i) => ({ f, i }))
    .sort((a, b) => SEVERITY_ORDER[a.f.severity] - SEVERITY_ORDER[b.f.severity] || a.i - b.i)
    .map(({ f }) => f);
}

/** Rounds for evidence tables: 4 significant decimals are plenty for a person. */
export const round = (x: number, digits = 4) => Number(x.toFixed(digits));
/** Percent with one decimal, for sentences. */
export const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
