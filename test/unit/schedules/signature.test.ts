import { describe, expect, it } from 'vitest';
import { newWebhookSecret, signWebhook, verifyWebhookSignature } from '../../../src/schedules/signature.js';

const SECRET = '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff';
const BODY = '{"event":"drift.detected"}';
const NOW = 1_700_000_000;

describe('webhook signatures', () => {
  it('are HMAC-SHA256 of "<timestamp>.<body>" keyed with the secret text (value computed with openssl dgst -hmac)', () => {
    expect(signWebhook(SECRET, NOW, BODY)).toBe('sha256=eb20f172ab940e61c4226de52ea9d3ea7bd787c0d26c5b708e6b6bc46af7be45');
    expect(signWebhook(SECRET, String(NOW), Buffer.from(BODY))).toBe(signWebhook(SECRET, NOW, BODY));
  });

  it('verify for the raw body, as text or bytes, within the tolerance', () => {
    const header = signWebhook(SECRET, NOW, BODY);
    expect(verifyWebhookSignature(SECRET, String(NOW), BODY, header, 300, NOW)).toBe(true);
    expect(verifyWebhookSignature(SECRET, NOW, Buffer.from(BODY), header, 300, NOW + 299)).toBe(true);
    expect(verifyWebhookSignature(SECRET, NOW, BODY, header.toUpperCase().replace('SHA256=', 'sha256='), 300, NOW)).toBe(true);
  });

  it('refuse a changed body, another secret, another timestamp, or a stale one', () => {
    const header = signWebhook(SECRET, NOW, BODY);
    expect(verifyWebhookSignature(SECRET, NOW, BODY + ' ', header, 300, NOW)).toBe(false);
    expect(verifyWebhookSignature(newWebhookSecret(), NOW, BODY, header, 300, NOW)).toBe(false);
    expect(verifyWebhookSignature(SECRET, NOW + 1, BODY, header, 300, NOW)).toBe(false);
    expect(verifyWebhookSignature(SECRET, NOW, BODY, header, 300, NOW + 301)).toBe(false);
    expect(verifyWebhookSignature(SECRET, NOW, BODY, header, 300, NOW - 301)).toBe(false);
  });

  it('refuse missing or malformed headers without throwing', () => {
    const header = signWebhook(SECRET, NOW, BODY);
    for (const bad of [undefined, null, '', 'sha256=', header.slice(7), `sha1=${header.slice(7)}`, `${header}00`, 'sha256=zz' + header.slice(9)]) {
      expect(verifyWebhookSignature(SECRET, NOW, BODY, bad, 300, NOW)).toBe(false);
    }
    for (const ts of [undefined, null, '', 'now', '1.5', '-1']) {
      expect(verifyWebhookSignature(SECRET, ts, BODY, header, 300, NOW)).toBe(false);
    }
  });

  it('come from fresh 32-byte secrets', () => {
    const a = newWebhookSecret();
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(newWebhookSecret()).not.toBe(a);
  });
});
