/**
 * The variance-preserving process (Song et al. 2021; docs/MATH.md §1): α_t = exp(−½B(t)),
 * σ_t² = 1 − e^{−B(t)}, B(t) = β0 t + ½(β1 − β0)t², f(t) = −½β(t), g(t)² = β(t), π = N(0, I).
 */

import { add, exp, lt, mul, sqrt, sub, type Tensor, where } from "../compute/mod.ts";
import { hostAlphaSigma, hostDriftDiffusion } from "./host_times.ts";
import type { Sde } from "./sde.ts";

/** Below this B the series 1 − e^{−B} = B − B²/2 + … replaces the float32 subtraction. */
const SERIES_BELOW = 0.1;

/** 1 − e^{−B} on the device: B(1 − B/2(1 − B/3(1 − B/4(1 − B/5)))) below 0.1 (error < 2e-9). */
export function oneMinusExpNeg(b: Tensor): Tensor {
  let series = sub(1, mul(b, 1 / 5));
  for (const k of [4, 3, 2]) series = sub(1, mul(mul(b, 1 / k), series));
  return where(lt(b, SERIES_BELOW), mul(b, series), sub(1, exp(mul(b, -1))));
}

export class VpSde implements Sde {
  readonly kind = "vp";
  readonly T = 1;
  readonly tMinLikelihood = 1e-5;
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
  /** σ_t = √(1 − e^{−B}) through expm1, accurate for small t. */
  sigma(t: number): number {
    return Math.sqrt(-Math.expm1(-this.integratedBeta(t)));
  }
  driftCoef(t: number): number {
    return -0.5 * this.diffusion2(t);
  }
  diffusion2(t: number): number {
    return this.beta0 + t * (this.beta1 - this.beta0);
  }
  /** λ = −ln(e^{B} − 1) */
  logSnr(t: number): number {
    return -Math.log(Math.expm1(this.integratedBeta(t)));
  }
  /** B = ln(1 + e^{−λ}), then the positive root of ½(β1 − β0)t² + β0 t − B = 0. */
  timeOfLogSnr(lambda: number): number {
    const b = lambda > 0 ? Math.log1p(Math.exp(-lambda)) : -lambda + Math.log1p(Math.exp(lambda));
    const d = this.beta1 - this.beta0;
    // stable root: 2B / (β0 + √(β0² + 2dB))
    return (2 * b) / (this.beta0 + Math.sqrt(this.beta0 ** 2 + 2 * d * b));
  }

  #integratedBetaT(t: Tensor): Tensor {
    return add(mul(t, this.beta0), mul(mul(t, t), 0.5 * (this.beta1 - this.beta0)));
  }
  alphaSigmaT(t: Tensor): { alpha: Tensor; sigma: Tensor } {
    const host = hostAlphaSigma(this, t);
    if (host) return host;
    const b = this.#integratedBetaT(t);
    return { alpha: exp(mul(b, -0.5)), sigma: sqrt(oneMinusExpNeg(b)) };
  }
  driftDiffusionT(t: Tensor): { f: Tensor; g2: Tensor } {
    const host = hostDriftDiffusion(this, t);
    if (host) return host;
    const beta = add(mul(t, this.beta1 - this.beta0), this.beta0);
    return { f: mul(beta, -0.5), g2: beta };
  }
}
