/**
 * Latents on a chosen sphere (docs/MATH.md §5): density guidance starts from x_T rescaled to the
 * median norm χ_D⁻¹(0.5)·σ_T of the prior π = N(0, σ_T² I); prior guidance rescales to
 * χ_D⁻¹(1 − q)·σ_T, so that q > 0.5 means a smaller latent and (where score alignment holds) a
 * higher log p_0. σ_T is the process's prior standard deviation.
 */

import { div, maximum, mul, sqrt, square, sumPerExample, type Tensor } from "../../compute/mod.ts";
import { chiQuantile } from "../../sde/special.ts";
import type { Sde } from "../../sde/sde.ts";
import { perExample } from "../flow/score_terms.ts";

/** χ_D⁻¹(p)·σ_T: the radius below which a fraction p of prior draws fall. */
export function latentRadius(sde: Sde, D: number, p: number): number {
  return chiQuantile(D, p) * sde.priorStd;
}

/** Each example x_b scaled to norm r (a zero latent stays zero); a new tensor. */
export function rescaleToNorm(x: Tensor, r: number): Tensor {
  const norm = sqrt(maximum(sumPerExample(square(x)), 1e-30));
  return mul(x, perExample(div(r, norm), x));
}
