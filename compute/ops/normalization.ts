/** Softmax and moments composed from primitives (differentiable to any order); the fused group norm and row standardisation. */

import type { Tensor } from "../tensor.ts";
import { div, exp, max, mean, square, sub, sum } from "./basic.ts";
import { stopGradient } from "../autodiff/grad.ts";
export { groupNorm, normalizeRows, rowRstd } from "../primitives.ts";

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
