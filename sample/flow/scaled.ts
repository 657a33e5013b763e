/**
 * The score-scaled flows of docs/MATH.md §5, dx = [f(t)x − ½g(t)² η s] dt with η = 1 (the PF-ODE),
 * η = 2 (the high-density ODE) or η_t(x) (density guidance), integrated from noise towards data
 * on the state {x, ℓ, w}: ℓ the change of log p_t(x_t) along the path (§4's deterministic
 * form), w the nats of a requested change that a clamp on η withheld.
 *
 * §4 gives d log p/dt = ∂_t log p + s·u with ∂_t log p = −∇·f − f·s + ½g²(Δlog p + ‖s‖²).
 * Here ∇·f = f(t)D, f·s = f(t) x·s and s·u = f(t) x·s − ½g²η‖s‖², so the x·s terms cancel
 * exactly and dℓ/dt = −f(t)D + ½g²(Δlog p + (1 − η)‖s‖²); written this way float32 never
 * forms the large, cancelling x·s. For η = 1 it is −∇·u, the PF-ODE's own rate.
 */

import { add, type DivergenceMethod, mul, square, sub, type Tensor } from "../../compute/mod.ts";
import { type OdeSolution, solveOde } from "../../sde/ode/solve.ts";
import { DORMAND_PRINCE } from "../../sde/ode/tableaus.ts";
import type { ScoreFn } from "../../sde/likelihood.ts";
import type { Sde } from "../../sde/sde.ts";
import { perExample, type ScoreTerms, scoreTerms } from "./score_terms.ts";

/** Per-example process coefficients at the evaluation times, each [B]. */
export interface FlowCoefs {
  f: Tensor;
  g2: Tensor;
  sigma2: Tensor;
}

/**
 * η at one evaluation: a number (PF-ODE, HD) or a [B] tensor; `target` is the unclamped η the
 * rule wanted, when a clamp may differ from it (its rate gap accumulates in w).
 */
export type EtaRule = (
  terms: ScoreTerms,
  c: FlowCoefs,
) => { eta: number | Tensor; target?: Tensor };

export interface FlowOptions {
  rtol: number;
  atol: number;
  /** N fixed Dormand–Prince steps per segment instead of adaptive step control */
  fixedSteps?: number;
  /** how Δlog p = ∇·s is computed; a Hutchinson probe stays fixed for the whole solve */
  divergence: DivergenceMethod;
}

/** The drift f x − ½g²η s and the rates dℓ/dt, dw/dt of the module comment. */
export function scaledFlowRates(
  x: Tensor,
  terms: ScoreTerms,
  c: FlowCoefs,
  eta: number | Tensor,
  target?: Tensor,
): { dx: Tensor; dEll: Tensor; dW: Tensor } {
  const D = x.size / x.shape[0];
  const halfG2 = mul(c.g2, 0.5);
  const dx = sub(mul(perExample(c.f, x), x), mul(perExample(mul(halfG2, eta), x), terms.s));
  const oneMinusEta = typeof eta === "number"
    ? mul(terms.sn2, 1 - eta)
    : mul(sub(1, eta), terms.sn2);
  const dEll = add(mul(c.f, -D), mul(halfG2, add(terms.lap, oneMinusEta)));
  // target − actual rate = ½g²(η − η_target)‖s‖²; exactly 0 wherever the clamp is idle
  const dW = target && typeof eta !== "number"
    ? mul(mul(halfG2, sub(eta, target)), terms.sn2)
    : mul(terms.sn2, 0);
  return { dx, dEll, dW };
}

/** f(t), g(t)², σ_t² at per-example times t [B]. */
export function flowCoefs(sde: Sde, t: Tensor): FlowCoefs {
  const { f, g2 } = sde.driftDiffusionT(t);
  return { f, g2, sigma2: square(sde.alphaSigmaT(t).sigma) };
}

/**
 * Integrates the state [x, ℓ, w] from `tFrom` to `tTo` (tFrom > tTo: noise → data) under the
 * flow of `rule`, by Dormand–Prince with per-example step control (or fixed steps). `curvature`
 * asks the terms for ŝᵀHŝ (the density-guidance clamp uses it). Never disposes `y`.
 */
export function solveScaledFlow(
  score: ScoreFn,
  sde: Sde,
  y: Tensor[],
  tFrom: number,
  tTo: number,
  rule: EtaRule,
  curvature: boolean,
  o: FlowOptions,
): Promise<OdeSolution> {
  return solveOde(
    (t, [x]) => {
      const terms = scoreTerms(score, x, t, o.divergence, curvature);
      const c = flowCoefs(sde, t);
      const { eta, target } = rule(terms, c);
      const r = scaledFlowRates(x, terms, c, eta, target);
      return [r.dx, r.dEll, r.dW];
    },
    y,
    tFrom,
    tTo,
    {
      tableau: DORMAND_PRINCE,
      rtol: o.rtol,
      atol: o.atol,
      fixedSteps: o.fixedSteps,
    },
  );
}

/** The PF-ODE's η = 1 and the high-density ODE's η = 2 in dx = [f − ½g²η s] dt. */
export const PF_ETA = 1, HD_ETA = 2;

/** η ≡ value: 1 the PF-ODE, 2 the high-density ODE (docs/MATH.md §5). */
export function constantEta(value: number): EtaRule {
  return () => ({ eta: value });
}
