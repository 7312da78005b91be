import { expect } from 'vitest';

/** Equal up to float32 summation order: the largest error is within `rtol` of the largest reference magnitude. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol = 1e-4): void {
  expect(actual.length).toBe(expected.length);
  let err = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    err = Math.max(err, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  expect(scale).toBeGreaterThan(0);
  expect(Number.isFinite(err)).toBe(true);
  expect(err).toBeLessThanOrEqual(rtol * scale);
}
