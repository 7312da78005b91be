/**
 * Hand-written WebAssembly SIMD kernels that run directly on tfjs-backend-wasm's heap. The backend's own kernels for
 * these memory-bound jobs are scalar loops: in a training step of a 3-block CNN with batch norm (batch 128) its `Sum`
 * and `Mean` over the batch and spatial axes took 204 of 818 ms, `MaxPoolGrad` 31 ms and `FusedBatchNorm` 27 ms,
 * where one streaming pass over the same data takes about 1 ms. The module imports the backend's own
 * `WasmMemory`, so the kernels read and write tensors in place, by their heap addresses, without copies.
 *
 * The source is WebAssembly text (below), assembled once per process with wabt (the WebAssembly Binary Toolkit
 * compiled to JS). Every function works on float32 rows whose length is a multiple of 4 (one v128 lane group); the
 * callers in pool-grad.ts and reduce-kernels.ts check that and keep a JavaScript path for other shapes.
 */
import type { DataId, TensorInfo } from '@tensorflow/tfjs-core';
import wabtInit from 'wabt';

/**
 * A blocked column reduction over float32 rows, for cols % 4 == 0: out[c] = sum over r of term(r, c). Rows are
 * summed in blocks of about 32 KiB (a block's partial sums are added to out), which keeps the block in L1 while its
 * column groups are swept and bounds the float32 rounding to a block's length plus the number of blocks. `params`
 * are the extra parameters (before rows, cols, out); `term` is the v128 contribution at byte offset $p of x, where
 * $mv holds m[c..c+3] when the function has an $m parameter and $dy is the byte distance from x to a second tensor.
 */
function columnReduction(name: string, params: string, term: string): string {
  const hasM = params.includes('$m ');
  return String.raw`
  (func (export "${name}") (param $x i32) ${params} (param $rows i32) (param $cols i32) (param $out i32)
    (local $stride i32) (local $block i32) (local $r0 i32) (local $r1 i32) (local $c i32) (local $p i32)
    (local $r i32) (local $acc v128) (local $o i32) (local $mv v128) (local $v v128)
    (local.set $stride (i32.shl (local.get $cols) (i32.const 2)))
    (local.set $c (i32.const 0))
    (block $zd (loop $z
      (br_if $zd (i32.ge_u (local.get $c) (local.get $cols)))
      (v128.store (i32.add (local.get $out) (i32.shl (local.get $c) (i32.const 2))) (v128.const i32x4 0 0 0 0))
      (local.set $c (i32.add (local.get $c) (i32.const 4)))
      (br $z)))
    (local.set $block (i32.div_u (i32.const 8192) (local.get $cols)))
    (if (i32.eqz (local.get $block)) (then (local.set $block (i32.const 1))))
    (local.set $r0 (i32.const 0))
    (block $bd (loop $bl
      (br_if $bd (i32.ge_u (local.get $r0) (local.get $rows)))
      (local.set $r1 (i32.add (local.get $r0) (local.get $block)))
      (if (i32.gt_u (local.get $r1) (local.get $rows)) (then (local.set $r1 (local.get $rows))))
      (local.set $c (i32.const 0))
      (block $cd (loop $cl
        (br_if $cd (i32.ge_u (local.get $c) (local.get $cols)))
        (local.set $acc (v128.const i32x4 0 0 0 0))
        ${hasM ? '(local.set $mv (v128.load (i32.add (local.get $m) (i32.shl (local.get $c) (i32.const 2)))))' : ''}
        (local.set $p (i32.add (local.get $x)
          (i32.shl (i32.add (i32.mul (local.get $r0) (local.get $cols)) (local.get $c)) (i32.const 2))))
        (local.set $r (local.get $r0))
        (block $rd (loop $rl
          (br_if $rd (i32.ge_u (local.get $r) (local.get $r1)))
          (local.set $acc (f32x4.add (local.get $acc) ${term}))
          (local.set $p (i32.add (local.get $p) (local.get $stride)))
          (local.set $r (i32.add (local.get $r) (i32.const 1)))
          (br $rl)))
        (local.set $o (i32.add (local.get $out) (i32.shl (local.get $c) (i32.const 2))))
        (v128.store (local.get $o) (f32x4.add (v128.load (local.get $o)) (local.get $acc)))
        (local.set $c (i32.add (local.get $c) (i32.const 4)))
        (br $cl)))
      (local.set $r0 (local.get $r1))
      (br $bl))))
`;
}

const COLUMN_REDUCTIONS = [
  // out[c] = sum over r of x[r, c]
  columnReduction('sum_rows', '', '(v128.load (local.get $p))'),
  // out[c] = sum over r of (x[r, c] - m[c])^2: the second pass of a two-pass variance
  columnReduction('sqdev_rows', '(param $m i32)', String.raw`(block (result v128)
            (local.set $v (f32x4.sub (v128.load (local.get $p)) (local.get $mv)))
            (f32x4.mul (local.get $v) (local.get $v)))`),
  // out[c] = sum over r of dy[r, c] * (x[r, c] - m[c]), with $dy the byte distance from x to dy
  columnReduction('dotdev_rows', '(param $m i32) (param $dy i32)', String.raw`(f32x4.mul
            (v128.load (i32.add (local.get $p) (local.get $dy))) (f32x4.sub (v128.load (local.get $p)) (local.get $mv)))`),
].join('');

const WAT = String.raw`
(module
  (import "env" "memory" (memory 1))

${COLUMN_REDUCTIONS}
  ;; y[r*cols + c] = (x[r*cols + c] - m[c]) * a[c] + b[c], for cols % 4 == 0 (y may be x). With m = 0, a = v,
  ;; b = -0 this is x * v; with m = 0, a = 1, b = v it is x + v; with m = v, a = 1, b = -0 it is x - v; with m = 0,
  ;; a = -1, b = v it is v - x: each rounded once, signed zeros included, as the plain operation would be.
  (func (export "affine_rows") (param $x i32) (param $m i32) (param $a i32) (param $b i32) (param $y i32)
      (param $rows i32) (param $cols i32)
    (local $end i32) (local $c i32) (local $off i32) (local $cb i32)
    (local.set $end (i32.add (local.get $x) (i32.shl (i32.mul (local.get $rows) (local.get $cols)) (i32.const 2))))
    (local.set $off (i32.sub (local.get $y) (local.get $x)))
    (block $done (loop $row
      (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
      (local.set $c (i32.const 0))
      (block $rd (loop $col
        (br_if $rd (i32.ge_u (local.get $c) (local.get $cols)))
        (local.set $cb (i32.shl (local.get $c) (i32.const 2)))
        (v128.store (i32.add (local.get $x) (local.get $off))
          (f32x4.add
            (f32x4.mul
              (f32x4.sub (v128.load (local.get $x)) (v128.load (i32.add (local.get $m) (local.get $cb))))
              (v128.load (i32.add (local.get $a) (local.get $cb))))
            (v128.load (i32.add (local.get $b) (local.get $cb)))))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (local.set $c (i32.add (local.get $c) (i32.const 4)))
        (br $col)))
      (br $row))))

  ;; out[r*cols + c] = dy[r*cols + c] * a[c] + (x[r*cols + c] - m[c]) * b[c] + e[c], for cols % 4 == 0: batch
  ;; normalisation's input gradient with the batch statistics' own dependence on x folded into b and e.
  (func (export "bn_dx_rows") (param $dy i32) (param $x i32) (param $m i32) (param $a i32) (param $b i32) (param $e i32)
      (param $out i32) (param $rows i32) (param $cols i32)
    (local $end i32) (local $c i32) (local $cb i32) (local $xo i32) (local $oo i32)
    (local.set $end (i32.add (local.get $dy) (i32.shl (i32.mul (local.get $rows) (local.get $cols)) (i32.const 2))))
    (local.set $xo (i32.sub (local.get $x) (local.get $dy)))
    (local.set $oo (i32.sub (local.get $out) (local.get $dy)))
    (block $done (loop $row
      (br_if $done (i32.ge_u (local.get $dy) (local.get $end)))
      (local.set $c (i32.const 0))
      (block $rd (loop $col
        (br_if $rd (i32.ge_u (local.get $c) (local.get $cols)))
        (local.set $cb (i32.shl (local.get $c) (i32.const 2)))
        (v128.store (i32.add (local.get $dy) (local.get $oo))
          (f32x4.add
            (f32x4.add
              (f32x4.mul (v128.load (local.get $dy)) (v128.load (i32.add (local.get $a) (local.get $cb))))
              (f32x4.mul
                (f32x4.sub (v128.load (i32.add (local.get $dy) (local.get $xo))) (v128.load (i32.add (local.get $m) (local.get $cb))))
                (v128.load (i32.add (local.get $b) (local.get $cb)))))
            (v128.load (i32.add (local.get $e) (local.get $cb)))))
        (local.set $dy (i32.add (local.get $dy) (i32.const 16)))
        (local.set $c (i32.add (local.get $c) (i32.const 4)))
        (br $col)))
      (br $row))))

  ;; out[i] = dy[i] * step(x[i]) for i < n, n % 4 == 0, where step(x) is 1 for x > 0, NaN for NaN and 0 otherwise:
  ;; ReLU's gradient as tfjs-core writes it (dy · cast(step(x))), in one pass, signed zeros and NaNs included.
  (func (export "relu_grad") (param $dy i32) (param $x i32) (param $out i32) (param $n i32)
    (local $end i32) (local $xo i32) (local $oo i32) (local $v v128)
    (local.set $end (i32.add (local.get $dy) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $xo (i32.sub (local.get $x) (local.get $dy)))
    (local.set $oo (i32.sub (local.get $out) (local.get $dy)))
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $dy) (local.get $end)))
      (local.set $v (v128.load (i32.add (local.get $dy) (local.get $xo))))
      (v128.store (i32.add (local.get $dy) (local.get $oo))
        (f32x4.mul (v128.load (local.get $dy))
          (v128.bitselect (local.get $v)
            (v128.bitselect (v128.const f32x4 1 1 1 1) (v128.const f32x4 0 0 0 0) (f32x4.gt (local.get $v) (v128.const f32x4 0 0 0 0)))
            (f32x4.ne (local.get $v) (local.get $v)))))
      (local.set $dy (i32.add (local.get $dy) (i32.const 16)))
      (br $l))))

  ;; Filter gradient of a convolution with ONE input channel (grey images' first layer), NHWC, dilation 1:
  ;;   dw[i, j, co] = sum over b, p, q of xpad[b, p*sh + i, q*sw + j] * dy[b, p, q, co]
  ;; xpad is the zero-padded input [n, hp, wp] (one channel), dy is [n, oh, ow, co] with co % 4 == 0, dw is
  ;; [kh, kw, co]. Each image's sums are formed in acc (kh*kw*co floats of scratch) and then added to dw, so float32
  ;; rounding grows with one image's pixels plus the batch size, not with their product.
  (func (export "conv_in1_filter_grad") (param $xpad i32) (param $dy i32) (param $dw i32) (param $acc i32)
      (param $n i32) (param $hp i32) (param $wp i32) (param $oh i32) (param $ow i32)
      (param $kh i32) (param $kw i32) (param $sh i32) (param $sw i32) (param $co i32)
    (local $taps i32) (local $len i32) (local $b i32) (local $p i32) (local $q i32) (local $i i32) (local $j i32)
    (local $c i32) (local $img i32) (local $row i32) (local $g i32) (local $xv v128) (local $a i32) (local $e i32)
    (local.set $taps (i32.mul (local.get $kh) (local.get $kw)))
    (local.set $len (i32.shl (i32.mul (local.get $taps) (local.get $co)) (i32.const 2)))
    ;; dw = 0
    (local.set $e (i32.const 0))
    (block $zd (loop $z
      (br_if $zd (i32.ge_u (local.get $e) (local.get $len)))
      (v128.store (i32.add (local.get $dw) (local.get $e)) (v128.const i32x4 0 0 0 0))
      (local.set $e (i32.add (local.get $e) (i32.const 16)))
      (br $z)))
    (local.set $g (local.get $dy))
    (local.set $b (i32.const 0))
    (block $bd (loop $bl
      (br_if $bd (i32.ge_u (local.get $b) (local.get $n)))
      (local.set $e (i32.const 0))
      (block $zd2 (loop $z2
        (br_if $zd2 (i32.ge_u (local.get $e) (local.get $len)))
        (v128.store (i32.add (local.get $acc) (local.get $e)) (v128.const i32x4 0 0 0 0))
        (local.set $e (i32.add (local.get $e) (i32.const 16)))
        (br $z2)))
      (local.set $img (i32.add (local.get $xpad) (i32.shl (i32.mul (i32.mul (local.get $b) (local.get $hp)) (local.get $wp)) (i32.const 2))))
      (local.set $p (i32.const 0))
      (block $pd (loop $pl
        (br_if $pd (i32.ge_u (local.get $p) (local.get $oh)))
        (local.set $q (i32.const 0))
        (block $qd (loop $ql
          (br_if $qd (i32.ge_u (local.get $q) (local.get $ow)))
          (local.set $a (local.get $acc))
          (local.set $i (i32.const 0))
          (block $id (loop $il
            (br_if $id (i32.ge_u (local.get $i) (local.get $kh)))
            (local.set $row (i32.add (local.get $img)
              (i32.shl (i32.add
                (i32.mul (i32.add (i32.mul (local.get $p) (local.get $sh)) (local.get $i)) (local.get $wp))
                (i32.mul (local.get $q) (local.get $sw))) (i32.const 2))))
            (local.set $j (i32.const 0))
            (block $jd (loop $jl
              (br_if $jd (i32.ge_u (local.get $j) (local.get $kw)))
              (local.set $xv (v128.load32_splat (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2)))))
              (local.set $c (i32.const 0))
              (block $cd (loop $cl
                (br_if $cd (i32.ge_u (local.get $c) (local.get $co)))
                (v128.store (local.get $a)
                  (f32x4.add (v128.load (local.get $a))
                    (f32x4.mul (local.get $xv) (v128.load (i32.add (local.get $g) (i32.shl (local.get $c) (i32.const 2)))))))
                (local.set $a (i32.add (local.get $a) (i32.const 16)))
                (local.set $c (i32.add (local.get $c) (i32.const 4)))
                (br $cl)))
              (local.set $j (i32.add (local.get $j) (i32.const 1)))
              (br $jl)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $il)))
          (local.set $g (i32.add (local.get $g) (i32.shl (local.get $co) (i32.const 2))))
          (local.set $q (i32.add (local.get $q) (i32.const 1)))
          (br $ql)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $pl)))
      ;; dw += acc
      (local.set $e (i32.const 0))
      (block $ad (loop $al
        (br_if $ad (i32.ge_u (local.get $e) (local.get $len)))
        (v128.store (i32.add (local.get $dw) (local.get $e))
          (f32x4.add (v128.load (i32.add (local.get $dw) (local.get $e))) (v128.load (i32.add (local.get $acc) (local.get $e)))))
        (local.set $e (i32.add (local.get $e) (i32.const 16)))
        (br $al)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $bl))))

  ;; Input gradient of a convolution with ONE input channel, into the padded frame:
  ;;   dxpad[b, p*sh + i, q*sw + j] += sum over co of dy[b, p, q, co] * w[i, j, co]
  ;; dxpad is [n, hp, wp] and must be zero on entry; w is [kh, kw, co] with co % 4 == 0. The caller crops the padding.
  (func (export "conv_in1_input_grad") (param $dy i32) (param $w i32) (param $dxpad i32)
      (param $n i32) (param $hp i32) (param $wp i32) (param $oh i32) (param $ow i32)
      (param $kh i32) (param $kw i32) (param $sh i32) (param $sw i32) (param $co i32)
    (local $b i32) (local $p i32) (local $q i32) (local $i i32) (local $j i32) (local $c i32) (local $img i32)
    (local $row i32) (local $g i32) (local $wt i32) (local $s v128) (local $d i32) (local $cb i32)
    (local.set $cb (i32.shl (local.get $co) (i32.const 2)))
    (local.set $g (local.get $dy))
    (local.set $b (i32.const 0))
    (block $bd (loop $bl
      (br_if $bd (i32.ge_u (local.get $b) (local.get $n)))
      (local.set $img (i32.add (local.get $dxpad) (i32.shl (i32.mul (i32.mul (local.get $b) (local.get $hp)) (local.get $wp)) (i32.const 2))))
      (local.set $p (i32.const 0))
      (block $pd (loop $pl
        (br_if $pd (i32.ge_u (local.get $p) (local.get $oh)))
        (local.set $q (i32.const 0))
        (block $qd (loop $ql
          (br_if $qd (i32.ge_u (local.get $q) (local.get $ow)))
          (local.set $wt (local.get $w))
          (local.set $i (i32.const 0))
          (block $id (loop $il
            (br_if $id (i32.ge_u (local.get $i) (local.get $kh)))
            (local.set $row (i32.add (local.get $img)
              (i32.shl (i32.add
                (i32.mul (i32.add (i32.mul (local.get $p) (local.get $sh)) (local.get $i)) (local.get $wp))
                (i32.mul (local.get $q) (local.get $sw))) (i32.const 2))))
            (local.set $j (i32.const 0))
            (block $jd (loop $jl
              (br_if $jd (i32.ge_u (local.get $j) (local.get $kw)))
              (local.set $s (v128.const i32x4 0 0 0 0))
              (local.set $c (i32.const 0))
              (block $cd (loop $cl
                (br_if $cd (i32.ge_u (local.get $c) (local.get $cb)))
                (local.set $s (f32x4.add (local.get $s)
                  (f32x4.mul (v128.load (i32.add (local.get $g) (local.get $c))) (v128.load (i32.add (local.get $wt) (local.get $c))))))
                (local.set $c (i32.add (local.get $c) (i32.const 16)))
                (br $cl)))
              (local.set $d (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))))
              (f32.store (local.get $d) (f32.add (f32.load (local.get $d))
                (f32.add
                  (f32.add (f32x4.extract_lane 0 (local.get $s)) (f32x4.extract_lane 1 (local.get $s)))
                  (f32.add (f32x4.extract_lane 2 (local.get $s)) (f32x4.extract_lane 3 (local.get $s))))))
              (local.set $wt (i32.add (local.get $wt) (local.get $cb)))
              (local.set $j (i32.add (local.get $j) (i32.const 1)))
              (br $jl)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $il)))
          (local.set $g (i32.add (local.get $g) (local.get $cb)))
          (local.set $q (i32.add (local.get $q) (i32.const 1)))
          (br $ql)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $pl)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $bl))))

  ;; Filter gradient of a convolution, NHWC, dilation 1, ci % 4 == 0 and co % 8 == 0, without a padded copy of x:
  ;;   dw[i, j, c, o] = sum over b, p, q of x[b, p*sh + i - top, q*sw + j - left, c] * dy[b, p, q, o]
  ;; where taps that fall in the padding contribute 0, so each tap (i, j) sums over the output rows p and columns q
  ;; whose input cell lies inside the image. dw ([kh, kw, ci, co]) is overwritten. Blocks of 4 input x 8 output
  ;; channels stay in eight v128 registers while one image's rows stream past (the image and its dy sit in L2), so
  ;; each step loads two dy vectors and four x values for 32 multiply-adds.
  (func (export "conv_filter_grad") (param $x i32) (param $dy i32) (param $dw i32) (param $n i32) (param $h i32)
      (param $w i32) (param $oh i32) (param $ow i32) (param $kh i32) (param $kw i32) (param $sh i32) (param $sw i32)
      (param $top i32) (param $left i32) (param $ci i32) (param $co i32)
    (local $b i32) (local $i i32) (local $j i32) (local $c0 i32) (local $o0 i32) (local $p i32) (local $e i32)
    (local $cib i32) (local $cob i32) (local $wb i32) (local $xs i32) (local $img i32) (local $dimg i32)
    (local $xrowb i32) (local $dyrowb i32) (local $xp i32) (local $dp i32) (local $dend i32)
    (local $plo i32) (local $phi i32) (local $qlo i32) (local $qhi i32) (local $t i32)
    (local $x0 v128) (local $x1 v128) (local $x2 v128) (local $x3 v128) (local $d0 v128) (local $d1 v128)
    (local $a00 v128) (local $a01 v128) (local $a10 v128) (local $a11 v128) (local $a20 v128) (local $a21 v128) (local $a30 v128) (local $a31 v128)
    (local.set $cib (i32.shl (local.get $ci) (i32.const 2)))
    (local.set $cob (i32.shl (local.get $co) (i32.const 2)))
    (local.set $xs (i32.mul (local.get $sw) (local.get $cib)))
    (local.set $xrowb (i32.mul (local.get $w) (local.get $cib)))
    (local.set $dyrowb (i32.mul (local.get $ow) (local.get $cob)))
    ;; dw = 0
    (local.set $e (i32.const 0))
    (local.set $t (i32.mul (i32.mul (i32.mul (local.get $kh) (local.get $kw)) (local.get $ci)) (local.get $cob)))
    (block $zd (loop $z
      (br_if $zd (i32.ge_u (local.get $e) (local.get $t)))
      (v128.store (i32.add (local.get $dw) (local.get $e)) (v128.const i32x4 0 0 0 0))
      (local.set $e (i32.add (local.get $e) (i32.const 16)))
      (br $z)))
    (local.set $b (i32.const 0))
    (block $bd (loop $bl
      (br_if $bd (i32.ge_u (local.get $b) (local.get $n)))
      (local.set $img (i32.add (local.get $x) (i32.mul (i32.mul (local.get $b) (local.get $h)) (local.get $xrowb))))
      (local.set $dimg (i32.add (local.get $dy) (i32.mul (i32.mul (local.get $b) (local.get $oh)) (local.get $dyrowb))))
      (local.set $i (i32.const 0))
      (block $id (loop $il
        (br_if $id (i32.ge_u (local.get $i) (local.get $kh)))
        ;; rows p with 0 <= p*sh + i - top <= h - 1
        (local.set $t (i32.sub (local.get $top) (local.get $i)))
        (local.set $plo (select (i32.div_s (i32.add (local.get $t) (i32.sub (local.get $sh) (i32.const 1))) (local.get $sh))
          (i32.const 0) (i32.gt_s (local.get $t) (i32.const 0))))
        (local.set $t (i32.add (local.get $t) (i32.sub (local.get $h) (i32.const 1))))
        (local.set $phi (select (i32.add (i32.div_s (local.get $t) (local.get $sh)) (i32.const 1)) (i32.const 0)
          (i32.ge_s (local.get $t) (i32.const 0))))
        (if (i32.gt_s (local.get $phi) (local.get $oh)) (then (local.set $phi (local.get $oh))))
        (local.set $j (i32.const 0))
        (block $jd (loop $jl
          (br_if $jd (i32.ge_u (local.get $j) (local.get $kw)))
          (local.set $t (i32.sub (local.get $left) (local.get $j)))
          (local.set $qlo (select (i32.div_s (i32.add (local.get $t) (i32.sub (local.get $sw) (i32.const 1))) (local.get $sw))
            (i32.const 0) (i32.gt_s (local.get $t) (i32.const 0))))
          (local.set $t (i32.add (local.get $t) (i32.sub (local.get $w) (i32.const 1))))
          (local.set $qhi (select (i32.add (i32.div_s (local.get $t) (local.get $sw)) (i32.const 1)) (i32.const 0)
            (i32.ge_s (local.get $t) (i32.const 0))))
          (if (i32.gt_s (local.get $qhi) (local.get $ow)) (then (local.set $qhi (local.get $ow))))
          (if (i32.and (i32.lt_s (local.get $plo) (local.get $phi)) (i32.lt_s (local.get $qlo) (local.get $qhi))) (then
          (local.set $c0 (i32.const 0))
          (block $cd (loop $cl
            (br_if $cd (i32.ge_u (local.get $c0) (local.get $ci)))
            (local.set $o0 (i32.const 0))
            (block $od (loop $ol
              (br_if $od (i32.ge_u (local.get $o0) (local.get $co)))
              (local.set $wb (i32.add (local.get $dw) (i32.shl
                (i32.add (i32.mul (i32.add (i32.mul (i32.add (i32.mul (local.get $i) (local.get $kw)) (local.get $j)) (local.get $ci))
                  (local.get $c0)) (local.get $co)) (local.get $o0)) (i32.const 2))))
          (local.set $a00 (v128.load offset=0 (i32.add (local.get $wb) (i32.mul (i32.const 0) (local.get $cob)))))
          (local.set $a01 (v128.load offset=16 (i32.add (local.get $wb) (i32.mul (i32.const 0) (local.get $cob)))))
          (local.set $a10 (v128.load offset=0 (i32.add (local.get $wb) (i32.mul (i32.const 1) (local.get $cob)))))
          (local.set $a11 (v128.load offset=16 (i32.add (local.get $wb) (i32.mul (i32.const 1) (local.get $cob)))))
          (local.set $a20 (v128.load offset=0 (i32.add (local.get $wb) (i32.mul (i32.const 2) (local.get $cob)))))
          (local.set $a21 (v128.load offset=16 (i32.add (local.get $wb) (i32.mul (i32.const 2) (local.get $cob)))))
          (local.set $a30 (v128.load offset=0 (i32.add (local.get $wb) (i32.mul (i32.const 3) (local.get $cob)))))
          (local.set $a31 (v128.load offset=16 (i32.add (local.get $wb) (i32.mul (i32.const 3) (local.get $cob)))))
              (local.set $p (local.get $plo))
              (block $pd (loop $pl
                (br_if $pd (i32.ge_s (local.get $p) (local.get $phi)))
                (local.set $xp (i32.add (local.get $img) (i32.add
                  (i32.mul (i32.sub (i32.add (i32.mul (local.get $p) (local.get $sh)) (local.get $i)) (local.get $top)) (local.get $xrowb))
                  (i32.shl (i32.add (i32.mul (i32.sub (i32.add (i32.mul (local.get $qlo) (local.get $sw)) (local.get $j)) (local.get $left))
                    (local.get $ci)) (local.get $c0)) (i32.const 2)))))
                (local.set $dp (i32.add (local.get $dimg) (i32.add (i32.mul (local.get $p) (local.get $dyrowb))
                  (i32.shl (i32.add (i32.mul (local.get $qlo) (local.get $co)) (local.get $o0)) (i32.const 2)))))
                (local.set $dend (i32.add (local.get $dp) (i32.mul (i32.sub (local.get $qhi) (local.get $qlo)) (local.get $cob))))
                (block $qd (loop $ql
                  (br_if $qd (i32.ge_u (local.get $dp) (local.get $dend)))
                  (local.set $d0 (v128.load (local.get $dp)))
                  (local.set $d1 (v128.load offset=16 (local.get $dp)))
                  (local.set $x0 (v128.load32_splat (local.get $xp)))
                  (local.set $x1 (v128.load32_splat offset=4 (local.get $xp)))
                  (local.set $x2 (v128.load32_splat offset=8 (local.get $xp)))
                  (local.set $x3 (v128.load32_splat offset=12 (local.get $xp)))
                (local.set $a00 (f32x4.add (local.get $a00) (f32x4.mul (local.get $x0) (local.get $d0))))
                (local.set $a01 (f32x4.add (local.get $a01) (f32x4.mul (local.get $x0) (local.get $d1))))
                (local.set $a10 (f32x4.add (local.get $a10) (f32x4.mul (local.get $x1) (local.get $d0))))
                (local.set $a11 (f32x4.add (local.get $a11) (f32x4.mul (local.get $x1) (local.get $d1))))
                (local.set $a20 (f32x4.add (local.get $a20) (f32x4.mul (local.get $x2) (local.get $d0))))
                (local.set $a21 (f32x4.add (local.get $a21) (f32x4.mul (local.get $x2) (local.get $d1))))
                (local.set $a30 (f32x4.add (local.get $a30) (f32x4.mul (local.get $x3) (local.get $d0))))
                (local.set $a31 (f32x4.add (local.get $a31) (f32x4.mul (local.get $x3) (local.get $d1))))
                  (local.set $xp (i32.add (local.get $xp) (local.get $xs)))
                  (local.set $dp (i32.add (local.get $dp) (local.get $cob)))
                  (br $ql)))
                (local.set $p (i32.add (local.get $p) (i32.const 1)))
                (br $pl)))
          (v128.store offset=0 (i32.add (local.get $wb) (i32.mul (i32.const 0) (local.get $cob))) (local.get $a00))
          (v128.store offset=16 (i32.add (local.get $wb) (i32.mul (i32.const 0) (local.get $cob))) (local.get $a01))
          (v128.store offset=0 (i32.add (local.get $wb) (i32.mul (i32.const 1) (local.get $cob))) (local.get $a10))
          (v128.store offset=16 (i32.add (local.get $wb) (i32.mul (i32.const 1) (local.get $cob))) (local.get $a11))
          (v128.store offset=0 (i32.add (local.get $wb) (i32.mul (i32.const 2) (local.get $cob))) (local.get $a20))
          (v128.store offset=16 (i32.add (local.get $wb) (i32.mul (i32.const 2) (local.get $cob))) (local.get $a21))
          (v128.store offset=0 (i32.add (local.get $wb) (i32.mul (i32.const 3) (local.get $cob))) (local.get $a30))
          (v128.store offset=16 (i32.add (local.get $wb) (i32.mul (i32.const 3) (local.get $cob))) (local.get $a31))
              (local.set $o0 (i32.add (local.get $o0) (i32.const 8)))
              (br $ol)))
            (local.set $c0 (i32.add (local.get $c0) (i32.const 4)))
            (br $cl)))))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br $jl)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $il)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $bl))))

  ;; The gradient of a 2x2, stride-2, unpadded max pool over NHWC x (n, h, w, c), c % 4 == 0: every window writes
  ;; its four cells of dx, dy to the first strict maximum in window order and 0 to the others. Lanes whose four taps
  ;; are all -inf or NaN get 0 everywhere. Rows and columns past 2*floor(h/2), 2*floor(w/2) are not written.
  (func (export "max_pool_grad_2x2") (param $x i32) (param $dy i32) (param $dx i32)
      (param $n i32) (param $h i32) (param $w i32) (param $c i32)
    (local $oh i32) (local $ow i32) (local $b i32) (local $p i32) (local $q i32) (local $k i32)
    (local $cb i32) (local $rowb i32) (local $i0 i32) (local $off i32) (local $g i32)
    (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128) (local $best v128)
    (local $w0 v128) (local $w1 v128) (local $w2 v128) (local $w3 v128) (local $grad v128)
    (local.set $oh (i32.shr_u (local.get $h) (i32.const 1)))
    (local.set $ow (i32.shr_u (local.get $w) (i32.const 1)))
    (local.set $cb (i32.shl (local.get $c) (i32.const 2)))
    (local.set $rowb (i32.mul (local.get $w) (local.get $cb)))
    (local.set $off (i32.sub (local.get $dx) (local.get $x)))
    (local.set $g (local.get $dy))
    (local.set $b (i32.const 0))
    (block $bd (loop $bl
      (br_if $bd (i32.ge_u (local.get $b) (local.get $n)))
      (local.set $p (i32.const 0))
      (block $pd (loop $pl
        (br_if $pd (i32.ge_u (local.get $p) (local.get $oh)))
        (local.set $q (i32.const 0))
        (block $qd (loop $ql
          (br_if $qd (i32.ge_u (local.get $q) (local.get $ow)))
          ;; top-left cell of the window, channel 0
          (local.set $i0 (i32.add (local.get $x)
            (i32.add
              (i32.mul (i32.add (i32.mul (local.get $b) (local.get $h)) (i32.shl (local.get $p) (i32.const 1))) (local.get $rowb))
              (i32.mul (i32.shl (local.get $q) (i32.const 1)) (local.get $cb)))))
          (local.set $k (i32.const 0))
          (block $kd (loop $kl
            (br_if $kd (i32.ge_u (local.get $k) (local.get $c)))
            (local.set $v0 (v128.load (local.get $i0)))
            (local.set $v1 (v128.load (i32.add (local.get $i0) (local.get $cb))))
            (local.set $v2 (v128.load (i32.add (local.get $i0) (local.get $rowb))))
            (local.set $v3 (v128.load (i32.add (i32.add (local.get $i0) (local.get $rowb)) (local.get $cb))))
            (local.set $grad (v128.load (local.get $g)))
            (local.set $best (v128.const f32x4 -inf -inf -inf -inf))
            (local.set $w0 (f32x4.gt (local.get $v0) (local.get $best)))
            (local.set $best (v128.bitselect (local.get $v0) (local.get $best) (local.get $w0)))
            (local.set $w1 (f32x4.gt (local.get $v1) (local.get $best)))
            (local.set $best (v128.bitselect (local.get $v1) (local.get $best) (local.get $w1)))
            (local.set $w2 (f32x4.gt (local.get $v2) (local.get $best)))
            (local.set $best (v128.bitselect (local.get $v2) (local.get $best) (local.get $w2)))
            (local.set $w3 (f32x4.gt (local.get $v3) (local.get $best)))
            ;; one-hot of the last tap that raised the maximum
            (local.set $w2 (v128.andnot (local.get $w2) (local.get $w3)))
            (local.set $w1 (v128.andnot (v128.andnot (local.get $w1) (local.get $w3)) (local.get $w2)))
            (local.set $w0 (v128.andnot (v128.andnot (v128.andnot (local.get $w0) (local.get $w3)) (local.get $w2)) (local.get $w1)))
            (v128.store (i32.add (local.get $i0) (local.get $off)) (v128.and (local.get $grad) (local.get $w0)))
            (v128.store (i32.add (i32.add (local.get $i0) (local.get $off)) (local.get $cb)) (v128.and (local.get $grad) (local.get $w1)))
            (v128.store (i32.add (i32.add (local.get $i0) (local.get $off)) (local.get $rowb)) (v128.and (local.get $grad) (local.get $w2)))
            (v128.store (i32.add (i32.add (i32.add (local.get $i0) (local.get $off)) (local.get $rowb)) (local.get $cb))
              (v128.and (local.get $grad) (local.get $w3)))
            (local.set $i0 (i32.add (local.get $i0) (i32.const 16)))
            (local.set $g (i32.add (local.get $g) (i32.const 16)))
            (local.set $k (i32.add (local.get $k) (i32.const 4)))
            (br $kl)))
          (local.set $q (i32.add (local.get $q) (i32.const 1)))
          (br $ql)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $pl)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $bl))))
)
`;

/** The kernels, taking heap byte addresses and element counts. */
export interface SimdKernels {
  sumRows(x: number, rows: number, cols: number, out: number): void;
  sqdevRows(x: number, m: number, rows: number, cols: number, out: number): void;
  /** `dyMinusX` is the byte distance from x to dy (address of dy minus address of x). */
  dotdevRows(x: number, m: number, dyMinusX: number, rows: number, cols: number, out: number): void;
  reluGrad(dy: number, x: number, out: number, n: number): void;
  bnDxRows(dy: number, x: number, m: number, a: number, b: number, e: number, out: number, rows: number, cols: number): void;
  affineRows(x: number, m: number, a: number, b: number, y: number, rows: number, cols: number): void;
  maxPoolGrad2x2(x: number, dy: number, dx: number, n: number, h: number, w: number, c: number): void;
  convIn1FilterGrad(xpad: number, dy: number, dw: number, acc: number, n: number, hp: number, wp: number, oh: number, ow: number, kh: number, kw: number, sh: number, sw: number, co: number): void;
  convIn1InputGrad(dy: number, w: number, dxpad: number, n: number, hp: number, wp: number, oh: number, ow: number, kh: number, kw: number, sh: number, sw: number, co: number): void;
  convFilterGrad(x: number, dy: number, dw: number, n: number, h: number, w: number, oh: number, ow: number, kh: number, kw: number, sh: number, sw: number, top: number, left: number, ci: number, co: number): void;
}

// The project compiles without the DOM library, where TypeScript keeps the WebAssembly types; these are the parts used.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
type WasmModule = object;
const Wasm = (globalThis as unknown as {
  WebAssembly: {
    Module: new (bytes: Uint8Array) => WasmModule;
    instantiate(module: WasmModule, imports: object): Promise<{ exports: Record<string, unknown> }>;
  };
}).WebAssembly;

let compiled: Promise<WasmModule> | null = null;
const instances = new WeakMap<WasmMemory, SimdKernels>();

/** The part of tfjs-backend-wasm's BackendWasm the heap kernels use (public members of that class). */
export interface HeapBackend {
  wasm: { asm: { memory: WasmMemory }; _malloc(bytes: number): number; _free(address: number): void };
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array;
  getMemoryOffset(dataId: DataId): number;
  disposeData(dataId: DataId, force?: boolean): boolean;
}

/** Assembles the module (once per process); throws if this JS engine lacks WebAssembly SIMD. */
export function compileSimdKernels(): Promise<WasmModule> {
  compiled ??= (async () => {
    const wabt = await wabtInit();
    const parsed = wabt.parseWat('simd-kernels.wat', WAT, { simd: true });
    try {
      parsed.validate();
      const { buffer } = parsed.toBinary({});
      return new Wasm.Module(buffer);
    } finally {
      parsed.destroy();
    }
  })();
  return compiled;
}

/**
 * Instantiates the kernels on the wasm backend's heap, once per heap. Call after the backend is initialised (its
 * memory exists from then on); kernels look them up with `simdKernelsFor` and fall back to JS until then.
 */
export async function attachSimdKernels(backend: HeapBackend): Promise<SimdKernels> {
  const memory = backend.wasm.asm.memory;
  const existing = instances.get(memory);
  if (existing) return existing;
  const instance = await Wasm.instantiate(await compileSimdKernels(), { env: { memory } });
  const e = instance.exports as Record<string, (...args: number[]) => void>;
  const kernels: SimdKernels = {
    sumRows: e.sum_rows,
    sqdevRows: e.sqdev_rows,
    dotdevRows: e.dotdev_rows,
    bnDxRows: e.bn_dx_rows,
    reluGrad: e.relu_grad,
    affineRows: e.affine_rows,
    maxPoolGrad2x2: e.max_pool_grad_2x2,
    convIn1FilterGrad: e.conv_in1_filter_grad,
    convIn1InputGrad: e.conv_in1_input_grad,
    convFilterGrad: e.conv_filter_grad,
  };
  instances.set(memory, kernels);
  return kernels;
}

/** The kernels attached to this backend's heap, or null (callers then use plain JS). */
export const simdKernelsFor = (backend: HeapBackend): SimdKernels | null => instances.get(backend.wasm.asm.memory) ?? null;
