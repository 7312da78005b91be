/**
 * Starts one real redis-server and one S3-protocol server on free loopback ports for the whole run, unless
 * TEST_REDIS_URL / TEST_S3_URL point at running ones. Each test file isolates itself with its own bucket and
 * queue prefix (test/harness/service.ts).
 */
import type { TestProject } from 'vitest/node';
import { startRedis, startS3, type LocalService } from '../../scripts/lib/local-services.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
    s3Url: string;
  }
}

export default async function setup(project: TestProject) {
  const started: LocalService[] = [];
  let redisUrl = process.env.TEST_REDIS_URL;
  let s3Url = process.env.TEST_S3_URL;
  if (!redisUrl) {
    const redis = await startRedis();
    started.push(redis);
    redisUrl = redis.url;
  }
  if (!s3Url) {
    const s3 = await startS3();
    started.push(s3);
    s3Url = s3.url;
  }
  project.provide('redisUrl', redisUrl);
  project.provide('s3Url', s3Url);
  return async () => {
    for (const s of started) await s.stop();
  };
}
