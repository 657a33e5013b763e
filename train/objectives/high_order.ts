/**
 * The i-DODE second-order term (Zheng et al. 2023, docs/MATH.md §3.4) in ε-parameterisation.
 * From x = αx0 + σε: ∇ₓE[ε|x] = (I − Cov[ε|x])/σ, so σ ∇·ε̂ should equal D − E‖ε − ε̂‖².
 * Per example ½ w [σ ∇·ε̂ − (D − sg(‖z − ε̂‖²))]² / D, with ∇·ε̂ by one Hutchinson probe;
 * minimising it differentiates through a divergence (second-order autodiff).
 */

import {
  divergence,
  mul,
  reshape,
  square,
  stopGradient,
  sub,
  sumPerExample,
  type Tensor,
} from "../../compute/mod.ts";
import type { Network as EpsModel } from "./dsm.ts";

export function highOrderEpsLoss(
  eps: EpsModel,
  xt: Tensor,
  t: Tensor,
  z: Tensor,
  sigma: Tensor,
  probe: Tensor,
  weight: number,
): { firstOrder: Tensor; secondOrder: Tensor } {
  const D = xt.size / xt.shape[0];
  const { value, div } = divergence((x) => eps(x, t), xt, { method: "hutchinson", probe });
  const err2 = sumPerExample(square(sub(value, z)));
  const residual = sub(mul(reshape(sigma, [xt.shape[0]]), div), sub(D, stopGradient(err2)));
  return { firstOrder: mul(err2, 0.5), secondOrder: mul(square(residual), (0.5 * weight) / D) };
}
