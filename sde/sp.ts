/**
 * i-DODE's straight-path process (Zheng et al. 2023, its "SP" schedule; docs/idode.md): the same
 * linear γ(t) = γmin + (γmax − γmin)t = −λ as VDM-γ, but with α_t + σ_t = 1 instead of
 * α_t² + σ_t² = 1, so x_t runs on the straight line between x_0 and the noise:
 * σ_t = sigmoid(γ/2), α_t = sigmoid(−γ/2) = 1 − σ_t, f(t) = −½σ_t γ′, g(t)² = σ_t² γ′,
 * π = N(0, σ_T² I) as i-DODE evaluates it.
 *
 * Its α²-importance sampling of γ (the velocity objective's, as for VDM-γ) inverts in closed form
 * through ∫α² dγ = 2(ln σ − σ): `spImportanceTimes`.
 */

import { add, mul, type Rng, sigmoid, square, type Tensor } from "../compute/mod.ts";
import { hostAlphaSigma, hostDriftDiffusion } from "./host_times.ts";
import type { Sde } from "./sde.ts";
import { sigmoidHost } from "./special.ts";

export class SpSde implements Sde {
  readonly kind = "sp";
  readonly T = 1;
  /** γ(0) = γmin keeps σ0 > 0 (1.2935e-3 at −13.3): the schedule's own start is the t_min. */
  readonly tMinLikelihood = 0;
  readonly tMinSampling = 0;
  readonly priorStd: number;
  readonly params: Readonly<{ gammaMin: number; gammaMax: number }>;

  constructor(readonly gammaMin = -13.3, readonly gammaMax = 5) {
    this.params = { gammaMin, gammaMax };
    this.priorStd = sigmoidHost(gammaMax / 2);
  }

  /** γ(t) = γmin + (γmax − γmin)t, the negative log-SNR */
  gamma(t: number): number {
    return this.gammaMin + (this.gammaMax - this.gammaMin) * t;
  }
  /** α = sigmoid(−γ/2), not 1 − σ: that subtraction loses α's digits as γ → γmax. */
  alpha(t: number): number {
    return sigmoidHost(-this.gamma(t) / 2);
  }
  sigma(t: number): number {
    return sigmoidHost(this.gamma(t) / 2);
  }
  /** f = d ln α/dt = −½ sigmoid(γ/2) γ′ */
  driftCoef(t: number): number {
    return -0.5 * this.sigma(t) * (this.gammaMax - this.gammaMin);
  }
  /** g² = σ²·(−dλ/dt) = σ²γ′ */
  diffusion2(t: number): number {
    return this.sigma(t) ** 2 * (this.gammaMax - this.gammaMin);
  }
  /** λ = 2 ln(α/σ) = 2 ln e^{−γ/2} = −γ, as for VDM-γ */
  logSnr(t: number): number {
    return -this.gamma(t);
  }
  timeOfLogSnr(lambda: number): number {
    return (-lambda - this.gammaMin) / (this.gammaMax - this.gammaMin);
  }

  /** γ/2 as a tensor */
  #halfGammaT(t: Tensor): Tensor {
    return mul(add(mul(t, this.gammaMax - this.gammaMin), this.gammaMin), 0.5);
  }
  /** Both sigmoids are branch-stable on the backends: α and σ each keep their relative digits. */
  alphaSigmaT(t: Tensor): { alpha: Tensor; sigma: Tensor } {
    const host = hostAlphaSigma(this, t);
    if (host) return host;
    const h = this.#halfGammaT(t);
    return { alpha: sigmoid(mul(h, -1)), sigma: sigmoid(h) };
  }
  driftDiffusionT(t: Tensor): { f: Tensor; g2: Tensor } {
    const host = hostDriftDiffusion(this, t);
    if (host) return host;
    const sigma = sigmoid(this.#halfGammaT(t)), slope = this.gammaMax - this.gammaMin;
    return { f: mul(sigma, -0.5 * slope), g2: mul(square(sigma), slope) };
  }
}

/**
 * A(γ) = ∫ α² dγ = 2(ln σ − σ) with σ = sigmoid(γ/2) (dA/dγ = 2(½α − ½σα) = α(1 − σ) = α²),
 * with ln σ = −ln(1 + e^{−γ/2}) in the form that keeps its digits at both ends.
 */
export function spAlphaSquaredIntegral(gamma: number): number {
  const half = gamma / 2;
  const logSigma = half >= 0 ? -Math.log1p(Math.exp(-half)) : half - Math.log1p(Math.exp(half));
  return 2 * (logSigma - sigmoidHost(half));
}

/**
 * The γ at which A(γ) − A(γ0) = a, for a in [0, A(γ1) − A(γ0)]: Newton's method on the
 * increasing, concave A (A′ = α² > 0, A″ < 0) from the right end of the bracket, where its
 * iterates decrease monotonically onto the root; bisection guards the bracket all the same.
 */
export function spGammaOfAlphaSquaredMass(gamma0: number, gamma1: number, a: number): number {
  const target = spAlphaSquaredIntegral(gamma0) + a;
  let lo = gamma0, hi = gamma1, g = gamma1;
  for (let i = 0; i < 100; i++) {
    const r = spAlphaSquaredIntegral(g) - target;
    if (r > 0) hi = g;
    else lo = g;
    const alpha = sigmoidHost(-g / 2);
    let next = g - r / (alpha * alpha);
    if (!(next > lo && next < hi)) next = (lo + hi) / 2;
    if (Math.abs(next - g) <= 1e-14 * (1 + Math.abs(g))) return next;
    g = next;
  }
  return g;
}

/**
 * γ with density ∝ α² = sigmoid(−γ/2)² on [γ0, γ1] (i-DODE's importance sampling for the SP
 * schedule), normaliser Z = A(γ1) − A(γ0); antithetic: the second half of the batch uses 1 − u.
 * Returns t = (γ − γ0)/(γ1 − γ0) for the linear schedule.
 */
export function spImportanceTimes(
  rng: Rng,
  n: number,
  gamma0: number,
  gamma1: number,
): { t: Float64Array; Z: number } {
  const Z = spAlphaSquaredIntegral(gamma1) - spAlphaSquaredIntegral(gamma0);
  const half = Math.ceil(n / 2);
  const u = rng.uniformHost(half);
  const t = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const ui = i < half ? u[i] : 1 - u[i - half];
    t[i] = (spGammaOfAlphaSquaredMass(gamma0, gamma1, Z * ui) - gamma0) / (gamma1 - gamma0);
  }
  return { t, Z };
}
