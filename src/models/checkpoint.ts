/**
 * A training state as one binary object: u32 LE header length, a JSON header in which every Float32Array is
 * replaced by {offset, length} into the body, then the float32 body. Compact and exact (no JSON floats).
 */
import type { TrainState } from './train.js';

const MAGIC = 'QCKP1';

/** Serialises a training state. */
export function encodeCheckpoint(state: TrainState): Buffer {
  const chunks: Float32Array[] = [];
  let offset = 0;
  const header = JSON.stringify({ magic: MAGIC, state }, (_key, value) => {
    if (value instanceof Float32Array) {
      chunks.push(value);
      const ref = { $f32: offset, length: value.length };
      offset += value.length;
      return ref;
    }
    return value;
  });
  const head = Buffer.from(header, 'utf8');
  const out = Buffer.alloc(4 + head.length + (4 - ((4 + head.length) % 4)) % 4 + offset * 4);
  out.writeUInt32LE(head.length, 0);
  head.copy(out, 4);
  const bodyStart = out.length - offset * 4;
  let at = bodyStart;
  for (const c of chunks) {
    Buffer.from(c.buffer, c.byteOffset, c.byteLength).copy(out, at);
    at += c.byteLength;
  }
  return out;
}

/** Parses a checkpoint written by encodeCheckpoint. */
export function decodeCheckpoint(buf: Uint8Array): TrainState {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const headLength = b.readUInt32LE(0);
  const headerEnd = 4 + headLength;
  const bodyStart = headerEnd + ((4 - (headerEnd % 4)) % 4);
  const body = new Float32Array(b.buffer.slice(b.byteOffset + bodyStart, b.byteOffset + b.length));
  const parsed = JSON.parse(b.subarray(4, headerEnd).toString('utf8'), (_key, value) => {
    if (value && typeof value === 'object' && typeof value.$f32 === 'number') return body.slice(value.$f32, value.$f32 + value.length);
    return value;
  });
  if (parsed?.magic !== MAGIC) throw new Error('not a Quorum checkpoint');
  return parsed.state as TrainState;
}
