/**
 * Log-density along sampling trajectories (docs/MATH.md §4): how log p_t(x(t)) changes while a
 * sampler moves x from noise (t = T) to data (t = t_min), with dt < 0. Every function returns
 * per-example tensors of shape [B] and records whatever tape its inputs carry, so a caller may
 * differentiate through it (density guidance) or run it under `noGrad` (samplers).
 *
 * Symbols: s = ∇log p_t(x) (the model's score), Δlog p = ∇·s (the Laplacian, exact or
 * Hutchinson), f(x,t) = f(t)x the forward drift, so ∇·f = D·f(t) and f·s = f(t)·(x·s); g² the
 * diffusion. For the PF-ODE itself the sampler integrates −∇·u directly (`samplers/ode.ts`);
 * the general forms below hold for any drift u and agree with it when s is the exact score.
 */

import {
  add,
  divergence,
  type DivergenceMethod,
  mul,
  sub,
  sumPerExample,
  type Tensor,
} from "../compute/mod.ts";
import type { ScoreFn } from "../sde/likelihood.ts";
import type { Sde } from "../sde/sde.ts";

/** Σ a·b over every axis but the batch, [B]. */
export function dotPerExample(a: Tensor, b: Tensor): Tensor {
  return sumPerExample(mul(a, b));
}

/**
 * s(x, t) and Δlog p_t(x) = ∇·s(x, t), by `how` (D exact VJPs, or Hutchinson vᵀ∂(s·v)/∂x with
 * the caller's probe, kept fixed along a trajectory): the two inputs of the general rates.
 */
export function scoreAndLaplacian(
  score: ScoreFn,
  x: Tensor,
  t: Tensor,
  how: DivergenceMethod,
): { score: Tensor; laplacian: Tensor } {
  const { value, div } = divergence((y) => score(y, t), x, how);
  return { score: value, laplacian: div };
}

/**
 * ∂_t log p_t(x) = −∇·f − f·s + ½ g² (Δlog p + ‖s‖²) (docs/MATH.md §4), from the Fokker–Planck
 * equation ∂_t p = −∇·(f p) + ½ g² Δp divided by p. `t` holds per-example times [B].
 */
export function logpTimeDerivative(
  sde: Sde,
  x: Tensor,
  t: Tensor,
  s: Tensor,
  laplacian: Tensor,
): Tensor {
  const D = x.size / x.shape[0];
  const { f, g2 } = sde.driftDiffusionT(t);
  const divF = mul(f, D);
  const fDotS = mul(f, dotPerExample(x, s));
  const diffusion = mul(mul(g2, 0.5), add(laplacian, dotPerExample(s, s)));
  return add(sub(mul(divF, -1), fDotS), diffusion);
}

/**
 * d log p_t(x(t))/dt = ∂_t log p + s·u along any deterministic dx = u dt (docs/MATH.md §4): the
 * rate for the high-density ODE, density guidance or any other drift `u` (shape of x).
 * Integrate it with the same steps as x; with dt < 0, log p(t + dt) ≈ log p(t) + rate·dt.
 */
export function logpRateDeterministic(
  sde: Sde,
  x: Tensor,
  t: Tensor,
  s: Tensor,
  laplacian: Tensor,
  u: Tensor,
): Tensor {
  return add(logpTimeDerivative(sde, x, t, s, laplacian), dotPerExample(s, u));
}

/**
 * The Itô increment of log p_t(x(t)) over one step of stochastic dynamics dx = u dt + G dW̄
 * (docs/MATH.md §4): [∂_t log p + s·u − ½ tr(GGᵀ∇²log p)] dt + s·(G dW̄). `dt` is the signed step
 * (< 0 from noise to data), `gDw` the step's noise G dW̄ exactly as added to x, and `trGGtH`
 * per-example tr(GGᵀ∇²log p) — g²Δlog p for G = g I; Δlog p − ŝᵀ(∇²log p)ŝ times φ² for the
 * projected noise φ(I − ŝŝᵀ) of stochastic density guidance.
 */
export function logpIncrementStochastic(
  sde: Sde,
  x: Tensor,
  t: Tensor,
  s: Tensor,
  laplacian: Tensor,
  u: Tensor,
  dt: number,
  gDw: Tensor,
  trGGtH: Tensor,
): Tensor {
  const rate = sub(logpRateDeterministic(sde, x, t, s, laplacian, u), mul(trGGtH, 0.5));
  return add(mul(rate, dt), dotPerExample(s, gDw));
}

/**
 * The reverse SDE's increment, dx = [f − g² s] dt + g dW̄ with dW̄ = √|dt| z (docs/MATH.md §4):
 * d log p = (−∇·f − ½ g² ‖s‖²) dt + g s·dW̄ — the stochastic form above with u = f − g² s and
 * G = g I, where the Laplacians cancel, so it needs no divergence. `z` is the standard normal
 * of the x update (null: a noise-free step, for which use the deterministic rate instead).
 */
export function reverseSdeLogpIncrement(
  sde: Sde,
  t: number,
  dt: number,
  s: Tensor,
  z: Tensor,
): Tensor {
  const D = s.size / s.shape[0];
  const g2 = sde.diffusion2(t);
  const drift = sub(mul(dotPerExample(s, s), -0.5 * g2 * dt), D * sde.driftCoef(t) * dt);
  return add(drift, mul(dotPerExample(s, z), Math.sqrt(g2 * Math.abs(dt))));
}
