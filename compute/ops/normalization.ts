/** Softmax, moments and group normalisation, composed from primitives (differentiable to any order). */

import type { Tensor } from "../tensor.ts";
import { add, div, exp, max, mean, mul, reshape, square, sub, sum } from "./basic.ts";
import { stopGradient } from "../autodiff/grad.ts";
import { normalizeRows } from "../primitives.ts";
export { normalizeRows, rowRstd } from "../primitives.ts";

/**
 * exp(x − m) / Σ exp(x − m) over `axis`, m the (gradient-free: softmax ignores shifts) maximum.
 * Dividing keeps float32 accurate for large logits, where exp(x − logsumexp) would not be.
 */
export function softmax(x: Tensor, axis = -1): Tensor {
  const e = exp(sub(x, stopGradient(max(x, [axis], true))));
  return div(e, sum(e, [axis], true));
}

/** Mean and (biased) variance over `axes`, kept as size-1 axes. */
export function moments(x: Tensor, axes: readonly number[]): { mean: Tensor; variance: Tensor } {
  const m = mean(x, axes, true);
  return { mean: m, variance: mean(square(sub(x, m)), axes, true) };
}

/**
 * Group normalisation (Wu & He 2018) of NCHW (or N×C×…) input: statistics over each group of
 * C/groups channels and all spatial positions, then a per-channel affine map.
 */
export function groupNorm(
  x: Tensor,
  groups: number,
  gamma: Tensor,
  beta: Tensor,
  eps = 1e-5,
): Tensor {
  const [n, c] = x.shape;
  if (c % groups !== 0) {
    throw new Error(`groupNorm: ${c} channels do not split into ${groups} groups`);
  }
  const normed = reshape(normalizeRows(reshape(x, [n, groups, -1]), eps), x.shape);
  const perChannel = [1, c, ...x.shape.slice(2).map(() => 1)];
  return add(mul(normed, reshape(gamma, perChannel)), reshape(beta, perChannel));
}
