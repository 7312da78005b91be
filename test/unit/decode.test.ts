import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import {
  convertRaw,
  decodeImage,
  defaultTarget,
  mapLimit,
  probeImage,
  type ImageMeta,
  type Target,
} from '../../src/data/decode.js';

const MAX_PIXELS = 1_000_000;

const solid = (width: number, height: number, rgb: [number, number, number]) =>
  sharp({ create: { width, height, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } });

/** A single-channel PNG (b-w colour space), as a scanner or MNIST export would write it. */
const greyPng = (width: number, height: number, value: number) =>
  sharp(Buffer.alloc(width * height, value), { raw: { width, height, channels: 1 } })
    .toColourspace('b-w')
    .png()
    .toBuffer();

/** An RGB PNG from explicit pixels, row by row. */
const rgbPng = (width: number, height: number, pixels: number[]) =>
  sharp(Buffer.from(pixels), { raw: { width, height, channels: 3 } }).png().toBuffer();

/** Asserts each value is within ±1 of its expectation; a failure shows the actual values that were off. */
const expectWithinOne = (actual: ArrayLike<number>, expected: number[]) =>
  expect(Array.from(actual, (v, i) => (Math.abs(v - expected[i]) <= 1 ? expected[i] : v))).toEqual(expected);

const target = (height: number, width: number, channels: 1 | 3): Target => ({ height, width, channels, fit: 'stretch' });

describe('probing an image header', () => {
  it('reports width, height, format and grey for a grey PNG', async () => {
    const meta = await probeImage(await greyPng(5, 3, 90), MAX_PIXELS);
    expect(meta).toMatchObject({ width: 5, height: 3, format: 'png', grey: true, channels: 1 });
  });

  it('reports an RGB JPEG as colour', async () => {
    const meta = await probeImage(await solid(6, 4, [10, 200, 30]).jpeg().toBuffer(), MAX_PIXELS);
    expect(meta).toMatchObject({ width: 6, height: 4, format: 'jpeg', grey: false, channels: 3 });
  });

  it('swaps width and height for a JPEG with EXIF orientation 6', async () => {
    const jpeg = await solid(6, 4, [10, 200, 30]).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    expect((await sharp(jpeg).metadata()).orientation).toBe(6); // the fixture really carries the tag
    const meta = await probeImage(jpeg, MAX_PIXELS);
    expect([meta.width, meta.height]).toEqual([4, 6]);
  });

  it('rejects a buffer that is not an image', async () => {
    await expect(probeImage(Buffer.from('these bytes are a note, not a picture'), MAX_PIXELS)).rejects.toThrow();
  });

  it('rejects an image with more pixels than maxPixels', async () => {
    const png = await solid(100, 100, [1, 2, 3]).png().toBuffer();
    await expect(probeImage(png, 100 * 100 - 1)).rejects.toThrow();
    await expect(probeImage(png, 100 * 100)).resolves.toMatchObject({ width: 100, height: 100 });
  });
});

describe('decoding an image to the target shape', () => {
  it.each([
    ['grey', 1],
    ['grey', 3],
    ['colour', 1],
    ['colour', 3],
  ] as const)('returns exactly h×w×c bytes from a %s input for %i channel(s)', async (kind, channels) => {
    const input = kind === 'grey' ? await greyPng(7, 5, 120) : await solid(7, 5, [200, 40, 90]).jpeg().toBuffer();
    const out = await decodeImage(input, target(12, 10, channels), MAX_PIXELS);
    expect(out.length).toBe(12 * 10 * channels);
  });

  it('turns pure red into its Rec. 601 luma (0.299 × 255 ≈ 76) for one channel', async () => {
    const out = await decodeImage(await solid(4, 4, [255, 0, 0]).png().toBuffer(), target(4, 4, 1), MAX_PIXELS);
    expectWithinOne(out, new Array(16).fill(76));
  });

  it('weights red, green and blue by Rec. 601 (76, 150, 29) for one channel', async () => {
    const png = await rgbPng(3, 1, [255, 0, 0, 0, 255, 0, 0, 0, 255]);
    const out = await decodeImage(png, target(1, 3, 1), MAX_PIXELS);
    // Stretch to the same size is an identity resize, so each pixel keeps its own colour.
    expectWithinOne(out, [76, 150, 29]);
  });

  it('copies a grey value into equal R, G and B', async () => {
    const out = await decodeImage(await greyPng(4, 4, 90), target(4, 4, 3), MAX_PIXELS);
    for (let i = 0; i < out.length; i += 3) expect([out[i], out[i + 1], out[i + 2]]).toEqual([90, 90, 90]);
  });

  it('composites transparent pixels on black', async () => {
    const png = await sharp({
      create: { width: 4, height: 4, channels: 4, background: { r: 255, g: 255, b: 255, alpha: 0 } },
    })
      .png()
      .toBuffer();
    expect(Array.from(await decodeImage(png, target(4, 4, 3), MAX_PIXELS))).toEqual(new Array(48).fill(0));
    expect(Array.from(await decodeImage(png, target(4, 4, 1), MAX_PIXELS))).toEqual(new Array(16).fill(0));
  });

  it('applies EXIF orientation before resizing', async () => {
    // Stored 6 wide × 4 high, left half red, right half blue; orientation 6 shows it turned a quarter clockwise,
    // so the displayed image is 4 wide × 6 high with red on top.
    const stored: number[] = [];
    for (let y = 0; y < 4; y++) for (let x = 0; x < 6; x++) stored.push(...(x < 3 ? [255, 0, 0] : [0, 0, 255]));
    const jpeg = await sharp(Buffer.from(stored), { raw: { width: 6, height: 4, channels: 3 } })
      .jpeg({ quality: 100 })
      .withMetadata({ orientation: 6 })
      .toBuffer();
    const out = await decodeImage(jpeg, target(6, 4, 3), MAX_PIXELS);
    const at = (x: number, y: number) => Array.from(out.subarray((y * 4 + x) * 3, (y * 4 + x) * 3 + 3));
    const [r0, , b0] = at(1, 0);
    const [r5, , b5] = at(1, 5);
    expect(r0).toBeGreaterThan(b0 + 100);
    expect(b5).toBeGreaterThan(r5 + 100);
  });

  it('rejects a truncated PNG', async () => {
    // Pixels that do not compress away, so half the file cuts through the image data.
    const noisy = Buffer.from(Array.from({ length: 64 * 64 * 3 }, (_, i) => (i * 7919) % 256));
    const png = await sharp(noisy, { raw: { width: 64, height: 64, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer();
    await expect(decodeImage(png.subarray(0, png.length >> 1), target(8, 8, 3), MAX_PIXELS)).rejects.toThrow();
  });
});

describe('converting raw decoded pixels', () => {
  it('resizes a raw 4×4 grey image to 8×8', async () => {
    const pixels = new Uint8Array(16).fill(77);
    const out = await convertRaw(pixels, { height: 4, width: 4, channels: 1 }, target(8, 8, 1));
    expect(out.length).toBe(64);
    expect(new Set(out)).toEqual(new Set([77]));
  });

  it('expands a raw grey image to three equal channels', async () => {
    const pixels = Uint8Array.from({ length: 16 }, (_, i) => i * 16);
    const out = await convertRaw(pixels, { height: 4, width: 4, channels: 1 }, target(4, 4, 3));
    expect(out.length).toBe(48);
    for (let i = 0; i < 16; i++) expect([out[3 * i], out[3 * i + 1], out[3 * i + 2]]).toEqual([i * 16, i * 16, i * 16]);
  });
});

describe('default target', () => {
  const meta = (width: number, height: number, grey: boolean): ImageMeta => ({
    width,
    height,
    grey,
    channels: grey ? 1 : 3,
    format: 'png',
  });
  const none = { size: null, channels: null };

  it('keeps a common size of at most 128', () => {
    expect(defaultTarget([meta(28, 20, true), meta(28, 20, true)], 'stretch', none)).toEqual({
      height: 20,
      width: 28,
      channels: 1,
      fit: 'stretch',
    });
    expect(defaultTarget([meta(128, 128, true)], 'cover', none)).toMatchObject({ height: 128, width: 128, fit: 'cover' });
  });

  it('falls back to 64×64 for mixed sizes', () => {
    expect(defaultTarget([meta(28, 28, true), meta(32, 28, true)], 'stretch', none)).toMatchObject({ height: 64, width: 64 });
  });

  it('falls back to 64×64 for a common size above 128', () => {
    expect(defaultTarget([meta(200, 200, true), meta(200, 200, true)], 'stretch', none)).toMatchObject({
      height: 64,
      width: 64,
    });
  });

  it('lets a requested size and channel count win', () => {
    const t = defaultTarget([meta(28, 28, true)], 'contain', { size: [32, 48], channels: 3 });
    expect(t).toEqual({ height: 32, width: 48, channels: 3, fit: 'contain' });
    expect(defaultTarget([meta(28, 28, false)], 'stretch', { size: null, channels: 1 }).channels).toBe(1);
  });

  it('uses one channel when every image is grey and three otherwise', () => {
    expect(defaultTarget([meta(8, 8, true), meta(8, 8, true)], 'stretch', none).channels).toBe(1);
    expect(defaultTarget([meta(8, 8, true), meta(8, 8, false)], 'stretch', none).channels).toBe(3);
  });
});

describe('mapLimit', () => {
  it('returns results in input order even when later items finish first', async () => {
    const items = [50, 40, 30, 20, 10, 0];
    const done: number[] = [];
    const out = await mapLimit(items, 3, async (ms, i) => {
      await new Promise((r) => setTimeout(r, ms));
      done.push(i);
      return ms * 2;
    });
    expect(out).toEqual([100, 80, 60, 40, 20, 0]);
    expect(done).not.toEqual([0, 1, 2, 3, 4, 5]); // completion order really differed from input order
  });

  it('never has more than `limit` calls in flight, and does reach the limit', async () => {
    let inFlight = 0;
    let most = 0;
    const items = Array.from({ length: 20 }, (_, i) => i);
    await mapLimit(items, 4, async (i) => {
      inFlight++;
      most = Math.max(most, inFlight);
      for (let k = 0; k < (i % 5) + 1; k++) await new Promise((r) => setImmediate(r));
      inFlight--;
      return i;
    });
    expect(most).toBe(4);
    expect(inFlight).toBe(0);
  });

  it('calls the function once per item when the limit exceeds the item count', async () => {
    const seen: number[] = [];
    const out = await mapLimit(['a', 'b'], 10, async (s, i) => {
      seen.push(i);
      return s.toUpperCase();
    });
    expect(out).toEqual(['A', 'B']);
    expect(seen.sort()).toEqual([0, 1]);
  });
});
