/**
 * A whole single-machine Quorum for scripts: Redis and the S3-protocol server on free loopback ports, and the
 * built service (`node dist/src/main.js`, what `npm start` runs) configured by environment variables alone.
 */
import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startRedis, startS3 } from './local-services.js';

export interface Stack {
  url: string;
  apiKey: string;
  env: Record<string, string>;
  /** Peak resident memory of the service process in bytes, sampled from /proc every 200 ms (Linux). */
  peakRss(): number;
  /** The service's process id (for /proc figures: CPU time, resident memory). */
  pid: number;
  stop(): Promise<void>;
}

/** Starts Redis, S3 and the service; resolves once /readyz answers 200. */
export async function startStack(opts: { env?: Record<string, string>; log?: boolean } = {}): Promise<Stack> {
  const dataDir = await mkdtemp(join(tmpdir(), 'quorum-stack-'));
  const redis = await startRedis();
  const s3 = await startS3({ directory: dataDir });
  const port = await freePort();
  const apiKey = 'quickstart-key-0001';
  const env = {
    PORT: String(port),
    HOST: '127.0.0.1',
    REDIS_URL: redis.url,
    S3_ENDPOINT: s3.url,
    S3_BUCKET: 'quorum',
    API_KEYS: `${apiKey}:demo`,
    LOG_LEVEL: opts.log ? 'info' : 'warn',
    ...opts.env,
  };
  const proc = spawn('node', ['dist/src/main.js'], { env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit'] });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  let peak = 0;
  const sampler = setInterval(async () => {
    const { readFile } = await import('node:fs/promises');
    const status = await readFile(`/proc/${proc.pid}/status`, 'utf8').catch(() => '');
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    peak = Math.max(peak, kb * 1024);
  }, 200);
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    clearInterval(sampler);
    if (proc.exitCode === null) proc.kill('SIGTERM');
    await exited;
    await s3.stop();
    await redis.stop();
    const { rm } = await import('node:fs/promises');
    await rm(dataDir, { recursive: true, force: true });
  };
  const until = Date.now() + 30_000;
  for (;;) {
    const ok = await fetch(`${url}/readyz`).then((r) => r.ok, () => false);
    if (ok) break;
    if (proc.exitCode !== null || Date.now() > until) {
      await stop();
      throw new Error('the service did not become ready (is it built? run `npm run build`)');
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, apiKey, env, peakRss: () => peak, pid: proc.pid!, stop };
}
