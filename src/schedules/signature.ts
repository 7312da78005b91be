/**
 * Webhook signatures. Each delivery carries `x-quorum-timestamp: <unix seconds>` and
 * `x-quorum-signature: sha256=<hex>`, where hex is HMAC-SHA256 over `"<timestamp>.<raw body>"` keyed with the
 * schedule's secret (its 64 hex characters as ASCII bytes, exactly as the creation response returned it). Signing the
 * timestamp with the body lets a receiver refuse replays of an old delivery.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const TIMESTAMP_HEADER = 'x-quorum-timestamp';
export const SIGNATURE_HEADER = 'x-quorum-signature';

/** A new signing secret: 32 random bytes, hex. */
export function newWebhookSecret(): string {
  return randomBytes(32).toString('hex');
}

/** The signature header value for `body` sent at `timestamp` (unix seconds). */
export function signWebhook(secret: string, timestamp: number | string, body: string | Uint8Array): string {
  const mac = createHmac('sha256', secret).update(`${timestamp}.`).update(body);
  return `sha256=${mac.digest('hex')}`;
}

/**
 * True when `header` is the signature of `body` sent at `timestamp` and the timestamp lies within
 * `toleranceSeconds` of now. Pass the raw body bytes or text as received (not re-serialised JSON); comparison is in
 * constant time.
 */
export function verifyWebhookSignature(
  secret: string,
  timestamp: string | number | null | undefined,
  body: string | Uint8Array,
  header: string | null | undefined,
  toleranceSeconds = 300,
  nowSeconds = Math.floor(Date.now() / 1000),
): boolean {
  const ts = String(timestamp ?? '');
  if (!/^[0-9]{1,12}$/.test(ts) || Math.abs(nowSeconds - Number(ts)) > toleranceSeconds) return false;
  if (typeof header !== 'string' || !/^sha256=[0-9a-f]{64}$/i.test(header.trim())) return false;
  const expected = Buffer.from(signWebhook(secret, ts, body).slice('sha256='.length), 'hex');
  const presented = Buffer.from(header.trim().slice('sha256='.length), 'hex');
  return timingSafeEqual(expected, presented);
}
