/**
 * The score quantities the guided samplers need at one (x, t) (docs/MATH.md §4, §5): s = ∇log p_t(x),
 * ‖s‖², the Laplacian Δlog p_t = ∇·s (exact, or Hutchinson with a caller-fixed probe) and, when
 * asked, the curvature along the score ŝᵀ∇²log p_t ŝ. All come from one reverse-mode pass
 * through the score: the Hessian is the score's Jacobian (symmetric for a true score), so
 * Hŝ = J_sᵀŝ is one more pullback, the cost of one extra Hutchinson probe.
 */

import {
  div,
  divergenceFromPullback,
  type DivergenceMethod,
  maximum,
  mul,
  sqrt,
  square,
  stopGradient,
  sumPerExample,
  type Tensor,
  vjp,
} from "../../compute/mod.ts";
import type { ScoreFn } from "../../sde/likelihood.ts";
import { perExample } from "../../sde/parameterization.ts";

/** Guards ‖s‖² in denominators: s = 0 exactly (a mode, a saddle) must give 0, not 0/0. */
export const TINY_SCORE2 = 1e-30;

export interface ScoreTerms {
  /** s(x, t), detached, [B, …] */
  s: Tensor;
  /** ‖s‖² per example, [B] */
  sn2: Tensor;
  /** Δ log p_t(x) = ∇·s per example, [B] */
  lap: Tensor;
  /** ŝᵀ ∇²log p_t ŝ per example, [B]; null unless asked for */
  sHs: Tensor | null;
}

export { perExample };

/**
 * s, ‖s‖², Δlog p and optionally ŝᵀHŝ at (x, t). Everything returned is detached: the
 * samplers integrate these values, they never differentiate them.
 */
export function scoreTerms(
  score: ScoreFn,
  x: Tensor,
  t: Tensor,
  laplacian: DivergenceMethod,
  curvature: boolean,
): ScoreTerms {
  const { value: s, pullback } = vjp((y) => score(y, t), x);
  const sn2 = sumPerExample(square(s));
  const lap = divergenceFromPullback(x, pullback, laplacian);
  let sHs: Tensor | null = null;
  if (curvature) {
    const sHat = stopGradient(div(s, perExample(sqrt(maximum(sn2, TINY_SCORE2)), x)));
    sHs = stopGradient(sumPerExample(mul(sHat, pullback(sHat))));
  }
  return { s: stopGradient(s), sn2: stopGradient(sn2), lap: stopGradient(lap), sHs };
}
