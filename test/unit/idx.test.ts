import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { concatIdxPairs, encodeIdx, parseIdx, readIdxPair, type IdxPair } from '../../src/data/idx.js';
import { BadRequest, TooLarge, UnsupportedMediaType, Unprocessable } from '../../src/errors.js';

const LIMIT = { maxBytes: 1 << 20, field: 'images' };

function ramp(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => i % 256);
}

/** Calls fn and returns what it threw. */
function thrown(fn: () => unknown): Error & { status?: number; type?: string; field?: string; extra?: Record<string, unknown> } {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a throw');
}

function pair(count: number, h: number, w: number, c = 1): IdxPair {
  const dims = c === 1 ? [count, h, w] : [count, h, w, c];
  return readIdxPair(
    parseIdx(encodeIdx(dims, ramp(count * h * w * c)), LIMIT),
    parseIdx(encodeIdx([count], ramp(count)), { ...LIMIT, field: 'labels' }),
  );
}

describe('parseIdx', () => {
  it('reads back what encodeIdx wrote', () => {
    const data = ramp(3 * 4 * 5);
    const parsed = parseIdx(encodeIdx([3, 4, 5], data), LIMIT);
    expect(parsed.dims).toEqual([3, 4, 5]);
    expect(Array.from(parsed.data)).toEqual(Array.from(data));
  });

  it('reads gzipped files the same as plain ones', () => {
    const raw = encodeIdx([2, 3, 3], ramp(18));
    expect(parseIdx(gzipSync(raw), LIMIT)).toEqual(parseIdx(raw, LIMIT));
  });

  it('stops a gzip bomb at maxBytes with TooLarge', () => {
    const bomb = gzipSync(encodeIdx([64, 1024, 1024], new Uint8Array(64 << 20)));
    const err = thrown(() => parseIdx(bomb, { maxBytes: 1 << 20, field: 'images' }));
    expect(err).toBeInstanceOf(TooLarge);
    expect(err.status).toBe(413);
    expect(err.field).toBe('images');
  });

  it('rejects an uncompressed file over maxBytes with TooLarge', () => {
    const err = thrown(() => parseIdx(encodeIdx([100], ramp(100)), { maxBytes: 50 }));
    expect(err).toBeInstanceOf(TooLarge);
    expect(err.message).toContain('50');
  });

  it('rejects a corrupt gzip stream with BadRequest', () => {
    const gz = gzipSync(encodeIdx([10], ramp(10)));
    const err = thrown(() => parseIdx(gz.subarray(0, gz.length - 12), LIMIT));
    expect(err).toBeInstanceOf(BadRequest);
    expect(err.type).toBe('corrupt-gzip');
  });

  it('says a file with the wrong magic is not IDX (415)', () => {
    const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]);
    const err = thrown(() => parseIdx(png, LIMIT));
    expect(err).toBeInstanceOf(UnsupportedMediaType);
    expect(err.status).toBe(415);
    expect(err.type).toBe('not-idx');
    expect(err.field).toBe('images');
    expect(err.message).toContain('not an IDX file');
  });

  it('says a too-short buffer is not IDX', () => {
    expect(thrown(() => parseIdx(Uint8Array.from([0, 0]), LIMIT))).toBeInstanceOf(UnsupportedMediaType);
  });

  it('names the element type when it is not unsigned bytes', () => {
    const floats = encodeIdx([2], ramp(2));
    floats[2] = 0x0d;
    const err = thrown(() => parseIdx(floats, LIMIT));
    expect(err).toBeInstanceOf(Unprocessable);
    expect(err.status).toBe(422);
    expect(err.type).toBe('unsupported-idx-type');
    expect(err.message).toContain('32-bit floats');
    expect(err.message).toContain('0x0d');
  });

  it('rejects truncated data, saying how many bytes were expected and found', () => {
    const full = encodeIdx([10, 2, 2], ramp(40));
    const err = thrown(() => parseIdx(full.subarray(0, full.length - 5), LIMIT));
    expect(err).toBeInstanceOf(Unprocessable);
    expect(err.type).toBe('idx-truncated');
    expect(err.message).toContain('40 bytes');
    expect(err.message).toContain('35 follow');
    expect(err.extra).toMatchObject({ expected: 40, actual: 35 });
  });

  it('rejects a header cut short', () => {
    const full = encodeIdx([10, 2, 2], ramp(40));
    const err = thrown(() => parseIdx(full.subarray(0, 9), LIMIT));
    expect(err.type).toBe('idx-truncated');
  });

  it('rejects trailing bytes after the declared data', () => {
    const full = encodeIdx([4], ramp(4));
    const err = thrown(() => parseIdx(Uint8Array.from([...full, 1, 2, 3]), LIMIT));
    expect(err).toBeInstanceOf(Unprocessable);
    expect(err.type).toBe('idx-trailing-bytes');
    expect(err.extra).toMatchObject({ expected: 4, actual: 7 });
  });

  it('rejects a file that holds no items', () => {
    const err = thrown(() => parseIdx(encodeIdx([0, 28, 28], new Uint8Array()), LIMIT));
    expect(err).toBeInstanceOf(Unprocessable);
    expect(err.type).toBe('empty-idx');
    expect(err.message).toContain('holds no items');
  });

  it('rejects a zero-sized inner dimension and more than 4 dimensions', () => {
    expect(thrown(() => parseIdx(encodeIdx([3, 0], new Uint8Array()), LIMIT)).type).toBe('idx-shape');
    const five = Uint8Array.from([0, 0, 8, 5, ...new Array(20).fill(0)]);
    const err = thrown(() => parseIdx(five, LIMIT));
    expect(err).toBeInstanceOf(Unprocessable);
    expect(err.type).toBe('idx-shape');
  });

  it('compares huge declared shapes exactly instead of overflowing', () => {
    const header = new Uint8Array(4 + 16);
    const view = new DataView(header.buffer);
    header[2] = 8;
    header[3] = 4;
    for (let i = 0; i < 4; i++) view.setUint32(4 + 4 * i, 0xffffffff);
    expect(thrown(() => parseIdx(header, LIMIT)).type).toBe('idx-truncated');
  });
});

describe('readIdxPair', () => {
  it('reads N×H×W images as one channel', () => {
    const p = pair(5, 4, 3);
    expect(p).toMatchObject({ count: 5, height: 4, width: 3, channels: 1 });
    expect(p.pixels.length).toBe(60);
    expect(p.labels.length).toBe(5);
  });

  it('reads N×H×W×3 images as three channels', () => {
    expect(pair(2, 4, 4, 3)).toMatchObject({ count: 2, height: 4, width: 4, channels: 3 });
  });

  it('rejects 4-D images whose channel count is not 1 or 3', () => {
    const images = parseIdx(encodeIdx([2, 2, 2, 4], ramp(32)), LIMIT);
    const labels = parseIdx(encodeIdx([2], ramp(2)), LIMIT);
    const err = thrown(() => readIdxPair(images, labels));
    expect(err).toBeInstanceOf(Unprocessable);
    expect(err.type).toBe('idx-shape');
    expect(err.field).toBe('images');
  });

  it('rejects flattened N×784 images with a hint', () => {
    const images = parseIdx(encodeIdx([2, 784], new Uint8Array(1568)), LIMIT);
    const err = thrown(() => readIdxPair(images, parseIdx(encodeIdx([2], ramp(2)), LIMIT)));
    expect(err.type).toBe('idx-shape');
    expect(err.message).toContain('N×28×28');
  });

  it('rejects labels that are not one-dimensional', () => {
    const images = parseIdx(encodeIdx([2, 2, 2], ramp(8)), LIMIT);
    const err = thrown(() => readIdxPair(images, parseIdx(encodeIdx([2, 1], ramp(2)), LIMIT)));
    expect(err.type).toBe('idx-shape');
    expect(err.field).toBe('labels');
  });

  it('rejects image and label files with different counts', () => {
    const images = parseIdx(encodeIdx([2000, 1, 1], new Uint8Array(2000)), LIMIT);
    const labels = parseIdx(encodeIdx([1999], new Uint8Array(1999)), LIMIT);
    const err = thrown(() => readIdxPair(images, labels));
    expect(err).toBeInstanceOf(Unprocessable);
    expect(err.status).toBe(422);
    expect(err.type).toBe('idx-count-mismatch');
    expect(err.message).toContain('images holds 2000 items but labels holds 1999');
  });
});

describe('concatIdxPairs', () => {
  it('joins pairs of the same shape in order', () => {
    const a = pair(2, 2, 2);
    const b = pair(3, 2, 2);
    const all = concatIdxPairs([a, b]);
    expect(all).toMatchObject({ count: 5, height: 2, width: 2, channels: 1 });
    expect(Array.from(all.pixels)).toEqual([...a.pixels, ...b.pixels]);
    expect(Array.from(all.labels)).toEqual([...a.labels, ...b.labels]);
  });

  it('returns a single pair unchanged', () => {
    const a = pair(2, 2, 2);
    expect(concatIdxPairs([a])).toBe(a);
  });

  it('rejects pairs of different image shapes, naming both', () => {
    const err = thrown(() => concatIdxPairs([pair(2, 28, 28), pair(2, 32, 32, 3)]));
    expect(err).toBeInstanceOf(Unprocessable);
    expect(err.type).toBe('idx-shape-mismatch');
    expect(err.message).toContain('32×32×3');
    expect(err.message).toContain('28×28×1');
  });

  it('rejects an empty list', () => {
    expect(thrown(() => concatIdxPairs([]))).toBeInstanceOf(Unprocessable);
  });
});
