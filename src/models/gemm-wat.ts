/**
 * WebAssembly text of the dense-layer matrix products (float32, row-major), spliced into the SIMD heap module:
 *   gemm_nn   C[M][N] = A·B      from A packed by pack_rows4 (A stored [M][K]) or pack_cols4 (A stored [K][M], i.e.
 *                                the product Aᵀ·B of the stored matrix), B [K][N], N % 8 == 0;
 *   gemm_nt   C[M][N] = A·Bᵀ     A [M][K], B stored [N][K], K % 4 == 0, N % 4 == 0.
 * Packed A is [⌈M/4⌉][K][4]: the four rows of a block interleaved, so one pointer with offsets 0, 4, 8, 12 reaches a
 * column of the block (rows past M are zero). gemm_nn keeps a 4-row × 8-column block of C in registers while K
 * streams by, with a K × 8 column block of B staying in cache across the row blocks; gemm_nt keeps 2 rows × 4
 * columns, each a 4-lane partial sum along K, and adds the lanes at the end.
 */
import { fourByEightStep, locals, range, type Madd } from './wat-blocks.js';

/** pack_rows4(a, p, m, k): p[mb][kk][r] = a[4·mb + r][kk], zero for rows ≥ m. */
const PACK_ROWS = String.raw`
  (func (export "pack_rows4") (param $a i32) (param $p i32) (param $m i32) (param $k i32)
    (local $mb i32) (local $r i32) (local $kk i32) (local $src i32) (local $dst i32) (local $kb i32)
    (local.set $kb (i32.shl (local.get $k) (i32.const 2)))
    (local.set $mb (i32.const 0))
    (block $md (loop $ml
      (br_if $md (i32.ge_u (i32.shl (local.get $mb) (i32.const 2)) (local.get $m)))
      (local.set $r (i32.const 0))
      (block $rd (loop $rl
        (br_if $rd (i32.ge_u (local.get $r) (i32.const 4)))
        (local.set $dst (i32.add (local.get $p) (i32.add (i32.shl (i32.mul (local.get $mb) (local.get $k)) (i32.const 4)) (i32.shl (local.get $r) (i32.const 2)))))
        (local.set $src (i32.add (local.get $a) (i32.mul (i32.add (i32.shl (local.get $mb) (i32.const 2)) (local.get $r)) (local.get $kb))))
        (local.set $kk (i32.const 0))
        (if (i32.lt_u (i32.add (i32.shl (local.get $mb) (i32.const 2)) (local.get $r)) (local.get $m))
          (then
            (block $kd (loop $kl
              (br_if $kd (i32.ge_u (local.get $kk) (local.get $k)))
              (f32.store (local.get $dst) (f32.load (local.get $src)))
              (local.set $src (i32.add (local.get $src) (i32.const 4)))
              (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
              (local.set $kk (i32.add (local.get $kk) (i32.const 1)))
              (br $kl))))
          (else
            (block $zd (loop $zl
              (br_if $zd (i32.ge_u (local.get $kk) (local.get $k)))
              (f32.store (local.get $dst) (f32.const 0))
              (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
              (local.set $kk (i32.add (local.get $kk) (i32.const 1)))
              (br $zl)))))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rl)))
      (local.set $mb (i32.add (local.get $mb) (i32.const 1)))
      (br $ml))))
`;

/** pack_cols4(a, p, m, k) for a stored [k][m]: p[mb][kk][r] = a[kk][4·mb + r], zero for columns ≥ m. */
const PACK_COLS = String.raw`
  (func (export "pack_cols4") (param $a i32) (param $p i32) (param $m i32) (param $k i32)
    (local $mb i32) (local $r i32) (local $kk i32) (local $dst i32) (local $col i32)
    (local.set $dst (local.get $p))
    (local.set $mb (i32.const 0))
    (block $md (loop $ml
      (br_if $md (i32.ge_u (i32.shl (local.get $mb) (i32.const 2)) (local.get $m)))
      (local.set $kk (i32.const 0))
      (block $kd (loop $kl
        (br_if $kd (i32.ge_u (local.get $kk) (local.get $k)))
        (local.set $r (i32.const 0))
        (block $rd (loop $rl
          (br_if $rd (i32.ge_u (local.get $r) (i32.const 4)))
          (local.set $col (i32.add (i32.shl (local.get $mb) (i32.const 2)) (local.get $r)))
          (f32.store (local.get $dst) (select
            (f32.load (i32.add (local.get $a) (i32.shl (i32.add (i32.mul (local.get $kk) (local.get $m)) (local.get $col)) (i32.const 2))))
            (f32.const 0)
            (i32.lt_u (local.get $col) (local.get $m))))
          (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
          (local.set $r (i32.add (local.get $r) (i32.const 1)))
          (br $rl)))
        (local.set $kk (i32.add (local.get $kk) (i32.const 1)))
        (br $kl)))
      (local.set $mb (i32.add (local.get $mb) (i32.const 1)))
      (br $ml))))
`;

function gemmNN(madd: Madd): string {
  const acc = range(4).flatMap((r) => [0, 1].map((h) => `$a${r}${h}`));
  const stores = range(4)
    .map(
      (r) => String.raw`(if (i32.lt_u (i32.add (local.get $m0) (i32.const ${r})) (local.get $m)) (then
            (local.set $cp (i32.add (local.get $c) (i32.shl (i32.add (i32.mul (i32.add (local.get $m0) (i32.const ${r})) (local.get $n)) (local.get $n0)) (i32.const 2))))
            (v128.store (local.get $cp) (local.get $a${r}0))
            (v128.store offset=16 (local.get $cp) (local.get $a${r}1))))`,
    )
    .join('\n        ');
  return String.raw`
  (func (export "gemm_nn") (param $p i32) (param $b i32) (param $c i32) (param $m i32) (param $k i32) (param $n i32)
    (local $n0 i32) (local $m0 i32) (local $xp i32) (local $xend i32) (local $bp i32) (local $nb i32) (local $cp i32)
    (local $x0 v128) (local $x1 v128) (local $x2 v128) (local $x3 v128) (local $d0 v128) (local $d1 v128)
    ${locals(acc, 'v128')}
    (local.set $nb (i32.shl (local.get $n) (i32.const 2)))
    (local.set $n0 (i32.const 0))
    (block $nd (loop $nl
      (br_if $nd (i32.ge_u (local.get $n0) (local.get $n)))
      (local.set $m0 (i32.const 0))
      (block $md (loop $ml
        (br_if $md (i32.ge_u (local.get $m0) (local.get $m)))
        ${acc.map((a) => `(local.set ${a} (v128.const i32x4 0 0 0 0))`).join(' ')}
        (local.set $xp (i32.add (local.get $p) (i32.shl (i32.mul (local.get $m0) (local.get $k)) (i32.const 2))))
        (local.set $xend (i32.add (local.get $xp) (i32.shl (local.get $k) (i32.const 4))))
        (local.set $bp (i32.add (local.get $b) (i32.shl (local.get $n0) (i32.const 2))))
        (block $kd (loop $kl
          (br_if $kd (i32.ge_u (local.get $xp) (local.get $xend)))
              ${fourByEightStep(madd, '$xp', '$bp', 4)}
          (local.set $xp (i32.add (local.get $xp) (i32.const 16)))
          (local.set $bp (i32.add (local.get $bp) (local.get $nb)))
          (br $kl)))
        ${stores}
        (local.set $m0 (i32.add (local.get $m0) (i32.const 4)))
        (br $ml)))
      (local.set $n0 (i32.add (local.get $n0) (i32.const 8)))
      (br $nl))))
`;
}

function gemmNT(madd: Madd): string {
  const acc = range(2).flatMap((r) => range(4).map((j) => `$s${r}${j}`));
  const hsum = (v: string) =>
    `(f32.add (f32.add (f32x4.extract_lane 0 (local.get ${v})) (f32x4.extract_lane 1 (local.get ${v}))) (f32.add (f32x4.extract_lane 2 (local.get ${v})) (f32x4.extract_lane 3 (local.get ${v}))))`;
  const madds = range(2)
    .flatMap((r) => range(4).map((j) => `(local.set $s${r}${j} ${madd(`$s${r}${j}`, `$x${r}`, `$y${j}`)})`))
    .join('\n            ');
  const stores = range(2)
    .map(
      (r) => String.raw`(if (i32.lt_u (i32.add (local.get $m0) (i32.const ${r})) (local.get $m)) (then
            (local.set $cp (i32.add (local.get $c) (i32.shl (i32.add (i32.mul (i32.add (local.get $m0) (i32.const ${r})) (local.get $n)) (local.get $n0)) (i32.const 2))))
            ${range(4).map((j) => `(f32.store offset=${4 * j} (local.get $cp) ${hsum(`$s${r}${j}`)})`).join('\n            ')}))`,
    )
    .join('\n        ');
  return String.raw`
  (func (export "gemm_nt") (param $a i32) (param $b i32) (param $c i32) (param $m i32) (param $k i32) (param $n i32)
    (local $n0 i32) (local $m0 i32) (local $kb i32) (local $e i32) (local $ap0 i32) (local $ap1 i32) (local $cp i32)
    (local $bp0 i32) (local $bp1 i32) (local $bp2 i32) (local $bp3 i32)
    (local $x0 v128) (local $x1 v128) (local $y0 v128) (local $y1 v128) (local $y2 v128) (local $y3 v128)
    ${locals(acc, 'v128')}
    (local.set $kb (i32.shl (local.get $k) (i32.const 2)))
    (local.set $n0 (i32.const 0))
    (block $nd (loop $nl
      (br_if $nd (i32.ge_u (local.get $n0) (local.get $n)))
      ${range(4).map((j) => `(local.set $bp${j} (i32.add (local.get $b) (i32.mul (i32.add (local.get $n0) (i32.const ${j})) (local.get $kb))))`).join('\n      ')}
      (local.set $m0 (i32.const 0))
      (block $md (loop $ml
        (br_if $md (i32.ge_u (local.get $m0) (local.get $m)))
        (local.set $ap0 (i32.add (local.get $a) (i32.mul (local.get $m0) (local.get $kb))))
        ;; an odd last row reads row m0 twice and stores it once
        (local.set $ap1 (select (i32.add (local.get $ap0) (local.get $kb)) (local.get $ap0)
          (i32.lt_u (i32.add (local.get $m0) (i32.const 1)) (local.get $m))))
        ${acc.map((a) => `(local.set ${a} (v128.const i32x4 0 0 0 0))`).join(' ')}
        (local.set $e (i32.const 0))
        (block $kd (loop $kl
          (br_if $kd (i32.ge_u (local.get $e) (local.get $kb)))
            (local.set $x0 (v128.load (i32.add (local.get $ap0) (local.get $e))))
            (local.set $x1 (v128.load (i32.add (local.get $ap1) (local.get $e))))
            ${range(4).map((j) => `(local.set $y${j} (v128.load (i32.add (local.get $bp${j}) (local.get $e))))`).join('\n            ')}
            ${madds}
          (local.set $e (i32.add (local.get $e) (i32.const 16)))
          (br $kl)))
        ${stores}
        (local.set $m0 (i32.add (local.get $m0) (i32.const 2)))
        (br $ml)))
      (local.set $n0 (i32.add (local.get $n0) (i32.const 4)))
      (br $nl))))
`;
}

/** The matrix-product functions: pack_rows4, pack_cols4, gemm_nn, gemm_nt. */
export const gemmText = (madd: Madd): string => [PACK_ROWS, PACK_COLS, gemmNN(madd), gemmNT(madd)].join('');
