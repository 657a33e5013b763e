/**
 * The variational-diffusion process with a linear noise schedule (Kingma et al. 2021; the
 * i-DODE setting of Zheng et al. 2023; docs/MATH.md §1): γ(t) = γmin + (γmax − γmin)t = −λ,
 * σ_t² = sigmoid(γ), α_t² = sigmoid(−γ), f(t) = −½σ_t²γ′, g(t)² = σ_t²γ′,
 * π = N(0, sigmoid(γmax) I).
 */

import { add, mul, sigmoid, sqrt, type Tensor } from "../compute/mod.ts";
import { hostAlphaSigma, hostDriftDiffusion } from "./host_times.ts";
import type { Sde } from "./sde.ts";
import { sigmoidHost } from "./special.ts";

/**
 * i-DODE starts the uniform-dequantisation likelihood at γ = −11.8 rather than at γmin = −13.3
 * (docs/MATH.md §1, §7: σ0 = 2.7394e-3); the truncated-normal one starts at γmin itself.
 */
export const VDM_UNIFORM_DEQUANT_GAMMA0 = -11.8;

export class VdmSde implements Sde {
  readonly kind = "vdm";
  readonly T = 1;
  /** γ(0) = γmin already keeps σ0 > 0 (1.294e-3): the schedule's own start is the t_min. */
  readonly tMinLikelihood = 0;
  readonly tMinSampling = 0;
  readonly priorStd: number;
  readonly params: Readonly<{ gammaMin: number; gammaMax: number }>;

  constructor(readonly gammaMin = -13.3, readonly gammaMax = 5) {
    this.params = { gammaMin, gammaMax };
    this.priorStd = Math.sqrt(sigmoidHost(gammaMax));
  }

  /** γ(t) = γmin + (γmax − γmin)t, the negative log-SNR */
  gamma(t: number): number {
    return this.gammaMin + (this.gammaMax - this.gammaMin) * t;
  }
  /** α = √sigmoid(−γ), not √(1 − σ²): that subtraction loses α's digits as γ → γmax. */
  alpha(t: number): number {
    return Math.sqrt(sigmoidHost(-this.gamma(t)));
  }
  sigma(t: number): number {
    return Math.sqrt(sigmoidHost(this.gamma(t)));
  }
  /** f = d ln α/dt = −½ sigmoid(γ) γ′ */
  driftCoef(t: number): number {
    return -0.5 * this.diffusion2(t);
  }
  /** g² = dσ²/dt − 2fσ² = σ²γ′ */
  diffusion2(t: number): number {
    return sigmoidHost(this.gamma(t)) * (this.gammaMax - this.gammaMin);
  }
  logSnr(t: number): number {
    return -this.gamma(t);
  }
  timeOfLogSnr(lambda: number): number {
    return (-lambda - this.gammaMin) / (this.gammaMax - this.gammaMin);
  }

  #gammaT(t: Tensor): Tensor {
    return add(mul(t, this.gammaMax - this.gammaMin), this.gammaMin);
  }
  /**
   * Both backends' sigmoid is the branch-stable e^γ/(1 + e^γ) for γ < 0, so σ² = sigmoid(γ)
   * keeps full relative accuracy at γ = −13.3 (σ² = 1.7e-6) where 1 − sigmoid(−γ) would
   * cancel, and α² = sigmoid(−γ) likewise near γmax.
   */
  alphaSigmaT(t: Tensor): { alpha: Tensor; sigma: Tensor } {
    const host = hostAlphaSigma(this, t);
    if (host) return host;
    const gamma = this.#gammaT(t);
    return { alpha: sqrt(sigmoid(mul(gamma, -1))), sigma: sqrt(sigmoid(gamma)) };
  }
  driftDiffusionT(t: Tensor): { f: Tensor; g2: Tensor } {
    const host = hostDriftDiffusion(this, t);
    if (host) return host;
    const g2 = mul(sigmoid(this.#gammaT(t)), this.gammaMax - this.gammaMin);
    return { f: mul(g2, -0.5), g2 };
  }
}
