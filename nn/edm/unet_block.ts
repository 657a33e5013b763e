/**
 * EDM's `UNetBlock`, the one residual block of DDPM++, NCSN++ and ADM: GroupNorm, SiLU, a 3×3
 * convolution (with the block's up- or downsampling), the embedding's per-channel shift (or,
 * `adaptiveScale`, a scale and a shift), GroupNorm, SiLU, a second 3×3 convolution, the skip
 * path (a 1×1 convolution or bare resampling when the shape changes), all times `skipScale`;
 * then optional multi-head self-attention, also residual and scaled.
 *
 * The attention's `qkv` convolution interleaves its 3·C output channels as (head, channel, q/k/v)
 * — channel 3i is a query, 3i + 1 a key, 3i + 2 a value — which `splitQkv` undoes.
 */

import {
  add,
  attention,
  mul,
  permute,
  reshape,
  silu,
  slice,
  type Tensor,
} from "../../compute/mod.ts";
import { convShapes, type ConvSpec, convSpec, edmConv } from "./conv.ts";
import {
  edmGroupNorm,
  type EdmParams,
  type EdmShapes,
  groupNormShapes,
  linear,
  linearShapes,
} from "./layers.ts";

export interface BlockSpec {
  inC: number;
  outC: number;
  embC: number;
  up: boolean;
  down: boolean;
  /** attention heads; 0 means no attention */
  heads: number;
  skipScale: number;
  eps: number;
  filter: number[];
  /** a 1×1 projection on a resampling skip path even when the channels stay */
  resampleProj: boolean;
  adaptiveScale: boolean;
}

const conv0Of = (b: BlockSpec) =>
  convSpec(b.inC, b.outC, 3, { up: b.up, down: b.down, filter: b.filter });
const conv1Of = (b: BlockSpec) => convSpec(b.outC, b.outC, 3);

/** The skip path's convolution, or null when the input passes unchanged. */
function skipOf(b: BlockSpec): ConvSpec | null {
  if (b.outC === b.inC && !b.up && !b.down) return null;
  const kernel = b.resampleProj || b.outC !== b.inC ? 1 : 0;
  return convSpec(b.inC, b.outC, kernel, { up: b.up, down: b.down, filter: b.filter });
}

export function blockShapes(s: EdmShapes, name: string, b: BlockSpec) {
  groupNormShapes(s, `${name}.norm0`, b.inC);
  convShapes(s, `${name}.conv0`, conv0Of(b));
  linearShapes(s, `${name}.affine`, b.embC, b.outC * (b.adaptiveScale ? 2 : 1));
  groupNormShapes(s, `${name}.norm1`, b.outC);
  convShapes(s, `${name}.conv1`, conv1Of(b));
  const skip = skipOf(b);
  if (skip) convShapes(s, `${name}.skip`, skip);
  if (b.heads) {
    groupNormShapes(s, `${name}.norm2`, b.outC);
    convShapes(s, `${name}.qkv`, convSpec(b.outC, 3 * b.outC, 1));
    convShapes(s, `${name}.proj`, convSpec(b.outC, b.outC, 1));
  }
}

/** x [N, inC, H, W], emb [N, embC] → [N, outC, H′, W′]. */
export function unetBlock(
  p: EdmParams,
  name: string,
  b: BlockSpec,
  x: Tensor,
  emb: Tensor,
): Tensor {
  const orig = x;
  let h = edmConv(p, `${name}.conv0`, conv0Of(b), silu(edmGroupNorm(p, `${name}.norm0`, x, b.eps)));
  const params = linear(p, `${name}.affine`, emb);
  const n = params.shape[0];
  if (b.adaptiveScale) {
    const scale = reshape(slice(params, [0, 0], [n, b.outC]), [n, b.outC, 1, 1]);
    const shift = reshape(slice(params, [0, b.outC], [n, 2 * b.outC]), [n, b.outC, 1, 1]);
    h = silu(add(shift, mul(edmGroupNorm(p, `${name}.norm1`, h, b.eps), add(scale, 1))));
  } else {
    h = silu(edmGroupNorm(p, `${name}.norm1`, add(h, reshape(params, [n, b.outC, 1, 1])), b.eps));
  }
  h = edmConv(p, `${name}.conv1`, conv1Of(b), h);
  const skip = skipOf(b);
  h = mul(add(h, skip ? edmConv(p, `${name}.skip`, skip, orig) : orig), b.skipScale);
  if (!b.heads) return h;
  const qkv = edmConv(
    p,
    `${name}.qkv`,
    convSpec(b.outC, 3 * b.outC, 1),
    edmGroupNorm(p, `${name}.norm2`, h, b.eps),
  );
  const a = multiHeadAttention(qkv, b.heads);
  return mul(add(edmConv(p, `${name}.proj`, convSpec(b.outC, b.outC, 1), a), h), b.skipScale);
}

/**
 * qkv [N, 3C, H, W] (channels ordered head, channel, q/k/v) → softmax(qᵀk/√(C/heads)) applied
 * to v, per head, as [N, C, H, W] with channels ordered head, channel.
 */
function multiHeadAttention(qkv: Tensor, heads: number): Tensor {
  const [n, c3, hh, ww] = qkv.shape, c = c3 / 3, ch = c / heads, l = hh * ww;
  // [N, heads, ch, 3, L] → [3, N·heads, L, ch]
  const parts = reshape(
    permute(reshape(qkv, [n, heads, ch, 3, l]), [3, 0, 1, 4, 2]),
    [3, n * heads, l, ch],
  );
  const part = (i: number) =>
    reshape(slice(parts, [i, 0, 0, 0], [i + 1, n * heads, l, ch]), [n * heads, l, ch]);
  const a = attention(part(0), part(1), part(2)); // [N·heads, L, ch]
  return reshape(permute(reshape(a, [n, heads, l, ch]), [0, 1, 3, 2]), [n, c, hh, ww]);
}
