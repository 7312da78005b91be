/**
 * Drift schedules: the request body, the stored definition and state, the public view and the webhook payload. One
 * schema each; the route, the service, the workers and the OpenAPI document all read these.
 */
import { z } from 'zod';
import { driftOptionsSchema } from '../reports/requests.js';
import { findingSchema } from '../storage/report-manifests.js';
import { cronProblem, isTimeZone } from './cron.js';
import { windowProblem } from './duration.js';

const refineWith = (problem: (v: string) => string | null) => (value: string, ctx: z.RefinementCtx) => {
  const message = problem(value);
  if (message) ctx.addIssue({ code: 'custom', message });
};

const httpUrl = z
  .string()
  .max(2048)
  .superRefine(
    refineWith((v) => {
      if (!URL.canParse(v)) return 'not a URL; give an absolute http:// or https:// URL.';
      const protocol = new URL(v).protocol;
      return protocol === 'http:' || protocol === 'https:' ? null : `webhookUrl must use http or https, not ${protocol.slice(0, -1)}.`;
    }),
  );

export const driftScheduleRequestSchema = z
  .object({
    /** Model id or alias; an alias is resolved at every run, so moving it moves the schedule too. */
    modelId: z.string().min(1).max(100),
    cron: z
      .string()
      .max(120)
      .superRefine(refineWith((v) => cronProblem(v)))
      .meta({ description: 'Cron pattern: 5 fields (minute hour day month weekday), or 6 with seconds first; runs may be no closer than DRIFT_SCHEDULE_MIN_INTERVAL_MS (1 minute by default).', example: '0 * * * *' }),
    timezone: z
      .string()
      .max(64)
      .refine(isTimeZone, { message: 'not an IANA time zone (e.g. "UTC", "Europe/Paris").' })
      .default('UTC')
      .meta({ description: 'IANA time zone the cron pattern is read in.' }),
    window: z
      .string()
      .max(16)
      .superRefine(refineWith(windowProblem))
      .meta({ description: 'Each run compares the predictions captured in [run time − window, run time) with the validation split: a whole number and m, h, d or w.', example: '24h' }),
    options: driftOptionsSchema.prefault({}),
    webhookUrl: httpUrl.meta({ description: 'Where drift alerts are POSTed (http or https).' }),
    name: z.string().trim().min(1).max(200).optional(),
  })
  .strict();

/** The stored definition: written once by the API, never by workers. */
export const driftScheduleSchema = z.object({
  id: z.string(),
  tenant: z.string(),
  name: z.string().optional(),
  modelId: z.string(),
  cron: z.string(),
  timezone: z.string(),
  window: z.string(),
  options: driftOptionsSchema,
  webhookUrl: z.string(),
  /** HMAC key of the webhook signatures; returned only by the creation response. */
  secret: z.string(),
  createdAt: z.string(),
});

export const lastRunSchema = z.object({
  /** The drift report the run created; null when the run could not create one (see `error`). */
  reportId: z.string().nullable(),
  /** When the run fired: the end of its capture window. */
  at: z.string(),
  status: z.enum(['ready', 'failed']),
  driftDetected: z.boolean().nullable(),
  error: z.string().optional(),
});

export const lastDeliverySchema = z.object({
  at: z.string(),
  reportId: z.string(),
  delivered: z.boolean(),
  /** The receiver's HTTP status on the last attempt; null when no response came (see `error`). */
  statusCode: z.number().int().nullable(),
  error: z.string().nullable(),
  attempts: z.number().int(),
});

/** What workers record about a schedule's runs, kept apart from the definition. */
export const driftScheduleStateSchema = z.object({
  lastRun: lastRunSchema.optional(),
  lastDelivery: lastDeliverySchema.optional(),
});

/** The public shape of a schedule. */
export const driftScheduleViewSchema = z
  .object({
    id: z.string(),
    /** `active` while its job scheduler is registered; `unscheduled` when Redis lost it and no worker has restored it yet. */
    status: z.enum(['active', 'unscheduled']),
    active: z.boolean(),
    name: z.string().nullable(),
    modelId: z.string(),
    cron: z.string(),
    timezone: z.string(),
    window: z.string(),
    options: driftOptionsSchema,
    webhookUrl: z.string(),
    createdAt: z.string(),
    nextRunAt: z.string().nullable(),
    lastRun: lastRunSchema.nullable(),
    lastDelivery: lastDeliverySchema.nullable(),
    /** Only in the creation response: the webhook signing secret (64 hex characters). Store it; it is not shown again. */
    webhookSecret: z.string().optional(),
    links: z.object({ self: z.string(), reports: z.string() }),
  })
  .meta({ id: 'DriftSchedule' });

/** The JSON body POSTed to the webhook when a scheduled report detects drift. */
export const driftAlertSchema = z
  .object({
    event: z.literal('drift.detected'),
    schedule: z.object({ id: z.string(), name: z.string().nullable(), modelId: z.string() }),
    report: z.object({
      id: z.string(),
      /** The model the report scored (the alias resolved at run time). */
      modelId: z.string(),
      driftDetected: z.literal(true),
      window: z.object({ from: z.string(), to: z.string() }),
      /** The tests that called drift. */
      flaggedTests: z.array(z.object({ name: z.string(), pValue: z.number(), threshold: z.number() })),
      findings: z.array(findingSchema.pick({ rule: true, severity: true, title: true })),
    }),
    /** Absolute when PUBLIC_URL is configured, paths otherwise. */
    links: z.object({ report: z.string(), html: z.string() }),
  })
  .meta({ id: 'DriftAlert' });

export type DriftScheduleRequest = z.infer<typeof driftScheduleRequestSchema>;
export type DriftSchedule = z.infer<typeof driftScheduleSchema>;
export type DriftScheduleState = z.infer<typeof driftScheduleStateSchema>;
export type DriftScheduleView = z.infer<typeof driftScheduleViewSchema>;
export type LastRun = z.infer<typeof lastRunSchema>;
export type LastDelivery = z.infer<typeof lastDeliverySchema>;
export type DriftAlert = z.infer<typeof driftAlertSchema>;
