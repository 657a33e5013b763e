/**
 * conv2d and both its gradients as implicit GEMMs with classic shared-memory tiling, the
 * layout for real GPUs (the matmul of matmul_tiled.ts with gathered operands): a 16×16
 * workgroup stages a 64×16 tile of A and a 16×64 tile of B per k-step, each invocation keeps a
 * 4×4 block of C in registers. MODE picks the product; the im2col matrix is never stored.
 *
 * - 0 forward:         y[n,o,p]      = Σ_(c,a,b) w[o,(c,a,b)] · x̃[(c,a,b),(n,p)]   M = O, N = n·Ho·Wo
 * - 1 weight gradient: dw[o,(c,a,b)] = Σ_(n,p) dy[o,(n,p)] · x̃[(c,a,b),(n,p)]       M = O, N = C·kh·kw
 * - 2 input gradient:  dx[n,c,q]     = Σ_(o,a,b) w[o,c,a,b] · d̃y[(o,a,b),(n,q)]     M = C, N = n·H·W
 *
 * x̃ is x at (i·s − p + a, j·s − p + b), zero outside; d̃y is dy at ((y + p − a)/s, (x + p − b)/s)
 * where that is a whole, in-range position, zero elsewhere.
 */

import type { ConvGeometry } from "../../backend.ts";
import { PRELUDE } from "./common.ts";
import { TILED_GEMM } from "./matmul_tiled.ts";
import { CONV_BIAS } from "./conv2d.ts";

// params: [0] count (unused), [1] n, [2] c, [3] h, [4] w, [5] o, [6] kh, [7] kw, [8] stride,
// [9] pad, [10] ho, [11] wo — the direct kernels' layout
export const CONV2D_TILED = PRELUDE + TILED_GEMM + CONV_BIAS + /* wgsl */ `
override MODE: u32 = 0u;
@group(0) @binding(1) var<storage, read> src0: array<f32>;
@group(0) @binding(2) var<storage, read> src1: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
struct Geo { n: u32, c: u32, h: u32, w: u32, o: u32, kh: u32, kw: u32, s: u32, p: u32, ho: u32, wo: u32 }
fn geo() -> Geo {
  return Geo(P(1u), P(2u), P(3u), P(4u), P(5u), P(6u), P(7u), P(8u), P(9u), P(10u), P(11u));
}
// x̃[(c,a,b), (n,i,j)]: src0 is x in modes 0 and 1
fn x_tilde(g: Geo, k: u32, col: u32) -> f32 {
  let taps = g.kh * g.kw;
  let c = k / taps; let a = (k % taps) / g.kw; let b = k % g.kw;
  let hw = g.ho * g.wo;
  let n = col / hw; let i = (col % hw) / g.wo; let j = col % g.wo;
  let yy = i32(i * g.s + a) - i32(g.p); let xx = i32(j * g.s + b) - i32(g.p);
  if (yy < 0 || yy >= i32(g.h) || xx < 0 || xx >= i32(g.w)) { return 0.0; }
  return src0[((n * g.c + c) * g.h + u32(yy)) * g.w + u32(xx)];
}
// d̃y[(o,a,b), (n,y,x)]: src0 is dy in mode 2
fn dy_tilde(g: Geo, k: u32, col: u32) -> f32 {
  let taps = g.kh * g.kw;
  let o = k / taps; let a = (k % taps) / g.kw; let b = k % g.kw;
  let hw = g.h * g.w;
  let n = col / hw; let yq = (col % hw) / g.w; let xq = col % g.w;
  let ty = i32(yq + g.p) - i32(a); let tx = i32(xq + g.p) - i32(b);
  if (ty < 0 || tx < 0 || u32(ty) % g.s != 0u || u32(tx) % g.s != 0u) { return 0.0; }
  let i = u32(ty) / g.s; let j = u32(tx) / g.s;
  if (i >= g.ho || j >= g.wo) { return 0.0; }
  return src0[((n * g.o + o) * g.ho + i) * g.wo + j];
}
fn dims(g: Geo) -> vec3<u32> { // M, N, K of the product
  let taps = g.kh * g.kw;
  switch MODE {
    case 0u: { return vec3<u32>(g.o, g.n * g.ho * g.wo, g.c * taps); }
    case 1u: { return vec3<u32>(g.o, g.c * taps, g.n * g.ho * g.wo); }
    default: { return vec3<u32>(g.c, g.n * g.h * g.w, g.o * taps); }
  }
}
var<private> cg: Geo; // this dispatch's geometry, set first thing in main
fn load_a(row: u32, k: u32) -> f32 {
  let taps = cg.kh * cg.kw;
  switch MODE {
    case 0u: { return src1[row * cg.c * taps + k]; } // w[o, (c,a,b)]
    case 1u: { // dy[o, (n,p)], stored [n, o, p]
      let hw = cg.ho * cg.wo;
      return src1[((k / hw) * cg.o + row) * hw + k % hw];
    }
    default: { return src1[((k / taps) * cg.c + row) * taps + k % taps]; } // w[o, c, a, b]
  }
}
fn load_b(k: u32, col: u32) -> f32 {
  switch MODE {
    case 0u: { return x_tilde(cg, k, col); }
    case 1u: { return x_tilde(cg, col, k); }
    default: { return dy_tilde(cg, k, col); }
  }
}
fn store(row: u32, col: u32, v: f32) {
  switch MODE {
    case 0u: {
      let hw = cg.ho * cg.wo;
      out[((col / hw) * cg.o + row) * hw + col % hw] = v + conv_bias(row);
    }
    case 1u: { out[row * cg.c * cg.kh * cg.kw + col] = v; }
    default: {
      let hw = cg.h * cg.w;
      out[((col / hw) * cg.c + row) * hw + col % hw] = v;
    }
  }
}
@compute @workgroup_size(16, 16, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  cg = geo();
  // the loop bounds come from the uniform parameters, not the private copy (barrier uniformity)
  let mnk = dims(geo());
  tiled_gemm(mnk.x, mnk.y, mnk.z, wid.y * TS, (wid.x + wid.z * 65535u) * TS, lid);
}`;

/** The product's M (rows) and N (columns), for the dispatch grid. */
export function convTiledDims(mode: 0 | 1 | 2, g: ConvGeometry): [number, number] {
  if (mode === 0) return [g.o, g.n * g.ho * g.wo];
  if (mode === 1) return [g.o, g.c * g.kh * g.kw];
  return [g.c, g.n * g.h * g.w];
}
