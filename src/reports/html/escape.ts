/**
 * Text that goes into the HTML reports. Everything user-supplied (class names, dataset ids, error details) passes
 * through `escapeHtml`; every number passes through one of the formatters, which print "—" for null, NaN and ±∞
 * instead of the words "NaN", "Infinity" or "undefined".
 */

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text made safe for element content and for single- or double-quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

/** Whether a value is a finite number (false for null, undefined, NaN and ±∞). */
export function isFiniteNumber(value: number | null | undefined): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/**
 * A number for a table: integers as they are, `digits` significant figures below 1 (so a threshold of 0.0125 keeps its
 * last digit), `digits` decimals from 1 up, exponent form below 10^-digits and from 10^6; "—" when missing.
 */
export function formatNumber(value: number | null | undefined, digits = 3): string {
  if (!isFiniteNumber(value)) return '—';
  if (Number.isInteger(value) && Math.abs(value) < 1e15) return String(value);
  const abs = Math.abs(value);
  if (abs < 10 ** -digits || abs >= 1e6) return value.toExponential(2);
  return abs < 1 ? value.toPrecision(digits) : value.toFixed(digits);
}

/** A fraction as a percentage ("91.2%"), or "—". */
export function formatPercent(value: number | null | undefined, digits = 1): string {
  return isFiniteNumber(value) ? `${(value * 100).toFixed(digits)}%` : '—';
}

/** A difference of two fractions in percentage points ("+1.3 pp"), or "—". */
export function formatPoints(value: number | null | undefined, digits = 1): string {
  if (!isFiniteNumber(value)) return '—';
  const text = `${(value * 100).toFixed(digits)} pp`;
  return value > 0 ? `+${text}` : text;
}
