/**
 * The high-density sampler (Karczewski et al.; docs/MATH.md §5): the PF-ODE dx = [f − ½g²s] dt from
 * T down to a threshold time, then the high-density ODE dx = [f − g²s] dt (the score doubled)
 * down to t_min. The HD ODE tracks the mode of the denoising posterior p(x_0 | x_t): for
 * Gaussian data N(μ, c²I) started at T it ends on E[x_0 | x_T]. log p_{t_min} of each result is
 * tracked along the way: −∇·u on the PF segment and §4's deterministic form
 * −fD + ½g²(Δlog p − ‖s‖²) on the HD segment (Δlog p = ∇·s, exact or Hutchinson).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { referenceBackend, Rng, type Tensor } from "../../compute/mod.ts";
 * import { GmmModel } from "../../data/gmm_model.ts";
 * import { mean } from "../../io/statistics.ts";
 * import { priorSample } from "../../sde/prior.ts";
 * import { makeSde } from "../../sde/processes.ts";
 * const backend = referenceBackend(), rng = Rng.fromSeed(0), sde = makeSde("vp");
 * // two Gaussian blobs whose exact score stands in for a trained network
 * const model = GmmModel.isotropic(
 *   { weights: [0.5, 0.5], means: [[-2, 0], [2, 0]], stds: [0.5, 0.5] },
 *   sde,
 * );
 * const xT = priorSample(sde, rng, backend, [16, 2], "f64");
 * const score = (x: Tensor, t: Tensor) => model.score(x, t);
 * const o = {
 *   tMin: sde.tMinSampling, rtol: 1e-5, atol: 1e-5, divergence: { method: "exact" },
 * } as const;
 * const r = await hdModeSample(score, sde, xT, { ...o, tThreshold: sde.timeOfLogSnr(0) });
 * const pf = await hdModeSample(score, sde, xT, { ...o, tThreshold: o.tMin }); // the PF-ODE alone
 * assert.ok(mean(r.logp) > mean(pf.logp)); // HD samples sit closer to the modes
 * ```
 */

import type { Tensor } from "../../compute/mod.ts";
import type { ScoreFn } from "../../sde/likelihood.ts";
import type { Sde } from "../../sde/sde.ts";
import { constantEta, type FlowOptions, HD_ETA, PF_ETA, solveScaledFlow } from "../flow/scaled.ts";
import { type FlowResult, runSegments, type Segment } from "../flow/segments.ts";

export interface HdOptions extends FlowOptions {
  /** where the PF-ODE hands over to the HD ODE, in [tMin, T]; T runs HD from the start */
  tThreshold: number;
  tMin: number;
  /** log-density at T; default the process's prior π */
  terminalLogp?: (xT: Tensor) => Tensor;
}

/** Samples from x_T (not consumed): x_{t_min}, its log p_{t_min} and the NFE. */
export async function hdModeSample(
  score: ScoreFn,
  sde: Sde,
  xT: Tensor,
  o: HdOptions,
): Promise<FlowResult> {
  if (!(o.tMin <= o.tThreshold && o.tThreshold <= sde.T)) {
    throw new RangeError(
      `hd-mode: threshold ${o.tThreshold} outside [t_min, T] = [${o.tMin}, ${sde.T}]`,
    );
  }
  const segment = (from: number, to: number, eta: number): Segment => (y) =>
    solveScaledFlow(score, sde, y, from, to, constantEta(eta), false, o);
  const segments: Segment[] = [];
  if (o.tThreshold < sde.T) segments.push(segment(sde.T, o.tThreshold, PF_ETA));
  if (o.tThreshold > o.tMin) segments.push(segment(o.tThreshold, o.tMin, HD_ETA));
  return await runSegments(sde, xT, segments, o.terminalLogp);
}
