/**
 * Reading IDX files, the format MNIST and Fashion-MNIST ship in
 * (http://yann.lecun.com/exdb/mnist/, "FILE FORMATS FOR THE MNIST DATABASE"):
 * two zero bytes, a type code, a dimension count, one big-endian uint32 per dimension, then the values.
 */
import { gunzipSync } from 'node:zlib';
import { BadRequest, TooLarge, UnsupportedMediaType, Unprocessable } from '../errors.js';

/** An IDX array of unsigned bytes: its shape and its values in row-major order. */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/** Images and labels read from one IDX image file and its label file. */
export interface IdxPair {
  count: number;
  height: number;
  width: number;
  channels: number;
  /** count × height × width × channels bytes, row-major, channels last. */
  pixels: Uint8Array;
  labels: Uint8Array;
}

const UNSIGNED_BYTE = 0x08;
// The other type codes the format defines; naming them lets the error say what the file holds.
const OTHER_TYPES: Record<number, string> = {
  0x09: 'signed bytes',
  0x0b: '16-bit integers',
  0x0c: '32-bit integers',
  0x0d: '32-bit floats',
  0x0e: '64-bit floats',
};
const MAX_DIMS = 4;

/** Parses an IDX file, gunzipping it first when it starts with the gzip magic; `data` is a view, not a copy. */
export function parseIdx(buf: Uint8Array, opts: { maxBytes: number; field?: string }): IdxArray {
  const field = opts.field;
  const name = field ?? 'the file';
  const bytes = isGzip(buf) ? gunzip(buf, opts.maxBytes, name, field) : buf;
  if (bytes.length > opts.maxBytes) {
    throw new TooLarge(`${name} is ${bytes.length} bytes; the limit is ${opts.maxBytes}.`, {
      field,
      type: 'idx-too-large',
      extra: { limit: opts.maxBytes, actual: bytes.length },
    });
  }

  const typeCode = bytes[2];
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0 || (typeCode !== UNSIGNED_BYTE && !(typeCode in OTHER_TYPES))) {
    throw new UnsupportedMediaType(
      `${name} is not an IDX file: IDX files start with the bytes 00 00 08 and a dimension count, ` +
        'as MNIST\'s train-images-idx3-ubyte does. Upload the IDX image and label files themselves, gzipped or not.',
      { field, type: 'not-idx' },
    );
  }
  if (typeCode !== UNSIGNED_BYTE) {
    throw new Unprocessable(
      `${name} holds ${OTHER_TYPES[typeCode]} (IDX type 0x${typeCode.toString(16).padStart(2, '0')}); ` +
        'only unsigned-byte IDX files (type 0x08, as in MNIST) are supported. Convert pixels and labels to 0..255 bytes.',
      { field, type: 'unsupported-idx-type', extra: { typeCode } },
    );
  }

  const rank = bytes[3];
  if (rank < 1 || rank > MAX_DIMS) {
    throw new Unprocessable(`${name} declares ${rank} dimensions; IDX image and label files have 1 to ${MAX_DIMS}.`, {
      field,
      type: 'idx-shape',
      extra: { dims: rank },
    });
  }
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) {
    throw new Unprocessable(`${name} is truncated inside its header (${bytes.length} of ${headerBytes} bytes).`, {
      field,
      type: 'idx-truncated',
      extra: { expected: headerBytes, actual: bytes.length },
    });
  }

  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  if (dims[0] === 0) {
    throw new Unprocessable(`${name} holds no items (its first dimension is 0).`, { field, type: 'empty-idx', extra: { dims } });
  }
  if (dims.includes(0)) {
    throw new Unprocessable(`${name} has a zero-sized dimension (${dims.join('×')}); every dimension must be at least 1.`, {
      field,
      type: 'idx-shape',
      extra: { dims },
    });
  }

  // BigInt because four uint32 dimensions can multiply past 2^53.
  const expected = dims.reduce((acc, d) => acc * BigInt(d), 1n);
  const actual = BigInt(bytes.length - headerBytes);
  if (expected !== actual) {
    const truncated = actual < expected;
    throw new Unprocessable(
      `${name} ${truncated ? 'is truncated' : 'has trailing bytes'}: its header declares ${dims.join('×')} = ${expected} bytes ` +
        `of data but ${actual} follow. Upload the complete, unmodified file.`,
      { field, type: truncated ? 'idx-truncated' : 'idx-trailing-bytes', extra: { dims, expected: Number(expected), actual: Number(actual) } },
    );
  }

  return { dims, data: new Uint8Array(bytes.buffer, bytes.byteOffset + headerBytes, bytes.length - headerBytes) };
}

/** Writes an unsigned-byte IDX file (tests and the demo build their inputs with it). */
export function encodeIdx(dims: number[], data: Uint8Array): Uint8Array {
  if (dims.length < 1 || dims.length > MAX_DIMS) throw new RangeError(`IDX needs 1 to ${MAX_DIMS} dimensions, got ${dims.length}`);
  const size = dims.reduce((acc, d) => acc * d, 1);
  if (size !== data.length) throw new RangeError(`dims ${dims.join('×')} need ${size} bytes, got ${data.length}`);
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  out[2] = UNSIGNED_BYTE;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

/** Checks that an image IDX (N×H×W or N×H×W×C, C = 1 or 3) and a label IDX (N) belong together. */
export function readIdxPair(images: IdxArray, labels: IdxArray): IdxPair {
  const [count, height, width, channels = 1] = images.dims;
  if (images.dims.length < 3 || (channels !== 1 && channels !== 3)) {
    throw new Unprocessable(
      `images has shape ${images.dims.join('×')}; it must be N×H×W (grayscale) or N×H×W×C with C = 1 or 3. ` +
        'Flattened files (N×784) need reshaping to N×28×28 first.',
      { field: 'images', type: 'idx-shape', extra: { dims: images.dims } },
    );
  }
  if (labels.dims.length !== 1) {
    throw new Unprocessable(`labels has shape ${labels.dims.join('×')}; it must be one label per image (1 dimension).`, {
      field: 'labels',
      type: 'idx-shape',
      extra: { dims: labels.dims },
    });
  }
  if (labels.dims[0] !== count) {
    throw new Unprocessable(
      `images holds ${count} items but labels holds ${labels.dims[0]}; upload the label file that belongs to these images.`,
      { field: 'labels', type: 'idx-count-mismatch', extra: { images: count, labels: labels.dims[0] } },
    );
  }
  return { count, height, width, channels, pixels: images.data, labels: labels.data };
}

/** Joins pairs of the same image shape, in order (a train and a test pair uploaded together). */
export function concatIdxPairs(pairs: IdxPair[]): IdxPair {
  if (pairs.length === 0) {
    throw new Unprocessable('No IDX image and label files were given.', { type: 'empty-idx' });
  }
  const [first] = pairs;
  if (pairs.length === 1) return first;
  const shape = (p: IdxPair): string => `${p.height}×${p.width}×${p.channels}`;
  pairs.forEach((p, i) => {
    if (shape(p) !== shape(first)) {
      throw new Unprocessable(
        `IDX pair ${i + 1} holds ${shape(p)} images but pair 1 holds ${shape(first)}; all pairs must have the same image size.`,
        { field: 'images', type: 'idx-shape-mismatch', extra: { pair: i + 1, expected: shape(first), actual: shape(p) } },
      );
    }
  });
  const count = pairs.reduce((n, p) => n + p.count, 0);
  const pixels = new Uint8Array(pairs.reduce((n, p) => n + p.pixels.length, 0));
  const labels = new Uint8Array(count);
  let px = 0;
  let lb = 0;
  for (const p of pairs) {
    pixels.set(p.pixels, px);
    labels.set(p.labels, lb);
    px += p.pixels.length;
    lb += p.labels.length;
  }
  return { count, height: first.height, width: first.width, channels: first.channels, pixels, labels };
}

function isGzip(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b;
}

function gunzip(buf: Uint8Array, maxBytes: number, name: string, field: string | undefined): Uint8Array {
  try {
    // maxOutputLength makes zlib stop as soon as the output passes the limit, so a gzip bomb costs little.
    return gunzipSync(buf, { maxOutputLength: maxBytes });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new TooLarge(`${name} decompresses to more than ${maxBytes} bytes, the limit.`, {
        field,
        type: 'idx-too-large',
        extra: { limit: maxBytes },
      });
    }
    throw new BadRequest(`${name} starts like a gzip file but cannot be decompressed (${(err as Error).message}); upload it again.`, {
      field,
      type: 'corrupt-gzip',
    });
  }
}
