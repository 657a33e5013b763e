/**
 * The modules of score_sde's NCSN++ (`models/layerspp.py`), each evaluated from the state-dict
 * entries under its own name `k`: dense and convolution layers, GroupNorm, `NIN`, the attention
 * block, the two residual blocks, the `Upsample`/`Downsample` modules (nearest/average or FIR,
 * with or without a convolution) and `Combine`. nn/ncsnpp.ts walks them in the original's order.
 */

import {
  add,
  avgPool2x2,
  concat,
  conv2d,
  groupNorm,
  matmul,
  mul,
  pad,
  permute,
  reshape,
  silu,
  softmax,
  type Tensor,
  upsampleNearest2x,
} from "../compute/mod.ts";
import { firDownsample, firDownsampleConv, firUpsample, firUpsampleConv } from "./ncsnpp_fir.ts";
import type { NcsnppConfig, NcsnppParams } from "./ncsnpp.ts";

export const groupsOf = (channels: number) => Math.min(Math.floor(channels / 4), 32);

/** `nn.Linear`: x [N, in] · weightᵀ + bias. */
export function dense(p: NcsnppParams, k: string, x: Tensor): Tensor {
  return add(matmul(x, p[`${k}.weight`], false, true), p[`${k}.bias`]);
}

export function conv(p: NcsnppParams, k: string, x: Tensor, stride = 1, padding = 1): Tensor {
  return conv2d(x, p[`${k}.weight`], { stride, padding }, p[`${k}.bias`]);
}

export function norm(p: NcsnppParams, k: string, x: Tensor): Tensor {
  return groupNorm(x, groupsOf(x.shape[1]), p[`${k}.weight`], p[`${k}.bias`], 1e-6);
}

/** `NIN`: a per-position dense layer, W [in, out], over [N, C, H, W]. */
function nin(p: NcsnppParams, k: string, x: Tensor): Tensor {
  const [n, c, h, w] = x.shape;
  const rows = reshape(permute(x, [0, 2, 3, 1]), [n * h * w, c]);
  const y = add(matmul(rows, p[`${k}.W`]), p[`${k}.b`]);
  return permute(reshape(y, [n, h, w, y.shape[1]]), [0, 3, 1, 2]);
}

/** x + h, over √2 with `skip_rescale` (residual blocks, attention, the progressive paths). */
export const rescale = (c: NcsnppConfig, x: Tensor, h: Tensor) =>
  c.skipRescale ? mul(add(x, h), Math.SQRT1_2) : add(x, h);

/** `AttnBlockpp`: single-head self-attention over the H·W positions. */
export function attnBlock(p: NcsnppParams, c: NcsnppConfig, k: string, x: Tensor): Tensor {
  const [n, ch, hh, ww] = x.shape, l = hh * ww;
  const h = norm(p, `${k}.GroupNorm_0`, x);
  // [N, L, C] rows of q, k, v
  const rows = (i: number) =>
    reshape(permute(nin(p, `${k}.NIN_${i}`, h), [0, 2, 3, 1]), [n, l, ch]);
  const q = rows(0), kk = rows(1), v = rows(2);
  const w = softmax(mul(matmul(q, kk, false, true), 1 / Math.sqrt(ch)), -1);
  const a = permute(reshape(matmul(w, v), [n, hh, ww, ch]), [0, 3, 1, 2]);
  return rescale(c, x, nin(p, `${k}.NIN_3`, a));
}

/** The time embedding's per-channel shift of a residual block: Dense_0(SiLU(temb)). */
function shift(p: NcsnppParams, k: string, temb: Tensor | null): Tensor | null {
  if (!temb) return null;
  const s = dense(p, `${k}.Dense_0`, silu(temb));
  return reshape(s, [s.shape[0], s.shape[1], 1, 1]);
}

/** ×2 up without parameters: FIR or nearest (BigGAN blocks, the output pyramid). */
const up = (c: NcsnppConfig, x: Tensor) =>
  c.fir ? firUpsample(x, c.firKernel) : upsampleNearest2x(x);
/** ×½ down without parameters: FIR or 2×2 average (BigGAN blocks, the input pyramid). */
const down = (c: NcsnppConfig, x: Tensor) => c.fir ? firDownsample(x, c.firKernel) : avgPool2x2(x);

/** `ResnetBlockBigGANpp` (with its own up/down) or `ResnetBlockDDPMpp`. */
export function resBlock(
  p: NcsnppParams,
  c: NcsnppConfig,
  k: string,
  x: Tensor,
  temb: Tensor | null,
  resample: "up" | "down" | null = null,
): Tensor {
  let h = silu(norm(p, `${k}.GroupNorm_0`, x));
  if (resample === "up") {
    h = up(c, h);
    x = up(c, x);
  } else if (resample === "down") {
    h = down(c, h);
    x = down(c, x);
  }
  h = conv(p, `${k}.Conv_0`, h);
  const s = shift(p, k, temb);
  if (s) h = add(h, s);
  h = conv(p, `${k}.Conv_1`, silu(norm(p, `${k}.GroupNorm_1`, h)));
  if (`${k}.Conv_2.weight` in p) x = conv(p, `${k}.Conv_2`, x, 1, 0);
  else if (`${k}.NIN_0.W` in p) x = nin(p, `${k}.NIN_0`, x);
  return rescale(c, x, h);
}

/**
 * layerspp's `Downsample` module: without FIR a 3×3 convolution of stride 2 after padding one
 * row and column at the end (or 2×2 averaging); with FIR the fused filter-then-convolution
 * (`Conv2d_0`) or the filter alone.
 */
export function downsample(
  p: NcsnppParams,
  c: NcsnppConfig,
  k: string,
  x: Tensor,
  withConv: boolean,
): Tensor {
  if (!withConv) return down(c, x);
  if (c.fir) {
    return firDownsampleConv(x, p[`${k}.Conv2d_0.weight`], p[`${k}.Conv2d_0.bias`], c.firKernel);
  }
  return conv(p, `${k}.Conv_0`, pad(x, [0, 0, 0, 0], [0, 0, 1, 1]), 2, 0);
}

/** layerspp's `Upsample` module: nearest ×2 then a 3×3 convolution, or the FIR forms. */
export function upsample(
  p: NcsnppParams,
  c: NcsnppConfig,
  k: string,
  x: Tensor,
  withConv: boolean,
): Tensor {
  if (!withConv) return up(c, x);
  if (c.fir) {
    return firUpsampleConv(x, p[`${k}.Conv2d_0.weight`], p[`${k}.Conv2d_0.bias`], c.firKernel);
  }
  return conv(p, `${k}.Conv_0`, upsampleNearest2x(x));
}

/** `Combine`: a 1×1 convolution of the input pyramid, then summed with or stacked before h. */
export function combine(
  p: NcsnppParams,
  c: NcsnppConfig,
  k: string,
  pyramid: Tensor,
  h: Tensor,
): Tensor {
  const projected = conv(p, `${k}.Conv_0`, pyramid, 1, 0);
  return c.progressiveCombine === "cat" ? concat([projected, h], 1) : add(projected, h);
}
