/**
 * Row statistics and standardisation (group norm's core) in one dispatch per call: a workgroup
 * of 64 owns a row, each invocation strides over it, and partial sums meet in workgroup memory.
 * The variance is two-pass (Σ(x − μ)² after μ), as accurate as the composed form it replaces.
 */

import { PRELUDE } from "./common.ts";

const stats = (bindings: string) =>
  PRELUDE + bindings + /* wgsl */ `
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
// params: [0] rows, [1] cols, [2] eps (f32), [3] groups, [4] spatial (group norm)
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

const IN_OUT = /* wgsl */ `
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;`;

export const NORMALIZE_ROWS = stats(IN_OUT).replace(
  "WRITE",
  "for (var i = lid; i < cols; i += 64u) { out[base + i] = (x[base + i] - mean) * rstd; }",
);
// groupNorm's input gradient (Backend.groupNormInputGrad): per row, two more workgroup sums of
// u = dy·γ and u·x̂, then dx = ρ (u − mean(u) − x̂ · mean(u x̂)); four reads of the row in all.
export const GROUP_NORM_INPUT_GRAD = stats(/* wgsl */ `
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;`).replace(
  "WRITE",
  /* wgsl */ `let spatial = P(4u);
  let c0 = (row % P(3u)) * (cols / spatial);
  var su = 0.0;
  var sux = 0.0;
  for (var i = lid; i < cols; i += 64u) {
    let u = dy[base + i] * gamma[c0 + i / spatial];
    su += u;
    sux += u * (x[base + i] - mean) * rstd;
  }
  let mu = workgroup_sum(su, lid) / f32(cols);
  let mux = workgroup_sum(sux, lid) / f32(cols);
  for (var i = lid; i < cols; i += 64u) {
    let u = dy[base + i] * gamma[c0 + i / spatial];
    out[base + i] = rstd * (u - mu - (x[base + i] - mean) * rstd * mux);
  }`,
);
export const ROW_RSTD = stats(IN_OUT).replace("WRITE", "if (lid == 0u) { out[row] = rstd; }");
// row = (example, group); element i of the row lies in channel group·(C/groups) + i / spatial
export const GROUP_NORM = stats(/* wgsl */ `
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;`).replace(
  "WRITE",
  /* wgsl */ `let spatial = P(4u);
  let c0 = (row % P(3u)) * (cols / spatial);
  for (var i = lid; i < cols; i += 64u) {
    let c = c0 + i / spatial;
    out[base + i] = (x[base + i] - mean) * rstd * gamma[c] + beta[c];
  }`,
);
