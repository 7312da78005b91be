/**
 * WebAssembly text of the Winograd convolution kernels F(2×2, 3×3) and F(4×4, 3×3) (Lavin & Gray 2015, "Fast
 * Algorithms for Convolutional Neural Networks"), spliced into the SIMD heap module by `simd-kernels.ts`.
 *
 * A 3×3 convolution with stride 1 produces each m×m output tile from an α×α input tile d (α = m + 2) as
 * Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A. Summed over input channels, the α² element-wise products become α² independent
 * matrix products
 *   M[f] = V[f] · U[f],   V[f]: tiles × C (the transformed input),   U[f]: C × K (the transformed filter),
 * which take α² multiply-adds per tile and channel pair where the direct convolution takes 9·m²: 16 against 36 for
 * F(2×2, 3×3), 36 against 144 for F(4×4, 3×3). The transforms are fixed linear maps (`TILES`), done here four
 * channels per v128 (NHWC keeps the channels of a pixel together). Layouts, all float32: g [3][3][C][K] (tfjs's
 * filter), U [α²][C][K], x [n][h][w][C], V [α²][tiles][C], M [α²][tiles][K], y [n][oh][ow][K], with f = α·row +
 * column of the α×α tile. U's planes (and dU's) are `$ustride` bytes apart, and V's and M's `tp` tiles: the callers
 * keep those strides off powers of two (winograd.ts).
 */

import { fourByEightStep, locals, range, type Madd } from './wat-blocks.js';

/** Channel counts C with a matrix-product kernel of their own (the four tile rows sit at compile-time offsets). */
export const WINOGRAD_CHANNELS = [4, 8, 16, 32, 64, 128, 256, 512] as const;

/** Output tile sides m of the three variants. */
export const WINOGRAD_TILES = [2, 4, 7] as const;
export type WinogradTile = (typeof WINOGRAD_TILES)[number];

interface TileMatrices {
  /** Bᵀ: α × α, the input transform. */
  bt: number[][];
  /** G: α × 3, the filter transform. */
  g: number[][];
  /** Aᵀ: m × α, the output transform. */
  at: number[][];
  /**
   * Coefficients of so many magnitudes that grouping them (`linear`) saves few multiplies: with fused multiply-adds
   * the transforms take one per coefficient instead (`fusedLinear`).
   */
  fusedTransforms?: boolean;
}

/** An exact rational p/q (q > 0, lowest terms), enough arithmetic for the Toom-Cook matrices below. */
class Rational {
  readonly p: bigint;
  readonly q: bigint;
  constructor(p: bigint, q: bigint = 1n) {
    if (q === 0n) throw new RangeError('Rational: zero denominator');
    const gcd = (a: bigint, b: bigint): bigint => (b === 0n ? (a < 0n ? -a : a) : gcd(b, a % b));
    const g = gcd(p, q) * (q < 0n ? -1n : 1n);
    this.p = p / g;
    this.q = q / g;
  }
  add = (o: Rational) => new Rational(this.p * o.q + o.p * this.q, this.q * o.q);
  sub = (o: Rational) => new Rational(this.p * o.q - o.p * this.q, this.q * o.q);
  mul = (o: Rational) => new Rational(this.p * o.p, this.q * o.q);
  div = (o: Rational) => new Rational(this.p * o.q, this.q * o.p);
  pow = (k: number): Rational => (k === 0 ? ONE : this.mul(this.pow(k - 1)));
  toNumber = () => Number(this.p) / Number(this.q);
}
const ONE = new Rational(1n);
const ZERO_Q = new Rational(0n);

/**
 * F(m×m, 3×3) from m + 1 distinct interpolation points and ∞ (Toom-Cook, as Lavin & Gray build theirs), exactly in
 * rationals: Aᵀ[i][j] = p_j^i (the ∞ column is 1 in the last row); G[j][k] = p_j^k / Π_{l≠j}(p_j − p_l) (the ∞ row
 * picks the last tap); Bᵀ's row j holds the coefficients, lowest power first, of Π_{l≠j}(x − p_l), and its ∞ row
 * those of Π_l(x − p_l). With the points 0, ±1, ±2 this gives Lavin & Gray's F(4×4, 3×3) exactly (a test checks).
 */
export function toomCook(points: Array<[number, number]>): TileMatrices {
  const pts = points.map(([p, q]) => new Rational(BigInt(p), BigInt(q)));
  const alpha = pts.length + 1;
  const m = alpha - 2;
  const product = (roots: Rational[]) =>
    roots.reduce(
      (coeffs, root) => [...coeffs, ZERO_Q].map((_, i) => (i > 0 ? coeffs[i - 1] : ZERO_Q).sub(i < coeffs.length ? root.mul(coeffs[i]) : ZERO_Q)),
      [ONE],
    );
  const padded = (coeffs: Rational[]) => [...coeffs, ...Array<Rational>(alpha - coeffs.length).fill(ZERO_Q)];
  const others = (j: number) => pts.filter((_, l) => l !== j);
  const bt = [...pts.map((_, j) => padded(product(others(j)))), product(pts)];
  const g = [
    ...pts.map((p, j) => {
      const f = others(j).reduce((acc, o) => acc.mul(p.sub(o)), ONE);
      return [0, 1, 2].map((k) => p.pow(k).div(f));
    }),
    [ZERO_Q, ZERO_Q, ONE],
  ];
  const at = range(m).map((i) => [...pts.map((p) => p.pow(i)), i === m - 1 ? ONE : ZERO_Q]);
  const numbers = (rows: Rational[][]) => rows.map((row) => row.map((v) => v.toNumber()));
  return { bt: numbers(bt), g: numbers(g), at: numbers(at) };
}

/**
 * The transforms. F(2×2, 3×3) interpolates at 0, ±1 and ∞; F(4×4, 3×3) at 0, ±1, ±2 and ∞ (Lavin & Gray's
 * matrices), whose larger coefficients cost a little float32 accuracy: 2–6e-6 of the largest output against 4e-7 for
 * F(2×2, 3×3) on unit-normal data at 64 and 128 channels (winograd.ts; the tests hold both to 1e-4). F(7×7, 3×3)
 * takes 81 products per tile of 49 outputs, and fits 28, 14 and 7 exactly; its points 0, ±1, ±2, ±3/4, −1/4 are the
 * best of a search over the 15,504 sets of 0, ±1 and five from ±{2, 1/2, 3, 1/3, 3/2, 2/3, 4, 1/4, 3/4, 4/3}
 * (simulated float32 transforms and products, 128 channels; three draws each, the best 40 again over ten): 5e-5 of
 * the largest output, where 0, ±1, ±2, ±1/2, 3 gave 5e-4 and F(4×4, 3×3) 8e-6 in the same simulation.
 */
export const TILES: Record<WinogradTile, TileMatrices> = {
  2: {
    bt: [
      [1, 0, -1, 0],
      [0, 1, 1, 0],
      [0, -1, 1, 0],
      [0, 1, 0, -1],
    ],
    g: [
      [1, 0, 0],
      [0.5, 0.5, 0.5],
      [0.5, -0.5, 0.5],
      [0, 0, 1],
    ],
    at: [
      [1, 1, 1, 0],
      [0, 1, -1, -1],
    ],
  },
  4: {
    bt: [
      [4, 0, -5, 0, 1, 0],
      [0, -4, -4, 1, 1, 0],
      [0, 4, -4, -1, 1, 0],
      [0, -2, -1, 2, 1, 0],
      [0, 2, -1, -2, 1, 0],
      [0, 4, 0, -5, 0, 1],
    ],
    g: [
      [1 / 4, 0, 0],
      [-1 / 6, -1 / 6, -1 / 6],
      [-1 / 6, 1 / 6, -1 / 6],
      [1 / 24, 1 / 12, 1 / 6],
      [1 / 24, -1 / 12, 1 / 6],
      [0, 0, 1],
    ],
    at: [
      [1, 1, 1, 1, 1, 0],
      [0, 1, -1, 2, -2, 0],
      [0, 1, 1, 4, 4, 0],
      [0, 1, -1, 8, -8, 1],
    ],
  },
  7: { ...toomCook([[0, 1], [1, 1], [-1, 1], [2, 1], [-2, 1], [3, 4], [-3, 4], [-1, 4]]), fusedTransforms: true },
};

const transpose = (a: number[][]): number[][] => a[0].map((_, j) => a.map((row) => row[j]));

const add = (a: string, b: string) => `(f32x4.add ${a} ${b})`;
const sub = (a: string, b: string) => `(f32x4.sub ${a} ${b})`;
const scale = (a: string, c: number) => `(f32x4.mul ${a} (v128.const f32x4 ${c} ${c} ${c} ${c}))`;
const get = (name: string) => `(local.get ${name})`;
const ZERO = '(v128.const i32x4 0 0 0 0)';

/**
 * The rows of L·v as expressions, for a matrix L of constants and a vector v of v128 expressions. Terms with the
 * same coefficient magnitude are summed first and scaled once (½(a + b + c) is one multiply), positive terms
 * before negative ones, so the F(2×2, 3×3) transforms are the additions, subtractions and halvings of the paper.
 */
function linear(l: number[][], v: string[]): string[] {
  return l.map((row) => {
    const groups = new Map<number, { pos: string[]; neg: string[] }>();
    row.forEach((c, j) => {
      if (c === 0) return;
      const g = groups.get(Math.abs(c)) ?? { pos: [], neg: [] };
      (c > 0 ? g.pos : g.neg).push(v[j]);
      groups.set(Math.abs(c), g);
    });
    // Each group as (sign, expression); a group of negative terms only is summed and subtracted as a whole.
    const terms = [...groups].map(([mag, { pos, neg }]) => {
      const [first, ...rest] = pos.length ? [...pos, ...neg] : neg;
      let e = first;
      rest.forEach((t, i) => (e = pos.length && i + 1 < pos.length ? add(e, t) : pos.length ? sub(e, t) : add(e, t)));
      return { positive: pos.length > 0, e: mag === 1 ? e : scale(e, mag) };
    });
    if (terms.length === 0) return ZERO;
    terms.sort((a, b) => Number(b.positive) - Number(a.positive));
    let out = terms[0].positive ? terms[0].e : `(f32x4.neg ${terms[0].e})`;
    for (const t of terms.slice(1)) out = t.positive ? add(out, t.e) : sub(out, t.e);
    return out;
  });
}

/**
 * `linear` for engines with fused multiply-adds: one relaxed_madd per coefficient other than ±1, in row order. For
 * F(7×7, 3×3), whose Bᵀ has 62 non-zero coefficients of 30 magnitudes, the grouping above saves few multiplies and
 * this halves the instructions of the transforms.
 */
function fusedLinear(l: number[][], v: string[]): string[] {
  return l.map((row) => {
    const terms = row.map((c, j) => ({ c, x: v[j] })).filter((t) => t.c !== 0);
    if (terms.length === 0) return ZERO;
    terms.sort((a, b) => Number(Math.abs(b.c) === 1) - Number(Math.abs(a.c) === 1));
    const [first, ...rest] = terms;
    let out = first.c === 1 ? first.x : first.c === -1 ? `(f32x4.neg ${first.x})` : scale(first.x, first.c);
    for (const { c, x } of rest) {
      out = c === 1 ? add(out, x) : c === -1 ? sub(out, x) : `(f32x4.relaxed_madd ${x} (v128.const f32x4 ${c} ${c} ${c} ${c}) ${out})`;
    }
    return out;
  });
}

/** The rows of L·v (see `linear`). */
type Linear = (l: number[][], v: string[]) => string[];

/** Byte address of plane f's four floats at $e: `base` + f·`plane` + $e (both i32 locals, `plane` in bytes). */
const planeAddress = (base: string, f: number, plane: string) =>
  `(i32.add (local.get ${base}) (i32.add (i32.mul (i32.const ${f}) (local.get ${plane})) (local.get $e)))`;

/**
 * A function (param $src) (param $dst) (param $c) (param $k) (param $ustride) for a 2-D transform Z = L X Lᵀ of a
 * p × p grid of planes into a q × q grid, every plane C·K floats in the same order (plane i·p + j of X, a·q + b of
 * Z), four floats at a time. The planes of the transformed side (`uSide`: U or dU) are `$ustride` bytes apart, the
 * filter's (tfjs's [3][3][C][K]) C·K floats. `combine` gives the q rows of L·v for a column v of p values; it serves
 * for the columns of X and then for the rows of L X.
 */
function planeTransform(name: string, p: number, q: number, combine: (v: string[]) => string[], uSide: 'src' | 'dst'): string {
  const x = (i: number, j: number) => get(`$x${i}${j}`);
  const t = (a: number, j: number) => get(`$t${a}${j}`);
  const [srcPlane, dstPlane] = uSide === 'src' ? ['$ustride', '$plane'] : ['$plane', '$ustride'];
  const loads = range(p * p)
    .map((f) => `(local.set $x${Math.floor(f / p)}${f % p} (v128.load ${planeAddress('$src', f, srcPlane)}))`)
    .join('\n      ');
  const ts = range(p)
    .flatMap((j) => combine(range(p).map((i) => x(i, j))).map((expr, a) => `(local.set $t${a}${j} ${expr})`))
    .join('\n      ');
  const stores = range(q)
    .flatMap((a) =>
      combine(range(p).map((j) => t(a, j))).map(
        (expr, b) => `(v128.store ${planeAddress('$dst', q * a + b, dstPlane)} ${expr})`,
      ),
    )
    .join('\n      ');
  return String.raw`
  (func (export "${name}") (param $src i32) (param $dst i32) (param $c i32) (param $k i32) (param $ustride i32)
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

/** wino<m>_filter: U[f][c][o] = (G g Gᵀ)[f] from g's nine taps. */
const filterTransform = (m: WinogradTile, lin: Linear) => planeTransform(`wino${m}_filter`, 3, m + 2, (v) => lin(TILES[m].g, v), 'dst');

/** wino<m>_filter_grad: dg = Gᵀ dU G from dU's α² planes into the nine taps. */
const filterGradientTransform = (m: WinogradTile, lin: Linear) =>
  planeTransform(`wino${m}_filter_grad`, m + 2, 3, (v) => lin(transpose(TILES[m].g), v), 'src');

/** i32 expression: `a` times the tile side m. */
const timesTile = (m: WinogradTile, a: string) =>
  Number.isInteger(Math.log2(m)) ? `(i32.shl ${a} (i32.const ${Math.log2(m)}))` : `(i32.mul ${a} (i32.const ${m}))`;

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
 * Stores of `exprs` down column `col` of the tile scratch at $s: value i at cell (i, col), cells of 16 bytes,
 * `width` to a row.
 */
const scratchStores = (width: number, col: number, exprs: string[]) =>
  exprs.map((e, i) => `(v128.store offset=${16 * (width * i + col)} (local.get $s) ${e})`).join(' ');

/** Loads of cells (row, 0…count − 1) of the tile scratch (`width` cells to a row) into the v128 locals `$<prefix><j>`. */
const scratchRowLoads = (width: number, row: number, count: number, prefix: string) =>
  range(count).map((j) => `(local.set $${prefix}${j} (v128.load offset=${16 * (width * row + j)} (local.get $s)))`).join(' ');

/**
 * wino<m>_input: V[f][t][c] = (Bᵀ d B)[f] for the n images at x: tile t = (b·th + ti)·tw + tj reads input rows
 * m·ti − top + r and columns m·tj − left + s (r, s < α), zero outside the image. V's planes are `tp` tiles apart.
 * `$s` is scratch: α² × 16 bytes for the tile (Bᵀ d, one column at a time, four channels at a time), then a zero row
 * of w·C floats, which rows outside the image read; columns outside it are skipped (their Bᵀ d column is zero). With
 * all α² values of a tile in locals, and a branch around each load, the transform ran 30–40% slower (register
 * spills and 81 branches per four channels for F(7×7, 3×3)).
 */
function inputTransform(m: WinogradTile, lin: Linear): string {
  const a = m + 2;
  const { bt } = TILES[m];
  const setup = range(a)
    .map(
      (r) => String.raw`(local.set $y (i32.sub (i32.add ${timesTile(m, '(local.get $ti)')} (i32.const ${r})) (local.get $top)))
        (local.set $row${r} (select (i32.add (local.get $img) (i32.mul (local.get $y) (local.get $rowb))) (local.get $zrow) (i32.lt_u (local.get $y) (local.get $h))))
        (local.set $xc (i32.sub (i32.add ${timesTile(m, '(local.get $tj)')} (i32.const ${r})) (local.get $left)))
        (local.set $cok${r} (i32.lt_u (local.get $xc) (local.get $w)))
        (local.set $col${r} (i32.mul (local.get $xc) (local.get $cb)))`,
    )
    .join('\n        ');
  // Bᵀ d, a column at a time, into the scratch; then (Bᵀ d) B, a row at a time, into V
  const columns = range(a)
    .map((col) => {
      const loads = range(a)
        .map((r) => `(local.set $d${r} (v128.load (i32.add (i32.add (local.get $row${r}) (local.get $col${col})) (local.get $e))))`)
        .join(' ');
      const stores = scratchStores(a, col, lin(bt, range(a).map((r) => get(`$d${r}`))));
      return `(if (local.get $cok${col}) (then ${loads}
            ${stores}) (else ${scratchStores(a, col, range(a).map(() => ZERO))}))`;
    })
    .join('\n          ');
  const rows = range(a)
    .map((r) => {
      const stores = lin(bt, range(a).map((col) => get(`$d${col}`)))
        .map((expr, col) => `(v128.store ${planeAddress('$vt', a * r + col, '$vplane')} ${expr})`)
        .join(' ');
      return `${scratchRowLoads(a, r, a, 'd')}
          ${stores}`;
    })
    .join('\n          ');
  return String.raw`
  (func (export "wino${m}_input") (param $x i32) (param $v i32) (param $n i32) (param $h i32) (param $w i32) (param $c i32)
      (param $th i32) (param $tw i32) (param $top i32) (param $left i32) (param $tp i32) (param $s i32)
    (local $b i32) (local $ti i32) (local $tj i32) (local $t i32) (local $e i32) (local $cb i32) (local $rowb i32)
    (local $img i32) (local $vt i32) (local $vplane i32) (local $y i32) (local $xc i32) (local $zrow i32)
    ${locals(range(a).flatMap((r) => [`$cok${r}`, `$row${r}`, `$col${r}`]), 'i32')}
    ${locals(range(a).map((r) => `$d${r}`), 'v128')}
    (local.set $cb (i32.shl (local.get $c) (i32.const 2)))
    (local.set $rowb (i32.mul (local.get $w) (local.get $cb)))
    (local.set $vplane (i32.mul (local.get $tp) (local.get $cb)))
    (local.set $zrow (i32.add (local.get $s) (i32.const ${16 * a * a})))
    ${tileLoops({
      image: '(local.set $img (i32.add (local.get $x) (i32.mul (i32.mul (local.get $b) (local.get $h)) (local.get $rowb))))',
      tile: `${setup}
          (local.set $vt (i32.add (local.get $v) (i32.mul (local.get $t) (local.get $cb))))`,
      channelBytes: '$cb',
      body: `${columns}
          ${rows}`,
    })})
`;
}

/**
 * M[f] = V[f] · U[f] for `planes` planes (α²), `rows` tiles (a multiple of 4) of C channels into K outputs
 * (K % 8 == 0); planes of V and M are `tp` tiles apart, of U `$ustride` bytes. A 4-tile × 8-output block of M
 * stays in registers while the four tile rows of V, at compile-time offsets C·4 bytes apart, and U's rows stream by.
 */
function matrixProduct(c: number, madd: Madd): string {
  const acc = range(4).flatMap((r) => [0, 1].map((h) => `$a${r}${h}`));
  const zero = acc.map((a) => `(local.set ${a} ${ZERO})`).join(' ');
  const stores = range(4)
    .map(
      (r) => String.raw`(local.set $mp (i32.add (local.get $mf) (i32.shl (i32.add (i32.mul (i32.add (local.get $t0) (i32.const ${r})) (local.get $k)) (local.get $o0)) (i32.const 2))))
          (v128.store (local.get $mp) (local.get $a${r}0))
          (v128.store offset=16 (local.get $mp) (local.get $a${r}1))`,
    )
    .join('\n          ');
  return String.raw`
  (func (export "wino_gemm_${c}") (param $v i32) (param $u i32) (param $m i32) (param $rows i32) (param $tp i32) (param $k i32)
      (param $planes i32) (param $ustride i32)
    (local $f i32) (local $vf i32) (local $uf i32) (local $mf i32) (local $t0 i32) (local $o0 i32) (local $kb i32)
    (local $xp i32) (local $xend i32) (local $wp i32) (local $mp i32)
    (local $x0 v128) (local $x1 v128) (local $x2 v128) (local $x3 v128) (local $d0 v128) (local $d1 v128)
    ${locals(acc, 'v128')}
    (local.set $kb (i32.shl (local.get $k) (i32.const 2)))
    (local.set $f (i32.const 0))
    (block $fd (loop $fl
      (br_if $fd (i32.ge_u (local.get $f) (local.get $planes)))
      (local.set $vf (i32.add (local.get $v) (i32.mul (i32.mul (local.get $f) (local.get $tp)) (i32.const ${c * 4}))))
      (local.set $uf (i32.add (local.get $u) (i32.mul (local.get $f) (local.get $ustride))))
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
 * A function over the m×m output tiles of n images, four of the K channels at a time. Its parameters are
 * `params[0]`, then n, oh, ow, k, th, tw, tp, then `params[1]`; `$img` is the image tensor ([n][oh][ow][K]) and `$m`
 * the tile planes (`tp` tiles apart). `body` runs with $mt = tile t's row in plane 0 of M, $yt = the address of its
 * top-left cell in the image, $rok<a> / $cok<b> = whether its row a / column b (1 ≤ a, b < m) lies inside oh × ow,
 * $e = the byte offset of the four channels, $yrowb / $kb / $mplane = the bytes of an image row / a cell / a plane.
 */
function overOutputTiles(m: WinogradTile, name: string, params: [string, string], extraLocals: string, body: string): string {
  const edges = range(m).slice(1);
  return String.raw`
  (func (export "${name}") ${params[0]} (param $n i32) (param $oh i32) (param $ow i32) (param $k i32)
      (param $th i32) (param $tw i32) (param $tp i32) ${params[1]}
    (local $b i32) (local $ti i32) (local $tj i32) (local $t i32) (local $e i32) (local $kb i32) (local $yrowb i32)
    (local $mt i32) (local $mplane i32) (local $yt i32) (local $full i32)
    ${locals(edges.flatMap((a) => [`$rok${a}`, `$cok${a}`]), 'i32')}
    ${extraLocals}
    (local.set $kb (i32.shl (local.get $k) (i32.const 2)))
    (local.set $yrowb (i32.mul (local.get $ow) (local.get $kb)))
    (local.set $mplane (i32.mul (local.get $tp) (local.get $kb)))
    ${tileLoops({
      row: edges.map((a) => `(local.set $rok${a} (i32.lt_u (i32.add ${timesTile(m, '(local.get $ti)')} (i32.const ${a})) (local.get $oh)))`).join('\n        '),
      tile: String.raw`${edges.map((b) => `(local.set $cok${b} (i32.lt_u (i32.add ${timesTile(m, '(local.get $tj)')} (i32.const ${b})) (local.get $ow)))`).join('\n          ')}
          (local.set $full ${m > 1 ? `(i32.and (local.get $rok${m - 1}) (local.get $cok${m - 1}))` : '(i32.const 1)'})
          (local.set $mt (i32.add (local.get $m) (i32.mul (local.get $t) (local.get $kb))))
          (local.set $yt (i32.add (local.get $img) (i32.add
            (i32.mul (i32.add (i32.mul (local.get $b) (local.get $oh)) ${timesTile(m, '(local.get $ti)')}) (local.get $yrowb))
            (i32.mul ${timesTile(m, '(local.get $tj)')} (local.get $kb)))))`,
      channelBytes: '$kb',
      body,
    })})
`;
}

/** Whether output cell (a, b) of a tile lies inside the image, as an i32 expression (see overOutputTiles). */
function cellInside(a: number, b: number): string {
  const parts = [a > 0 ? '(local.get $rok' + a + ')' : '', b > 0 ? '(local.get $cok' + b + ')' : ''].filter(Boolean);
  return parts.length === 0 ? '(i32.const 1)' : parts.length === 1 ? parts[0] : `(i32.and ${parts[0]} ${parts[1]})`;
}

/** Byte address of output cell (a, b) of the current tile, four channels at $e. */
const cellAddress = (a: number, b: number) =>
  `(i32.add (local.get $yt) (i32.add (i32.mul (i32.const ${a}) (local.get $yrowb)) (i32.add (i32.mul (i32.const ${b}) (local.get $kb)) (local.get $e))))`;

/**
 * wino<m>_output: y = Aᵀ M A per tile, for the n images of the tiles M holds (planes `tp` tiles apart); cells past
 * oh × ow are dropped. Then, as a fused convolution: + bias[o] where `bias` is an address (0 for none), and
 * max(·, 0) where `relu` ≠ 0. Aᵀ M goes through the tile scratch at `$s` (α² × 16 bytes) a column at a time; tiles
 * wholly inside the image store without a test per cell. Without a bias the sum adds −0 (x + −0 = x, also for
 * −0), without ReLU the maximum is taken with −∞, so neither tests per cell either.
 */
function outputTransform(m: WinogradTile, lin: Linear): string {
  const a = m + 2;
  const { at } = TILES[m];
  const columns = range(a)
    .map((col) => {
      const loads = range(a)
        .map((r) => `(local.set $q${r} (v128.load ${planeAddress('$mt', a * r + col, '$mplane')}))`)
        .join(' ');
      return `${loads}
          ${scratchStores(a, col, lin(at, range(a).map((r) => get(`$q${r}`))))}`;
    })
    .join('\n          ');
  const rows = (tested: boolean) =>
    range(m)
      .map((i) => {
        const stores = lin(at, range(a).map((col) => get(`$q${col}`)))
          .map((expr, j) => {
            const store = `(v128.store ${cellAddress(i, j)} (f32x4.max (f32x4.add ${expr} (local.get $bv)) (local.get $floor)))`;
            return tested && j > 0 ? `(if (local.get $cok${j}) (then ${store}))` : store;
          })
          .join('\n            ');
        const row = `${scratchRowLoads(a, i, a, 'q')}
            ${stores}`;
        return tested && i > 0 ? `(if (local.get $rok${i}) (then ${row}))` : row;
      })
      .join('\n          ');
  return overOutputTiles(
    m,
    `wino${m}_output`,
    ['(param $m i32) (param $img i32)', '(param $bias i32) (param $relu i32) (param $s i32)'],
    String.raw`(local $bv v128) (local $floor v128)
    ${locals(range(a).map((r) => `$q${r}`), 'v128')}
    (local.set $floor (if (result v128) (local.get $relu) (then ${ZERO}) (else (v128.const f32x4 -inf -inf -inf -inf))))`,
    String.raw`${columns}
          (local.set $bv (if (result v128) (local.get $bias) (then (v128.load (i32.add (local.get $bias) (local.get $e)))) (else (v128.const f32x4 -0 -0 -0 -0))))
          (if (local.get $full) (then ${rows(false)}) (else ${rows(true)}))`,
  );
}

/**
 * The filter gradient's three parts. Forward, Y = Aᵀ(U ⊙ V)A per tile with U = G g Gᵀ; so for a loss L,
 *   dM = A dY Aᵀ (per tile),   dU[f] = Σ over tiles of V[f]ᵀ · dM[f],   dg = Gᵀ dU G.
 */

/**
 * wino<m>_dy: dM[f][t][o] = (A dY Aᵀ)[f] for the n images of dy; cells of a tile past oh × ow count as zero. A dY
 * goes through the tile scratch at `$s` (α × m cells of 16 bytes) a column at a time; tiles wholly inside the image
 * load without a test per cell.
 */
function outputGradientTransform(m: WinogradTile, lin: Linear): string {
  const a = m + 2;
  const aMat = transpose(TILES[m].at);
  const columns = (tested: boolean) =>
    range(m)
      .map((j) => {
        const loads = range(m)
          .map((i) => {
            const load = `(v128.load ${cellAddress(i, j)})`;
            return `(local.set $q${i} ${tested && (i > 0 || j > 0) ? `(if (result v128) ${cellInside(i, j)} (then ${load}) (else ${ZERO}))` : load})`;
          })
          .join(' ');
        // column j of A dY: cell (r, j) of an α × m grid, m cells to a row
        const stores = scratchStores(m, j, lin(aMat, range(m).map((i) => get(`$q${i}`))));
        return `${loads}
            ${stores}`;
      })
      .join('\n          ');
  const rows = range(a)
    .map((r) => {
      const loads = scratchRowLoads(m, r, m, 'q');
      const stores = lin(aMat, range(m).map((j) => get(`$q${j}`)))
        .map((expr, col) => `(v128.store ${planeAddress('$mt', a * r + col, '$mplane')} ${expr})`)
        .join(' ');
      return `${loads}
          ${stores}`;
    })
    .join('\n          ');
  return overOutputTiles(
    m,
    `wino${m}_dy`,
    ['(param $img i32) (param $m i32)', '(param $s i32)'],
    locals(range(m).map((i) => `$q${i}`), 'v128'),
    String.raw`(if (local.get $full) (then ${columns(false)}) (else ${columns(true)}))
          ${rows}`,
  );
}

/**
 * dU[f] += V[f]ᵀ · dM[f] over `rows` tiles for `planes` planes, C % 4 == 0 and K % 8 == 0 (planes of V and dM `tp`
 * tiles apart, of dU `$ustride` bytes): a 4-channel × 8-output block of dU stays in registers while the tiles stream
 * by, four channels of a tile at consecutive addresses and eight outputs of its dM row.
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
      (param $c i32) (param $k i32) (param $planes i32) (param $ustride i32)
    (local $f i32) (local $vf i32) (local $mf i32) (local $uf i32) (local $c0 i32) (local $o0 i32) (local $cb i32)
    (local $kb i32) (local $wb i32) (local $xp i32) (local $dp i32) (local $dend i32)
    (local $x0 v128) (local $x1 v128) (local $x2 v128) (local $x3 v128) (local $d0 v128) (local $d1 v128)
    ${locals(acc, 'v128')}
    (local.set $cb (i32.shl (local.get $c) (i32.const 2)))
    (local.set $kb (i32.shl (local.get $k) (i32.const 2)))
    (local.set $f (i32.const 0))
    (block $fd (loop $fl
      (br_if $fd (i32.ge_u (local.get $f) (local.get $planes)))
      (local.set $vf (i32.add (local.get $v) (i32.mul (i32.mul (local.get $f) (local.get $tp)) (local.get $cb))))
      (local.set $mf (i32.add (local.get $m) (i32.mul (i32.mul (local.get $f) (local.get $tp)) (local.get $kb))))
      (local.set $uf (i32.add (local.get $du) (i32.mul (local.get $f) (local.get $ustride))))
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

/**
 * The Winograd functions: for each tile side m, wino<m>_filter, wino<m>_input, wino<m>_output (forward) and
 * wino<m>_dy, wino<m>_filter_grad (filter gradient, with wino<m>_input); shared by both, wino_gemm_<C> for each of
 * WINOGRAD_CHANNELS and wino_filter_gemm, which take the number of planes. With `fma` (the engine has relaxed SIMD),
 * the variants marked `fusedTransforms` (F(7×7, 3×3)) transform with `fusedLinear`.
 */
export function winogradText(madd: Madd, fma: boolean): string {
  return [
    ...WINOGRAD_TILES.flatMap((m) => {
      const lin = fma && TILES[m].fusedTransforms ? fusedLinear : linear;
      return [filterTransform(m, lin), inputTransform(m, lin), outputTransform(m, lin), outputGradientTransform(m, lin), filterGradientTransform(m, lin)];
    }),
    ...WINOGRAD_CHANNELS.map((c) => matrixProduct(c, madd)),
    filterGradientProduct(madd),
  ].join('');
}
