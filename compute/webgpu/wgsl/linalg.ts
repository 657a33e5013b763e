/**
 * Small dense linear algebra for r ≤ 32 (Likelihood Matching's r×r systems): one thread per
 * matrix (Cholesky) or per right-hand-side column (triangular solve); sequential loops are
 * right for matrices this small.
 */

import { MAIN_1D, PRELUDE } from "./common.ts";

// params: [0] batch, [1] r
export const CHOLESKY = PRELUDE + /* wgsl */ `
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read_write> l: array<f32>;
${MAIN_1D} {
  let p = flat_index(gid, nwg);
  if (p >= P(0u)) { return; }
  let r = P(1u);
  let o = p * r * r;
  for (var j = 0u; j < r; j++) {
    var s = a[o + j * r + j];
    for (var k = 0u; k < j; k++) { s -= l[o + j * r + k] * l[o + j * r + k]; }
    let diag = sqrt(s);
    l[o + j * r + j] = diag;
    for (var i = j + 1u; i < r; i++) {
      var t = a[o + i * r + j];
      for (var k = 0u; k < j; k++) { t -= l[o + i * r + k] * l[o + j * r + k]; }
      l[o + i * r + j] = t / diag;
      l[o + j * r + i] = 0.0;
    }
  }
}`;

// params: [0] batch·m, [1] r, [2] m, [3] transpose
export const TRIANGULAR_SOLVE = PRELUDE + /* wgsl */ `
@group(0) @binding(1) var<storage, read> l: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> x: array<f32>;
${MAIN_1D} {
  let id = flat_index(gid, nwg);
  if (id >= P(0u)) { return; }
  let r = P(1u); let m = P(2u); let t = P(3u) == 1u;
  let p = id / m; let c = id % m;
  let lo = p * r * r; let bo = p * r * m;
  for (var step = 0u; step < r; step++) {
    let i = select(step, r - 1u - step, t);
    var s = b[bo + i * m + c];
    for (var step2 = 0u; step2 < step; step2++) {
      let k = select(step2, r - 1u - step2, t);
      let lik = select(l[lo + i * r + k], l[lo + k * r + i], t);
      s -= lik * x[bo + k * m + c];
    }
    x[bo + i * m + c] = s / l[lo + i * r + i];
  }
}`;
