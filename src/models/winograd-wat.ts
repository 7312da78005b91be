/**
 * WebAssembly text of the Winograd F(2×2, 3×3) convolution kernels (Lavin & Gray 2015, "Fast Algorithms for
 * Convolutional Neural Networks"), spliced into the SIMD heap module by `simd-kernels.ts`.
 *
 * A 3×3 convolution with stride 1 produces each 2×2 output tile from a 4×4 input tile d as Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A.
 * Summed over input channels, the 16 element-wise products become 16 independent matrix products
 *   M[f] = V[f] · U[f],   V[f]: tiles × C (the transformed input),   U[f]: C × K (the transformed filter),
 * which take 16 multiply-adds per tile and channel pair where the direct convolution takes 36 (4 outputs × 9 taps).
 * With
 *   Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1],  G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1],  Aᵀ = [1 1 1 0; 0 1 −1 −1]
 * every transform is a handful of additions (and halvings for G), done here four channels per v128 (NHWC keeps the
 * channels of a pixel together). Layouts, all float32: g [3][3][C][K] (tfjs's filter), U [16][C][K], x [n][h][w][C],
 * V [16][tiles][C], M [16][tiles][K], y [n][oh][ow][K], with f = 4·row + column of the 4×4 tile.
 */

import { fourByEightStep, locals, range, type Madd } from './wat-blocks.js';

/** Channel counts C with a matrix-product kernel of their own (the four tile rows sit at compile-time offsets). */
export const WINOGRAD_CHANNELS = [4, 8, 16, 32, 64, 128, 256, 512] as const;

const add = (a: string, b: string) => `(f32x4.add ${a} ${b})`;
const sub = (a: string, b: string) => `(f32x4.sub ${a} ${b})`;
const half = (a: string) => `(f32x4.mul ${a} (v128.const f32x4 0.5 0.5 0.5 0.5))`;
const get = (name: string) => `(local.get ${name})`;

/**
 * A function (param $src) (param $dst) (param $c) (param $k) for a 2-D transform Z = L X Lᵀ of a p × p grid of planes
 * into a q × q grid, every plane C·K floats in the same order (plane i·p + j of X, a·q + b of Z), four floats at a
 * time. `combine` gives the q rows of L·v for a column v of p values; it serves for the columns of X and then for the
 * rows of L X.
 */
function planeTransform(name: string, p: number, q: number, combine: (v: string[]) => string[]): string {
  const x = (i: number, j: number) => get(`$x${i}${j}`);
  const t = (a: number, j: number) => get(`$t${a}${j}`);
  const loads = range(p * p)
    .map((f) => `(local.set $x${Math.floor(f / p)}${f % p} (v128.load (i32.add (local.get $src) (i32.add (i32.mul (i32.const ${f}) (local.get $plane)) (local.get $e)))))`)
    .join('\n      ');
  const ts = range(p)
    .flatMap((j) => combine(range(p).map((i) => x(i, j))).map((expr, a) => `(local.set $t${a}${j} ${expr})`))
    .join('\n      ');
  const stores = range(q)
    .flatMap((a) =>
      combine(range(p).map((j) => t(a, j))).map(
        (expr, b) => `(v128.store (i32.add (local.get $dst) (i32.add (i32.mul (i32.const ${q * a + b}) (local.get $plane)) (local.get $e))) ${expr})`,
      ),
    )
    .join('\n      ');
  return String.raw`
  (func (export "${name}") (param $src i32) (param $dst i32) (param $c i32) (param $k i32)
    (local $plane i32) (local $e i32)
    ${locals(range(p * p).map((f) => `$x${Math.floor(f / p)}${f % p}`), 'v128')}
    ${locals(range(q * p).map((f) => `$t${Math.floor(f / p)}${f % p}`), 'v128')}
    (local.set $plane (i32.shl (i32.mul (local.get $c) (local.get $k)) (i32.const 2)))
    (local.set $e (i32.const 0))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $e) (local.get $plane)))
      ${loads}
      ${ts}
      ${stores}
      (local.set $e (i32.add (local.get $e) (i32.const 16)))
      (br $next))))
`;
}

/** wino_filter: U[f][c][o] = (G g Gᵀ)[f] from g's nine taps, G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]. */
const filterTransform = () => planeTransform('wino_filter', 3, 4, ([g0, g1, g2]) => [g0, half(add(add(g0, g1), g2)), half(add(sub(g0, g1), g2)), g2]);

/**
 * The loop nest over tiles shared by the tile transforms: images b < $n, tile rows $ti < $th, tile columns $tj < $tw
 * (tile $t counts them all), and the channel bytes $e < `channelBytes` four floats at a time, with hooks at the top
 * of each image, tile row and tile. Needs the i32 locals $b $ti $tj $t $e.
 */
function tileLoops(o: { image?: string; row?: string; tile: string; channelBytes: string; body: string }): string {
  return String.raw`(local.set $t (i32.const 0))
    (local.set $b (i32.const 0))
    (block $bd (loop $bl
      (br_if $bd (i32.ge_u (local.get $b) (local.get $n)))
      ${o.image ?? ''}
      (local.set $ti (i32.const 0))
      (block $id (loop $il
        (br_if $id (i32.ge_u (local.get $ti) (local.get $th)))
        ${o.row ?? ''}
        (local.set $tj (i32.const 0))
        (block $jd (loop $jl
          (br_if $jd (i32.ge_u (local.get $tj) (local.get $tw)))
          ${o.tile}
          (local.set $e (i32.const 0))
          (block $ed (loop $el
            (br_if $ed (i32.ge_u (local.get $e) (local.get ${o.channelBytes})))
          ${o.body}
            (local.set $e (i32.add (local.get $e) (i32.const 16)))
            (br $el)))
          (local.set $t (i32.add (local.get $t) (i32.const 1)))
          (local.set $tj (i32.add (local.get $tj) (i32.const 1)))
          (br $jl)))
        (local.set $ti (i32.add (local.get $ti) (i32.const 1)))
        (br $il)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $bl)))`;
}

/**
 * V[f][t][c] = (Bᵀ d B)[f] for the n images at x: tile t = (b·th + ti)·tw + tj reads input rows 2·ti − top + r and
 * columns 2·tj − left + s (r, s < 4), zero outside the image. V's planes are `tp` tiles apart.
 */
function inputTransform(): string {
  const d = (r: number, s: number) => get(`$d${r}${s}`);
  const u = (r: number, s: number) => get(`$u${r}${s}`);
  // Bᵀ d: rows; then (Bᵀ d) B: columns
  const rows = (s: number) => [sub(d(0, s), d(2, s)), add(d(1, s), d(2, s)), sub(d(2, s), d(1, s)), sub(d(1, s), d(3, s))];
  const cols = (r: number) => [sub(u(r, 0), u(r, 2)), add(u(r, 1), u(r, 2)), sub(u(r, 2), u(r, 1)), sub(u(r, 1), u(r, 3))];
  const setup = range(4)
    .map(
      (r) => String.raw`(local.set $y (i32.sub (i32.add (i32.shl (local.get $ti) (i32.const 1)) (i32.const ${r})) (local.get $top)))
        (local.set $rok${r} (i32.lt_u (local.get $y) (local.get $h)))
        (local.set $row${r} (i32.add (local.get $img) (i32.mul (local.get $y) (local.get $rowb))))
        (local.set $xc (i32.sub (i32.add (i32.shl (local.get $tj) (i32.const 1)) (i32.const ${r})) (local.get $left)))
        (local.set $cok${r} (i32.lt_u (local.get $xc) (local.get $w)))
        (local.set $col${r} (i32.mul (local.get $xc) (local.get $cb)))`,
    )
    .join('\n        ');
  const loads = range(16)
    .map((i) => {
      const [r, s] = [Math.floor(i / 4), i % 4];
      return String.raw`(local.set $d${r}${s} (if (result v128) (i32.and (local.get $rok${r}) (local.get $cok${s}))
            (then (v128.load (i32.add (i32.add (local.get $row${r}) (local.get $col${s})) (local.get $e)))) (else (v128.const i32x4 0 0 0 0))))`;
    })
    .join('\n          ');
  const us = range(4)
    .flatMap((s) => rows(s).map((expr, r) => `(local.set $u${r}${s} ${expr})`))
    .join('\n          ');
  const stores = range(4)
    .flatMap((r) => cols(r).map((expr, s) => `(v128.store (i32.add (local.get $vt) (i32.add (i32.mul (i32.const ${4 * r + s}) (local.get $vplane)) (local.get $e))) ${expr})`))
    .join('\n          ');
  return String.raw`
  (func (export "wino_input") (param $x i32) (param $v i32) (param $n i32) (param $h i32) (param $w i32) (param $c i32)
      (param $th i32) (param $tw i32) (param $top i32) (param $left i32) (param $tp i32)
    (local $b i32) (local $ti i32) (local $tj i32) (local $t i32) (local $e i32) (local $cb i32) (local $rowb i32)
    (local $img i32) (local $vt i32) (local $vplane i32) (local $y i32) (local $xc i32)
    ${locals(range(4).flatMap((r) => [`$rok${r}`, `$cok${r}`, `$row${r}`, `$col${r}`]), 'i32')}
    ${locals(range(16).flatMap((i) => [`$d${Math.floor(i / 4)}${i % 4}`, `$u${Math.floor(i / 4)}${i % 4}`]), 'v128')}
    (local.set $cb (i32.shl (local.get $c) (i32.const 2)))
    (local.set $rowb (i32.mul (local.get $w) (local.get $cb)))
    (local.set $vplane (i32.mul (local.get $tp) (local.get $cb)))
    ${tileLoops({
      image: '(local.set $img (i32.add (local.get $x) (i32.mul (i32.mul (local.get $b) (local.get $h)) (local.get $rowb))))',
      tile: `${setup}
          (local.set $vt (i32.add (local.get $v) (i32.mul (local.get $t) (local.get $cb))))`,
      channelBytes: '$cb',
      body: `${loads}
          ${us}
          ${stores}`,
    })})
`;
}

/**
 * M[f] = V[f] · U[f] for the 16 planes, `rows` tiles (a multiple of 4) of C channels into K outputs (K % 8 == 0);
 * planes of V and M are `tp` tiles apart. A 4-tile × 8-output block of M stays in registers while the four tile
 * rows of V, at compile-time offsets C·4 bytes apart, and U's rows stream by.
 */
function matrixProduct(c: number, madd: Madd): string {
  const acc = range(4).flatMap((r) => [0, 1].map((h) => `$a${r}${h}`));
  const zero = acc.map((a) => `(local.set ${a} (v128.const i32x4 0 0 0 0))`).join(' ');
  const stores = range(4)
    .map(
      (r) => String.raw`(local.set $mp (i32.add (local.get $mf) (i32.shl (i32.add (i32.mul (i32.add (local.get $t0) (i32.const ${r})) (local.get $k)) (local.get $o0)) (i32.const 2))))
          (v128.store (local.get $mp) (local.get $a${r}0))
          (v128.store offset=16 (local.get $mp) (local.get $a${r}1))`,
    )
    .join('\n          ');
  return String.raw`
  (func (export "wino_gemm_${c}") (param $v i32) (param $u i32) (param $m i32) (param $rows i32) (param $tp i32) (param $k i32)
    (local $f i32) (local $vf i32) (local $uf i32) (local $mf i32) (local $t0 i32) (local $o0 i32) (local $kb i32)
    (local $xp i32) (local $xend i32) (local $wp i32) (local $mp i32)
    (local $x0 v128) (local $x1 v128) (local $x2 v128) (local $x3 v128) (local $d0 v128) (local $d1 v128)
    ${locals(acc, 'v128')}
    (local.set $kb (i32.shl (local.get $k) (i32.const 2)))
    (local.set $f (i32.const 0))
    (block $fd (loop $fl
      (br_if $fd (i32.ge_u (local.get $f) (i32.const 16)))
      (local.set $vf (i32.add (local.get $v) (i32.mul (i32.mul (local.get $f) (local.get $tp)) (i32.const ${c * 4}))))
      (local.set $uf (i32.add (local.get $u) (i32.mul (i32.mul (local.get $f) (i32.const ${c})) (local.get $kb))))
      (local.set $mf (i32.add (local.get $m) (i32.mul (i32.mul (local.get $f) (local.get $tp)) (local.get $kb))))
      (local.set $t0 (i32.const 0))
      (block $td (loop $tl
        (br_if $td (i32.ge_u (local.get $t0) (local.get $rows)))
        (local.set $o0 (i32.const 0))
        (block $od (loop $ol
          (br_if $od (i32.ge_u (local.get $o0) (local.get $k)))
          ${zero}
          (local.set $xp (i32.add (local.get $vf) (i32.mul (local.get $t0) (i32.const ${c * 4}))))
          (local.set $xend (i32.add (local.get $xp) (i32.const ${c * 4})))
          (local.set $wp (i32.add (local.get $uf) (i32.shl (local.get $o0) (i32.const 2))))
          (block $cd (loop $cl
            (br_if $cd (i32.ge_u (local.get $xp) (local.get $xend)))
              ${fourByEightStep(madd, '$xp', '$wp', c * 4)}
              (local.set $xp (i32.add (local.get $xp) (i32.const 4)))
              (local.set $wp (i32.add (local.get $wp) (local.get $kb)))
            (br $cl)))
          ${stores}
          (local.set $o0 (i32.add (local.get $o0) (i32.const 8)))
          (br $ol)))
        (local.set $t0 (i32.add (local.get $t0) (i32.const 4)))
        (br $tl)))
      (local.set $f (i32.add (local.get $f) (i32.const 1)))
      (br $fl))))
`;
}

/**
 * A function over the 2×2 output tiles of n images, four of the K channels at a time. Its parameters are
 * `params[0]`, then n, oh, ow, k, th, tw, tp, then `params[1]`; `$img` is the image tensor ([n][oh][ow][K]) and `$m`
 * the tile planes (`tp` tiles apart). `body` runs with $mt = tile t's row in plane 0 of M, $yt = the address of its
 * top-left cell in the image, $rok / $cok = whether its second row / column lies inside oh × ow, $e = the byte offset
 * of the four channels, $yrowb / $kb / $mplane = the bytes of an image row / a cell / a plane.
 */
function overOutputTiles(name: string, params: [string, string], extraLocals: string, body: string): string {
  return String.raw`
  (func (export "${name}") ${params[0]} (param $n i32) (param $oh i32) (param $ow i32) (param $k i32)
      (param $th i32) (param $tw i32) (param $tp i32) ${params[1]}
    (local $b i32) (local $ti i32) (local $tj i32) (local $t i32) (local $e i32) (local $kb i32) (local $yrowb i32)
    (local $mt i32) (local $mplane i32) (local $yt i32) (local $rok i32) (local $cok i32)
    ${extraLocals}
    (local.set $kb (i32.shl (local.get $k) (i32.const 2)))
    (local.set $yrowb (i32.mul (local.get $ow) (local.get $kb)))
    (local.set $mplane (i32.mul (local.get $tp) (local.get $kb)))
    ${tileLoops({
      row: '(local.set $rok (i32.lt_u (i32.add (i32.shl (local.get $ti) (i32.const 1)) (i32.const 1)) (local.get $oh)))',
      tile: String.raw`(local.set $cok (i32.lt_u (i32.add (i32.shl (local.get $tj) (i32.const 1)) (i32.const 1)) (local.get $ow)))
          (local.set $mt (i32.add (local.get $m) (i32.mul (local.get $t) (local.get $kb))))
          (local.set $yt (i32.add (local.get $img) (i32.add
            (i32.mul (i32.add (i32.mul (local.get $b) (local.get $oh)) (i32.shl (local.get $ti) (i32.const 1))) (local.get $yrowb))
            (i32.mul (i32.shl (local.get $tj) (i32.const 1)) (local.get $kb)))))`,
      channelBytes: '$kb',
      body,
    })})
`;
}

/**
 * y = Aᵀ M A per tile, for the n images of the tiles M holds (planes `tp` tiles apart); cells past oh × ow are dropped.
 * Then, as a fused convolution: + bias[o] where `bias` is an address (0 for none), and max(·, 0) where `relu` ≠ 0.
 */
function outputTransform(): string {
  const m = (r: number, s: number) => get(`$m${r}${s}`);
  const q = (a: number, s: number) => get(`$q${a}${s}`);
  const rows = (s: number) => [add(add(m(0, s), m(1, s)), m(2, s)), sub(sub(m(1, s), m(2, s)), m(3, s))];
  const cols = (a: number) => [add(add(q(a, 0), q(a, 1)), q(a, 2)), sub(sub(q(a, 1), q(a, 2)), q(a, 3))];
  const loads = range(16)
    .map((f) => `(local.set $m${Math.floor(f / 4)}${f % 4} (v128.load (i32.add (local.get $mt) (i32.add (i32.mul (i32.const ${f}) (local.get $mplane)) (local.get $e)))))`)
    .join('\n          ');
  const qs = range(4)
    .flatMap((s) => rows(s).map((expr, a) => `(local.set $q${a}${s} ${expr})`))
    .join('\n          ');
  const ok = ['(i32.const 1)', '(local.get $cok)', '(local.get $rok)', '(i32.and (local.get $rok) (local.get $cok))'];
  const outs = range(2)
    .flatMap((a) => cols(a).map((expr, b) => `(local.set $o${a}${b} ${expr})`))
    .join('\n          ');
  const epilogue = range(4)
    .map((i) => {
      const o = `$o${Math.floor(i / 2)}${i % 2}`;
      return String.raw`(if (local.get $bias) (then (local.set ${o} (f32x4.add (local.get ${o}) (local.get $bv)))))
          (if (local.get $relu) (then (local.set ${o} (f32x4.max (local.get ${o}) (v128.const i32x4 0 0 0 0)))))`;
    })
    .join('\n          ');
  const stores = range(4)
    .map((i) => {
      const [a, b] = [Math.floor(i / 2), i % 2];
      return String.raw`(if ${ok[i]} (then (v128.store (i32.add (local.get $yt) (i32.add
            (i32.mul (i32.const ${a}) (local.get $yrowb)) (i32.add (i32.mul (i32.const ${b}) (local.get $kb)) (local.get $e)))) (local.get $o${a}${b}))))`;
    })
    .join('\n          ');
  return overOutputTiles(
    'wino_output',
    ['(param $m i32) (param $img i32)', '(param $bias i32) (param $relu i32)'],
    String.raw`(local $bv v128) (local $o00 v128) (local $o01 v128) (local $o10 v128) (local $o11 v128)
    ${locals(range(16).map((f) => `$m${Math.floor(f / 4)}${f % 4}`), 'v128')}
    ${locals(range(8).map((i) => `$q${i % 2}${Math.floor(i / 2)}`), 'v128')}`,
    String.raw`${loads}
          ${qs}
          ${outs}
            (if (local.get $bias) (then (local.set $bv (v128.load (i32.add (local.get $bias) (local.get $e))))))
          ${epilogue}
          ${stores}`,
  );
}

/**
 * The filter gradient's three parts. Forward, Y = Aᵀ(U ⊙ V)A per tile with U = G g Gᵀ; so for a loss L,
 *   dM = A dY Aᵀ (per tile),   dU[f] = Σ over tiles of V[f]ᵀ · dM[f],   dg = Gᵀ dU G.
 */

/** dM[f][t][o] = (A dY Aᵀ)[f] for the n images of dy; cells of a tile past oh × ow count as zero. */
function outputGradientTransform(): string {
  const y = (a: number, b: number) => get(`$y${a}${b}`);
  const q = (r: number, b: number) => get(`$q${r}${b}`);
  const neg = (a: string) => `(f32x4.neg ${a})`;
  // A dY (rows r = 0..3 from the two dy rows), then (A dY) Aᵀ (columns)
  const rows = (b: number) => [y(0, b), add(y(0, b), y(1, b)), sub(y(0, b), y(1, b)), neg(y(1, b))];
  const cols = (r: number) => [q(r, 0), add(q(r, 0), q(r, 1)), sub(q(r, 0), q(r, 1)), neg(q(r, 1))];
  const ok = ['(i32.const 1)', '(local.get $cok)', '(local.get $rok)', '(i32.and (local.get $rok) (local.get $cok))'];
  const loads = range(4)
    .map((i) => {
      const [a, b] = [Math.floor(i / 2), i % 2];
      return String.raw`(local.set $y${a}${b} (if (result v128) ${ok[i]} (then (v128.load (i32.add (local.get $yt) (i32.add
            (i32.mul (i32.const ${a}) (local.get $yrowb)) (i32.add (i32.mul (i32.const ${b}) (local.get $kb)) (local.get $e))))))
            (else (v128.const i32x4 0 0 0 0))))`;
    })
    .join('\n          ');
  const qs = range(2)
    .flatMap((b) => rows(b).map((expr, r) => `(local.set $q${r}${b} ${expr})`))
    .join('\n          ');
  const stores = range(4)
    .flatMap((r) => cols(r).map((expr, c) => `(v128.store (i32.add (local.get $mt) (i32.add (i32.mul (i32.const ${4 * r + c}) (local.get $mplane)) (local.get $e))) ${expr})`))
    .join('\n          ');
  return overOutputTiles(
    'wino_dy',
    ['(param $img i32) (param $m i32)', ''],
    String.raw`${locals(range(4).map((i) => `$y${Math.floor(i / 2)}${i % 2}`), 'v128')}
    ${locals(range(8).map((i) => `$q${i % 4}${Math.floor(i / 4)}`), 'v128')}`,
    String.raw`${loads}
          ${qs}
          ${stores}`,
  );
}

/**
 * dU[f] += V[f]ᵀ · dM[f] over `rows` tiles, for C % 4 == 0 and K % 8 == 0 (planes of V and dM `tp` tiles apart): a
 * 4-channel × 8-output block of dU stays in registers while the tiles stream by, four channels of a tile at
 * consecutive addresses and eight outputs of its dM row.
 */
function filterGradientProduct(madd: Madd): string {
  const acc = range(4).flatMap((r) => [0, 1].map((h) => `$a${r}${h}`));
  const block = (op: 'load' | 'store') =>
    range(4)
      .flatMap((r) =>
        [0, 1].map((h) =>
          op === 'load'
            ? `(local.set $a${r}${h} (v128.load offset=${16 * h} (i32.add (local.get $wb) (i32.mul (i32.const ${r}) (local.get $kb)))))`
            : `(v128.store offset=${16 * h} (i32.add (local.get $wb) (i32.mul (i32.const ${r}) (local.get $kb))) (local.get $a${r}${h}))`,
        ),
      )
      .join('\n          ');
  return String.raw`
  (func (export "wino_filter_gemm") (param $v i32) (param $m i32) (param $du i32) (param $rows i32) (param $tp i32)
      (param $c i32) (param $k i32)
    (local $f i32) (local $vf i32) (local $mf i32) (local $uf i32) (local $c0 i32) (local $o0 i32) (local $cb i32)
    (local $kb i32) (local $wb i32) (local $xp i32) (local $dp i32) (local $dend i32)
    (local $x0 v128) (local $x1 v128) (local $x2 v128) (local $x3 v128) (local $d0 v128) (local $d1 v128)
    ${locals(acc, 'v128')}
    (local.set $cb (i32.shl (local.get $c) (i32.const 2)))
    (local.set $kb (i32.shl (local.get $k) (i32.const 2)))
    (local.set $f (i32.const 0))
    (block $fd (loop $fl
      (br_if $fd (i32.ge_u (local.get $f) (i32.const 16)))
      (local.set $vf (i32.add (local.get $v) (i32.mul (i32.mul (local.get $f) (local.get $tp)) (local.get $cb))))
      (local.set $mf (i32.add (local.get $m) (i32.mul (i32.mul (local.get $f) (local.get $tp)) (local.get $kb))))
      (local.set $uf (i32.add (local.get $du) (i32.mul (i32.mul (local.get $f) (local.get $c)) (local.get $kb))))
      (local.set $c0 (i32.const 0))
      (block $cd (loop $cl
        (br_if $cd (i32.ge_u (local.get $c0) (local.get $c)))
        (local.set $o0 (i32.const 0))
        (block $od (loop $ol
          (br_if $od (i32.ge_u (local.get $o0) (local.get $k)))
          (local.set $wb (i32.add (local.get $uf) (i32.shl (i32.add (i32.mul (local.get $c0) (local.get $k)) (local.get $o0)) (i32.const 2))))
          ${block('load')}
          (local.set $xp (i32.add (local.get $vf) (i32.shl (local.get $c0) (i32.const 2))))
          (local.set $dp (i32.add (local.get $mf) (i32.shl (local.get $o0) (i32.const 2))))
          (local.set $dend (i32.add (local.get $dp) (i32.mul (local.get $rows) (local.get $kb))))
          (block $td (loop $tl
            (br_if $td (i32.ge_u (local.get $dp) (local.get $dend)))
              ${fourByEightStep(madd, '$xp', '$dp', 4)}
              (local.set $xp (i32.add (local.get $xp) (local.get $cb)))
              (local.set $dp (i32.add (local.get $dp) (local.get $kb)))
            (br $tl)))
          ${block('store')}
          (local.set $o0 (i32.add (local.get $o0) (i32.const 8)))
          (br $ol)))
        (local.set $c0 (i32.add (local.get $c0) (i32.const 4)))
        (br $cl)))
      (local.set $f (i32.add (local.get $f) (i32.const 1)))
      (br $fl))))
`;
}

/** wino_filter_grad: dg = Gᵀ dU G from dU's sixteen planes into the nine taps. */
const filterGradientTransform = () =>
  planeTransform('wino_filter_grad', 4, 3, ([u0, u1, u2, u3]) => [add(u0, half(add(u1, u2))), half(sub(u1, u2)), add(half(add(u1, u2)), u3)]);

/**
 * The Winograd functions: forward wino_filter, wino_input, wino_gemm_<C> for each of WINOGRAD_CHANNELS, wino_output;
 * filter gradient wino_dy, wino_filter_gemm, wino_filter_grad (with wino_input).
 */
export function winogradText(madd: Madd): string {
  return [
    filterTransform(),
    inputTransform(),
    ...WINOGRAD_CHANNELS.map((c) => matrixProduct(c, madd)),
    outputTransform(),
    outputGradientTransform(),
    filterGradientProduct(madd),
    filterGradientTransform(),
  ].join('');
}
