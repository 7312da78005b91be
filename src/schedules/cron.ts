/**
 * Cron patterns, checked with the parser BullMQ schedules them with (its `getNextMillis`, over cron-parser), so a
 * pattern accepted here is one the job scheduler can run: 5 fields (minute hour day month weekday), or 6 with
 * seconds first. Patterns are read in an IANA time zone (UTC unless the schedule names another).
 */
import { getNextMillis } from 'bullmq';

/** Consecutive runs sampled when measuring a pattern's shortest interval (see `shortestInterval`). */
const SAMPLED_RUNS = 48;

/** True when `tz` is an IANA time zone this runtime knows (e.g. `UTC`, `Europe/Paris`). */
export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** The first run strictly after `after` (ms since epoch); throws the parser's message for an invalid pattern. */
export function nextRun(pattern: string, timezone: string, after: number): number | null {
  return getNextMillis(after, { pattern, tz: timezone }) ?? null;
}

/** Why `pattern` is not a usable schedule, or null when it is one. */
export function cronProblem(pattern: string, timezone = 'UTC'): string | null {
  const fields = pattern.trim().split(/\s+/).filter(Boolean).length;
  if (fields !== 5 && fields !== 6) {
    return `"${pattern}" has ${fields} field${fields === 1 ? '' : 's'}; write 5 (minute hour day month weekday, e.g. "*/15 * * * *") or 6 with seconds first.`;
  }
  try {
    if (nextRun(pattern, timezone, Date.now()) === null) return `"${pattern}" never runs; check its day and month fields.`;
  } catch (err) {
    return `"${pattern}" is not a cron pattern: ${(err as Error).message}.`;
  }
  return null;
}

/**
 * The shortest gap between consecutive runs of a valid pattern, over its next 48 runs from `from`. A cron pattern
 * is a product of per-field sets, so its shortest gap recurs every day, month or year the pattern fires on; 48 runs
 * reach every such boundary of patterns that fire at most a few times a day or month (a cheaper check than an
 * exact one, and the only cost is a pattern whose shortest gap first comes later being accepted).
 */
export function shortestInterval(pattern: string, timezone = 'UTC', from = Date.now()): number {
  let shortest = Infinity;
  let previous = nextRun(pattern, timezone, from);
  for (let i = 0; i < SAMPLED_RUNS && previous !== null; i++) {
    const next = nextRun(pattern, timezone, previous);
    if (next === null) break;
    shortest = Math.min(shortest, next - previous);
    previous = next;
  }
  return shortest;
}
