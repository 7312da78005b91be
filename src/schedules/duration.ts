/** Durations written the way people write them in dashboards: a whole number and one unit, such as `15m`, `6h`, `7d`. */

const UNITS = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
const PATTERN = /^([1-9][0-9]{0,5})([mhdw])$/;

/** Longest capture window a schedule may compare: captures are read per day, at most 366 days. */
export const MAX_WINDOW_MS = 366 * UNITS.d;

/** Milliseconds in `text` (`15m`, `6h`, `24h`, `7d`, `2w`), or null when it is not such a duration. */
export function parseDuration(text: string): number | null {
  const m = PATTERN.exec(text);
  if (!m) return null;
  return Number(m[1]) * UNITS[m[2] as keyof typeof UNITS];
}

/** Why `text` is not a usable capture window, or null when it is one. */
export function windowProblem(text: string): string | null {
  const ms = parseDuration(text);
  if (ms === null) return `"${text}" is not a duration; write a whole number and a unit: m (minutes), h, d or w, e.g. "15m", "6h", "7d".`;
  if (ms > MAX_WINDOW_MS) return 'the window must be at most 366d (captures are kept and read per day).';
  return null;
}
