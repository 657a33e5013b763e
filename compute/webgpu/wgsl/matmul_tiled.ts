/**
 * Batched matmul with classic shared-memory tiling, the layout for real GPUs: a W×W workgroup
 * (W = tile/4) stages a tile×16 slice of A and a 16×tile slice of B in workgroup memory per
 * k-step, and each invocation accumulates a 4×4 block of C in registers, so every operand
 * element fetched from global memory feeds tile multiply-adds. Tiles of 64 (16×16 invocations)
 * reuse most; tiles of 32 (8×8) give small products four times as many workgroups to spread
 * over a GPU's cores. (On lavapipe the lane-varying workgroup loads
 * become scalar loops; the autotuner measures rather than assumes.)
 *
 * The tile loop (`TILED_GEMM`) is shared with the implicit-GEMM convolutions
 * (conv2d_tiled.ts): a kernel supplies `load_a(row, k)`, `load_b(k, col)` and
 * `store(row, col, v)` and calls `tiled_gemm`.
 */

import { PRELUDE } from "./common.ts";
import { MATMUL_BIAS } from "./matmul.ts";

/** The convolutions' tile; the matmul may also take TILE_SMALL (the autotuner's choice). */
export const TILE = 64;
export const TILE_SMALL = 32;
export type Tile = typeof TILE | typeof TILE_SMALL;
const TK = 16;

/** C (m × n) = A (m × k) · B (k × n) for the workgroup's tile × tile block at (row0, col0). */
export const tiledGemm = (tile: Tile) => {
  const w = tile / 4, threads = w * w;
  return /* wgsl */ `
const TS = ${tile}u;
const TK = ${TK}u;
const WG = ${w}u;
var<workgroup> as_: array<f32, ${tile * TK}>; // [k][row]
var<workgroup> bs: array<f32, ${tile * TK}>;  // [k][col]
fn tiled_gemm(m: u32, n: u32, k: u32, row0: u32, col0: u32, lid: vec3<u32>) {
  let tid = lid.y * WG + lid.x;
  var acc0 = vec4<f32>(0.0); var acc1 = vec4<f32>(0.0); var acc2 = vec4<f32>(0.0); var acc3 = vec4<f32>(0.0);
  for (var k0 = 0u; k0 < k; k0 += TK) {
    for (var i = 0u; i < ${(tile * TK) / threads}u; i++) {
      let e = tid + i * ${threads}u;
      // A element (row e / TK, k e % TK); B element (k e / TS, col e % TS); zeros outside
      let ar = row0 + e / TK; let ak = k0 + e % TK;
      var av = 0.0;
      if (ar < m && ak < k) { av = load_a(ar, ak); }
      as_[(e % TK) * TS + e / TK] = av;
      let bk = k0 + e / TS; let bc = col0 + e % TS;
      var bv = 0.0;
      if (bk < k && bc < n) { bv = load_b(bk, bc); }
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
    for (var j = 0u; j < 4u; j++) {
      if (col + j < n) { store(row, col + j, accs[r][j]); }
    }
  }
}`;
};
export const TILED_GEMM = tiledGemm(TILE);

// params as MATMUL: [0] batch, [1] M, [2] N, [3] K, [4..6] A strides, [8..10] B strides
export const matmulTiledCode = (tile: Tile) =>
  PRELUDE + MATMUL_BIAS + tiledGemm(tile) + /* wgsl */ `
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
var<private> batch: u32;
fn load_a(r: u32, q: u32) -> f32 { return a[batch * P(4u) + r * P(5u) + q * P(6u)]; }
fn load_b(q: u32, c: u32) -> f32 { return b[batch * P(8u) + q * P(9u) + c * P(10u)]; }
fn store(r: u32, c: u32, v: f32) { out[(batch * P(1u) + r) * P(2u) + c] = with_bias(v, c); }
@compute @workgroup_size(${tile / 4}, ${tile / 4}, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  batch = wid.z;
  tiled_gemm(P(1u), P(2u), P(3u), wid.y * TS, wid.x * TS, lid);
}`;
