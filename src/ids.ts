/** Resource ids: a type prefix, a base-36 millisecond timestamp (so ids sort by creation) and 12 random characters. */
import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

/** A new id such as `ds_mhx1c2k0a9f3k2l0q8zz1b`. */
export function newId(prefix: 'ds' | 'job' | 'mdl' | 'rep' | 'sch'): string {
  const bytes = randomBytes(12);
  let rand = '';
  for (const b of bytes) rand += ALPHABET[b % 36];
  return `${prefix}_${Date.now().toString(36).padStart(9, '0')}${rand}`;
}
