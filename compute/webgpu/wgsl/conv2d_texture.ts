/**
 * Pack kernels of the texture-lowered convolution for CPU-backed adapters, and its kernel table
 * (the product is `convGemm` in conv2d.ts; the plan is ../conv2d_texture.ts).
 *
 * lavapipe runs 8 lanes as one SIMD vector and splits every lane-varying storage load into 8
 * scalar loads with bounds checks (~6 ns a float measured here), while one texel load brings
 * four floats. So the image is packed once into "shifted rows": for each kernel column b,
 * texel (q·wr + xt, (b·nc + n)·Hp + y) holds src[n, q, y + oy, s·(4xt + e) + b + ox] for
 * e = 0..3: kernel column b of output columns 4xt .. 4xt+3, zero outside the image. The
 * product then reads tap (q, a, b) of output texel (n, i, xt) as one texel at
 * (q·wr + xt, (b·nc + n)·Hp + s·i + a): an implicit im2col that packs kw·|src| texels instead
 * of kh·kw·|src| (measured: the explicit im2col pack cost as much as the product).
 * Output rows are padded to wr = ⌈Wo/4⌉ texels, so a texel never straddles two rows.
 */

import { PRELUDE } from "./common.ts";
import { convGemm } from "./conv2d.ts";

/** Lanes of a pack workgroup: part of one texture row, so the row's arithmetic is uniform. */
export const CONV_PACK_LANES = 32;

const MAIN_2D = /* wgsl */ `
@compute @workgroup_size(${CONV_PACK_LANES})
fn main(@builtin(global_invocation_id) gid: vec3<u32>)`;

// Shifted rows of src [N, Q, Hs, Ws], images n0.., channels q0.. (see above); layer b is the
// texture's y / layerRows. Output columns j = 4xt + e ≥ Wo stay zero, so a NaN the
// convolution never reads cannot reach a product.
// params: [1] width, [2] Q, [3] Hs, [4] Ws, [5] wr, [6] Hp, [7] s, [8] oy, [9] ox, [10] N,
// [11] n0, [12] q0, [13] layer rows (nc·Hp), [14] Wo
export const CONV_PACK_ROWS = PRELUDE + /* wgsl */ `
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var tex: texture_storage_2d<rgba32float, write>;
${MAIN_2D} {
  let x = gid.x;
  if (x >= P(1u)) { return; }
  let wr = P(5u); let hp = P(6u); let s = P(7u); let hs = P(3u); let ws = P(4u);
  let b = gid.y / P(13u);
  let yl = gid.y % P(13u);
  let n = P(11u) + yl / hp;
  let q = P(12u) + x / wr;
  let xt = x % wr;
  let row = i32(yl % hp) + i32(P(8u));
  var v = vec4<f32>(0.0);
  if (n < P(10u) && q < P(2u) && row >= 0 && u32(row) < hs) {
    let base = ((n * P(2u) + q) * hs + u32(row)) * ws;
    for (var e = 0u; e < 4u; e++) {
      let col = i32(s * (4u * xt + e) + b) + i32(P(9u));
      if (4u * xt + e < P(14u) && col >= 0 && u32(col) < ws) { v[e] = src[base + u32(col)]; }
    }
  }
  textureStore(tex, vec2<u32>(x, gid.y), v);
}`;

// dy [N, O, Ho, Wo] as the weight gradient's B operand (k = output positions):
// texel (ox, 4·kt + e) = dy[n0 + n, 4ox .. 4ox+3, i, 4xt + e], where k step kt = (n, i, xt)
// runs over nc images × Ho rows × wr texels, zero beyond O and for columns ≥ Wo.
// params: [1] width ⌈O/4⌉, [2] O, [3] Ho, [4] Wo, [5] wr, [6] N, [7] n0
export const CONV_PACK_CHANNELS = PRELUDE + /* wgsl */ `
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var tex: texture_storage_2d<rgba32float, write>;
${MAIN_2D} {
  let x = gid.x;
  if (x >= P(1u)) { return; }
  let nch = P(2u); let ho = P(3u); let wo = P(4u); let wr = P(5u);
  let kt = gid.y / 4u;
  let n = P(7u) + kt / (ho * wr);
  let i = (kt / wr) % ho;
  let j = (kt % wr) * 4u + gid.y % 4u;
  var v = vec4<f32>(0.0);
  if (n < P(6u) && j < wo) {
    for (var e = 0u; e < 4u; e++) {
      let o = 4u * x + e;
      if (o < nch) { v[e] = dy[((n * nch + o) * ho + i) * wo + j]; }
    }
  }
  textureStore(tex, vec2<u32>(x, gid.y), v);
}`;

// Weights as the A operand: texel (kx, y) = A[m0 + y, k0 + 4kx .. +3], zero beyond the
// chunk's Kc, with k = (q, a, b) over `taps = kh'·kw'` and
// A[row, k] = w[base + row·rs + q·qs + a·as + b·bs]. Strides are two's-complement u32, so the
// flipped sub-kernels of the input gradient are negative strides (u32 arithmetic wraps).
// Weights are small: this kernel's cost does not matter.
// params: [1] width, [2] Kc, [3] k0, [4] taps, [5] kw', [6] base, [7] rs, [8] qs, [9] as,
// [10] bs, [11] m0
export const CONV_PACK_WEIGHTS = PRELUDE + /* wgsl */ `
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var tex: texture_storage_2d<rgba32float, write>;
${MAIN_2D} {
  let kx = gid.x;
  if (kx >= P(1u)) { return; }
  let row = P(11u) + gid.y;
  var v = vec4<f32>(0.0);
  for (var j = 0u; j < 4u; j++) {
    let kl = kx * 4u + j;
    if (kl < P(2u)) {
      let k = P(3u) + kl;
      let q = k / P(4u); let t = k % P(4u);
      v[j] = w[P(6u) + row * P(7u) + q * P(8u) + (t / P(5u)) * P(9u) + (t % P(5u)) * P(10u)];
    }
  }
  textureStore(tex, vec2<u32>(kx, gid.y), v);
}`;

const pack = ["read", "storageTexture"] as const;
const product = ["texture", "texture", "write", "read"] as const;

/** Product variants: which operand reads shifted rows, rows and column texels per lane. */
export const CONV_GEMM_TILES = {
  convGemmB: ["b", 16, 4],
  convGemmBShort: ["b", 4, 4],
  convGemmA: ["a", 16, 4],
  convGemmA2: ["a", 16, 2],
  convGemmA1: ["a", 16, 1],
} as const;

/** The texture lowering's kernels with their bindings, for the kernel registry (kernels.ts). */
export const CONV_TEXTURE_KERNELS = {
  convPackRows: { code: CONV_PACK_ROWS, bindings: pack },
  convPackChannels: { code: CONV_PACK_CHANNELS, bindings: pack },
  convPackWeights: { code: CONV_PACK_WEIGHTS, bindings: pack },
  convGemmB: { code: convGemm(...CONV_GEMM_TILES.convGemmB), bindings: product },
  convGemmBShort: { code: convGemm(...CONV_GEMM_TILES.convGemmBShort), bindings: product },
  convGemmA: { code: convGemm(...CONV_GEMM_TILES.convGemmA), bindings: product },
  convGemmA2: { code: convGemm(...CONV_GEMM_TILES.convGemmA2), bindings: product },
  convGemmA1: { code: convGemm(...CONV_GEMM_TILES.convGemmA1), bindings: product },
};
