/**
 * Divergence ∇·f(x) of a per-example map f: [B, …] → [B, …] (docs/MATH.md §2): exact with one VJP per
 * dimension, or Hutchinson's vᵀ ∂(f·v)/∂x with a probe drawn by the caller and kept fixed for
 * a whole ODE solve. Both differentiate again when a surrounding `valueAndGrad` traces them.
 */

import { add, mul, reshape, slice, sumPerExample } from "../ops/basic.ts";
import { tensor } from "../constants.ts";
import { fmt, sameShape } from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import { vjp } from "./grad.ts";

export type DivergenceMethod = { method: "exact" } | { method: "hutchinson"; probe: Tensor };

/** Returns f(x) and its per-example divergence (shape [B]). */
export function divergence(
  f: (x: Tensor) => Tensor,
  x: Tensor,
  how: DivergenceMethod,
): { value: Tensor; div: Tensor } {
  const { value, pullback } = vjp(f, x);
  if (!sameShape(value.shape, x.shape)) {
    throw new Error(`divergence: f maps ${fmt(x.shape)} to ${fmt(value.shape)}; shapes must match`);
  }
  if (how.method === "hutchinson" && !sameShape(how.probe.shape, x.shape)) {
    throw new Error(
      `divergence: probe ${fmt(how.probe.shape)} must have the shape of x ${fmt(x.shape)}`,
    );
  }
  return { value, div: divergenceFromPullback(x, pullback, how) };
}

/**
 * The divergence from a map's pullback at x: vᵀJᵀv for Hutchinson, or Σ_i e_iᵀ J e_i with one
 * pullback per coordinate, for all examples at once. For callers that reuse the pullback.
 */
export function divergenceFromPullback(
  x: Tensor,
  pullback: (v: Tensor) => Tensor,
  how: DivergenceMethod,
): Tensor {
  if (how.method === "hutchinson") return sumPerExample(mul(how.probe, pullback(how.probe)));
  const [batch] = x.shape, dim = x.size / batch;
  let div: Tensor | null = null;
  for (let i = 0; i < dim; i++) {
    // e_i uploaded whole (no device pass); e_iᵀ J e_i is coordinate i of the pullback
    const onehot = new Float64Array(x.size);
    for (let b = 0; b < batch; b++) onehot[b * dim + i] = 1;
    const rows = reshape(pullback(tensor(x.backend, onehot, x.shape, x.dtype)), [batch, dim]);
    const term = reshape(slice(rows, [0, i], [batch, i + 1]), [batch]);
    div = div === null ? term : add(div, term);
  }
  return div!;
}
