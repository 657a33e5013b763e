/**
 * The variance-preserving process (Song et al. 2021; MATH.md §1): α_t = exp(−½B(t)),
 * σ_t² = 1 − e^{−B(t)}, B(t) = β0 t + ½(β1 − β0)t², f(t) = −½β(t), g(t)² = β(t).
 * Host functions run in float64; tensor functions take per-example times of shape [B].
 */

import { add, exp, lt, mul, sqrt, sub, type Tensor, where } from "../compute/mod.ts";

export interface VpConfig {
  beta0: number;
  beta1: number;
}

export const VP_DEFAULT: VpConfig = { beta0: 0.1, beta1: 20 };

/** B(t) = β0 t + ½(β1 − β0) t² */
export function integratedBeta(c: VpConfig, t: number): number {
  return c.beta0 * t + 0.5 * (c.beta1 - c.beta0) * t * t;
}

export function alpha(c: VpConfig, t: number): number {
  return Math.exp(-0.5 * integratedBeta(c, t));
}

/** σ_t = √(1 − e^{−B}) via expm1, accurate for small t. */
export function sigma(c: VpConfig, t: number): number {
  return Math.sqrt(-Math.expm1(-integratedBeta(c, t)));
}

/** f(t) = −½β(t): the drift is f(t)·x. */
export function driftCoef(c: VpConfig, t: number): number {
  return -0.5 * (c.beta0 + t * (c.beta1 - c.beta0));
}

/** g(t)² = β(t) */
export function diffusion2(c: VpConfig, t: number): number {
  return c.beta0 + t * (c.beta1 - c.beta0);
}

/** λ = ln(α²/σ²) = −ln(e^{B} − 1) */
export function logSnr(c: VpConfig, t: number): number {
  return -Math.log(Math.expm1(integratedBeta(c, t)));
}

/** Below this B the series 1 − e^{−B} = B − B²/2 + … replaces the float32 subtraction. */
const SERIES_BELOW = 0.1;

/** Per-example α_t and σ_t on the device, with the small-t series branch for σ². */
export function alphaSigmaT(c: VpConfig, t: Tensor): { alpha: Tensor; sigma: Tensor } {
  const b = add(mul(t, c.beta0), mul(mul(t, t), 0.5 * (c.beta1 - c.beta0)));
  // B(1 − B/2(1 − B/3(1 − B/4(1 − B/5)))): relative error below 2e-9 for B < 0.1
  let series = sub(1, mul(b, 1 / 5));
  for (const k of [4, 3, 2]) series = sub(1, mul(mul(b, 1 / k), series));
  const oneMinusExp = where(lt(b, SERIES_BELOW), mul(b, series), sub(1, exp(mul(b, -1))));
  return { alpha: exp(mul(b, -0.5)), sigma: sqrt(oneMinusExp) };
}

/** Per-example f(t) and g(t)². */
export function driftDiffusionT(c: VpConfig, t: Tensor): { f: Tensor; g2: Tensor } {
  const beta = add(mul(t, c.beta1 - c.beta0), c.beta0);
  return { f: mul(beta, -0.5), g2: beta };
}
