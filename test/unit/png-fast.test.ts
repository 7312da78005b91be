import sharp from 'sharp';
import { crc32, deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/data/random.js';
import { decodeImage } from '../../src/data/decode.js';
import { BadPng, decodeSimplePng } from '../../src/data/png-fast.js';

function chunk(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(body.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([Buffer.from(type, 'latin1'), body])));
  return Buffer.concat([head, body, crc]);
}

/** Encodes 8-bit pixels as a PNG whose row y uses filter filters[y % filters.length], with optional extra chunks. */
function encodePng(pixels: Uint8Array, width: number, height: number, channels: 1 | 3, filters: number[], extra: Buffer[] = []): Buffer {
  const stride = width * channels;
  const raw = Buffer.alloc(height * (stride + 1));
  const at = (x: number, y: number) => (x < 0 || y < 0 ? 0 : pixels[y * stride + x]);
  for (let y = 0; y < height; y++) {
    const f = filters[y % filters.length];
    raw[y * (stride + 1)] = f;
    for (let x = 0; x < stride; x++) {
      const a = at(x - channels, y);
      const b = at(x, y - 1);
      const c = at(x - channels, y - 1);
      const pred = [0, a, b, (a + b) >> 1, paeth(a, b, c)][f];
      raw[y * (stride + 1) + 1 + x] = (pixels[y * stride + x] - pred) & 0xff;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, channels === 1 ? 0 : 2, 0, 0, 0], 8);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), ...extra, chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

function noise(n: number, seed: number): Uint8Array {
  const rng = createRng(seed);
  return Uint8Array.from({ length: n }, () => Math.floor(rng() * 256));
}

/** sharp's decode of `png`, reduced to `channels` (sharp hands grey PNGs back as three equal channels). */
async function sharpRaw(png: Buffer, channels: 1 | 3): Promise<Buffer> {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  return info.channels === channels ? data : Buffer.from(data.filter((_, i) => i % info.channels === 0));
}

describe('fast PNG decoding', () => {
  it.each([
    ['grey', 1, [0]],
    ['grey', 1, [1, 2, 3, 4]],
    ['RGB', 3, [4, 3, 2, 1, 0]],
    ['RGB', 3, [3]],
  ] as const)('decodes %s PNGs with row filters %j to exactly the pixels sharp decodes', async (_, channels, filters) => {
    for (const [w, h] of [[28, 28], [7, 5], [1, 9], [33, 1]]) {
      const pixels = noise(w * h * channels, w * 31 + h);
      const png = encodePng(pixels, w, h, channels, [...filters]);
      const fast = decodeSimplePng(png, 1e6)!;
      expect(fast).toMatchObject({ width: w, height: h, channels });
      expect(fast.data.equals(Buffer.from(pixels))).toBe(true);
      expect(fast.data.equals(await sharpRaw(png, channels))).toBe(true);
    }
  });

  it('decodes what sharp itself encodes (adaptive filtering, any compression level)', async () => {
    const pixels = noise(28 * 28, 3).map((v, i) => (i % 28 < 14 ? v >> 2 : 200 + (v % 50)));
    for (const compressionLevel of [0, 6, 9]) {
      const png = await sharp(Buffer.from(pixels), { raw: { width: 28, height: 28, channels: 1 } })
        .toColourspace('b-w')
        .png({ compressionLevel, adaptiveFiltering: true })
        .toBuffer();
      expect(decodeSimplePng(png, 1e6)!.data.equals(Buffer.from(pixels))).toBe(true);
    }
  });

  it('leaves to sharp what it does not handle: alpha, palettes, 16 bits, interlacing, gamma, other formats, too many pixels', async () => {
    const grey = Buffer.from(noise(64, 1));
    const rgba = await sharp(Buffer.from(noise(64 * 4, 2)), { raw: { width: 8, height: 8, channels: 4 } }).png().toBuffer();
    const palette = await sharp(grey, { raw: { width: 8, height: 8, channels: 1 } }).png({ palette: true }).toBuffer();
    const deep = await sharp(grey, { raw: { width: 8, height: 8, channels: 1 } }).toColourspace('grey16').png().toBuffer();
    const interlaced = await sharp(grey, { raw: { width: 8, height: 8, channels: 1 } }).png({ progressive: true }).toBuffer();
    const jpeg = await sharp(grey, { raw: { width: 8, height: 8, channels: 1 } }).jpeg().toBuffer();
    const gamma = encodePng(grey, 8, 8, 1, [0], [chunk('gAMA', Buffer.from([0, 0, 0xb1, 0x8f]))]);
    for (const png of [rgba, palette, deep, interlaced, jpeg, gamma]) expect(decodeSimplePng(png, 1e6)).toBeNull();
    expect(decodeSimplePng(encodePng(grey, 8, 8, 1, [0]), 63)).toBeNull();
    // Harmless chunks do not force the slow path.
    expect(decodeSimplePng(encodePng(grey, 8, 8, 1, [0], [chunk('tEXt', Buffer.from('Comment\0hi'))]), 1e6)).not.toBeNull();
  });

  it('throws on damage instead of passing over it', () => {
    const png = encodePng(Buffer.from(noise(28 * 28, 4)), 28, 28, 1, [0, 4]);
    expect(() => decodeSimplePng(png.subarray(0, png.length - 20), 1e6)).toThrow(BadPng); // truncated
    expect(() => decodeSimplePng(png.subarray(0, png.length - 12), 1e6)).toThrow(/truncated/); // no IEND
    const flipped = Buffer.from(png);
    flipped[60] ^= 0xff; // inside IDAT
    expect(() => decodeSimplePng(flipped, 1e6)).toThrow(/CRC/);
    const short = encodePng(Buffer.from(noise(28 * 27, 5)), 28, 27, 1, [0]);
    const lying = Buffer.from(short);
    lying.writeUInt32BE(28, 20); // IHDR says 28 rows; the data holds 27
    lying.writeUInt32BE(crc32(lying.subarray(12, 29)), 29);
    expect(() => decodeSimplePng(lying, 1e6)).toThrow(/expected/);
    const badFilter = Buffer.concat([png.subarray(0, 33), chunk('IDAT', deflateSync(Buffer.alloc(29 * 28, 9))), chunk('IEND', Buffer.alloc(0))]);
    expect(() => decodeSimplePng(badFilter, 1e6)).toThrow(/filter 9/);
  });

  it('gives decodeImage the same bytes as the sharp path, for grey and RGB images and targets', async () => {
    for (const channels of [1, 3] as const) {
      const png = encodePng(noise(28 * 28 * channels, 6), 28, 28, channels, [4]);
      // An interlaced copy of the same pixels takes the sharp path; both paths must agree to the byte.
      const interlaced = await sharp(png).png({ progressive: true }).toBuffer();
      expect(decodeSimplePng(interlaced, 1e6)).toBeNull();
      for (const target of [1, 3] as const) {
        const t = { width: 28, height: 28, channels: target, fit: 'stretch' as const };
        expect((await decodeImage(png, t, 1e6)).equals(await decodeImage(interlaced, t, 1e6))).toBe(true);
      }
      // At another size, sharp resizes.
      expect((await decodeImage(png, { width: 14, height: 14, channels: 1, fit: 'stretch' }, 1e6)).length).toBe(14 * 14);
    }
  });
});
