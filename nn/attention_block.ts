/**
 * Self-attention over the H·W positions of a feature map, DDPM's `AttnBlock` as DDPM++ uses it
 * (Song et al. 2021, score_sde's `AttnBlockpp` with `skip_rescale`):
 *
 *   h   = GN(x);  q, k, v = 1×1 projections of h (per-position dense layers over channels)
 *   out = (x + proj(softmax(q kᵀ/√C) v)) / √2      (single head; proj starts at zero)
 *
 * The 1×1 projections are matmuls over a [N·H·W, C] view rather than 1×1 convolutions: the
 * attention needs the positions-by-channels layout anyway, and matmul is the fast kernel.
 */

import {
  add,
  attention,
  type Backend,
  type DType,
  mul,
  permute,
  reshape,
  type Rng,
  type Tensor,
} from "../compute/mod.ts";
import { initDense, NIN_INIT_SCALE } from "./conv2d.ts";
import {
  groupNormLayer,
  groupNormParamCount,
  type GroupNormParams,
  initGroupNorm,
} from "./group_norm.ts";
import { linear, type LinearParams } from "./linear.ts";

/** GroupNorm and the four per-position dense layers [C, C] (q, k, v and the output). */
export type AttentionBlockParams = {
  norm: GroupNormParams;
  q: LinearParams;
  k: LinearParams;
  v: LinearParams;
  out: LinearParams;
};

/** A fresh block: q, k, v at 0.1 scale, the output projection at zero. */
export function initAttentionBlock(
  backend: Backend,
  rng: Rng,
  channels: number,
  dtype: DType,
): AttentionBlockParams {
  const dense = (name: string, scale: number) =>
    initDense(backend, rng.derive(name), channels, channels, dtype, scale);
  return {
    norm: initGroupNorm(backend, channels, dtype),
    q: dense("q", NIN_INIT_SCALE),
    k: dense("k", NIN_INIT_SCALE),
    v: dense("v", NIN_INIT_SCALE),
    // Zero, so a fresh block is x/√2 (score_sde's NIN_3 with init_scale = 0).
    out: dense("out", 0),
  };
}

/** x: [N, C, H, W] → [N, C, H, W]. */
export function attentionBlock(p: AttentionBlockParams, x: Tensor, groups: number): Tensor {
  const [n, c, hh, ww] = x.shape;
  const l = hh * ww;
  const rows = reshape(permute(groupNormLayer(p.norm, x, groups), [0, 2, 3, 1]), [n * l, c]);
  const heads = (q: LinearParams) => reshape(linear(q, rows), [n, l, c]);
  const a = attention(heads(p.q), heads(p.k), heads(p.v));
  const h = reshape(linear(p.out, reshape(a, [n * l, c])), [n, hh, ww, c]);
  return mul(add(x, permute(h, [0, 3, 1, 2])), Math.SQRT1_2);
}

/** GroupNorm plus four C×C dense layers with biases. */
export function attentionBlockParamCount(channels: number): number {
  return groupNormParamCount(channels) + 4 * (channels * channels + channels);
}
