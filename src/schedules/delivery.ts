/**
 * Webhook delivery: one signed JSON POST, retried with doubling waits on network errors, timeouts and 5xx answers;
 * a 4xx (or a redirect, which is never followed) is the receiver's final word. Each attempt is signed afresh, so its
 * timestamp is current when the receiver checks it.
 */
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, signWebhook } from './signature.js';
import type { LastDelivery } from './schemas.js';

export interface DeliveryOptions {
  /** Per-attempt timeout. */
  timeoutMs: number;
  attempts: number;
  /** Wait before the second attempt; doubles for each one after. */
  backoffMs: number;
  /** Replaceable in tests. */
  fetch?: typeof fetch;
}

export type DeliveryResult = Omit<LastDelivery, 'reportId'>;

function describe(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  const cause = e?.cause?.code ?? e?.cause?.message;
  return cause ? `${e?.message ?? 'request failed'}: ${cause}` : (e?.message ?? String(err));
}

/** POSTs `payload` as JSON to `url`, signed with `secret`; resolves (never rejects) with what happened. */
export async function deliverWebhook(url: string, secret: string, payload: unknown, opts: DeliveryOptions): Promise<DeliveryResult> {
  const send = opts.fetch ?? fetch;
  const body = JSON.stringify(payload);
  let statusCode: number | null = null;
  let error: string | null = null;
  let attempts = 0;
  while (attempts < opts.attempts) {
    if (attempts > 0) await new Promise((r) => setTimeout(r, opts.backoffMs * 2 ** (attempts - 1)));
    attempts++;
    const timestamp = Math.floor(Date.now() / 1000);
    try {
      const res = await send(url, {
        method: 'POST',
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(opts.timeoutMs),
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Quorum-Webhook/1',
          [TIMESTAMP_HEADER]: String(timestamp),
          [SIGNATURE_HEADER]: signWebhook(secret, timestamp, body),
        },
      });
      await res.body?.cancel().catch(() => undefined);
      statusCode = res.status;
      error = res.ok ? null : `the receiver answered ${res.status}`;
      if (res.status < 500) break;
    } catch (err) {
      statusCode = null;
      error = describe(err, opts.timeoutMs);
    }
  }
  return { at: new Date().toISOString(), delivered: error === null, statusCode, error, attempts };
}
