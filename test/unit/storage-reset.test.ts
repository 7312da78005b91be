import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStorage } from '../../src/storage/storage.js';

/** An S3-protocol stand-in for GetObject that cuts the connection mid-body for the first `resets` requests. */
function flakyServer(body: Buffer) {
  const state = { resets: 0, requests: 0 };
  const server = createServer((req, res) => {
    state.requests++;
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(body.length) });
    if (state.requests <= state.resets) {
      res.write(body.subarray(0, 10));
      setTimeout(() => res.socket?.destroy(), 5);
      return;
    }
    res.end(body);
  });
  return { server, state };
}

describe('storage reads', () => {
  const body = Buffer.from(JSON.stringify({ hello: 'world', padding: 'x'.repeat(5000) }));
  const { server, state } = flakyServer(body);
  let storage: ReturnType<typeof createStorage>;

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    storage = createStorage({
      S3_ENDPOINT: `http://127.0.0.1:${port}`,
      S3_REGION: 'us-east-1',
      S3_FORCE_PATH_STYLE: true,
      S3_ACCESS_KEY_ID: 'k',
      S3_SECRET_ACCESS_KEY: 's',
      S3_BUCKET: 'b',
    } as Parameters<typeof createStorage>[0]);
  });
  afterAll(async () => {
    storage.destroy();
    await new Promise((resolve) => (server as Server).close(resolve));
  });

  it('retry a body cut off by a connection reset, and return the whole object', async () => {
    state.requests = 0;
    state.resets = 2;
    expect((await storage.getBytes('some/key'))!.equals(body)).toBe(true);
    expect(state.requests).toBe(3);
  });

  it('give up after a few resets instead of retrying forever', async () => {
    state.requests = 0;
    state.resets = 100;
    await expect(storage.getBytes('some/key')).rejects.toThrow();
    expect(state.requests).toBe(4);
  });
});
