/**
 * The probability-flow ODE in the noise-to-signal ratio (docs/samplers.md §1): with y = x/α and
 * ν = σ/α = e^{−λ/2}, the PF-ODE dx = [f x − ½g² s] dt of any process becomes dy/dν = ε̂, where
 * ε̂ = −σ s(x, t) is the predicted noise at x = α y and t = t(ν). In these variables every process
 * is y = x₀ + ν z (EDM's σ is ν), so DDIM with η = 0 is Euler on this ODE and EDM's sampler is
 * Heun on it. Along the flow the density of y, ℓ_y = log p_t(x) + D ln α, moves by
 * dℓ_y/dν = −∇_y·ε̂ = α σ Δlog p_t(x) (the continuity equation; equal to docs/MATH.md §4's −∇·u
 * after the change of variables), so log p is tracked with the same steps as y.
 */

import {
  type DivergenceMethod,
  full,
  mul,
  noGrad,
  stopGradient,
  type Tensor,
} from "../../compute/mod.ts";
import type { ScoreFn } from "../../sde/likelihood.ts";
import type { Sde } from "../../sde/sde.ts";
import { scoreAndLaplacian } from "../logp_tracking.ts";

/** ν(t) = σ_t/α_t, from λ(t) so that it keeps its relative accuracy at both ends. */
export function noiseRatio(sde: Sde, t: number): number {
  return Math.exp(-0.5 * sde.logSnr(t));
}

/**
 * ε̂ = −σ_t s(x, t) at one time t for the whole batch and, with `how`, the log-density rate
 * dℓ_y/dν = α_t σ_t Δlog p_t(x) per example ([B]). Neither output carries a tape.
 */
export function noiseAndLogpRate(
  score: ScoreFn,
  sde: Sde,
  x: Tensor,
  t: number,
  how?: DivergenceMethod,
): { eps: Tensor; rate?: Tensor } {
  const tT = full(x.backend, [x.shape[0]], t, x.dtype);
  const sigma = sde.sigma(t);
  if (!how) return { eps: noGrad(() => mul(score(x, tT), -sigma)) };
  const { score: s, laplacian } = scoreAndLaplacian(score, x, tT, how);
  return noGrad(() => ({
    eps: mul(stopGradient(s), -sigma),
    rate: mul(stopGradient(laplacian), sde.alpha(t) * sigma),
  }));
}
