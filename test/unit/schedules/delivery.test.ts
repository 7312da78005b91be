import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { deliverWebhook } from '../../../src/schedules/delivery.js';
import { verifyWebhookSignature } from '../../../src/schedules/signature.js';

const SECRET = 'ab'.repeat(32);
const servers: Server[] = [];

/** A receiver on a free loopback port that answers with `answer(n)` for its n-th request (0-based). */
async function receiver(answer: (n: number, res: ServerResponse) => void) {
  const seen: { headers: IncomingMessage['headers']; body: string }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      answer(seen.length - 1, res);
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, seen };
}

const status = (code: number) => (_: number, res: ServerResponse) => res.writeHead(code).end();
const opts = { timeoutMs: 1000, attempts: 3, backoffMs: 10 };

afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

describe('webhook delivery', () => {
  it('POSTs the JSON body once, signed so the receiver can verify it', async () => {
    const r = await receiver(status(204));
    const result = await deliverWebhook(r.url, SECRET, { event: 'drift.detected', n: 1 }, opts);
    expect(result).toMatchObject({ delivered: true, statusCode: 204, error: null, attempts: 1 });
    expect(r.seen).toHaveLength(1);
    const { headers, body } = r.seen[0];
    expect(headers['content-type']).toBe('application/json');
    expect(JSON.parse(body)).toEqual({ event: 'drift.detected', n: 1 });
    expect(verifyWebhookSignature(SECRET, headers['x-quorum-timestamp'] as string, body, headers['x-quorum-signature'] as string, 60)).toBe(true);
  });

  it('retries 5xx answers and stops at the first success', async () => {
    const r = await receiver((n, res) => res.writeHead(n < 2 ? 503 : 200).end());
    expect(await deliverWebhook(r.url, SECRET, {}, opts)).toMatchObject({ delivered: true, statusCode: 200, attempts: 3 });
  });

  it('gives up after the last attempt and says what the receiver answered', async () => {
    const r = await receiver(status(500));
    expect(await deliverWebhook(r.url, SECRET, {}, opts)).toMatchObject({ delivered: false, statusCode: 500, error: 'the receiver answered 500', attempts: 3 });
    expect(r.seen).toHaveLength(3);
  });

  it('does not retry a 4xx, nor follow a redirect', async () => {
    const gone = await receiver(status(410));
    expect(await deliverWebhook(gone.url, SECRET, {}, opts)).toMatchObject({ delivered: false, statusCode: 410, attempts: 1 });
    const moved = await receiver((_, res) => res.writeHead(302, { location: 'http://127.0.0.1:1/elsewhere' }).end());
    expect(await deliverWebhook(moved.url, SECRET, {}, opts)).toMatchObject({ delivered: false, statusCode: 302, attempts: 1 });
  });

  it('retries timeouts and refused connections, recording the error', async () => {
    const slow = await receiver((_, res) => setTimeout(() => res.writeHead(200).end(), 500));
    const timedOut = await deliverWebhook(slow.url, SECRET, {}, { ...opts, timeoutMs: 100, attempts: 2 });
    expect(timedOut).toMatchObject({ delivered: false, statusCode: null, attempts: 2, error: 'no answer within 100 ms' });
    const closed = await receiver(status(200));
    await new Promise((r) => servers.pop()!.close(r));
    const refused = await deliverWebhook(closed.url, SECRET, {}, opts);
    expect(refused).toMatchObject({ delivered: false, statusCode: null, attempts: 3 });
    expect(refused.error).toMatch(/ECONNREFUSED/);
  });
});
