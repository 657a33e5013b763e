/** Kernels that write fresh values: counter-based random draws and the fused Adam(W) update. */

import { MAIN_1D, PRELUDE } from "./common.ts";
import { PHILOX_WGSL } from "./philox.ts";

export const randomKindCodes = { uniform: 0, normal: 1, rademacher: 2, truncnormal: 3 } as const;

// params: [0] n, [1] kind, [2..3] key, [4..5] counter (lo, hi), [6] bound bits
export const RANDOM = PRELUDE + PHILOX_WGSL + /* wgsl */ `
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
${MAIN_1D} {
  let i = flat_index(gid, nwg);
  if (i >= P(0u)) { return; }
  out[i] = sample_element(P(1u), vec2<u32>(P(2u), P(3u)), vec2<u32>(P(4u), P(5u)), i, Pf(6u));
}`;

// params: [0] n, [1] lr, [2] β1, [3] β2, [4] ε, [5] weight decay, [6] 1−β1^t, [7] 1−β2^t
export const ADAM = PRELUDE + /* wgsl */ `
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
@group(0) @binding(5) var<storage, read> gate: array<f32>;
${MAIN_1D} {
  let i = flat_index(gid, nwg);
  if (i >= P(0u) || gate[0] == 0.0) { return; }
  let g = grad[i];
  let b1 = Pf(2u); let b2 = Pf(3u);
  let mi = b1 * m[i] + (1.0 - b1) * g;
  let vi = b2 * v[i] + (1.0 - b2) * g * g;
  m[i] = mi;
  v[i] = vi;
  let step = (mi / Pf(6u)) / (sqrt(vi / Pf(7u)) + Pf(4u));
  param[i] = param[i] - Pf(1u) * (step + Pf(5u) * param[i]);
}`;
