import { describe, expect, it } from 'vitest';
import { decodeShard, encodeShard, type Shard } from '../../src/data/shards.js';

/** A shard of `count` samples whose every byte and label is distinct enough to catch an offset mistake. */
function makeShard(count: number, height: number, width: number, channels: number): Shard {
  const bytes = count * height * width * channels;
  return {
    count,
    height,
    width,
    channels,
    labels: Uint16Array.from({ length: count }, (_, i) => 1000 * i + 7), // above 255: both bytes matter
    pixels: Uint8Array.from({ length: bytes }, (_, i) => (i * 31 + 5) % 256),
  };
}

const HEADER = 24;

describe('shard format', () => {
  it.each([0, 1, 3])('round-trips the labels and pixels of %i grey samples', (count) => {
    const shard = makeShard(count, 5, 4, 1);
    const back = decodeShard(encodeShard(shard));
    expect(back.count).toBe(count);
    expect([back.height, back.width, back.channels]).toEqual([5, 4, 1]);
    expect(Array.from(back.labels)).toEqual(Array.from(shard.labels));
    expect(Array.from(back.pixels)).toEqual(Array.from(shard.pixels));
  });

  it('pads an odd number of u16 labels to a multiple of four bytes before the pixels', () => {
    const buf = encodeShard(makeShard(3, 2, 2, 1));
    // 3 labels × 2 bytes = 6, padded to 8.
    expect(buf.length).toBe(HEADER + 8 + 3 * 4);
    expect(buf.readUInt16LE(HEADER + 6)).toBe(0);
    expect(buf[HEADER + 8]).toBe(makeShard(3, 2, 2, 1).pixels[0]);
  });

  it('round-trips 3-channel colour samples in HWC order', () => {
    const shard = makeShard(2, 3, 2, 3);
    const back = decodeShard(encodeShard(shard));
    expect(back.channels).toBe(3);
    expect(Array.from(back.pixels)).toEqual(Array.from(shard.pixels));
    expect(Array.from(back.labels)).toEqual([7, 1007]);
  });

  it('decodes a shard that sits at an offset inside a larger buffer', () => {
    const shard = makeShard(3, 2, 2, 3);
    const encoded = encodeShard(shard);
    const outer = new Uint8Array(encoded.length + 10);
    outer.set(encoded, 7);
    const back = decodeShard(outer.subarray(7, 7 + encoded.length));
    expect(Array.from(back.labels)).toEqual(Array.from(shard.labels));
    expect(Array.from(back.pixels)).toEqual(Array.from(shard.pixels));
  });

  it('rejects a buffer with the wrong magic', () => {
    const buf = encodeShard(makeShard(1, 2, 2, 1));
    buf.write('XSHD', 0, 'latin1');
    expect(() => decodeShard(buf)).toThrow(/not a Quorum shard/);
  });

  it('rejects a buffer shorter than the header', () => {
    expect(() => decodeShard(encodeShard(makeShard(1, 2, 2, 1)).subarray(0, 10))).toThrow(/not a Quorum shard/);
  });

  it('rejects an unknown version', () => {
    const buf = encodeShard(makeShard(1, 2, 2, 1));
    buf.writeUInt32LE(2, 4);
    expect(() => decodeShard(buf)).toThrow(/version 2/);
  });

  it('rejects a truncated buffer', () => {
    const buf = encodeShard(makeShard(3, 4, 4, 1));
    expect(() => decodeShard(buf.subarray(0, buf.length - 1))).toThrow(/truncated/);
  });

  it('rejects trailing bytes after the pixels', () => {
    const buf = encodeShard(makeShard(3, 4, 4, 1));
    expect(() => decodeShard(Buffer.concat([buf, Buffer.from([0])]))).toThrow(/trailing bytes/);
  });

  it('refuses to encode labels or pixels that do not match the count', () => {
    const shard = makeShard(3, 2, 2, 1);
    expect(() => encodeShard({ ...shard, labels: shard.labels.subarray(0, 2) })).toThrow(/3 samples/);
    expect(() => encodeShard({ ...shard, pixels: shard.pixels.subarray(0, 11) })).toThrow(/3 samples/);
    expect(() => encodeShard({ ...shard, channels: 3 })).toThrow(/3 samples/);
  });
});
