/**
 * Training times, drawn on the host in float64 from the keyed generator and uploaded (one small
 * write per step, no readback): uniform on [t_min, T], ScoreFlow's importance sampling uniform
 * in λ (p(t) ∝ g²/σ², docs/MATH.md §3.2), and i-DODE's density ∝ α² over γ with antithetic pairs
 * (docs/MATH.md §3.3).
 */

import type { Rng } from "../compute/mod.ts";
import type { Sde } from "../sde/sde.ts";

export type TimeSampling = "uniform" | "importance";

/** t ~ U[t_min, T] */
export function uniformTimes(rng: Rng, n: number, sde: Sde, tMin: number): Float64Array {
  return rng.uniformHost(n).map((u) => tMin + (sde.T - tMin) * u);
}

/** λ ~ U[λ(T), λ(t_min)], t = λ⁻¹(λ); the estimator's weight is Z = λ(t_min) − λ(T). */
export function logSnrUniformTimes(
  rng: Rng,
  n: number,
  sde: Sde,
  tMin: number,
): { t: Float64Array; Z: number } {
  const lo = sde.logSnr(sde.T), hi = sde.logSnr(tMin);
  return { t: rng.uniformHost(n).map((u) => sde.timeOfLogSnr(lo + u * (hi - lo))), Z: hi - lo };
}

/**
 * γ with density ∝ α² = sigmoid(−γ) on [γ0, γ1]: the CDF inverts to
 * γ = ln(1/(e^{−Z u}(1 + e^{−γ0}) − 1)), Z = ln[(1 + e^{−γ0})/(1 + e^{−γ1})]. Antithetic: the
 * second half of the batch uses 1 − u. Returns t = (γ − γ0)/(γ1 − γ0) for the linear schedule.
 */
export function velocityImportanceTimes(
  rng: Rng,
  n: number,
  gamma0: number,
  gamma1: number,
): { t: Float64Array; Z: number } {
  const Z = Math.log((1 + Math.exp(-gamma0)) / (1 + Math.exp(-gamma1)));
  const half = Math.ceil(n / 2);
  const u = rng.uniformHost(half);
  const t = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const ui = i < half ? u[i] : 1 - u[i - half];
    const gamma = -Math.log(Math.exp(-Z * ui) * (1 + Math.exp(-gamma0)) - 1);
    t[i] = (gamma - gamma0) / (gamma1 - gamma0);
  }
  return { t, Z };
}
