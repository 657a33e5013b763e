/**
 * Batched matmul, one thread per output element. Operand strides travel as uniforms, so
 * transposed operands cost nothing. (Tiled variants per adapter come with the performance work.)
 */

import { PRELUDE } from "./common.ts";

export const MATMUL_TILE = 8;

// params: [0] batch, [1] M, [2] N, [3] K, [4..6] A strides (batch, row, col), [8..10] B strides
export const MATMUL = PRELUDE + /* wgsl */ `
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(${MATMUL_TILE}, ${MATMUL_TILE}, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let m = P(1u); let n = P(2u); let k = P(3u);
  let col = gid.x; let row = gid.y; let p = gid.z;
  if (row >= m || col >= n) { return; }
  var ia = p * P(4u) + row * P(5u);
  var ib = p * P(8u) + col * P(10u);
  let sa = P(6u); let sb = P(9u);
  var acc = 0.0;
  for (var q = 0u; q < k; q++) {
    acc += a[ia] * b[ib];
    ia += sa;
    ib += sb;
  }
  out[(p * m + row) * n + col] = acc;
}`;
