/**
 * Row statistics and standardisation (group norm's core) in one dispatch per call: a workgroup
 * of 64 owns a row, each invocation strides over it, and partial sums meet in workgroup memory.
 * The variance is two-pass (Σ(x − μ)² after μ), as accurate as the composed form it replaces.
 */

import { PRELUDE } from "./common.ts";

const STATS = PRELUDE + /* wgsl */ `
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
var<workgroup> part: array<f32, 64>;
fn workgroup_sum(v: f32, lid: u32) -> f32 {
  part[lid] = v;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (lid < s) { part[lid] += part[lid + s]; }
    workgroupBarrier();
  }
  let total = part[0];
  workgroupBarrier();
  return total;
}
// params: [0] rows, [1] cols, [2] eps (f32)
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>) {
  let row = wid.x + wid.y * 65535u;
  if (row >= P(0u)) { return; }
  let cols = P(1u); let base = row * cols; let lid = l.x;
  var s = 0.0;
  for (var i = lid; i < cols; i += 64u) { s += x[base + i]; }
  let mean = workgroup_sum(s, lid) / f32(cols);
  var q = 0.0;
  for (var i = lid; i < cols; i += 64u) { let dv = x[base + i] - mean; q += dv * dv; }
  let rstd = inverseSqrt(workgroup_sum(q, lid) / f32(cols) + Pf(2u));
  WRITE
}`;

export const NORMALIZE_ROWS = STATS.replace(
  "WRITE",
  "for (var i = lid; i < cols; i += 64u) { out[base + i] = (x[base + i] - mean) * rstd; }",
);
export const ROW_RSTD = STATS.replace("WRITE", "if (lid == 0u) { out[row] = rstd; }");
