/**
 * A fast path for the PNGs prediction sees most: small, 8-bit grey or RGB, no interlacing, no colour management.
 * libvips (through sharp) spends about 1 ms of CPU setting up a pipeline even for a 28×28 image, a third of what a
 * whole prediction costs the server; inflating and unfiltering such an image here takes a few microseconds.
 *
 * Anything outside that path — another bit depth, a palette, alpha or transparency, interlacing, or any chunk that
 * could change the pixels (gamma, chromaticities, ICC profile, EXIF orientation) — returns null, and the caller
 * decodes with sharp. Damage is never passed over: a bad signature, a truncated or oversized chunk, a CRC mismatch,
 * a missing IEND, or image data of the wrong length throws, as sharp's `failOn: 'error'` does.
 */
import { crc32, inflateSync } from 'node:zlib';

export interface RawImage {
  width: number;
  height: number;
  /** 1 (grey) or 3 (RGB), interleaved. */
  channels: 1 | 3;
  data: Buffer;
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** Ancillary chunks that leave the decoded pixels as they are (text, time, physical size, the sRGB intent). */
const HARMLESS = new Set(['tEXt', 'zTXt', 'iTXt', 'tIME', 'pHYs', 'sRGB', 'bKGD', 'hIST', 'sPLT']);

/** Thrown for a PNG that is damaged; the message says how. */
export class BadPng extends Error {}

/**
 * Decodes `bytes` when it is a PNG on the fast path, else returns null (not a PNG, or a PNG sharp should decode).
 * `maxPixels` bounds width × height before anything is inflated, and the inflated size is bounded exactly.
 */
export function decodeSimplePng(bytes: Buffer, maxPixels: number): RawImage | null {
  if (bytes.length < SIGNATURE.length || !bytes.subarray(0, 8).equals(SIGNATURE)) return null;
  let offset = 8;
  let header: { width: number; height: number; channels: 1 | 3 } | undefined;
  const idat: Buffer[] = [];
  let ended = false;
  while (!ended) {
    if (offset + 12 > bytes.length) throw new BadPng('the PNG is truncated (a chunk header is cut off)');
    const length = bytes.readUInt32BE(offset);
    const type = bytes.toString('latin1', offset + 4, offset + 8);
    const end = offset + 8 + length;
    if (length > 0x7fffffff || end + 4 > bytes.length) throw new BadPng(`the PNG is truncated (chunk ${type} runs past the end)`);
    if (crc32(bytes.subarray(offset + 4, end)) !== bytes.readUInt32BE(end)) throw new BadPng(`the PNG's ${type} chunk fails its CRC check`);
    const body = bytes.subarray(offset + 8, end);
    offset = end + 4;
    if (!header) {
      if (type !== 'IHDR' || length !== 13) throw new BadPng('the PNG does not start with an IHDR chunk');
      const width = body.readUInt32BE(0);
      const height = body.readUInt32BE(4);
      const [depth, colour, compression, filter, interlace] = body.subarray(8, 13);
      if (width === 0 || height === 0) throw new BadPng('the PNG has no pixels');
      if (width * height > maxPixels) return null; // sharp reports the limit in its own words
      if (depth !== 8 || (colour !== 0 && colour !== 2) || compression !== 0 || filter !== 0 || interlace !== 0) return null;
      header = { width, height, channels: colour === 0 ? 1 : 3 };
      continue;
    }
    if (type === 'IDAT') idat.push(body);
    else if (type === 'IEND') ended = true;
    else if (!HARMLESS.has(type)) return null;
  }
  if (!header) throw new BadPng('the PNG has no IHDR chunk');
  if (idat.length === 0) throw new BadPng('the PNG has no image data');
  const { width, height, channels } = header;
  const stride = width * channels;
  const expected = height * (stride + 1);
  let raw: Buffer;
  try {
    raw = inflateSync(Buffer.concat(idat), { maxOutputLength: expected + 1 });
  } catch (err) {
    throw new BadPng(`the PNG's image data does not inflate: ${(err as Error).message}`);
  }
  if (raw.length !== expected) throw new BadPng(`the PNG's image data holds ${raw.length} bytes where ${expected} were expected`);
  return { width, height, channels, data: unfilter(raw, height, stride, channels) };
}

/** Reverses the per-row PNG filters (None, Sub, Up, Average, Paeth) for 8-bit samples. */
function unfilter(raw: Buffer, height: number, stride: number, bpp: number): Buffer {
  const out = Buffer.alloc(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const src = y * (stride + 1) + 1;
    const row = y * stride;
    const prev = row - stride; // only read when y > 0
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? out[row + x - bpp] : 0;
      const b = y > 0 ? out[prev + x] : 0;
      let value = raw[src + x];
      switch (filter) {
        case 0:
          break;
        case 1:
          value += a;
          break;
        case 2:
          value += b;
          break;
        case 3:
          value += (a + b) >> 1;
          break;
        case 4: {
          const c = x >= bpp && y > 0 ? out[prev + x - bpp] : 0;
          const p = a + b - c;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - b);
          const pc = Math.abs(p - c);
          value += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default:
          throw new BadPng(`the PNG uses unknown row filter ${filter}`);
      }
      out[row + x] = value & 0xff;
    }
  }
  return out;
}
