/**
 * WebAssembly-text pieces shared by the SIMD heap kernels (`simd-kernels.ts`, `winograd-wat.ts`).
 */

/** 0, 1, …, n − 1 (for generating unrolled text). */
export const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** Local declarations of one type: `(local $a t) (local $b t) …`. */
export const locals = (names: string[], type: string): string => names.map((n) => `(local ${n} ${type})`).join(' ');

/** `acc + a·b` on v128 locals, as an expression: a relaxed-SIMD fused multiply-add or a multiply and an add. */
export type Madd = (acc: string, a: string, b: string) => string;

/**
 * One step of a 4 × 8 register block: accumulators $a<r><h> (r < 4 rows, h < 2 halves of 8 columns) gain
 * x[r] · d[0..7], where d is the eight floats at `$d`'s address and x[r] the float at `$x`'s address plus r·xStride
 * bytes (splatted). Uses the v128 locals $d0 $d1 $x0..$x3.
 */
export function fourByEightStep(madd: Madd, x: string, d: string, xStride: number): string {
  return [
    `(local.set $d0 (v128.load (local.get ${d})))`,
    `(local.set $d1 (v128.load offset=16 (local.get ${d})))`,
    ...range(4).map((r) => `(local.set $x${r} (v128.load32_splat offset=${r * xStride} (local.get ${x})))`),
    ...range(4).flatMap((r) => [0, 1].map((h) => `(local.set $a${r}${h} ${madd(`$a${r}${h}`, `$x${r}`, `$d${h}`)})`)),
  ].join('\n              ');
}
