/**
 * WebAssembly text of the 3×3, stride-1 convolution of a one-channel (grey) image, forward and filter gradient,
 * spliced into the SIMD heap module by `simd-kernels.ts`. Both run on a zero-padded copy of the input, xpad
 * [n][hp][wp], so that output (p, q) reads xpad rows p..p+2 and columns q..q+2 with no bounds checks, and take the K
 * output channels four at a time (K % 4 == 0): for each image and channel quad the nine taps' weights (forward) or
 * gradient sums (filter gradient) stay in nine v128 registers while the image's pixels stream by, one splatted
 * input value and one fused multiply-add per tap. An image's xpad (3.6 KB at 28×28) stays in L1 and its output or
 * dy (100 KB at 28×28×32) in L2 across the quads.
 */

import { locals, range, type Madd } from './wat-blocks.js';

const TAPS = range(9).map((t) => [Math.floor(t / 3), t % 3]);

/** The loop over output pixels p < $oh, q < $ow of the image at $img, with $px = the address of xpad[p][q]. */
function pixels(body: string): string {
  return String.raw`(local.set $p (i32.const 0))
        (block $pd (loop $pl
          (br_if $pd (i32.ge_u (local.get $p) (local.get $oh)))
          (local.set $px (i32.add (local.get $img) (i32.shl (i32.mul (local.get $p) (local.get $wp)) (i32.const 2))))
          (local.set $q (i32.const 0))
          (block $qd (loop $ql
            (br_if $qd (i32.ge_u (local.get $q) (local.get $ow)))
            ${body}
            (local.set $px (i32.add (local.get $px) (i32.const 4)))
            (local.set $q (i32.add (local.get $q) (i32.const 1)))
            (br $ql)))
          (local.set $p (i32.add (local.get $p) (i32.const 1)))
          (br $pl)))`;
}

/** The loops over images b < $n and channel quads (byte offset $e < $kb), with $img = image b's xpad. */
function imagesAndQuads(body: string): string {
  return String.raw`(local.set $kb (i32.shl (local.get $k) (i32.const 2)))
    (local.set $b (i32.const 0))
    (block $bd (loop $bl
      (br_if $bd (i32.ge_u (local.get $b) (local.get $n)))
      (local.set $img (i32.add (local.get $xpad) (i32.shl (i32.mul (i32.mul (local.get $b) (local.get $hp)) (local.get $wp)) (i32.const 2))))
      (local.set $e (i32.const 0))
      (block $ed (loop $el
        (br_if $ed (i32.ge_u (local.get $e) (local.get $kb)))
        ${body}
        (local.set $e (i32.add (local.get $e) (i32.const 16)))
        (br $el)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $bl)))`;
}

/** Splat of the input under tap (i, j) of the current pixel. */
const tapInput = ([i, j]: number[]) => `(v128.load32_splat offset=${4 * j} (i32.add (local.get $px) (i32.mul (local.get $wpb) (i32.const ${i}))))`;

const COMMON_LOCALS = '(local $b i32) (local $p i32) (local $q i32) (local $e i32) (local $kb i32) (local $img i32) (local $px i32) (local $wpb i32) (local $out i32)';

/**
 * conv_in1_3x3: y[b][p][q][o] = Σ_ij xpad[b][p+i][q+j] · w[i][j][o] (+ bias[o] where `bias` is an address, 0 for
 * none; then max(·, 0) where `relu` ≠ 0). y is [n][oh][ow][K].
 */
function forward(madd: Madd): string {
  const acc = TAPS.map((tap, t) => `(local.set $x ${tapInput(tap)})
            (local.set $acc ${madd('$acc', '$x', `$w${t}`)})`);
  return String.raw`
  (func (export "conv_in1_3x3") (param $xpad i32) (param $w i32) (param $bias i32) (param $y i32) (param $n i32) (param $hp i32)
      (param $wp i32) (param $oh i32) (param $ow i32) (param $k i32) (param $relu i32)
    ${COMMON_LOCALS} (local $acc v128) (local $x v128) (local $bv v128)
    ${locals(range(9).map((t) => `$w${t}`), 'v128')}
    (local.set $wpb (i32.shl (local.get $wp) (i32.const 2)))
    ${imagesAndQuads(String.raw`${range(9)
      .map((t) => `(local.set $w${t} (v128.load (i32.add (local.get $w) (i32.add (i32.mul (local.get $kb) (i32.const ${t})) (local.get $e)))))`)
      .join('\n        ')}
        (local.set $bv (if (result v128) (local.get $bias) (then (v128.load (i32.add (local.get $bias) (local.get $e)))) (else (v128.const i32x4 0 0 0 0))))
        (local.set $out (i32.add (local.get $y) (i32.add (i32.mul (i32.mul (i32.mul (local.get $b) (local.get $oh)) (local.get $ow)) (local.get $kb)) (local.get $e))))
        ${pixels(String.raw`(local.set $acc (local.get $bv))
            ${acc.join('\n            ')}
            (if (local.get $relu) (then (local.set $acc (f32x4.max (local.get $acc) (v128.const i32x4 0 0 0 0)))))
            (v128.store (local.get $out) (local.get $acc))
            (local.set $out (i32.add (local.get $out) (local.get $kb)))`)}`)}
    )
`;
}

/**
 * conv_in1_3x3_filter_grad: dw[i][j][o] = Σ_bpq xpad[b][p+i][q+j] · dy[b][p][q][o], dy [n][oh][ow][K], dw [3][3][K]
 * (overwritten). Each image's sums for a quad are added to dw, so the rounding runs over one image's pixels at a time.
 */
function filterGradient(madd: Madd): string {
  const acc = TAPS.map((tap, t) => `(local.set $x ${tapInput(tap)})
            (local.set $a${t} ${madd(`$a${t}`, '$x', '$d')})`);
  const dwAt = (t: number) => `(i32.add (local.get $dw) (i32.add (i32.mul (local.get $kb) (i32.const ${t})) (local.get $e)))`;
  return String.raw`
  (func (export "conv_in1_3x3_filter_grad") (param $xpad i32) (param $dy i32) (param $dw i32) (param $n i32) (param $hp i32)
      (param $wp i32) (param $oh i32) (param $ow i32) (param $k i32)
    ${COMMON_LOCALS} (local $x v128) (local $d v128)
    ${locals(range(9).map((t) => `$a${t}`), 'v128')}
    (local.set $wpb (i32.shl (local.get $wp) (i32.const 2)))
    (local.set $e (i32.const 0))
    (block $zd (loop $zl
      (br_if $zd (i32.ge_u (local.get $e) (i32.mul (local.get $k) (i32.const 36))))
      (v128.store (i32.add (local.get $dw) (local.get $e)) (v128.const i32x4 0 0 0 0))
      (local.set $e (i32.add (local.get $e) (i32.const 16)))
      (br $zl)))
    ${imagesAndQuads(String.raw`${range(9).map((t) => `(local.set $a${t} (v128.const i32x4 0 0 0 0))`).join(' ')}
        (local.set $out (i32.add (local.get $dy) (i32.add (i32.mul (i32.mul (i32.mul (local.get $b) (local.get $oh)) (local.get $ow)) (local.get $kb)) (local.get $e))))
        ${pixels(String.raw`(local.set $d (v128.load (local.get $out)))
            ${acc.join('\n            ')}
            (local.set $out (i32.add (local.get $out) (local.get $kb)))`)}
        ${range(9)
          .map((t) => `(v128.store ${dwAt(t)} (f32x4.add (v128.load ${dwAt(t)}) (local.get $a${t})))`)
          .join('\n        ')}`)}
    )
`;
}

/** The one-channel 3×3 kernels: conv_in1_3x3 (forward, with bias and ReLU) and conv_in1_3x3_filter_grad. */
export function convIn1Text(madd: Madd): string {
  return forward(madd) + filterGradient(madd);
}
