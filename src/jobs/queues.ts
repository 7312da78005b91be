/**
 * Queues and their typed payloads. A payload names what to work on; the inputs themselves live in object storage
 * (the manifest is the system of record), so a lost Redis loses no data, only queued work.
 */
import { FlowProducer, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { z } from 'zod';

export const QUEUE_NAMES = { ingest: 'ingest', train: 'train', trainMember: 'train-member', report: 'report', driftSchedule: 'drift-schedule' } as const;

export const ingestJobSchema = z.object({
  tenant: z.string(),
  datasetId: z.string(),
});
export type IngestJob = z.infer<typeof ingestJobSchema>;

/** The parent job of a training run: finishes the run once every member job has. */
export const trainJobSchema = z.object({ tenant: z.string(), jobId: z.string() });
export type TrainJob = z.infer<typeof trainJobSchema>;

/** One ensemble member of a run. */
export const trainMemberJobSchema = z.object({ tenant: z.string(), jobId: z.string(), index: z.number().int().min(0) });
export type TrainMemberJob = z.infer<typeof trainMemberJobSchema>;

/** An evaluation or drift report to compute (the record in storage says which and on what). */
export const reportJobSchema = z.object({ tenant: z.string(), reportId: z.string() });
export type ReportJob = z.infer<typeof reportJobSchema>;

/** A drift schedule's firing (job name `fire`): the definition in storage says what to compare and where to alert. */
export const driftScheduleJobSchema = z.object({ tenant: z.string(), scheduleId: z.string() });
export type DriftScheduleJob = z.infer<typeof driftScheduleJobSchema>;

/** What follows a scheduled report (job name `outcome`, parent of the report job): record the run, alert on drift. */
export const driftOutcomeJobSchema = z.object({ tenant: z.string(), scheduleId: z.string(), reportId: z.string() });
export type DriftOutcomeJob = z.infer<typeof driftOutcomeJobSchema>;

/** The Redis key whose presence asks a run's members to stop (polled between training steps). */
export const cancelKey = (prefix: string, jobId: string) => `${prefix}:cancel:${jobId}`;

export interface QueueDeps {
  connection: Redis;
  prefix: string;
}

/** Creates the producers the API uses. Ingest and report jobs are retried with backoff; finished jobs are trimmed. */
export function createQueues({ connection, prefix }: QueueDeps) {
  // Finished jobs are kept a day (failed ones a week) for inspection, then trimmed.
  const kept = { removeOnComplete: { age: 24 * 3600, count: 1000 }, removeOnFail: { age: 7 * 24 * 3600 } };
  const retried = (attempts: number) => ({ attempts, backoff: { type: 'exponential', delay: 2000 }, ...kept });
  const ingest = new Queue<IngestJob>(QUEUE_NAMES.ingest, { connection, prefix, defaultJobOptions: retried(3) });
  const train = new Queue<TrainJob>(QUEUE_NAMES.train, { connection, prefix });
  const trainMember = new Queue<TrainMemberJob>(QUEUE_NAMES.trainMember, { connection, prefix });
  const report = new Queue<ReportJob>(QUEUE_NAMES.report, { connection, prefix, defaultJobOptions: retried(2) });
  const schedules = new Queue<DriftScheduleJob | DriftOutcomeJob>(QUEUE_NAMES.driftSchedule, { connection, prefix });
  const flows = new FlowProducer({ connection, prefix });
  return {
    ingest,
    train,
    trainMember,
    /**
     * Enqueues a run as a flow: one member job per ensemble member (each retried on crashes, resuming from its
     * checkpoint) under a parent that BullMQ starts only when all members are done. A member that fails for good
     * fails the parent too.
     */
    async enqueueTraining(job: TrainJob, members: number) {
      await flows.add({
        name: 'train',
        queueName: QUEUE_NAMES.train,
        data: trainJobSchema.parse(job),
        opts: { jobId: job.jobId, removeOnComplete: { age: 24 * 3600 } },
        children: Array.from({ length: members }, (_, index) => ({
          name: 'member',
          queueName: QUEUE_NAMES.trainMember,
          data: trainMemberJobSchema.parse({ ...job, index }),
          opts: {
            jobId: `${job.jobId}-m${index}`,
            attempts: 3,
            backoff: { type: 'exponential', delay: 2000 },
            failParentOnFailure: true,
            removeOnComplete: { age: 24 * 3600 },
          },
        })),
      });
    },
    async requestCancel(jobId: string) {
      await connection.set(cancelKey(prefix, jobId), '1', 'EX', 7 * 24 * 3600);
    },
    /** Enqueues the ingestion of one dataset; the job id is the dataset id so a retry of the request cannot double it. */
    async enqueueIngest(job: IngestJob) {
      await ingest.add('ingest', ingestJobSchema.parse(job), { jobId: job.datasetId });
    },
    /** Enqueues a report; the job id is the report id, so a retried request cannot compute it twice. */
    async enqueueReport(job: ReportJob) {
      await report.add('report', reportJobSchema.parse(job), { jobId: job.reportId });
    },
    /**
     * Creates or updates the job scheduler that fires a drift schedule (its id is the schedule id); resolves with the
     * time of the next run. Firings that fail on an outage are retried; one the user must fix is recorded, not retried.
     */
    async upsertDriftSchedule(job: DriftScheduleJob, repeat: { pattern: string; timezone: string }): Promise<number | null> {
      await schedules.upsertJobScheduler(
        job.scheduleId,
        { pattern: repeat.pattern, tz: repeat.timezone },
        { name: 'fire', data: driftScheduleJobSchema.parse(job), opts: { attempts: 3, backoff: { type: 'exponential', delay: 2000 }, ...kept } },
      );
      return (await schedules.getJobScheduler(job.scheduleId))?.next ?? null;
    },
    async removeDriftSchedule(scheduleId: string): Promise<void> {
      await schedules.removeJobScheduler(scheduleId);
    },
    /** The next run of a drift schedule's job scheduler, or null when Redis holds none. */
    async nextDriftRun(scheduleId: string): Promise<number | null> {
      return (await schedules.getJobScheduler(scheduleId))?.next ?? null;
    },
    /** The ids of every job scheduler Redis holds for drift schedules. */
    async driftScheduleIds(): Promise<string[]> {
      return (await schedules.getJobSchedulers(0, -1, true)).map((s) => s.key);
    },
    /**
     * Enqueues a scheduled drift report as a flow: the report job under an `outcome` job that BullMQ starts once the
     * report job is done, or has failed for good (so a lost run is still recorded).
     */
    async enqueueScheduledReport(job: ReportJob, scheduleId: string) {
      await flows.add({
        name: 'outcome',
        queueName: QUEUE_NAMES.driftSchedule,
        data: driftOutcomeJobSchema.parse({ tenant: job.tenant, scheduleId, reportId: job.reportId }),
        opts: { jobId: `outcome-${job.reportId}`, attempts: 3, backoff: { type: 'exponential', delay: 2000 }, ...kept },
        children: [
          {
            name: 'report',
            queueName: QUEUE_NAMES.report,
            data: reportJobSchema.parse(job),
            opts: { jobId: job.reportId, attempts: 2, backoff: { type: 'exponential', delay: 2000 }, ignoreDependencyOnFailure: true, ...kept },
          },
        ],
      });
    },
    /** Waiting + active + delayed jobs per queue, for /metrics. */
    async depths(): Promise<Record<string, Record<string, number>>> {
      const states = ['waiting', 'active', 'delayed', 'failed', 'waiting-children'] as const;
      return {
        [QUEUE_NAMES.ingest]: await ingest.getJobCounts(...states),
        [QUEUE_NAMES.train]: await train.getJobCounts(...states),
        [QUEUE_NAMES.trainMember]: await trainMember.getJobCounts(...states),
        [QUEUE_NAMES.report]: await report.getJobCounts(...states),
        [QUEUE_NAMES.driftSchedule]: await schedules.getJobCounts(...states),
      };
    },
    async close() {
      await Promise.all([ingest.close(), train.close(), trainMember.close(), report.close(), schedules.close(), flows.close()]);
    },
  };
}

export type Queues = ReturnType<typeof createQueues>;
