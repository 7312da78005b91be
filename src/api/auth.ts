/** Bearer API keys: each key belongs to one tenant, which every handler reads from `c.var.tenant`. */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { Unauthorized } from '../errors.js';

export type AuthEnv = { Variables: { tenant: string } };

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Middleware that resolves the tenant from `Authorization: Bearer <key>` or answers 401. */
export function bearerAuth(apiKeys: Map<string, string>): MiddlewareHandler<AuthEnv> {
  // Compare fixed-length digests in constant time so response timing does not reveal key prefixes.
  const entries = [...apiKeys].map(([key, tenant]) => ({ hash: digest(key), tenant }));
  return async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) throw new Unauthorized();
    const presented = digest(m[1]);
    let tenant: string | undefined;
    for (const e of entries) if (timingSafeEqual(e.hash, presented)) tenant = e.tenant;
    if (!tenant) throw new Unauthorized('The API key is not known. Check the key, or ask for one to be added to API_KEYS.');
    c.set('tenant', tenant);
    await next();
  };
}
