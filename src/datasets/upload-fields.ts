/**
 * The text fields of a dataset upload (multipart form fields are strings) and their translation into the
 * stored ingestion options. Unknown fields are rejected so a typo ("imagesize") is not silently ignored.
 */
import { z } from 'zod';
import type { IngestOptions } from '../storage/manifests.js';

const fractions = z
  .string()
  .trim()
  .transform((raw, ctx) => {
    let parts: number[];
    if (raw.startsWith('{')) {
      try {
        const o = JSON.parse(raw) as Record<string, unknown>;
        parts = [o.train, o.val, o.test].map(Number);
      } catch {
        parts = [NaN];
      }
    } else parts = raw.split(/[,/ ]+/).map(Number);
    const [train, val, test] = parts;
    const ok = parts.length === 3 && parts.every((p) => Number.isFinite(p) && p >= 0 && p <= 1);
    if (!ok || Math.abs(train + val + test - 1) > 1e-6 || train <= 0) {
      ctx.addIssue({
        code: 'custom',
        message: 'split is three fractions train,val,test that add up to 1, train above 0 (e.g. "0.8,0.1,0.1")',
      });
      return z.NEVER;
    }
    return { train, val, test };
  });

const classNames = z
  .string()
  .trim()
  .transform((raw, ctx) => {
    let names: unknown;
    try {
      names = raw.startsWith('[') ? JSON.parse(raw) : raw.split(',').map((s) => s.trim());
    } catch {
      names = null;
    }
    const parsed = z.array(z.string().min(1).max(100)).min(2).max(10_000).safeParse(names);
    if (!parsed.success || new Set(parsed.data).size !== parsed.data.length) {
      ctx.addIssue({ code: 'custom', message: 'classNames is a comma-separated list or JSON array of distinct names' });
      return z.NEVER;
    }
    return parsed.data;
  });

export const uploadFieldsSchema = z
  .object({
    name: z.string().trim().min(1).max(200).optional(),
    imageSize: z
      .string()
      .trim()
      .regex(/^\d{1,4}(x\d{1,4})?$/, 'imageSize is "N" or "HxW", e.g. "28" or "32x48"')
      .transform((s) => {
        const [h, w] = s.split('x').map(Number);
        return [h, w ?? h] as [number, number];
      })
      .optional(),
    channels: z.enum(['1', '3']).transform(Number).optional(),
    resize: z.enum(['stretch', 'cover', 'contain']).default('stretch'),
    split: fractions.default({ train: 0.8, val: 0.1, test: 0.1 }),
    seed: z.coerce.number().int().min(0).max(2 ** 32 - 1).default(42),
    classNames: classNames.optional(),
  })
  .strict();

export type UploadFields = z.infer<typeof uploadFieldsSchema>;

/** Validated form fields → stored options (image size bounds come from configuration). */
export function toIngestOptions(fields: UploadFields, defaultName: string): IngestOptions {
  return {
    name: fields.name ?? defaultName,
    imageSize: fields.imageSize ?? null,
    channels: (fields.channels as 1 | 3 | undefined) ?? null,
    resize: fields.resize,
    split: fields.split,
    seed: fields.seed,
    classNames: fields.classNames ?? null,
  };
}
