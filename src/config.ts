/**
 * The one place that reads the environment. Every knob has a default that works on a single machine
 * (Redis and an S3-protocol server on loopback); `loadConfig` reports every bad variable at once.
 */
import { z } from 'zod';

const int = (def: number, min = 0) => z.coerce.number().int().min(min).default(def);
const bool = (def: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(def ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

const MiB = 1024 * 1024;

const apiKeys = z
  .string()
  .default('dev-key-change-me:default')
  .transform((raw, ctx) => {
    const keys = new Map<string, string>();
    for (const pair of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
      const i = pair.lastIndexOf(':');
      const key = pair.slice(0, i);
      const tenant = pair.slice(i + 1);
      if (i <= 0 || key.length < 8 || !/^[a-z0-9][a-z0-9-]{0,62}$/.test(tenant)) {
        ctx.addIssue({
          code: 'custom',
          message: `"${pair.slice(0, 4)}…" is not a "key:tenant" pair (key of at least 8 characters, tenant of lowercase letters, digits and dashes)`,
        });
        return z.NEVER;
      }
      keys.set(key, tenant);
    }
    if (keys.size === 0) {
      ctx.addIssue({ code: 'custom', message: 'at least one "key:tenant" pair is needed' });
      return z.NEVER;
    }
    return keys;
  });

export const configSchema = z.object({
  PORT: int(8080).pipe(z.number().max(65535)),
  HOST: z.string().default('0.0.0.0'),
  QUORUM_ROLE: z.enum(['api', 'worker', 'all']).default('all'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  QUEUE_PREFIX: z.string().regex(/^[a-zA-Z0-9:_-]+$/).default('quorum'),
  S3_ENDPOINT: z.string().url().optional(),
  S3_REGION: z.string().default('us-east-1'),
  S3_BUCKET: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/).default('quorum'),
  S3_ACCESS_KEY_ID: z.string().default('S3RVER'),
  S3_SECRET_ACCESS_KEY: z.string().default('S3RVER'),
  S3_FORCE_PATH_STYLE: bool(true),
  S3_CREATE_BUCKET: bool(true),
  API_KEYS: apiKeys,
  TFJS_BACKEND: z.enum(['auto', 'tensorflow', 'wasm', 'cpu']).default('auto'),
  WASM_FMA: bool(true),
  TMP_DIR: z.string().optional(),
  WORKER_CONCURRENCY: int(1, 1),
  /** Ensemble members trained at once by one worker process, each in its own child process (one per core is right). */
  TRAIN_CONCURRENCY: int(1, 1),
  /** BullMQ lock and stalled-job check: a worker lost mid-job is noticed within about lock + interval. */
  WORKER_LOCK_DURATION_MS: int(30_000, 1000),
  WORKER_STALLED_INTERVAL_MS: int(30_000, 500),
  // Prediction: micro-batching (as TensorFlow Serving's max_batch_size / batch_timeout_micros) and its bounds.
  PREDICT_MAX_BATCH: int(64, 1),
  PREDICT_MAX_WAIT_MICROS: int(0, 0),
  PREDICT_MAX_QUEUED: int(2048, 1),
  PREDICT_MAX_INSTANCES: int(64, 1),
  PREDICT_MAX_BODY_BYTES: int(16 * MiB, 1024),
  /**
   * Inference threads for forward passes, so the event loop keeps decoding and answering HTTP. `auto`: one per core
   * on wasm and cpu; 0 (inline) on the native tensorflow backend, which has its own thread pool.
   */
  PREDICT_THREADS: z.union([z.literal('auto'), z.coerce.number().int().min(0).max(64)]).default('auto'),
  MODEL_CACHE_MAX_BYTES: int(512 * MiB, 1),
  /** How long an alias → model resolution is reused; alias changes take effect within this time, no restart. */
  ALIAS_CACHE_MS: int(2000, 0),
  // Deployment-data capture: the fraction of served instances kept, and how the buffer flushes to storage.
  CAPTURE_FRACTION: z.coerce.number().min(0).max(1).default(1),
  CAPTURE_FLUSH_BYTES: int(4 * MiB, 1024),
  CAPTURE_FLUSH_MS: int(10_000, 10),
  /** Bound on buffered capture bytes; beyond it samples are dropped (and counted), never waited for. */
  CAPTURE_MAX_BUFFER_BYTES: int(64 * MiB, 1024),
  // Upload and archive limits (bytes unless named otherwise).
  MAX_UPLOAD_BYTES: int(1024 * MiB, 1),
  MAX_ARCHIVE_ENTRIES: int(200_000, 1),
  MAX_ARCHIVE_ENTRY_BYTES: int(64 * MiB, 1),
  MAX_ARCHIVE_TOTAL_BYTES: int(4096 * MiB, 1),
  MAX_COMPRESSION_RATIO: int(200, 1),
  MAX_IDX_BYTES: int(1024 * MiB, 1),
  MAX_IMAGE_PIXELS: int(50_000_000, 1),
  MAX_DECODED_DATASET_BYTES: int(4096 * MiB, 1),
  MAX_CLASSES: int(1000, 2),
  MAX_IMAGE_SIZE: int(512, 8),
  // Duplicate search: perceptual-hash distance and mean absolute pixel difference (0..255) that confirm a near copy.
  NEAR_DUPLICATE_HAMMING: int(4, 0).pipe(z.number().max(16)),
  NEAR_DUPLICATE_MAX_MEAN_ABS_DIFF: z.coerce.number().min(0).max(255).default(6),
  // Scheduled drift reports and their webhook alerts.
  /** Most drift schedules one tenant may hold (409 beyond). */
  MAX_DRIFT_SCHEDULES_PER_TENANT: int(50, 1),
  /** Shortest time a schedule's cron pattern may leave between two runs. */
  DRIFT_SCHEDULE_MIN_INTERVAL_MS: int(60_000, 1000),
  /** How often workers re-create job schedulers from the bucket (besides at start-up); 0 turns it off. */
  DRIFT_SCHEDULE_RECONCILE_MS: int(300_000, 0),
  /** Per-attempt timeout of a webhook POST. */
  WEBHOOK_TIMEOUT_MS: int(5000, 100),
  /** Attempts per webhook delivery (network errors and 5xx are retried; 4xx are not). */
  WEBHOOK_ATTEMPTS: int(3, 1).pipe(z.number().max(10)),
  /** Wait before the second attempt; doubles for each one after. */
  WEBHOOK_BACKOFF_MS: int(1000, 0),
  /** The service's public base URL (e.g. https://quorum.example.com): webhook links are absolute when set, paths otherwise. */
  PUBLIC_URL: z.string().url().optional(),
});

export type Config = z.infer<typeof configSchema>;

/** Parses `env` (process.env by default); throws one error listing every invalid variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const result = configSchema.safeParse(env);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.') || '(env)'}: ${i.message}`);
    throw new Error(`invalid configuration:\n${lines.join('\n')}`);
  }
  return result.data;
}
