/**
 * The U-Net score network of DDPM (Ho et al. 2020) in the DDPM++ form of Song et al. 2021
 * (score_sde's `ncsnpp` with DDPM-type residual blocks, `skip_rescale`, `init_scale = 0`):
 *
 * - time: sinusoidal(t) → Dense(4·base) → SiLU → Dense(4·base); each residual block adds its
 *   own Dense of SiLU(temb). A class-conditional network (`classes` > 0) adds its label's
 *   embedding, one-hot [B, classes] @ W without bias, to temb: the zero row ("no label", what
 *   label dropout trains) adds nothing.
 * - input conv3×3 C → base; down path: per level `resBlocks` residual blocks (each followed by
 *   attention when the level's resolution is in `attnResolutions`), then, except at the last
 *   level, a conv3×3 with stride 2: DDPM++'s learnable resampling (`resamp_with_conv`).
 * - middle: res, attention, res.
 * - up path, levels in reverse: `resBlocks + 1` residual blocks, each taking h concatenated
 *   (channels) with the latest stored down-path activation; one attention after the level's
 *   blocks (score_sde's placement); then, except at level 0, nearest ×2 and a conv3×3.
 * - output GroupNorm → SiLU → conv3×3 → C, zero-initialised (DDPM's `init_scale = 0`): a fresh
 *   network predicts exactly 0, the mean of ε. The last conv of every residual branch and
 *   attention block starts at zero as well, so each block starts as a scaled skip.
 */

import {
  add,
  type Backend,
  concat,
  type DType,
  matmul,
  type Rng,
  silu,
  type Tensor,
  upsampleNearest2x,
} from "../compute/mod.ts";
import {
  attentionBlock,
  type AttentionBlockParams,
  initAttentionBlock,
} from "./attention_block.ts";
import { conv2dLayer, type Conv2dParams, fanAvgUniform, initConv2d, initDense } from "./conv2d.ts";
import { groupNormLayer, type GroupNormParams, initGroupNorm } from "./group_norm.ts";
import { linear, type LinearParams } from "./linear.ts";
import { initResBlock, resBlock, type ResBlockParams, type ResBlockShape } from "./res_block.ts";
import { sinusoidalEmbedding } from "./time_embedding.ts";
import { plan, type UnetConfig } from "./unet_config.ts";

export {
  type UnetConfig,
  UnetConfigError,
  unetParamCount,
  validateUnetConfig,
} from "./unet_config.ts";

/** One down-path level's layers. */
export type UnetDownLevel = {
  blocks: ResBlockParams[];
  /** One per block at attention resolutions, else empty. */
  attention: AttentionBlockParams[];
  /** Absent at the last level. */
  downsample?: Conv2dParams;
};

/** One up-path level's layers. */
export type UnetUpLevel = {
  blocks: ResBlockParams[];
  attention?: AttentionBlockParams;
  /** Absent at level 0. */
  upsample?: Conv2dParams;
};

/** The parameter tree; `down[i]` and `up[i]` both serve level i (resolution H/2^i). */
export type UnetParams = {
  time: LinearParams[];
  /** [classes, 4·base], a class-conditional network's only (absent when unconditional) */
  classEmbedding?: Tensor;
  input: Conv2dParams;
  down: UnetDownLevel[];
  middle: { res0: ResBlockParams; attention: AttentionBlockParams; res1: ResBlockParams };
  up: UnetUpLevel[];
  outNorm: GroupNormParams;
  output: Conv2dParams;
};

/**
 * Initial parameters. Every layer draws from its own substream, derived by its path in the
 * tree (`down.1.blocks.0`), so adding a layer does not move the others' values.
 */
export function initUnet(
  backend: Backend,
  rng: Rng,
  c: UnetConfig,
  dtype: DType = "f32",
): UnetParams {
  const { tembDim, levels, outWidth } = plan(c);
  const last = levels.length - 1, mid = levels[last].width;
  const res = (path: string, s: ResBlockShape) => initResBlock(backend, rng.derive(path), s, dtype);
  const attn = (path: string, ch: number) =>
    initAttentionBlock(backend, rng.derive(path), ch, dtype);
  const conv3 = (path: string, i: number, o: number, scale = 1) =>
    initConv2d(backend, rng.derive(path), i, o, 3, dtype, scale);
  return {
    time: [
      initDense(backend, rng.derive("time.0"), c.timeFeatures, tembDim, dtype),
      initDense(backend, rng.derive("time.1"), tembDim, tembDim, dtype),
    ],
    ...((c.classes ?? 0) > 0
      ? {
        classEmbedding: fanAvgUniform(
          backend,
          rng.derive("classEmbedding"),
          [c.classes!, tembDim],
          c.classes!,
          tembDim,
          1,
          dtype,
        ),
      }
      : {}),
    input: conv3("input", c.channels, c.base),
    down: levels.map((l, i) => ({
      blocks: l.down.map((s, j) => res(`down.${i}.blocks.${j}`, s)),
      attention: l.attention ? l.down.map((_, j) => attn(`down.${i}.attention.${j}`, l.width)) : [],
      ...(i < last ? { downsample: conv3(`down.${i}.downsample`, l.width, l.width) } : {}),
    })),
    middle: {
      res0: res("middle.res0", { inC: mid, outC: mid, tembDim }),
      attention: attn("middle.attention", mid),
      res1: res("middle.res1", { inC: mid, outC: mid, tembDim }),
    },
    up: levels.map((l, i) => ({
      blocks: l.up.map((s, j) => res(`up.${i}.blocks.${j}`, s)),
      ...(l.attention ? { attention: attn(`up.${i}.attention`, l.width) } : {}),
      ...(i > 0 ? { upsample: conv3(`up.${i}.upsample`, l.width, l.width) } : {}),
    })),
    outNorm: initGroupNorm(backend, outWidth, dtype),
    output: conv3("output", outWidth, c.outChannels ?? c.channels, 0),
  };
}

/**
 * x: [B, C, H, W], t: [B] → [B, C, H, W]. Dropout runs only when `dropoutRng` is given
 * (training); each block draws from `dropoutRng.derive(its path)`, so the same rng gives the
 * same masks: derive a fresh one per step. `labels` (one-hot [B, classes]) condition a
 * class-conditional network; without them it sees "no label" (the zero row).
 */
export function unetForward(
  p: UnetParams,
  c: UnetConfig,
  x: Tensor,
  t: Tensor,
  opts: { dropoutRng?: Rng; labels?: Tensor } = {},
): Tensor {
  const [b, ch, h0, w0] = x.shape;
  if (x.rank !== 4 || ch !== c.channels || h0 !== c.resolution || w0 !== c.resolution) {
    const want = `[B, ${c.channels}, ${c.resolution}, ${c.resolution}]`;
    throw new Error(`unetForward: x must be ${want}, got [${x.shape.join(", ")}]`);
  }
  if (t.rank !== 1 || t.shape[0] !== b) {
    throw new Error(`unetForward: t must be [${b}], got [${t.shape.join(", ")}]`);
  }
  let temb = linear(p.time[1], silu(linear(p.time[0], sinusoidalEmbedding(t, c.timeFeatures))));
  if (p.classEmbedding && opts.labels) temb = add(temb, matmul(opts.labels, p.classEmbedding));
  const act = silu(temb);
  const block = (q: ResBlockParams, h: Tensor, path: string) =>
    resBlock(q, h, act, {
      groups: c.groups,
      dropout: c.dropout,
      dropoutRng: opts.dropoutRng?.derive(path),
    });

  let h = conv2dLayer(p.input, x);
  const stored = [h];
  p.down.forEach((level, i) => {
    level.blocks.forEach((q, j) => {
      h = block(q, h, `down.${i}.blocks.${j}`);
      if (level.attention[j]) h = attentionBlock(level.attention[j], h, c.groups);
      stored.push(h);
    });
    if (level.downsample) stored.push(h = conv2dLayer(level.downsample, h, 2));
  });
  h = block(p.middle.res0, h, "middle.res0");
  h = attentionBlock(p.middle.attention, h, c.groups);
  h = block(p.middle.res1, h, "middle.res1");
  for (let i = p.up.length - 1; i >= 0; i--) {
    const level = p.up[i];
    level.blocks.forEach((q, j) => {
      h = block(q, concat([h, stored.pop()!], 1), `up.${i}.blocks.${j}`);
    });
    if (level.attention) h = attentionBlock(level.attention, h, c.groups);
    if (level.upsample) h = conv2dLayer(level.upsample, upsampleNearest2x(h));
  }
  return conv2dLayer(p.output, silu(groupNormLayer(p.outNorm, h, c.groups)));
}
