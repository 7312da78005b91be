/**
 * A PNG contact sheet of a split: one row per class, its name at the left and a few of its samples enlarged
 * beside it, so a person can check at a glance that labels match images.
 */
import sharp from 'sharp';
import { GLYPH_HEIGHT, drawText, measureText } from './font.js';

const MARGIN = 8;
const GAP = 2; // between tiles and between rows
const LABEL_GAP = 8; // between a row's label and its first tile
const HEADER_GAP = 8; // between the header line and the first row
const TEXT_SCALE = 2;
const TEXT_HEIGHT = GLYPH_HEIGHT * TEXT_SCALE;
const MIN_TILE = 56; // enlarge small images until their longer side reaches this (28 px → ×2)
const MAX_SIDE = 2000; // tiles shrink so the sheet's width and height stay near this
const MAX_LABEL_CHARS = 16;
const BACKGROUND: [number, number, number] = [40, 40, 40];
const INK: [number, number, number] = [255, 255, 255];

export interface SampleSheetOptions {
  /** All samples back to back, HWC uint8. */
  pixels: Uint8Array;
  height: number;
  width: number;
  /** 1 (grey, drawn as RGB) or 3. */
  channels: number;
  labels: ArrayLike<number>;
  classes: string[];
  /** Candidate sample indices, in the order they should be picked. */
  indices: number[];
  /** Samples per class row (default 8). */
  perClass?: number;
  /** Rows drawn: the first maxClasses classes (default 20). */
  maxClasses?: number;
  /** Header text, e.g. "fashion-mnist / train". */
  title?: string;
}

export interface SheetLayout {
  width: number;
  height: number;
  tileWidth: number;
  tileHeight: number;
  rowHeight: number;
  /** Row labels as drawn (truncated to 16 characters). */
  labels: string[];
  /** x of each row's first tile. */
  tilesLeft: number;
  /** y of the first row's top. */
  rowsTop: number;
}

/**
 * Sheet geometry: tiles are the sample enlarged by the integer factor that brings its longer side to 56 px
 * (nearest neighbour), reduced — below 1 if need be — so the sheet stays within about 2000 × 2000.
 */
export function layoutSampleSheet(p: {
  height: number;
  width: number;
  classes: string[];
  perClass: number;
  maxClasses: number;
  title: string;
}): SheetLayout {
  const rows = Math.min(p.classes.length, p.maxClasses);
  const labels = p.classes.slice(0, rows).map((c) => [...c].slice(0, MAX_LABEL_CHARS).join(''));
  const labelWidth = Math.max(0, ...labels.map((l) => measureText(l, TEXT_SCALE)));
  const tilesLeft = MARGIN + labelWidth + LABEL_GAP;
  const rowsTop = MARGIN + TEXT_HEIGHT + HEADER_GAP;

  const fitWidth = (MAX_SIDE - tilesLeft - MARGIN - (p.perClass - 1) * GAP) / p.perClass / p.width;
  const fitHeight = (MAX_SIDE - rowsTop - MARGIN - (rows - 1) * GAP) / Math.max(1, rows) / p.height;
  const scale = Math.min(Math.ceil(MIN_TILE / Math.max(p.width, p.height)), fitWidth, fitHeight);
  const whole = scale >= 1 ? Math.floor(scale) : scale;
  const tileWidth = Math.max(1, Math.floor(p.width * whole));
  const tileHeight = Math.max(1, Math.floor(p.height * whole));
  const rowHeight = Math.max(tileHeight, TEXT_HEIGHT);

  const tilesRight = tilesLeft + p.perClass * (tileWidth + GAP) - GAP + MARGIN;
  const titleRight = Math.min(MAX_SIDE, 2 * MARGIN + measureText(p.title, TEXT_SCALE));
  return {
    width: Math.max(tilesRight, titleRight),
    height: rowsTop + Math.max(0, rows * (rowHeight + GAP) - GAP) + MARGIN,
    tileWidth,
    tileHeight,
    rowHeight,
    labels,
    tilesLeft,
    rowsTop,
  };
}

/** Top-left corner of tile `column` in class row `row`; tiles are centred vertically in taller rows. */
export function tileOrigin(layout: SheetLayout, row: number, column: number): { x: number; y: number } {
  return {
    x: layout.tilesLeft + column * (layout.tileWidth + GAP),
    y: layout.rowsTop + row * (layout.rowHeight + GAP) + ((layout.rowHeight - layout.tileHeight) >> 1),
  };
}

/**
 * Renders the sheet as a PNG: for each of the first maxClasses classes, the first perClass candidates of that
 * class in `indices` order. Rows of classes with no candidate keep their label and stay empty, which is itself
 * worth seeing.
 */
export async function renderSampleSheet(opts: SampleSheetOptions): Promise<Buffer> {
  const { pixels, height: h, width: w, channels, labels, classes } = opts;
  const perClass = opts.perClass ?? 8;
  const maxClasses = opts.maxClasses ?? 20;
  const title = opts.title ?? 'samples';
  if (!Number.isInteger(perClass) || perClass < 1 || !Number.isInteger(maxClasses) || maxClasses < 1) {
    throw new RangeError('renderSampleSheet: perClass and maxClasses must be positive integers.');
  }
  if (channels !== 1 && channels !== 3) {
    throw new RangeError(`renderSampleSheet: ${channels} channels; 1 or 3 expected.`);
  }

  const layout = layoutSampleSheet({ height: h, width: w, classes, perClass, maxClasses, title });
  const rgb = new Uint8Array(layout.width * layout.height * 3);
  for (let o = 0; o < rgb.length; o += 3) rgb.set(BACKGROUND, o);

  drawText(rgb, layout.width, layout.height, MARGIN, MARGIN, title, TEXT_SCALE, INK);
  const labelDrop = (layout.rowHeight - TEXT_HEIGHT) >> 1;
  layout.labels.forEach((label, r) => {
    const y = layout.rowsTop + r * (layout.rowHeight + GAP) + labelDrop;
    drawText(rgb, layout.width, layout.height, MARGIN, y, label, TEXT_SCALE, INK);
  });

  // Nearest-neighbour source coordinate of every tile column and row.
  const srcX = Int32Array.from({ length: layout.tileWidth }, (_, x) => Math.floor((x * w) / layout.tileWidth));
  const srcY = Int32Array.from({ length: layout.tileHeight }, (_, y) => Math.floor((y * h) / layout.tileHeight));
  const sampleBytes = h * w * channels;
  const placed = new Uint32Array(layout.labels.length);
  let remaining = layout.labels.length * perClass;

  for (const i of opts.indices) {
    if (remaining === 0) break;
    const row = labels[i];
    if (!(row >= 0 && row < placed.length) || placed[row] >= perClass) continue;
    const { x: x0, y: y0 } = tileOrigin(layout, row, placed[row]++);
    remaining--;
    const base = i * sampleBytes;
    for (let ty = 0; ty < layout.tileHeight; ty++) {
      const srcRow = base + srcY[ty] * w * channels;
      let o = ((y0 + ty) * layout.width + x0) * 3;
      for (let tx = 0; tx < layout.tileWidth; tx++, o += 3) {
        const s = srcRow + srcX[tx] * channels;
        rgb[o] = pixels[s];
        rgb[o + 1] = pixels[channels === 3 ? s + 1 : s];
        rgb[o + 2] = pixels[channels === 3 ? s + 2 : s];
      }
    }
  }

  return sharp(rgb, { raw: { width: layout.width, height: layout.height, channels: 3 } }).png().toBuffer();
}
