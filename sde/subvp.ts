/**
 * The sub-VP process (Song et al. 2021, eq. 29; docs/MATH.md §1): α_t = exp(−½B(t)),
 * σ_t = 1 − e^{−B(t)} (no square root), B(t) = β0 t + ½(β1 − β0)t², f(t) = −½β(t),
 * g(t)² = β(t)(1 − e^{−2B(t)}), λ = B − 2 ln(e^B − 1), π = N(0, I).
 */

import { add, exp, mul, type Tensor } from "../compute/mod.ts";
import { hostAlphaSigma, hostDriftDiffusion } from "./host_times.ts";
import type { Sde } from "./sde.ts";
import { oneMinusExpNeg } from "./vp.ts";

export class SubVpSde implements Sde {
  readonly kind = "subvp";
  readonly T = 1;
  /** ScoreFlow evaluates sub-VP models from 1e-2: below it σ_t ≈ B(t) makes the score blow up. */
  readonly tMinLikelihood = 1e-2;
  readonly tMinSampling = 1e-3;
  readonly priorStd = 1;
  readonly params: Readonly<{ beta0: number; beta1: number }>;

  constructor(readonly beta0 = 0.1, readonly beta1 = 20) {
    this.params = { beta0, beta1 };
  }

  /** B(t) = β0 t + ½(β1 − β0) t² */
  integratedBeta(t: number): number {
    return this.beta0 * t + 0.5 * (this.beta1 - this.beta0) * t * t;
  }
  alpha(t: number): number {
    return Math.exp(-0.5 * this.integratedBeta(t));
  }
  /** σ_t = 1 − e^{−B} through expm1, so σ keeps full relative accuracy as t → 0. */
  sigma(t: number): number {
    return -Math.expm1(-this.integratedBeta(t));
  }
  driftCoef(t: number): number {
    return -0.5 * this.#beta(t);
  }
  /** g² = β(1 − e^{−2B}) = dσ²/dt − 2fσ² */
  diffusion2(t: number): number {
    return -this.#beta(t) * Math.expm1(-2 * this.integratedBeta(t));
  }
  /** λ = ln(α²/σ²) = B − 2 ln(e^B − 1) */
  logSnr(t: number): number {
    const b = this.integratedBeta(t);
    return b - 2 * Math.log(Math.expm1(b));
  }
  /**
   * With w = e^B − 1, e^λ = (1 + w)/w², a quadratic in w whose positive root is
   * w = (u + √(u² + 4u))/2, u = e^{−λ}; then t is the positive root of ½(β1 − β0)t² + β0 t = B.
   */
  timeOfLogSnr(lambda: number): number {
    let b: number;
    if (lambda > 0) {
      const u = Math.exp(-lambda);
      b = Math.log1p((u + Math.sqrt(u * (u + 4))) / 2);
    } else {
      // w = e^{−λ}(1 + √(1 + 4e^λ))/2 would overflow for very negative λ: stay in logs
      const logW = -lambda + Math.log((1 + Math.sqrt(1 + 4 * Math.exp(lambda))) / 2);
      b = logW + Math.log1p(Math.exp(-logW));
    }
    const d = this.beta1 - this.beta0;
    // stable root: 2B / (β0 + √(β0² + 2dB))
    return (2 * b) / (this.beta0 + Math.sqrt(this.beta0 ** 2 + 2 * d * b));
  }

  #beta(t: number): number {
    return this.beta0 + t * (this.beta1 - this.beta0);
  }
  #integratedBetaT(t: Tensor): Tensor {
    return add(mul(t, this.beta0), mul(mul(t, t), 0.5 * (this.beta1 - this.beta0)));
  }
  /** σ = 1 − e^{−B} by the float32-safe series below B = 0.1 (σ ≈ B: the subtraction would cancel). */
  alphaSigmaT(t: Tensor): { alpha: Tensor; sigma: Tensor } {
    const host = hostAlphaSigma(this, t);
    if (host) return host;
    const b = this.#integratedBetaT(t);
    return { alpha: exp(mul(b, -0.5)), sigma: oneMinusExpNeg(b) };
  }
  driftDiffusionT(t: Tensor): { f: Tensor; g2: Tensor } {
    const host = hostDriftDiffusion(this, t);
    if (host) return host;
    const beta = add(mul(t, this.beta1 - this.beta0), this.beta0);
    const b = this.#integratedBetaT(t);
    return { f: mul(beta, -0.5), g2: mul(beta, oneMinusExpNeg(mul(b, 2))) };
  }
}
