/**
 * The capture file: served inputs and outputs of one model, as drift jobs read them back.
 *
 *   u32 LE header length, then a JSON header {magic: "QCAP1", modelId, height, width, channels, classes, count, times}
 *   (times: ISO timestamps, one per sample), zero-padded to 4 bytes, then u8 samples [count × H × W × C] (the
 *   preprocessed input at the model's size, before normalisation), zero-padded to 4, then f32 LE ensemble
 *   probabilities [count × K].
 */
export interface CaptureBatch {
  modelId: string;
  height: number;
  width: number;
  channels: number;
  classes: string[];
  times: string[];
  samples: Uint8Array;
  probabilities: Float32Array;
}

const pad4 = (n: number) => (4 - (n % 4)) % 4;

/** Serialises captured samples. */
export function encodeCapture(c: CaptureBatch): Buffer {
  const count = c.times.length;
  const header = Buffer.from(
    JSON.stringify({ magic: 'QCAP1', modelId: c.modelId, height: c.height, width: c.width, channels: c.channels, classes: c.classes, count, times: c.times }),
  );
  const headEnd = 4 + header.length + pad4(4 + header.length);
  const sampleEnd = headEnd + c.samples.length + pad4(c.samples.length);
  const out = Buffer.alloc(sampleEnd + c.probabilities.byteLength);
  out.writeUInt32LE(header.length, 0);
  header.copy(out, 4);
  out.set(c.samples, headEnd);
  Buffer.from(c.probabilities.buffer, c.probabilities.byteOffset, c.probabilities.byteLength).copy(out, sampleEnd);
  return out;
}

/** Parses a capture file. */
export function decodeCapture(buf: Uint8Array): CaptureBatch {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const len = b.readUInt32LE(0);
  const h = JSON.parse(b.subarray(4, 4 + len).toString('utf8'));
  if (h.magic !== 'QCAP1') throw new Error('not a Quorum capture file');
  const headEnd = 4 + len + pad4(4 + len);
  const sampleBytes = h.count * h.height * h.width * h.channels;
  const sampleEnd = headEnd + sampleBytes + pad4(sampleBytes);
  const probs = b.subarray(sampleEnd, sampleEnd + h.count * h.classes.length * 4);
  return {
    modelId: h.modelId,
    height: h.height,
    width: h.width,
    channels: h.channels,
    classes: h.classes,
    times: h.times,
    samples: new Uint8Array(b.subarray(headEnd, headEnd + sampleBytes)),
    probabilities: new Float32Array(probs.buffer.slice(probs.byteOffset, probs.byteOffset + probs.byteLength)),
  };
}
