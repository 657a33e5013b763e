/**
 * Direct 2-D convolution kernels, one thread per output element, gathering (no atomics):
 * forward, input gradient and weight gradient. Correct for every stride and padding; the
 * implicit-GEMM variants belong to the performance work.
 */

import { MAIN_1D, PRELUDE } from "./common.ts";

// params: [0] count, [1] n, [2] c, [3] h, [4] w, [5] o, [6] kh, [7] kw, [8] stride, [9] pad, [10] ho, [11] wo
const GEOMETRY = /* wgsl */ `
struct Geo { n: u32, c: u32, h: u32, w: u32, o: u32, kh: u32, kw: u32, s: u32, p: u32, ho: u32, wo: u32 }
fn geo() -> Geo {
  return Geo(P(1u), P(2u), P(3u), P(4u), P(5u), P(6u), P(7u), P(8u), P(9u), P(10u), P(11u));
}`;

export const CONV2D = PRELUDE + GEOMETRY + /* wgsl */ `
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
${MAIN_1D} {
  let id = flat_index(gid, nwg);
  if (id >= P(0u)) { return; }
  let g = geo();
  let j = id % g.wo; let i = (id / g.wo) % g.ho; let o = (id / (g.wo * g.ho)) % g.o; let n = id / (g.wo * g.ho * g.o);
  var acc = 0.0;
  for (var c = 0u; c < g.c; c++) {
    for (var a = 0u; a < g.kh; a++) {
      let yy = i32(i * g.s + a) - i32(g.p);
      if (yy < 0 || yy >= i32(g.h)) { continue; }
      for (var b = 0u; b < g.kw; b++) {
        let xx = i32(j * g.s + b) - i32(g.p);
        if (xx < 0 || xx >= i32(g.w)) { continue; }
        acc += x[((n * g.c + c) * g.h + u32(yy)) * g.w + u32(xx)] * wt[((o * g.c + c) * g.kh + a) * g.kw + b];
      }
    }
  }
  y[id] = acc;
}`;

export const CONV2D_INPUT_GRAD = PRELUDE + GEOMETRY + /* wgsl */ `
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
${MAIN_1D} {
  let id = flat_index(gid, nwg);
  if (id >= P(0u)) { return; }
  let g = geo();
  let xx = id % g.w; let yy = (id / g.w) % g.h; let c = (id / (g.w * g.h)) % g.c; let n = id / (g.w * g.h * g.c);
  var acc = 0.0;
  for (var a = 0u; a < g.kh; a++) {
    // output row i with i·s − p + a = yy
    let ti = i32(yy + g.p) - i32(a);
    if (ti < 0 || ti % i32(g.s) != 0) { continue; }
    let i = u32(ti) / g.s;
    if (i >= g.ho) { continue; }
    for (var b = 0u; b < g.kw; b++) {
      let tj = i32(xx + g.p) - i32(b);
      if (tj < 0 || tj % i32(g.s) != 0) { continue; }
      let j = u32(tj) / g.s;
      if (j >= g.wo) { continue; }
      for (var o = 0u; o < g.o; o++) {
        acc += dy[((n * g.o + o) * g.ho + i) * g.wo + j] * wt[((o * g.c + c) * g.kh + a) * g.kw + b];
      }
    }
  }
  dx[id] = acc;
}`;

export const CONV2D_WEIGHT_GRAD = PRELUDE + GEOMETRY + /* wgsl */ `
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dw: array<f32>;
${MAIN_1D} {
  let id = flat_index(gid, nwg);
  if (id >= P(0u)) { return; }
  let g = geo();
  let b = id % g.kw; let a = (id / g.kw) % g.kh; let c = (id / (g.kw * g.kh)) % g.c; let o = id / (g.kw * g.kh * g.c);
  var acc = 0.0;
  for (var n = 0u; n < g.n; n++) {
    for (var i = 0u; i < g.ho; i++) {
      let yy = i32(i * g.s + a) - i32(g.p);
      if (yy < 0 || yy >= i32(g.h)) { continue; }
      for (var j = 0u; j < g.wo; j++) {
        let xx = i32(j * g.s + b) - i32(g.p);
        if (xx < 0 || xx >= i32(g.w)) { continue; }
        acc += x[((n * g.c + c) * g.h + u32(yy)) * g.w + u32(xx)] * dy[((n * g.o + o) * g.ho + i) * g.wo + j];
      }
    }
  }
  dw[id] = acc;
}`;
