/**
 * Denoising score matching with ε-prediction and simple weighting (MATH.md §3.1, λ = σ²):
 * per example ½‖ε̂(x_t, t) − z‖², which equals ½σ²‖s + z/σ‖² for s = −ε̂/σ.
 */

import { mul, square, sub, sumPerExample, type Tensor } from "../../compute/mod.ts";

export type EpsModel = (x: Tensor, t: Tensor) => Tensor;

/** Per-example loss ([B]) at noisy inputs x_t = α x0 + σ z. */
export function dsmEpsLoss(eps: EpsModel, xt: Tensor, t: Tensor, z: Tensor): Tensor {
  return mul(sumPerExample(square(sub(eps(xt, t), z))), 0.5);
}
