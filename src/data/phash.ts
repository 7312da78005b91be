/**
 * DCT perceptual hash (the "pHash" idea: Zauner, "Implementation and Benchmarking of Perceptual Image Hash
 * Functions", 2010). Low spatial frequencies survive brightness shifts, mild noise and re-encoding, so images
 * that look the same get hashes a few bits apart while unrelated images land about 32 bits apart.
 */

const SIZE = 32; // the DCT is that of the image resampled to SIZE × SIZE
const KEEP = 8; // the hash uses the KEEP × KEEP lowest frequencies

// COS[u * SIZE + x] = α(u) · cos(π (2x + 1) u / (2 SIZE)): the orthonormal DCT-II basis (Ahmed, Natarajan & Rao,
// 1974), with α(0) = √(1/N), α(u) = √(2/N). Orthonormal scaling keeps the first row and column comparable with
// the rest when every coefficient is compared to one median.
const COS = (() => {
  const t = new Float64Array(KEEP * SIZE);
  for (let u = 0; u < KEEP; u++) {
    const alpha = Math.sqrt((u === 0 ? 1 : 2) / SIZE);
    for (let x = 0; x < SIZE; x++) t[u * SIZE + x] = alpha * Math.cos((Math.PI * (2 * x + 1) * u) / (2 * SIZE));
  }
  return t;
})();

/**
 * 64-bit perceptual hash of one HWC uint8 image as [bits 0–31, bits 32–63]; bit k is DCT coefficient
 * (k >> 3, k & 7) > median of the 63 non-DC coefficients. The DC bit is kept so the hash is a full 64 bits;
 * mean brightness nearly always beats that median, so it is close to constant.
 */
export function perceptualHash(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: number,
): [number, number] {
  if (pixels.length < width * height * channels || width < 1 || height < 1 || channels < 1) {
    throw new RangeError(`perceptualHash: ${pixels.length} bytes are too few for ${height}×${width}×${channels}.`);
  }
  const coeffs = lowFrequencyDct(toGrey(pixels, width, height, channels), width, height);

  const ac = coeffs.slice(1).sort();
  const median = ac[(ac.length - 1) >> 1]; // 63 values: the 32nd smallest
  let lo = 0;
  let hi = 0;
  for (let k = 0; k < 64; k++) {
    if (coeffs[k] > median) {
      if (k < 32) lo |= 1 << k;
      else hi |= 1 << (k - 32);
    }
  }
  return [lo >>> 0, hi >>> 0];
}

/** Number of differing bits between two 64-bit hashes. */
export function hammingDistance(a: [number, number], b: [number, number]): number {
  return popcount32(a[0] ^ b[0]) + popcount32(a[1] ^ b[1]);
}

// Parallel bit count (Warren, Hacker's Delight, 2nd ed., §5-1).
function popcount32(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}

// Luma with ITU-R BT.601 weights; one- and two-channel images use their first channel.
function toGrey(pixels: Uint8Array, width: number, height: number, channels: number): Float64Array {
  const n = width * height;
  const grey = scratch('grey', n);
  if (channels < 3) {
    for (let i = 0; i < n; i++) grey[i] = pixels[i * channels];
  } else {
    for (let i = 0, p = 0; i < n; i++, p += channels) {
      grey[i] = 0.299 * pixels[p] + 0.587 * pixels[p + 1] + 0.114 * pixels[p + 2];
    }
  }
  return grey;
}

// Working buffers reused across calls (hashing runs once per sample, tens of thousands of times); every
// element read is written first in the same call, so reuse cannot leak one image into the next.
const scratchBuffers = new Map<string, Float64Array>();

function scratch(name: string, length: number): Float64Array {
  let buf = scratchBuffers.get(name);
  if (!buf || buf.length < length) {
    buf = new Float64Array(length);
    scratchBuffers.set(name, buf);
  }
  return buf;
}

const projectionCache = new Map<number, Float64Array>();

// Resampling to SIZE and the DCT are both linear, so they fold into one KEEP × src matrix per axis:
// P = COS · A, where A (SIZE × src) is box (area-average) resampling — each of the SIZE outputs averages the
// source interval it covers, weighting partly covered pixels by their overlap (also right when src < SIZE).
// The 32 × 32 image is never built, and a 28 × 28 input costs about 8k multiply-adds instead of 14k.
function projection(src: number): Float64Array {
  const cached = projectionCache.get(src);
  if (cached) return cached;
  const p = new Float64Array(KEEP * src);
  const scale = src / SIZE;
  for (let i = 0; i < SIZE; i++) {
    const a = i * scale;
    const b = (i + 1) * scale;
    for (let j = Math.floor(a); j < Math.min(src, Math.ceil(b)); j++) {
      const weight = (Math.min(j + 1, b) - Math.max(j, a)) / scale;
      for (let u = 0; u < KEEP; u++) p[u * src + j] += COS[u * SIZE + i] * weight;
    }
  }
  projectionCache.set(src, p);
  return p;
}

// The KEEP × KEEP lowest frequencies of the resampled image, row-major (index u * KEEP + v): rows first
// (H·KEEP·W multiply-adds), then columns (KEEP·KEEP·H).
function lowFrequencyDct(grey: Float64Array, width: number, height: number): Float64Array {
  const px = projection(width);
  const py = projection(height);
  const partial = scratch('partial', height * KEEP);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let v = 0; v < KEEP; v++) {
      const basis = v * width;
      let acc = 0;
      for (let x = 0; x < width; x++) acc += grey[row + x] * px[basis + x];
      partial[y * KEEP + v] = acc;
    }
  }
  const out = new Float64Array(KEEP * KEEP);
  for (let u = 0; u < KEEP; u++) {
    for (let v = 0; v < KEEP; v++) {
      let acc = 0;
      for (let y = 0; y < height; y++) acc += py[u * height + y] * partial[y * KEEP + v];
      out[u * KEEP + v] = acc;
    }
  }
  return out;
}
