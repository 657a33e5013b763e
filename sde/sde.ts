/**
 * The forward-process interface (docs/MATH.md §1): x_t = α_t x_0 + σ_t z, f(x,t) = f(t)x, g(t)².
 * Host methods run in float64 (step control, offsets, reports); tensor methods take
 * per-example times of shape [B] and return [B] tensors. Time runs on [t_min, T], T = 1.
 */

import type { Tensor } from "../compute/mod.ts";

export type SdeKind = "vp" | "subvp" | "ve" | "vdm" | "sp";

export interface Sde {
  readonly kind: SdeKind;
  /** The process's constants, as reported in JSON and stored in checkpoints. */
  readonly params: Readonly<Record<string, number>>;
  readonly T: number;
  /** Default t_min for likelihood work (eval-nll, the bound, training) and for sampling. */
  readonly tMinLikelihood: number;
  readonly tMinSampling: number;
  /** The prior π = N(0, priorStd² I) at T. */
  readonly priorStd: number;

  alpha(t: number): number;
  sigma(t: number): number;
  /** f(t), with drift f(t)·x */
  driftCoef(t: number): number;
  /** g(t)² */
  diffusion2(t: number): number;
  /** λ(t) = ln(α²/σ²) */
  logSnr(t: number): number;
  /** The closed-form inverse of λ(t). */
  timeOfLogSnr(lambda: number): number;

  alphaSigmaT(t: Tensor): { alpha: Tensor; sigma: Tensor };
  driftDiffusionT(t: Tensor): { f: Tensor; g2: Tensor };
}
