import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { PROBLEM_BASE, toProblem } from '../../src/api/problem.js';
import { NotFound, Unprocessable } from '../../src/errors.js';

describe('problem details from thrown values', () => {
  it('maps an application error to its status, type, title, detail, field and extra facts', () => {
    const err = new Unprocessable('The archive holds one class folder; at least two are needed.', {
      type: 'one-class',
      field: 'file',
      extra: { limit: 3 },
    });
    const problem = toProblem(err);
    expect(problem).toEqual({
      type: `${PROBLEM_BASE}one-class`,
      title: 'Unprocessable content',
      status: 422,
      detail: 'The archive holds one class folder; at least two are needed.',
      field: 'file',
      limit: 3,
    });
    expect(problem.type.endsWith('/one-class')).toBe(true);
  });

  it("uses the class's default type and leaves out an absent field", () => {
    const problem = toProblem(new NotFound('No dataset "ds_x".'));
    expect(problem).toEqual({ type: `${PROBLEM_BASE}not-found`, title: 'Not found', status: 404, detail: 'No dataset "ds_x".' });
    expect('field' in problem).toBe(false);
  });

  it('maps a validation error to 400 naming the first issue as the field and listing every issue', () => {
    const schema = z.object({ split: z.object({ train: z.number() }), seed: z.number() });
    const result = schema.safeParse({ split: { train: 'most' }, seed: 'x' });
    expect(result.success).toBe(false);
    const problem = toProblem(result.error);
    expect(problem.status).toBe(400);
    expect(problem.type).toBe(`${PROBLEM_BASE}validation`);
    expect(problem.field).toBe('split.train');
    expect(problem.issues).toEqual([
      { path: 'split.train', message: expect.any(String) },
      { path: 'seed', message: expect.any(String) },
    ]);
    expect(problem.detail).toMatch(/^split\.train: .+; seed: .+$/);
  });

  it('leaves out the field when the first validation issue has no path', () => {
    const result = z.string().safeParse(42);
    const problem = toProblem(result.error);
    expect(problem.status).toBe(400);
    expect('field' in problem).toBe(false);
    expect(problem.issues).toEqual([{ path: '', message: expect.any(String) }]);
  });

  it('maps an unknown error to a 500 that reveals neither its message nor its stack', () => {
    const err = new Error('secret stack info');
    const problem = toProblem(err);
    expect(problem.status).toBe(500);
    expect(problem.type).toBe(`${PROBLEM_BASE}internal`);
    const body = JSON.stringify(problem);
    expect(body).not.toContain('secret');
    expect(body).not.toContain('stack');
    expect(body).not.toContain(err.stack!.split('\n')[1].trim());
  });

  it('maps a thrown non-error value to a 500 too', () => {
    expect(toProblem('boom').status).toBe(500);
    expect(toProblem(undefined).status).toBe(500);
  });
});
