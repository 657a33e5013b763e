/** Composed activations and layers' building blocks, differentiable to any order. */

import type { Tensor } from "../tensor.ts";
import { stopGradient } from "../autodiff/grad.ts";
import { abs, add, exp, log, max, maximum, neg, sub, sum } from "./basic.ts";
import { binary, type Operand, unary } from "../primitives.ts";

/** silu(x) = x·σ(x), one fused kernel; its VJP is `siluGrad`, so any order works. */
export function silu(x: Tensor): Tensor {
  return unary("silu", x);
}

/** g · silu′(x) with silu′ = σ(x)(1 + x(1 − σ(x))): SiLU's backward pass as one fused kernel. */
export function siluGrad(x: Operand, g: Operand): Tensor {
  return binary("siluGrad", x, g);
}

/** softplus(x) = max(x, 0) + log(1 + e^{−|x|}), stable for large |x|. */
export function softplus(x: Tensor): Tensor {
  return add(maximum(x, 0), log(add(exp(neg(abs(x))), 1)));
}

/** log Σ exp(x) over `axes`, shifted by the maximum for stability (the result ignores the shift, so it carries no gradient). */
export function logsumexp(x: Tensor, axes: readonly number[], keepDims = false): Tensor {
  const m = stopGradient(max(x, axes, true));
  const shifted = log(sum(exp(sub(x, m)), axes, true));
  const out = add(shifted, m);
  return keepDims ? out : sum(out, axes);
}
