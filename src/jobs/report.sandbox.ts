/**
 * The report processor, run by BullMQ in a child process of the worker: scoring thousands of images and running
 * permutation tests is CPU-bound for seconds to minutes, which in-process would starve lock renewal (and, in the
 * single-process role, the API's predictions).
 */
import type { SandboxedJob } from 'bullmq';
import { loadConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { selectBackend } from '../models/backend.js';
import { runReportJob, type ReportJobDeps } from '../reports/run.js';
import { createStorage } from '../storage/storage.js';
import { reportJobSchema, type ReportJob } from './queues.js';

let ready: Promise<ReportJobDeps> | null = null;

function init() {
  ready ??= (async () => {
    const config = loadConfig();
    await selectBackend(config.TFJS_BACKEND, { wasmFma: config.WASM_FMA });
    return { storage: createStorage(config), logger: createLogger(config) };
  })();
  return ready;
}

/** Computes one report; resolves with its final status. */
export default async function processReport(job: SandboxedJob<ReportJob>): Promise<string> {
  return runReportJob(await init(), reportJobSchema.parse(job.data));
}
