/**
 * The one place errors become responses: application/problem+json (RFC 9457) with a stable `type`, a `title`,
 * a `detail` that says what to fix, and the offending `field`. Unknown errors are a 500 without internals.
 */
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { ZodError } from 'zod';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';

export const PROBLEM_BASE = 'https://quorum.dev/problems/';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  field?: string;
  [extra: string]: unknown;
}

/** Builds the problem body for any thrown value. */
export function toProblem(err: unknown): Problem {
  if (err instanceof AppError) {
    return {
      type: PROBLEM_BASE + err.type,
      title: err.title,
      status: err.status,
      detail: err.message,
      ...(err.field ? { field: err.field } : {}),
      ...(err.extra ?? {}),
    };
  }
  // Hono's validators throw an HTTPException (status 400) for a body that is not JSON or not a form; that is the
  // client's mistake like any other invalid body, not a 500.
  if (err instanceof HTTPException && err.status >= 400 && err.status < 500) {
    return {
      type: PROBLEM_BASE + 'malformed-body',
      title: 'Invalid request',
      status: err.status,
      detail: `${err.message}; send a JSON object with content-type application/json.`,
    };
  }
  if (err instanceof ZodError) {
    const first = err.issues[0];
    const field = first?.path.join('.') || undefined;
    return {
      type: PROBLEM_BASE + 'validation',
      title: 'Invalid request',
      status: 400,
      detail: err.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; '),
      ...(field ? { field } : {}),
      issues: err.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    };
  }
  return {
    type: PROBLEM_BASE + 'internal',
    title: 'Internal server error',
    status: 500,
    detail: 'Something went wrong on our side; the error was logged. Try again, and report it if it persists.',
  };
}

/** Sends a problem response. */
export function problemResponse(c: Context, problem: Problem, headers: Record<string, string> = {}): Response {
  return c.body(JSON.stringify(problem), problem.status as 400, {
    'content-type': 'application/problem+json',
    ...headers,
  });
}

/** Hono `onError` handler: logs 5xx with the stack, answers problem+json. */
export function errorHandler(logger: Logger) {
  return (err: Error, c: Context) => {
    const problem = toProblem(err);
    if (problem.status >= 500) logger.error({ err, path: c.req.path }, 'request failed');
    const retryAfter = (err as { retryAfterSeconds?: unknown }).retryAfterSeconds;
    return problemResponse(c, problem, typeof retryAfter === 'number' ? { 'retry-after': String(retryAfter) } : {});
  };
}
