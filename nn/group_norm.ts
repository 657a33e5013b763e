/**
 * A GroupNorm layer (Wu & He 2018) with a per-channel affine map, initialised to the identity
 * map of the normalised input (γ = 1, β = 0) as in DDPM++ (Song et al. 2021, score_sde).
 */

import {
  type Backend,
  type DType,
  groupNorm,
  keep,
  ones,
  type Tensor,
  zeros,
} from "../compute/mod.ts";

/** Scale γ [C] and shift β [C]. */
export type GroupNormParams = { gamma: Tensor; beta: Tensor };

/** score_sde's `nn.GroupNorm(..., eps=1e-6)`. */
export const GROUP_NORM_EPS = 1e-6;

/** γ = 1, β = 0 for `channels` channels. */
export function initGroupNorm(backend: Backend, channels: number, dtype: DType): GroupNormParams {
  return {
    gamma: keep(ones(backend, [channels], dtype)),
    beta: keep(zeros(backend, [channels], dtype)),
  };
}

/** x: [N, C, H, W] normalised over groups of C/groups channels and all positions. */
export function groupNormLayer(p: GroupNormParams, x: Tensor, groups: number): Tensor {
  return groupNorm(x, groups, p.gamma, p.beta, GROUP_NORM_EPS);
}

/** γ and β: two per channel. */
export function groupNormParamCount(channels: number): number {
  return 2 * channels;
}
