/**
 * Batched matmul with classic shared-memory tiling, the layout for real GPUs: a 16×16
 * workgroup stages a 64×16 tile of A and a 16×64 tile of B in workgroup memory per k-step, and
 * each invocation accumulates a 4×4 block of C in registers, so every operand element fetched
 * from global memory feeds 64 multiply-adds. (On lavapipe the lane-varying workgroup loads
 * become scalar loops; the autotuner measures rather than assumes.)
 */

import { PRELUDE } from "./common.ts";

export const TILE = 64;
const TK = 16;

// params as MATMUL: [0] batch, [1] M, [2] N, [3] K, [4..6] A strides, [8..10] B strides
export const MATMUL_TILED = PRELUDE + /* wgsl */ `
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
const TS = ${TILE}u;
const TK = ${TK}u;
var<workgroup> as_: array<f32, ${TILE * TK}>; // [k][row]
var<workgroup> bs: array<f32, ${TILE * TK}>;  // [k][col]
@compute @workgroup_size(16, 16, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let m = P(1u); let n = P(2u); let k = P(3u);
  let p = wid.z;
  let row0 = wid.y * TS; let col0 = wid.x * TS;
  let tid = lid.y * 16u + lid.x;
  let abase = p * P(4u); let bbase = p * P(8u);
  var acc0 = vec4<f32>(0.0); var acc1 = vec4<f32>(0.0); var acc2 = vec4<f32>(0.0); var acc3 = vec4<f32>(0.0);
  for (var k0 = 0u; k0 < k; k0 += TK) {
    for (var i = 0u; i < 4u; i++) {
      let e = tid + i * 256u;
      // A element (row e / TK, k e % TK); B element (k e / TS, col e % TS); zeros outside
      let ar = row0 + e / TK; let ak = k0 + e % TK;
      var av = 0.0;
      if (ar < m && ak < k) { av = a[abase + ar * P(5u) + ak * P(6u)]; }
      as_[(e % TK) * TS + e / TK] = av;
      let bk = k0 + e / TS; let bc = col0 + e % TS;
      var bv = 0.0;
      if (bk < k && bc < n) { bv = b[bbase + bk * P(9u) + bc * P(10u)]; }
      bs[e] = bv;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      let ra = kk * TS + lid.y * 4u;
      let cb = kk * TS + lid.x * 4u;
      let bv = vec4<f32>(bs[cb], bs[cb + 1u], bs[cb + 2u], bs[cb + 3u]);
      acc0 = fma(vec4<f32>(as_[ra]), bv, acc0);
      acc1 = fma(vec4<f32>(as_[ra + 1u]), bv, acc1);
      acc2 = fma(vec4<f32>(as_[ra + 2u]), bv, acc2);
      acc3 = fma(vec4<f32>(as_[ra + 3u]), bv, acc3);
    }
    workgroupBarrier();
  }
  let accs = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
  let col = col0 + lid.x * 4u;
  for (var r = 0u; r < 4u; r++) {
    let row = row0 + lid.y * 4u + r;
    if (row >= m) { break; }
    let base = (p * m + row) * n;
    for (var j = 0u; j < 4u; j++) {
      if (col + j < n) { out[base + col + j] = accs[r][j]; }
    }
  }
}`;
