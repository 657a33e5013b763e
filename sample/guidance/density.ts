/**
 * Density guidance (Karczewski et al.; docs/MATH.md §5): the PF-ODE with a rescaled score,
 * dx = [f − ½g²η_t(x) s] dt, η_t(x) = 1 + k/‖σ_t s‖², k = √(2D)Φ⁻¹(q), started from x_T
 * rescaled to the median norm χ_D⁻¹(0.5)·σ_T. By §4 the log-density rate gains
 * ½g²(1 − η)‖s‖² = −½k g²/σ² = ½k dλ/dt, so log p_0 moves by ½k(λ(t_min) − λ(T)) nats against
 * the PF-ODE — exactly, for Gaussian data, whose Δlog p does not depend on x.
 *
 * The clamp. Near a mode of p_t the score vanishes and η blows up: the push along ŝ grows like
 * k/‖s‖ and reaches the mode in finite time, after which the target is unreachable. With
 * κ = −ŝᵀ∇²log p ŝ the curvature along the score, the mode along ŝ lies ‖s‖/κ away and ½‖s‖²/κ
 * nats higher (exact for a Gaussian). The guidance term moves x along ŝ by ½σ²(η − 1)‖s‖ per
 * unit of λ; the rule caps that at c = CLAMP_RATE times the distance to that mode, i.e.
 * |η − 1| ≤ 2c/(σ²κ), which is the same as flooring the denominator:
 *   η = 1 + k / (σ² · max(‖s‖², |k|κ⁺/(2c))).
 * The remaining gap then shrinks like e^{−cλ} instead of closing in finite time, the field stays
 * bounded and every result stays finite. The floor engages only when the gap ½‖s‖²/κ falls
 * below |k|/(4c) (a quarter of what one unit of λ asks for, at c = 1), so it never touches a
 * reachable target in high D (for a Gaussian the gap is ≈ D/2 ≫ |k|). Both signs of q use the
 * rule (q < 0.5 pushes away from a mode just as singularly); η may still go negative, as
 * lowering log p at small σ legitimately requires. Where κ ≤ 0 (log p convex along ŝ) any
 * change is reachable and nothing is clamped. The rate gap ½g²(η − η_target)‖s‖² accumulates
 * in w: the nats the clamp withheld, reported per sample. Costs one Hessian-vector product per
 * evaluation (one more pullback of the score).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { referenceBackend, Rng, type Tensor } from "../../compute/mod.ts";
 * import { GmmModel } from "../../data/gmm_model.ts";
 * import { priorSample } from "../../sde/prior.ts";
 * import { makeSde } from "../../sde/processes.ts";
 * import { priorGuidanceSample } from "./prior.ts";
 * const backend = referenceBackend(), rng = Rng.fromSeed(0), sde = makeSde("vp");
 * // Gaussian data, whose exact score stands in for a trained network
 * const model = GmmModel.isotropic({ weights: [1], means: [[1, -1]], stds: [0.5] }, sde);
 * const xT = priorSample(sde, rng, backend, [16, 2], "f64");
 * const score = (x: Tensor, t: Tensor) => model.score(x, t);
 * const o = {
 *   tMin: sde.tMinSampling, rtol: 1e-5, atol: 1e-5, divergence: { method: "exact" },
 * } as const;
 * const r = await densityGuidanceSample(score, sde, xT, { ...o, q: 0.7 });
 * const pf = await priorGuidanceSample(score, sde, xT, { ...o, q: 0.5 }); // the PF-ODE, same start
 * // log p_0 rises by the predicted shift, less what the clamp withheld short of the mode
 * const predicted = predictedShift(sde, 2, 0.7, o.tMin);
 * assert.ok(r.logp.every((l, i) => Math.abs(l - pf.logp[i] + r.withheld[i] - predicted) < 1e-3));
 * ```
 */

import { abs, add, div, maximum, mul, neg, type Tensor, tidy } from "../../compute/mod.ts";
import { normalQuantile } from "../../sde/special.ts";
import type { ScoreFn } from "../../sde/likelihood.ts";
import type { Sde } from "../../sde/sde.ts";
import { type EtaRule, type FlowCoefs, type FlowOptions, solveScaledFlow } from "../flow/scaled.ts";
import { type ScoreTerms, TINY_SCORE2 } from "../flow/score_terms.ts";
import { latentRadius, rescaleToNorm } from "./latents.ts";
import { type FlowResult, runSegments } from "../flow/segments.ts";

/** c of the clamp: at most this fraction of the distance to the mode along ŝ per unit of λ. */
export const CLAMP_RATE = 1;

/** k = √(2D)Φ⁻¹(q), the strength in η = 1 + k/‖σs‖². */
export function guidanceStrength(D: number, q: number): number {
  if (!(q > 0 && q < 1)) throw new RangeError(`density guidance: q must be in (0, 1), got ${q}`);
  return Math.sqrt(2 * D) * normalQuantile(q);
}

/** The predicted shift of log p_0 against the PF-ODE, ½√(2D)Φ⁻¹(q)(λ(t_min) − λ(T)) nats. */
export function predictedShift(sde: Sde, D: number, q: number, tMin: number): number {
  return 0.5 * guidanceStrength(D, q) * (sde.logSnr(tMin) - sde.logSnr(sde.T));
}

/**
 * η = 1 + k/(σ² max(‖s‖², |k|κ⁺/(2c))) and the unclamped target 1 + k/(σ²‖s‖²), for a
 * strength k (a number, or per example [B] as stochastic guidance needs).
 */
export function clampedEta(
  k: number | Tensor,
  terms: ScoreTerms,
  c: FlowCoefs,
): { eta: Tensor; target: Tensor } {
  if (!terms.sHs) throw new Error("clampedEta: the terms need the curvature ŝᵀHŝ");
  const free = maximum(terms.sn2, TINY_SCORE2);
  const kappa = maximum(neg(terms.sHs), 0);
  const absK = typeof k === "number" ? Math.abs(k) : abs(k);
  const floored = maximum(free, mul(mul(kappa, absK), 0.5 / CLAMP_RATE));
  return {
    eta: add(div(k, mul(c.sigma2, floored)), 1),
    target: add(div(k, mul(c.sigma2, free)), 1),
  };
}

/** The density-guidance η rule for data of dimension D and quantile q. */
export function densityGuidanceRule(D: number, q: number): EtaRule {
  const k = guidanceStrength(D, q);
  return (terms, c) => clampedEta(k, terms, c);
}

export interface DensityGuidanceOptions extends FlowOptions {
  q: number;
  tMin: number;
  /** log-density at T; default the process's prior π */
  terminalLogp?: (xT: Tensor) => Tensor;
}

/** x_T (not consumed) rescaled to the median norm, then the guided ODE down to t_min. */
export async function densityGuidanceSample(
  score: ScoreFn,
  sde: Sde,
  xT: Tensor,
  o: DensityGuidanceOptions,
): Promise<FlowResult> {
  const D = xT.size / xT.shape[0];
  const rule = densityGuidanceRule(D, o.q);
  const start = tidy(() => rescaleToNorm(xT, latentRadius(sde, D, 0.5)));
  try {
    return await runSegments(sde, start, [
      (y) => solveScaledFlow(score, sde, y, sde.T, o.tMin, rule, true, o),
    ], o.terminalLogp);
  } finally {
    start.dispose();
  }
}
