import { describe, expect, it } from 'vitest';
import { cronProblem, nextRun, shortestInterval } from '../../../src/schedules/cron.js';
import { driftScheduleRequestSchema } from '../../../src/schedules/schemas.js';

const FROM = Date.parse('2026-03-01T10:00:00Z');

describe('cron validation', () => {
  it('accepts 5-field patterns and 6-field ones with seconds first', () => {
    for (const ok of ['*/15 * * * *', '0 3 * * 1-5', '0 0 1 * *', '*/2 * * * * *', '30 0 * * * *']) expect(cronProblem(ok), ok).toBeNull();
  });

  it('refuses other field counts, values out of range, garbage and patterns that never run', () => {
    expect(cronProblem('* * * *')).toMatch(/4 fields/);
    expect(cronProblem('0 0 * * * * 2026')).toMatch(/7 fields/);
    expect(cronProblem('')).toMatch(/0 fields/);
    expect(cronProblem('61 * * * *')).toMatch(/not a cron pattern/);
    expect(cronProblem('every monday at 5 pm')).toMatch(/not a cron pattern/);
    expect(cronProblem('0 0 30 2 *')).not.toBeNull();
  });

  it('reads patterns in the given time zone', () => {
    expect(new Date(nextRun('0 9 * * *', 'UTC', FROM)!).toISOString()).toBe('2026-03-02T09:00:00.000Z');
    expect(new Date(nextRun('0 9 * * *', 'Asia/Tokyo', FROM)!).toISOString()).toBe('2026-03-02T00:00:00.000Z');
  });

  it('measures the shortest gap between runs, including across hour and day boundaries', () => {
    expect(shortestInterval('*/2 * * * * *', 'UTC', FROM)).toBe(2000);
    expect(shortestInterval('*/15 * * * *', 'UTC', FROM)).toBe(15 * 60_000);
    expect(shortestInterval('0 * * * *', 'UTC', FROM)).toBe(3_600_000);
    expect(shortestInterval('0,59 * * * *', 'UTC', FROM)).toBe(60_000);
    expect(shortestInterval('0,59 0,23 * * *', 'UTC', FROM)).toBe(60_000);
    expect(shortestInterval('0 0 * * *', 'UTC', FROM)).toBe(86_400_000);
  });
});

describe('the schedule request body', () => {
  const body = { modelId: 'production', cron: '0 * * * *', window: '24h', webhookUrl: 'https://hooks.example.com/quorum' };

  it('fills defaults for the time zone and the drift options', () => {
    const req = driftScheduleRequestSchema.parse(body);
    expect(req.timezone).toBe('UTC');
    expect(req.options).toMatchObject({ alpha: 0.05, permutations: 200, seed: 1 });
  });

  it('names the field at fault', () => {
    const fieldOf = (patch: Record<string, unknown>) => {
      const r = driftScheduleRequestSchema.safeParse({ ...body, ...patch });
      return r.success ? null : r.error.issues[0].path.join('.');
    };
    expect(fieldOf({ cron: 'hourly' })).toBe('cron');
    expect(fieldOf({ cron: '0 * * *' })).toBe('cron');
    expect(fieldOf({ window: '1 day' })).toBe('window');
    expect(fieldOf({ timezone: 'Mars/Olympus' })).toBe('timezone');
    expect(fieldOf({ webhookUrl: 'ftp://example.com/x' })).toBe('webhookUrl');
    expect(fieldOf({ webhookUrl: 'not a url' })).toBe('webhookUrl');
    expect(fieldOf({ webhookUrl: `https://example.com/${'a'.repeat(2040)}` })).toBe('webhookUrl');
    expect(fieldOf({ options: { alpha: 2 } })).toBe('options.alpha');
    expect(fieldOf({ extra: true })).toBe('');
    expect(fieldOf({ name: '' })).toBe('name');
  });
});
