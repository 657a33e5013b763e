/**
 * Batched matmul. Operand strides travel as uniforms, so transposed operands cost nothing.
 *
 * Layout chosen for CPU-backed adapters (lavapipe runs a workgroup of 8 lanes as one SIMD
 * vector and turns every lane-varying load into a scalar loop): a workgroup of 8 lanes owns
 * 4 rows × (8·4) columns; A is indexed only by workgroup id and loop counter, so its loads are
 * uniform, and each lane keeps its 4×4 block in four vec4 registers (no private arrays, which
 * would live in memory).
 */

import { PRELUDE } from "./common.ts";

/**
 * Every matmul kernel may add a bias along its output's last axis as it stores (BIAS = 1):
 * a dense layer's x W + b in one pass. Without one, binding 4 holds a placeholder never read.
 */
export const MATMUL_BIAS = /* wgsl */ `
override BIAS: u32 = 0u;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
fn with_bias(v: f32, col: u32) -> f32 {
  if (BIAS == 1u) { return v + bias[col]; }
  return v;
}`;

export const MATMUL_LANES = 8;
export const MATMUL_ROWS = 4;
export const MATMUL_COLS = 4;

// params: [0] batch, [1] M, [2] N, [3] K, [4..6] A strides (batch, row, col), [8..10] B strides
export const MATMUL = PRELUDE + MATMUL_BIAS + /* wgsl */ `
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(${MATMUL_LANES}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let m = P(1u); let n = P(2u); let k = P(3u);
  let row0 = wid.y * 4u;
  let col0 = (wid.x * ${MATMUL_LANES}u + lid.x) * 4u;
  let p = wid.z;
  let sar = P(5u); let sac = P(6u); let sbr = P(9u); let sbc = P(10u);
  // Clamped indices keep every load in bounds; the stores below are guarded instead.
  let c = vec4<u32>(min(col0, n - 1u), min(col0 + 1u, n - 1u), min(col0 + 2u, n - 1u), min(col0 + 3u, n - 1u)) * sbc;
  let ab = p * P(4u);
  let r0 = ab + min(row0, m - 1u) * sar;
  let r1 = ab + min(row0 + 1u, m - 1u) * sar;
  let r2 = ab + min(row0 + 2u, m - 1u) * sar;
  let r3 = ab + min(row0 + 3u, m - 1u) * sar;
  var acc0 = vec4<f32>(0.0); var acc1 = vec4<f32>(0.0); var acc2 = vec4<f32>(0.0); var acc3 = vec4<f32>(0.0);
  var brow = p * P(8u);
  var ak = 0u;
  for (var q = 0u; q < k; q++) {
    let bv = vec4<f32>(b[brow + c.x], b[brow + c.y], b[brow + c.z], b[brow + c.w]);
    acc0 = fma(vec4<f32>(a[r0 + ak]), bv, acc0);
    acc1 = fma(vec4<f32>(a[r1 + ak]), bv, acc1);
    acc2 = fma(vec4<f32>(a[r2 + ak]), bv, acc2);
    acc3 = fma(vec4<f32>(a[r3 + ak]), bv, acc3);
    brow += sbr;
    ak += sac;
  }
  let accs = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
  for (var r = 0u; r < 4u; r++) {
    let row = row0 + r;
    if (row >= m) { break; }
    let base = (p * m + row) * n;
    for (var j = 0u; j < 4u; j++) {
      if (col0 + j < n) { out[base + col0 + j] = with_bias(accs[r][j], col0 + j); }
    }
  }
}`;
