import { describe, expect, it } from 'vitest';
import { toIngestOptions, uploadFieldsSchema } from '../../src/datasets/upload-fields.js';

const parse = (fields: Record<string, string>) => uploadFieldsSchema.parse(fields);

/** The paths of the issues a rejected form produces. */
function rejectedPaths(fields: Record<string, string>): string[] {
  const result = uploadFieldsSchema.safeParse(fields);
  expect(result.success).toBe(false);
  return result.error!.issues.map((i) => (i.path.length ? i.path.join('.') : `(${i.code})`));
}

describe('upload form fields', () => {
  it('defaults to an 0.8/0.1/0.1 split, seed 42 and stretch resizing', () => {
    expect(parse({})).toEqual({ split: { train: 0.8, val: 0.1, test: 0.1 }, seed: 42, resize: 'stretch' });
  });

  it('reads imageSize "N" as a square and "HxW" as height by width', () => {
    expect(parse({ imageSize: '28' }).imageSize).toEqual([28, 28]);
    expect(parse({ imageSize: '32x48' }).imageSize).toEqual([32, 48]);
    expect(parse({ imageSize: ' 64 ' }).imageSize).toEqual([64, 64]);
  });

  it.each(['28px', '32X48', '32x', 'x48', '12345', '-8'])('rejects imageSize "%s"', (imageSize) => {
    expect(rejectedPaths({ imageSize })).toEqual(['imageSize']);
  });

  it('reads the split as a comma list', () => {
    const { split } = parse({ split: '0.7,0.2,0.1' });
    expect(split).toEqual({ train: 0.7, val: 0.2, test: 0.1 });
  });

  it('reads the split as a JSON object', () => {
    expect(parse({ split: '{"train":0.6,"val":0.2,"test":0.2}' }).split).toEqual({ train: 0.6, val: 0.2, test: 0.2 });
  });

  it.each([
    ['fractions summing to 1.1', '0.8,0.2,0.1'],
    ['a train fraction of 0', '0,0.5,0.5'],
    ['a negative fraction', '1.1,-0.1,0'],
    ['two fractions', '0.9,0.1'],
    ['four fractions', '0.7,0.1,0.1,0.1'],
    ['words', 'most,some,rest'],
    ['JSON missing a split', '{"train":0.6,"val":0.4}'],
    ['malformed JSON', '{"train":0.6,'],
  ])('rejects a split of %s', (_, split) => {
    expect(rejectedPaths({ split })).toEqual(['split']);
  });

  it('reads classNames from a comma list and from a JSON array', () => {
    expect(parse({ classNames: 'cat, dog ,bird' }).classNames).toEqual(['cat', 'dog', 'bird']);
    expect(parse({ classNames: '["T-shirt/top","Trouser, long"]' }).classNames).toEqual(['T-shirt/top', 'Trouser, long']);
  });

  it.each([
    ['duplicates', 'cat,dog,cat'],
    ['duplicates in JSON', '["cat","cat"]'],
    ['a single name', 'cat'],
    ['an empty name', 'cat,,dog'],
    ['a JSON array of numbers', '[1,2]'],
  ])('rejects classNames with %s', (_, classNames) => {
    expect(rejectedPaths({ classNames })).toEqual(['classNames']);
  });

  it('rejects an unknown field such as a mistyped "imagesize"', () => {
    const result = uploadFieldsSchema.safeParse({ imagesize: '28' });
    expect(result.success).toBe(false);
    expect(JSON.stringify(result.error!.issues)).toContain('imagesize');
  });

  it('accepts channels 1 and 3 as numbers and rejects 2', () => {
    expect(parse({ channels: '1' }).channels).toBe(1);
    expect(parse({ channels: '3' }).channels).toBe(3);
    expect(rejectedPaths({ channels: '2' })).toEqual(['channels']);
  });

  it.each(['-1', '1.5', String(2 ** 32), 'abc'])('rejects seed %s', (seed) => {
    expect(rejectedPaths({ seed })).toEqual(['seed']);
  });
});

describe('ingest options from upload fields', () => {
  it('uses the default name and nulls for what the form left out', () => {
    expect(toIngestOptions(parse({}), 'fashion.zip')).toEqual({
      name: 'fashion.zip',
      imageSize: null,
      channels: null,
      resize: 'stretch',
      split: { train: 0.8, val: 0.1, test: 0.1 },
      seed: 42,
      classNames: null,
    });
  });

  it('keeps every field the form gave', () => {
    const fields = parse({
      name: 'Shoes',
      imageSize: '32x48',
      channels: '1',
      resize: 'contain',
      split: '0.6,0.2,0.2',
      seed: '7',
      classNames: 'boot,sandal',
    });
    expect(toIngestOptions(fields, 'upload.zip')).toEqual({
      name: 'Shoes',
      imageSize: [32, 48],
      channels: 1,
      resize: 'contain',
      split: { train: 0.6, val: 0.2, test: 0.2 },
      seed: 7,
      classNames: ['boot', 'sandal'],
    });
  });
});
