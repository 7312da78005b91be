/**
 * Image decoding and resizing with sharp (libvips). Every sample becomes exactly height × width × channels uint8
 * bytes: EXIF orientation applied, alpha composited on black, resized with the chosen fit, converted to grey or sRGB.
 */
import sharp, { type Sharp } from 'sharp';
import { decodeSimplePng } from './png-fast.js';

export interface ImageMeta {
  width: number;
  height: number;
  channels: number;
  format: string;
  grey: boolean;
}

export interface Target {
  height: number;
  width: number;
  channels: 1 | 3;
  fit: 'stretch' | 'cover' | 'contain';
}

const FIT = { stretch: 'fill', cover: 'cover', contain: 'contain' } as const;
const BLACK = { r: 0, g: 0, b: 0, alpha: 1 };

/** Reads an image's header; throws an Error whose message is the reason a person would want to read. */
export async function probeImage(input: string | Buffer, maxPixels: number): Promise<ImageMeta> {
  const meta = await sharp(input, { limitInputPixels: maxPixels }).metadata();
  if (!meta.width || !meta.height) throw new Error('no image dimensions');
  if (meta.format !== 'png' && meta.format !== 'jpeg') throw new Error(`format ${meta.format ?? 'unknown'} is not PNG or JPEG`);
  if (meta.width * meta.height > maxPixels) throw new Error(`${meta.width}×${meta.height} exceeds ${maxPixels} pixels`);
  const oriented = (meta.orientation ?? 1) >= 5;
  return {
    width: oriented ? meta.height : meta.width,
    height: oriented ? meta.width : meta.height,
    channels: meta.channels ?? 3,
    format: meta.format,
    grey: meta.space === 'b-w' || meta.space === 'grey16' || (meta.channels ?? 3) <= 2,
  };
}

/**
 * Decodes and resizes one encoded image (file path or bytes), fully decoding it so corrupt data fails here. Simple
 * PNGs already at the target size skip sharp (see png-fast.ts); the result is the same bytes either way.
 */
export async function decodeImage(input: string | Buffer, target: Target, maxPixels: number): Promise<Buffer> {
  if (Buffer.isBuffer(input)) {
    const png = decodeSimplePng(input, maxPixels);
    if (png && png.width === target.width && png.height === target.height) {
      return png.channels === target.channels ? png.data : toChannels(png.data, png.channels, target.channels);
    }
  }
  return finish(sharp(input, { limitInputPixels: maxPixels, failOn: 'error' }).autoOrient(), target);
}

/** Resizes/converts an already-decoded HWC uint8 image (IDX input) to the target. */
export async function convertRaw(
  pixels: Uint8Array,
  size: { height: number; width: number; channels: number },
  target: Target,
): Promise<Buffer> {
  const raw = { width: size.width, height: size.height, channels: size.channels as 1 | 3 };
  return finish(sharp(pixels, { raw }), target);
}

async function finish(img: Sharp, t: Target): Promise<Buffer> {
  let out = img.flatten({ background: BLACK }).resize({
    width: t.width,
    height: t.height,
    fit: FIT[t.fit],
    background: BLACK,
    kernel: 'lanczos3',
  });
  // Always decode to sRGB and reduce to grey ourselves: Rec. 601 luma on sRGB values is what PIL's convert('L')
  // and torchvision's Grayscale produce, whereas sharp's grayscale() uses gamma-corrected Rec. 709 weights.
  out = out.toColourspace('srgb');
  const { data, info } = await out.raw().toBuffer({ resolveWithObject: true });
  if (info.width !== t.width || info.height !== t.height) throw new Error('resize produced the wrong size');
  if (info.channels === t.channels) return data;
  return toChannels(data, info.channels, t.channels);
}

/** Reduces or expands interleaved channels: grey→RGB by copying, RGB(A)→grey by Rec. 601 luma, drop alpha. */
function toChannels(data: Buffer, from: number, to: 1 | 3): Buffer {
  const n = data.length / from;
  const out = Buffer.alloc(n * to);
  for (let i = 0; i < n; i++) {
    const s = i * from;
    if (to === 3) {
      const grey = from < 3;
      out[i * 3] = data[s];
      out[i * 3 + 1] = grey ? data[s] : data[s + 1];
      out[i * 3 + 2] = grey ? data[s] : data[s + 2];
    } else {
      out[i] = from < 3 ? data[s] : Math.round(0.299 * data[s] + 0.587 * data[s + 1] + 0.114 * data[s + 2]);
    }
  }
  return out;
}

/** The target size when the user gave none: the common size if all images share one no larger than 128, else 64×64. */
export function defaultTarget(metas: ImageMeta[], fit: Target['fit'], requested: { size: [number, number] | null; channels: 1 | 3 | null }): Target {
  let height = 64;
  let width = 64;
  if (requested.size) [height, width] = requested.size;
  else if (metas.length > 0 && metas.every((m) => m.width === metas[0].width && m.height === metas[0].height)) {
    if (metas[0].width <= 128 && metas[0].height <= 128) [height, width] = [metas[0].height, metas[0].width];
  }
  const channels = requested.channels ?? (metas.every((m) => m.grey) ? 1 : 3);
  return { height, width, channels, fit };
}

/** Runs `fn` over `items` with at most `limit` in flight, preserving order of results. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const run = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, run));
  return results;
}
