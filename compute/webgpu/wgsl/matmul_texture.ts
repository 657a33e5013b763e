/**
 * Matmul through textures, for CPU-backed adapters. lavapipe executes 8 lanes as one SIMD
 * vector and turns each storage-buffer load into a per-lane scalar load (~5 ns a float),
 * while a texel load brings four floats for about half of that. So both operands are first
 * packed into rgba32float textures (one dispatch each; strides, transposes and zero padding
 * handled there), and the product reads only texels: per lane and four k-steps, ROWS + 4
 * texel loads feed 16·ROWS FMAs.
 */

import { MAIN_1D, PRELUDE } from "./common.ts";
import { MATMUL_BIAS } from "./matmul.ts";

export const TEX_LANES = 8;
/** Accumulator rows per invocation the autotuner may pick from (4 is the untuned default). */
export const TEX_ROW_CHOICES = [4, 8, 16] as const;
export type TexRows = typeof TEX_ROW_CHOICES[number];

// Packs X (batch × R × C, strided) into texels along C: texel (cx, p·Rp + r) holds
// X[p, r, 4cx .. 4cx+3], zero beyond C or beyond R (rows are padded to Rp).
// params: [0] texel count, [1] R, [2] C, [3] Rp, [4] texels per row, [5..7] strides (batch, row, col)
export const PACK = PRELUDE + /* wgsl */ `
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var tex: texture_storage_2d<rgba32float, write>;
${MAIN_1D} {
  let i = flat_index(gid, nwg);
  if (i >= P(0u)) { return; }
  let rows = P(1u); let cols = P(2u); let rp = P(3u); let width = P(4u);
  let cx = i % width;
  let y = i / width;
  let p = y / rp;
  let r = y % rp;
  var v = vec4<f32>(0.0);
  if (r < rows) {
    let base = p * P(5u) + r * P(6u);
    for (var j = 0u; j < 4u; j++) {
      let c = cx * 4u + j;
      if (c < cols) { v[j] = x[base + c * P(7u)]; }
    }
  }
  textureStore(tex, vec2<u32>(cx, y), v);
}`;

// A packed along k (width ⌈K/4⌉, rows M per batch); B packed along n (width ⌈N/4⌉, rows Kp
// per batch, Kp = 4⌈K/4⌉, zero padded). A workgroup owns ROWS rows × 8 lanes × 4 columns: more
// rows reuse each B texel more often, at the cost of registers and of idle rows when M is small.
// params: [0] batch, [1] M, [2] N, [3] K, [4] Kp
export const matmulTextureCode = (ROWS: TexRows) =>
  PRELUDE + MATMUL_BIAS + /* wgsl */ `
@group(0) @binding(1) var ta: texture_2d<f32>;
@group(0) @binding(2) var tb: texture_2d<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
const ROWS = ${ROWS}u;
@compute @workgroup_size(${TEX_LANES}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let m = P(1u); let n = P(2u); let k = P(3u); let kp = P(4u);
  let p = wid.z;
  let row0 = wid.y * ROWS;
  let ng = wid.x * ${TEX_LANES}u + lid.x;
  let ngx = min(ng, (n + 3u) / 4u - 1u);
  var rows: array<u32, ROWS>;
  for (var r = 0u; r < ROWS; r++) { rows[r] = p * m + min(row0 + r, m - 1u); }
  var acc: array<vec4<f32>, ROWS>;
  let by = p * kp;
  for (var kq = 0u; kq < kp / 4u; kq++) {
    let b0 = textureLoad(tb, vec2<u32>(ngx, by + 4u * kq), 0);
    let b1 = textureLoad(tb, vec2<u32>(ngx, by + 4u * kq + 1u), 0);
    let b2 = textureLoad(tb, vec2<u32>(ngx, by + 4u * kq + 2u), 0);
    let b3 = textureLoad(tb, vec2<u32>(ngx, by + 4u * kq + 3u), 0);
    for (var r = 0u; r < ROWS; r++) {
      let av = textureLoad(ta, vec2<u32>(kq, rows[r]), 0);
      // k in increasing order, one fma each, as every matmul variant: the variants then agree
      // bit for bit, so no choice among them (tuned or by shape) changes a result
      acc[r] = fma(vec4<f32>(av.w), b3, fma(vec4<f32>(av.z), b2, fma(vec4<f32>(av.y), b1, fma(vec4<f32>(av.x), b0, acc[r]))));
    }
  }
  let col0 = ng * 4u;
  for (var r = 0u; r < ROWS; r++) {
    let row = row0 + r;
    if (row >= m) { break; }
    let base = (p * m + row) * n;
    for (var j = 0u; j < 4u; j++) {
      if (col0 + j < n) { out[base + col0 + j] = with_bias(acc[r][j], col0 + j); }
    }
  }
}`;
