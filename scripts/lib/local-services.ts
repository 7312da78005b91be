/**
 * Starts the two services Quorum needs on loopback, each on a free port of its own: a real redis-server
 * (Debian's package) and an S3-protocol server (s3rver, files in a temporary folder). Used by the test harness
 * and by the quick start; production points REDIS_URL and S3_ENDPOINT at real Redis and MinIO/S3 instead.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// s3rver ships no types.
// @ts-expect-error untyped module
import S3rver from 's3rver';

export interface LocalService {
  url: string;
  stop(): Promise<void>;
}

/** Asks the kernel for a free loopback port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

async function waitFor(check: () => Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not become ready within ${ms} ms`);
}

function redisPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    import('node:net').then(({ connect }) => {
      const sock = connect(port, '127.0.0.1');
      sock.setTimeout(500);
      sock.on('connect', () => sock.write('PING\r\n'));
      sock.on('data', (d) => {
        resolve(d.toString().startsWith('+PONG'));
        sock.destroy();
      });
      sock.on('error', () => resolve(false));
      sock.on('timeout', () => {
        sock.destroy();
        resolve(false);
      });
    });
  });
}

/** Starts `redis-server` on a free loopback port with persistence off (tests) or on (dir given). */
export async function startRedis(opts: { dataDir?: string } = {}): Promise<LocalService> {
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--maxmemory-policy', 'noeviction'];
  if (opts.dataDir) args.push('--dir', opts.dataDir, '--appendonly', 'yes');
  else args.push('--save', '', '--appendonly', 'no');
  let proc: ChildProcess;
  try {
    proc = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'inherit'] });
  } catch (err) {
    throw new Error(`could not start redis-server (apt-get install redis-server): ${String(err)}`);
  }
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.once('error', (err) => console.error(`redis-server: ${err.message} (apt-get install redis-server)`));
  await waitFor(() => redisPing(port), 'redis-server');
  return {
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}

/** Starts an in-process S3-protocol server on a free loopback port, storing objects under a temporary folder. */
export async function startS3(opts: { directory?: string; bucket?: string } = {}): Promise<LocalService> {
  const port = await freePort();
  const directory = opts.directory ?? (await mkdtemp(join(tmpdir(), 'quorum-s3-')));
  const server = new S3rver({
    port,
    address: '127.0.0.1',
    silent: true,
    directory,
    configureBuckets: opts.bucket ? [{ name: opts.bucket }] : [],
  });
  await server.run();
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      await server.close();
      if (!opts.directory) await rm(directory, { recursive: true, force: true });
    },
  };
}
