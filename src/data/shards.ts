/**
 * The compact shard format datasets are stored in: one object holds N uint8 images of one shape and their labels.
 *
 *   bytes 0..3   "QSHD"            bytes 4..23  u32 LE: version (1), count, height, width, channels
 *   then         u16 LE labels[count], zero-padded to a multiple of 4 bytes
 *   then         u8 pixels[count × height × width × channels], HWC order, sample after sample
 *
 * Raw bytes (no PNG per image) so training reads a shard with one allocation and no decoding.
 */
const MAGIC = 0x44485351; // "QSHD" read as little-endian u32
const HEADER = 24;

export interface Shard {
  count: number;
  height: number;
  width: number;
  channels: number;
  labels: Uint16Array;
  pixels: Uint8Array;
}

const labelBytes = (count: number) => Math.ceil((count * 2) / 4) * 4;

/** Serialises samples into one shard buffer. */
export function encodeShard(shard: Shard): Buffer {
  const { count, height, width, channels } = shard;
  const sampleBytes = height * width * channels;
  if (shard.labels.length !== count || shard.pixels.length !== count * sampleBytes) {
    throw new Error(`shard holds ${count} samples but ${shard.labels.length} labels and ${shard.pixels.length} pixel bytes`);
  }
  const out = Buffer.alloc(HEADER + labelBytes(count) + count * sampleBytes);
  out.writeUInt32LE(MAGIC, 0);
  out.writeUInt32LE(1, 4);
  out.writeUInt32LE(count, 8);
  out.writeUInt32LE(height, 12);
  out.writeUInt32LE(width, 16);
  out.writeUInt32LE(channels, 20);
  for (let i = 0; i < count; i++) out.writeUInt16LE(shard.labels[i], HEADER + i * 2);
  out.set(shard.pixels, HEADER + labelBytes(count));
  return out;
}

/** Parses a shard buffer; the returned arrays are views into `buf` (no copy of the pixels). */
export function decodeShard(buf: Uint8Array): Shard {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (buf.byteLength < HEADER || view.getUint32(0, true) !== MAGIC) throw new Error('not a Quorum shard');
  const version = view.getUint32(4, true);
  if (version !== 1) throw new Error(`unsupported shard version ${version}`);
  const count = view.getUint32(8, true);
  const height = view.getUint32(12, true);
  const width = view.getUint32(16, true);
  const channels = view.getUint32(20, true);
  const pixelStart = HEADER + labelBytes(count);
  const pixelBytes = count * height * width * channels;
  if (buf.byteLength !== pixelStart + pixelBytes) throw new Error('shard is truncated or has trailing bytes');
  const labels = new Uint16Array(count);
  for (let i = 0; i < count; i++) labels[i] = view.getUint16(HEADER + i * 2, true);
  return { count, height, width, channels, labels, pixels: buf.subarray(pixelStart, pixelStart + pixelBytes) };
}
