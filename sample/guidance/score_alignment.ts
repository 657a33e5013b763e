/**
 * Score alignment (Karczewski et al.; docs/MATH.md §5): SA(x_T) = ⟨∇log p_0(x_0), J_{T→0} v_T⟩ with
 * v_T = ∇log p_T(x_T) (the prior π's, or the model's own p_T) and J_{T→0} the Jacobian of the
 * PF-ODE map x_T ↦ x_0. If SA > 0 along a ray, shrinking x_T raises log p_0 monotonically.
 *
 * Transport: along the PF-ODE u = f x − ½g²s, the tangent v_t = J_{T→t} v_T obeys
 * v' = J_u v = f v − ½g² J_s v (a JVP, built from a double VJP); at t_min SA = s(x_0)·v_0.
 * Score-free: along the flow d log p_t/dt = −∇·u, so log p_0(x_0) = log p_T(x_T) +
 * ∫_T^{t_min} −∇·u dt; differentiated along v_T it gives SA = ∇log p_T(x_T)·v_T +
 * ∫_T^{t_min} −v_t·∇(∇·u) dt, and v·∇(∇·u) = ∇·(J_u v) for a fixed v,
 * so ω' = −∇·(J_u v) = ½g²∇·(J_s v) from ω(T) = ‖v_T‖² gives SA = ω(t_min) with no score at
 * x_0: only divergences of the model's own field (exact, or Hutchinson: third-order autodiff).
 * Both are the derivative of their discrete objective too: an RK step commutes with
 * linearisation, so with fixed steps they match finite differences of the solver's map.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { referenceBackend, Rng } from "../../compute/mod.ts";
 * import { GmmModel } from "../../data/gmm_model.ts";
 * import { priorSample } from "../../sde/prior.ts";
 * import { makeSde } from "../../sde/processes.ts";
 * const backend = referenceBackend(), rng = Rng.fromSeed(0), sde = makeSde("vp");
 * // Gaussian data, whose exact score stands in for a trained network
 * const model = GmmModel.isotropic({ weights: [1], means: [[1, -1]], stds: [0.5] }, sde);
 * const xT = priorSample(sde, rng, backend, [16, 2], "f64");
 * const r = await scoreAlignment((x, t) => model.score(x, t), sde, xT, {
 *   tMin: sde.tMinSampling, rtol: 1e-5, atol: 1e-5, divergence: { method: "exact" },
 *   scoreFree: false,
 * });
 * assert.ok(r.alignment.every((a) => a > 0)); // Gaussian data: shrinking any latent raises log p_0
 * ```
 */

import {
  divergence,
  mul,
  noGrad,
  stopGradient,
  sub,
  sumPerExample,
  type Tensor,
  tensor,
  tidy,
  vjp,
  zeros,
} from "../../compute/mod.ts";
import type { ScoreFn } from "../../sde/likelihood.ts";
import type { Sde } from "../../sde/sde.ts";
import { priorLogp } from "../../sde/prior.ts";
import { solveOde } from "../../sde/ode/solve.ts";
import { DORMAND_PRINCE } from "../../sde/ode/tableaus.ts";
import { flowCoefs, type FlowOptions, scaledFlowRates } from "../flow/scaled.ts";
import { perExample, scoreTerms } from "../flow/score_terms.ts";
import type { FlowResult } from "../flow/segments.ts";

/**
 * J_f(x)v by two reverse passes: w ↦ vjp(f, x)(w) = J_fᵀw is linear in w, so its own VJP with
 * seed v is d/dw[(J_fᵀw)·v] = J_f v. Differentiable again when a surrounding trace asks.
 */
export function jvp(f: (x: Tensor) => Tensor, x: Tensor, v: Tensor): Tensor {
  return vjp((w) => vjp(f, x).pullback(w), zeros(x.backend, x.shape, x.dtype)).pullback(v);
}

export interface AlignmentOptions extends FlowOptions {
  tMin: number;
  /** transport ω' = −∇·(J_u v) instead of evaluating the score at x_0 */
  scoreFree: boolean;
  /** the terminal density (default π): its log-density and its score at x_T */
  terminal?: { logp: (xT: Tensor) => Tensor; score: (xT: Tensor) => Tensor };
}

export interface AlignmentResult extends FlowResult {
  /** SA(x_T) per example */
  alignment: Float64Array;
}

/** SA of each latent of x_T (not consumed), with the PF-ODE's x_0 and log p_0 beside it. */
export async function scoreAlignment(
  score: ScoreFn,
  sde: Sde,
  xT: Tensor,
  o: AlignmentOptions,
): Promise<AlignmentResult> {
  const B = xT.shape[0];
  const [logpT, vT, omegaT] = tidy(() =>
    noGrad(() => {
      const v = o.terminal ? o.terminal.score(xT) : mul(xT, -1 / sde.priorStd ** 2);
      const lp = o.terminal ? o.terminal.logp(xT) : priorLogp(sde, xT);
      return [lp, v, sumPerExample(mul(v, v))];
    })
  );
  const ell0 = zeros(xT.backend, [B], xT.dtype);
  const y0 = o.scoreFree ? [xT, ell0, vT, omegaT] : [xT, ell0, vT];
  let sol;
  try {
    sol = await solveOde(
      (t, [x, _ell, v]) => {
        const terms = scoreTerms(score, x, t, o.divergence, false);
        const c = flowCoefs(sde, t);
        const { dx, dEll } = scaledFlowRates(x, terms, c, 1);
        const scoreT = (y: Tensor) => score(y, t);
        const halfG2 = perExample(mul(c.g2, 0.5), x);
        if (!o.scoreFree) {
          const dv = sub(mul(perExample(c.f, x), v), mul(halfG2, jvp(scoreT, x, v)));
          return [dx, dEll, stopGradient(dv)];
        }
        const { value: jv, div } = divergence((y) => jvp(scoreT, y, v), x, o.divergence);
        const dv = sub(mul(perExample(c.f, x), v), mul(halfG2, jv));
        return [dx, dEll, stopGradient(dv), stopGradient(mul(mul(c.g2, 0.5), div))];
      },
      y0,
      sde.T,
      o.tMin,
      {
        tableau: DORMAND_PRINCE,
        rtol: o.rtol,
        atol: o.atol,
        fixedSteps: o.fixedSteps,
      },
    );
  } finally {
    for (const t of [vT, omegaT, ell0]) t.dispose();
  }
  const [x0, ell, v0, omega] = sol.y;
  const sa = omega ?? tidy(() =>
    noGrad(() => {
      const tMin = tensor(xT.backend, new Float64Array(B).fill(o.tMin), [B], xT.dtype);
      return sumPerExample(mul(score(x0, tMin), v0));
    })
  );
  try {
    const [x, d, p, a] = await Promise.all([x0, ell, logpT, sa].map((v) => v.read()));
    return {
      x: Float64Array.from(x),
      logp: Float64Array.from(d, (di, i) => p[i] + di),
      terminalLogp: Float64Array.from(p),
      withheld: new Float64Array(B),
      alignment: Float64Array.from(a),
      nfe: sol.nfe,
      nfePerExample: sol.nfePerExample,
      steps: sol.steps,
    };
  } finally {
    for (const t of [...sol.y, logpT]) t.dispose();
    if (!omega) sa.dispose();
  }
}
