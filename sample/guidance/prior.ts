/**
 * Prior guidance (Karczewski et al.; docs/MATH.md §5): rescale x_T to the norm χ_D⁻¹(1 − q)·σ_T, then
 * the plain PF-ODE, tracking log p_0 by −∇·u. q > 0.5 gives a smaller latent; where score
 * alignment holds (`score_alignment.ts`), shrinking x_T raises log p_0 monotonically, so q > 0.5
 * means higher log p_0 as for density guidance. q = 0.5 is the PF-ODE from the median-norm
 * latent, the baseline density guidance is compared against.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { referenceBackend, Rng, type Tensor } from "../../compute/mod.ts";
 * import { GmmModel } from "../../data/gmm_model.ts";
 * import { priorSample } from "../../sde/prior.ts";
 * import { makeSde } from "../../sde/processes.ts";
 * const backend = referenceBackend(), rng = Rng.fromSeed(0), sde = makeSde("vp");
 * // Gaussian data, whose exact score stands in for a trained network
 * const model = GmmModel.isotropic({ weights: [1], means: [[1, -1]], stds: [0.5] }, sde);
 * const xT = priorSample(sde, rng, backend, [16, 2], "f64");
 * const score = (x: Tensor, t: Tensor) => model.score(x, t);
 * const o = {
 *   tMin: sde.tMinSampling, rtol: 1e-5, atol: 1e-5, divergence: { method: "exact" },
 * } as const;
 * const r = await priorGuidanceSample(score, sde, xT, { ...o, q: 0.7 });
 * const median = await priorGuidanceSample(score, sde, xT, { ...o, q: 0.5 });
 * assert.ok(r.logp.every((l, i) => l > median.logp[i])); // a smaller latent, a likelier sample
 * ```
 */

import { type Tensor, tidy } from "../../compute/mod.ts";
import type { ScoreFn } from "../../sde/likelihood.ts";
import type { Sde } from "../../sde/sde.ts";
import { constantEta, type FlowOptions, PF_ETA, solveScaledFlow } from "../flow/scaled.ts";
import { latentRadius, rescaleToNorm } from "./latents.ts";
import { type FlowResult, runSegments } from "../flow/segments.ts";

export interface PriorGuidanceOptions extends FlowOptions {
  q: number;
  tMin: number;
  /** log-density at T; default the process's prior π */
  terminalLogp?: (xT: Tensor) => Tensor;
}

/** The latent norm prior guidance starts from, χ_D⁻¹(1 − q)·σ_T. */
export function priorGuidanceRadius(sde: Sde, D: number, q: number): number {
  if (!(q > 0 && q < 1)) throw new RangeError(`prior guidance: q must be in (0, 1), got ${q}`);
  return latentRadius(sde, D, 1 - q);
}

/** x_T (not consumed) rescaled to χ_D⁻¹(1 − q)·σ_T, then the PF-ODE down to t_min. */
export async function priorGuidanceSample(
  score: ScoreFn,
  sde: Sde,
  xT: Tensor,
  o: PriorGuidanceOptions,
): Promise<FlowResult> {
  const D = xT.size / xT.shape[0];
  const start = tidy(() => rescaleToNorm(xT, priorGuidanceRadius(sde, D, o.q)));
  try {
    return await runSegments(sde, start, [
      (y) => solveScaledFlow(score, sde, y, sde.T, o.tMin, constantEta(PF_ETA), false, o),
    ], o.terminalLogp);
  } finally {
    start.dispose();
  }
}
