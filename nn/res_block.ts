/**
 * The time-conditioned residual block of DDPM (Ho et al. 2020) in the form DDPM++ uses (Song et
 * al. 2021, score_sde's `ResnetBlockDDPMpp`):
 *
 *   h   = conv3×3(SiLU(GN(x))) + Dense(SiLU(temb))   (the Dense adds one value per channel)
 *   h   = conv3×3(dropout(SiLU(GN(h))))              (this conv starts at zero)
 *   out = (skip(x) + h) / √2                          skip: a 1×1 conv when C_in ≠ C_out, else x
 *
 * The 1/√2 is score_sde's `skip_rescale = True`, set by every DDPM++ config: the sum of two
 * roughly independent branches of equal variance keeps that variance, so activations do not
 * grow along the (deep) chain of blocks. With the second conv at zero, a fresh block maps x to
 * skip(x)/√2, and training starts from a network of near-identity blocks.
 */

import {
  type Backend,
  type DType,
  lt,
  mul,
  type Rng,
  silu,
  type Tensor,
  weightedSum,
} from "../compute/mod.ts";
import {
  conv2dLayer,
  conv2dLayerShifted,
  conv2dParamCount,
  type Conv2dParams,
  initConv2d,
  initDense,
  NIN_INIT_SCALE,
} from "./conv2d.ts";
import {
  groupNormLayer,
  groupNormParamCount,
  type GroupNormParams,
  initGroupNorm,
} from "./group_norm.ts";
import { linear, type LinearParams } from "./linear.ts";

/** One block's layers; `conv1` (the last of the residual branch) starts at zero. */
export type ResBlockParams = {
  norm0: GroupNormParams;
  conv0: Conv2dParams;
  temb: LinearParams;
  norm1: GroupNormParams;
  conv1: Conv2dParams;
  /** Present only when the block changes the channel count. */
  skip?: Conv2dParams;
};

/** Channel counts of one block; `tembDim` is the width of the time embedding (4·base). */
export interface ResBlockShape {
  inC: number;
  outC: number;
  tembDim: number;
}

/** A fresh block: DDPM's initialiser, the second conv at zero, a 0.1-scaled 1×1 skip. */
export function initResBlock(
  backend: Backend,
  rng: Rng,
  s: ResBlockShape,
  dtype: DType,
): ResBlockParams {
  const p: ResBlockParams = {
    norm0: initGroupNorm(backend, s.inC, dtype),
    conv0: initConv2d(backend, rng.derive("conv0"), s.inC, s.outC, 3, dtype),
    temb: initDense(backend, rng.derive("temb"), s.tembDim, s.outC, dtype),
    norm1: initGroupNorm(backend, s.outC, dtype),
    conv1: initConv2d(backend, rng.derive("conv1"), s.outC, s.outC, 3, dtype, 0),
  };
  if (s.inC !== s.outC) {
    p.skip = initConv2d(backend, rng.derive("skip"), s.inC, s.outC, 1, dtype, NIN_INIT_SCALE);
  }
  return p;
}

export interface ResBlockOptions {
  groups: number;
  /** Probability of zeroing an activation before the second conv. */
  dropout: number;
  /** Dropout is applied only when given (training); without it the block is deterministic. */
  dropoutRng?: Rng;
}

/**
 * x: [N, C_in, H, W], tembAct: SiLU of the time embedding [N, tembDim] (activated once by the
 * caller, since every block applies the same SiLU) → [N, C_out, H, W].
 */
export function resBlock(
  p: ResBlockParams,
  x: Tensor,
  tembAct: Tensor,
  o: ResBlockOptions,
): Tensor {
  // conv0's bias and the time embedding's projection shift the output in one pass
  let h = conv2dLayerShifted(
    p.conv0,
    silu(groupNormLayer(p.norm0, x, o.groups)),
    linear(p.temb, tembAct),
  );
  h = silu(groupNormLayer(p.norm1, h, o.groups));
  if (o.dropoutRng && o.dropout > 0) h = dropout(h, o.dropout, o.dropoutRng);
  h = conv2dLayer(p.conv1, h);
  const skip = p.skip ? conv2dLayer(p.skip, x) : x;
  // (skip + h)/√2 in one pass
  return weightedSum([skip, h], [Math.SQRT1_2, Math.SQRT1_2]);
}

/**
 * Inverted dropout: keeps each element with probability 1 − rate and scales the kept ones by
 * 1/(1 − rate), so the expectation is unchanged and inference needs no rescaling. The mask is
 * `uniform < keep`, built from tensor ops, so both backends draw the same mask from one rng.
 */
export function dropout(x: Tensor, rate: number, rng: Rng): Tensor {
  if (!(rate >= 0 && rate < 1)) {
    throw new RangeError(`dropout: rate must be in [0, 1), got ${rate}`);
  }
  const keepP = 1 - rate;
  const mask = lt(rng.uniform(x.backend, x.shape, x.dtype), keepP);
  return mul(x, mul(mask, 1 / keepP));
}

/** Parameters of one block, by the same layer list as `initResBlock`. */
export function resBlockParamCount(s: ResBlockShape): number {
  return groupNormParamCount(s.inC) + conv2dParamCount(s.inC, s.outC, 3) +
    (s.tembDim * s.outC + s.outC) + groupNormParamCount(s.outC) +
    conv2dParamCount(s.outC, s.outC, 3) +
    (s.inC !== s.outC ? conv2dParamCount(s.inC, s.outC, 1) : 0);
}
