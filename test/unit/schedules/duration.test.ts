import { describe, expect, it } from 'vitest';
import { parseDuration, windowProblem } from '../../../src/schedules/duration.js';

describe('duration parsing', () => {
  it('reads a whole number and one unit: minutes, hours, days or weeks', () => {
    expect(parseDuration('15m')).toBe(15 * 60_000);
    expect(parseDuration('6h')).toBe(6 * 3_600_000);
    expect(parseDuration('24h')).toBe(86_400_000);
    expect(parseDuration('7d')).toBe(7 * 86_400_000);
    expect(parseDuration('2w')).toBe(14 * 86_400_000);
  });

  it('refuses anything else', () => {
    for (const bad of ['', '15', 'm', '0m', '-5m', '1.5h', '15 m', ' 15m', '15M', '15min', '1h30m', '10s', '1y', '0015m', '1234567m']) {
      expect(parseDuration(bad), bad).toBeNull();
    }
  });

  it('accepts windows from 1m to 366d and explains why others are refused', () => {
    expect(windowProblem('1m')).toBeNull();
    expect(windowProblem('366d')).toBeNull();
    expect(windowProblem('367d')).toMatch(/at most 366d/);
    expect(windowProblem('53w')).toMatch(/at most 366d/);
    expect(windowProblem('soon')).toMatch(/e\.g\. "15m"/);
  });
});
