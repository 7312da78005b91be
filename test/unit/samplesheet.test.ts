import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/data/random.js';
import { layoutSampleSheet, renderSampleSheet, tileOrigin } from '../../src/data/samplesheet.js';

const SIDE = 28;
const BACKGROUND = [40, 40, 40];

async function decode(png: Buffer) {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  const at = (x: number, y: number) => {
    const o = (y * info.width + x) * info.channels;
    return [data[o], data[o + 1], data[o + 2]];
  };
  return { info, at };
}

function randomImages(count: number, bytes: number, seed: number): Uint8Array {
  const rng = createRng(seed);
  return Uint8Array.from({ length: count * bytes }, () => Math.floor(rng() * 256));
}

describe('sample sheet', () => {
  // Nine 28×28 grey samples, labels cycling 0, 1, 2; class 1's samples are 1, 4, 7.
  const pixels = randomImages(9, SIDE * SIDE, 1);
  const labels = [0, 1, 2, 0, 1, 2, 0, 1, 2];
  const base = {
    pixels,
    height: SIDE,
    width: SIDE,
    channels: 1,
    labels,
    classes: ['zero', 'one', 'two'],
    indices: [0, 1, 2, 3, 4, 5, 6, 7, 8],
    perClass: 2,
    title: 'demo / train',
  };

  it('lays out a header, one row per class and tiles enlarged ×2', async () => {
    // Label column: "zero" is 4 glyphs × 6 − 1 = 23 cells × 2 = 46 px; tiles start at 8 + 46 + 8 = 62.
    // Width: 62 + 2 tiles × 56 + 1 gap × 2 + 8 = 184. Rows start at 8 + 16 (text, 8 rows × 2) + 8 = 32.
    // Height: 32 + 3 rows × 56 + 2 gaps × 2 + 8 = 212.
    const { info } = await decode(await renderSampleSheet(base));
    expect([info.width, info.height]).toEqual([184, 212]);
    const layout = layoutSampleSheet({ ...base, maxClasses: 20 });
    expect(layout).toMatchObject({ width: 184, height: 212, tileWidth: 56, tileHeight: 56 });
    expect(layout).toMatchObject({ tilesLeft: 62, rowsTop: 32 });
    expect(tileOrigin(layout, 1, 1)).toEqual({ x: 120, y: 90 });
  });

  it('places the known sample, upscaled by nearest neighbour, in its class row', async () => {
    const { at } = await decode(await renderSampleSheet(base));
    // Row 1 (class "one"), column 1 holds the second class-1 candidate: sample 4.
    const sample = pixels.subarray(4 * SIDE * SIDE, 5 * SIDE * SIDE);
    for (let ty = 0; ty < 56; ty++) {
      for (let tx = 0; tx < 56; tx++) {
        const v = sample[(ty >> 1) * SIDE + (tx >> 1)];
        expect(at(120 + tx, 90 + ty)).toEqual([v, v, v]);
      }
    }
  });

  it('draws each label in white on the background, left of its row', async () => {
    const { at } = await decode(await renderSampleSheet(base));
    for (let row = 0; row < 3; row++) {
      const top = 32 + row * 58 + 20; // 16 px of text centred in a 56 px row
      let ink = 0;
      for (let y = top; y < top + 16; y++) {
        for (let x = 8; x < 8 + 46; x++) {
          const px = at(x, y);
          if (px[0] === 255) ink++;
          else expect(px).toEqual(BACKGROUND);
        }
      }
      expect(ink).toBeGreaterThan(40);
    }
  });

  it('draws characters outside printable ASCII as "?"', async () => {
    const odd = await decode(await renderSampleSheet({ ...base, classes: ['zéro', 'one', 'two'] }));
    const asked = await decode(await renderSampleSheet({ ...base, classes: ['z?ro', 'one', 'two'] }));
    for (let y = 52; y < 68; y++) for (let x = 8; x < 54; x++) expect(odd.at(x, y)).toEqual(asked.at(x, y));
  });

  it('copies RGB samples unchanged and leaves rows without candidates empty', async () => {
    const rgb = randomImages(2, SIDE * SIDE * 3, 2);
    const { at } = await decode(
      await renderSampleSheet({ ...base, pixels: rgb, channels: 3, labels: [0, 0], indices: [0, 1] }),
    );
    const o = SIDE * SIDE * 3 + (5 * SIDE + 7) * 3; // sample 1, pixel (x 7, y 5) → tile (62 + 58 + 14, 32 + 10)
    expect(at(62 + 58 + 14, 32 + 10)).toEqual([rgb[o], rgb[o + 1], rgb[o + 2]]);
    expect(at(62 + 10, 32 + 58 + 10)).toEqual(BACKGROUND);
  });

  it('keeps large images and many classes within about 2000 × 2000', async () => {
    const side = 224;
    const classes = Array.from({ length: 25 }, (_, k) => `class ${k}`);
    const count = 25 * 8;
    const { info } = await decode(
      await renderSampleSheet({
        pixels: new Uint8Array(count * side * side),
        height: side,
        width: side,
        channels: 1,
        labels: Array.from({ length: count }, (_, i) => i % 25),
        classes,
        indices: Array.from({ length: count }, (_, i) => i),
      }),
    );
    expect(info.width).toBeLessThanOrEqual(2000);
    expect(info.height).toBeLessThanOrEqual(2000);
    expect(info.height).toBeGreaterThan(20 * 50); // 20 rows (maxClasses default), tiles shrunk but visible
  });
});
