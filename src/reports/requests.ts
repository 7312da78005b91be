/** Request bodies for evaluations and drift reports: the one schema the routes, the service and OpenAPI read. */
import { z } from 'zod';
import { driftOptionsSchema } from '../storage/report-manifests.js';

export { driftOptionsSchema };

const idOrAlias = z.string().min(1).max(100);
const split = z.enum(['train', 'val', 'test', 'all']);
/** An ISO 8601 instant such as 2026-11-23T00:00:00Z. */
const instant = z.iso.datetime({ offset: true });

export const evaluationRequestSchema = z
  .object({
    /** Model id or alias. */
    modelId: idOrAlias,
    /** A ready dataset whose images have the model's size and channels and whose classes the model knows. */
    datasetId: z.string().min(1).max(100),
    split: split.default('test'),
  })
  .strict();

export const driftCurrentRequestSchema = z.union([
  z.object({ datasetId: z.string().min(1).max(100), split: split.default('all') }).strict(),
  z.object({ from: instant, to: instant }).strict(),
]);

export const driftRequestSchema = z
  .object({
    modelId: idOrAlias,
    current: driftCurrentRequestSchema,
    options: driftOptionsSchema.prefault({}),
  })
  .strict();

export type EvaluationRequest = z.infer<typeof evaluationRequestSchema>;
export type DriftRequest = z.infer<typeof driftRequestSchema>;
