/**
 * The variance-exploding process (Song et al. 2021, eq. 30; docs/MATH.md §1): α_t = 1,
 * σ_t = σmin(σmax/σmin)^t, f = 0, g(t)² = σ_t² · 2 ln(σmax/σmin), λ = −2 ln σ_t,
 * π = N(0, σmax² I).
 */

import { add, exp, full, mul, type Tensor, zeros } from "../compute/mod.ts";
import { hostAlphaSigma, hostDriftDiffusion } from "./host_times.ts";
import type { Sde } from "./sde.ts";

export class VeSde implements Sde {
  readonly kind = "ve";
  readonly T = 1;
  /** σ(0) = σmin > 0, so nothing degenerates at small t: the score_sde default serves both. */
  readonly tMinLikelihood = 1e-5;
  readonly tMinSampling = 1e-5;
  readonly priorStd: number;
  readonly params: Readonly<{ sigmaMin: number; sigmaMax: number }>;
  /** ln(σmax/σmin), the rate of ln σ_t in t */
  readonly #logRatio: number;

  constructor(readonly sigmaMin = 0.01, readonly sigmaMax = 50) {
    this.params = { sigmaMin, sigmaMax };
    this.priorStd = sigmaMax;
    this.#logRatio = Math.log(sigmaMax / sigmaMin);
  }

  alpha(_t: number): number {
    return 1;
  }
  sigma(t: number): number {
    return this.sigmaMin * Math.exp(t * this.#logRatio);
  }
  driftCoef(_t: number): number {
    return 0;
  }
  /** g² = dσ²/dt = σ² · 2 ln(σmax/σmin) */
  diffusion2(t: number): number {
    return this.sigma(t) ** 2 * 2 * this.#logRatio;
  }
  /** λ = ln(1/σ²) = −2 ln σ */
  logSnr(t: number): number {
    return -2 * (Math.log(this.sigmaMin) + t * this.#logRatio);
  }
  /** ln σ = −λ/2 is linear in t. */
  timeOfLogSnr(lambda: number): number {
    return (-0.5 * lambda - Math.log(this.sigmaMin)) / this.#logRatio;
  }

  /** One exp of a linear function of t: no cancellation anywhere, so no small-t branch. */
  alphaSigmaT(t: Tensor): { alpha: Tensor; sigma: Tensor } {
    const host = hostAlphaSigma(this, t);
    if (host) return host;
    return {
      alpha: full(t.backend, t.shape, 1, t.dtype),
      sigma: exp(add(mul(t, this.#logRatio), Math.log(this.sigmaMin))),
    };
  }
  driftDiffusionT(t: Tensor): { f: Tensor; g2: Tensor } {
    const host = hostDriftDiffusion(this, t);
    if (host) return host;
    // g² = exp(2 ln σ_t + ln(2 ln(σmax/σmin))): one rounding fewer than squaring σ on the device
    const logG2 = add(
      mul(t, 2 * this.#logRatio),
      2 * Math.log(this.sigmaMin) + Math.log(2 * this.#logRatio),
    );
    return { f: zeros(t.backend, t.shape, t.dtype), g2: exp(logG2) };
  }
}
