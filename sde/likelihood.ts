/**
 * Exact log-likelihood through the probability-flow ODE (MATH.md §2, score_sde convention):
 * integrate {x, ℓ} from t_min to T with dx/dt = u = f(t)x − ½g(t)²s(x,t) and dℓ/dt = ∇·u;
 * then log p_{t_min}(x) = log π(x_T) + ℓ(T). Step control is per example, on the host.
 */

import {
  divergence,
  type DivergenceMethod,
  mul,
  noGrad,
  reshape,
  square,
  stopGradient,
  sub,
  sumPerExample,
  type Tensor,
  zeros,
} from "../compute/mod.ts";
import { solveOde } from "./ode/solve.ts";
import { DORMAND_PRINCE } from "./ode/tableaus.ts";
import { driftDiffusionT, type VpConfig } from "./vp.ts";

/** A score function of per-example times: x [B, …], t [B] → [B, …]. */
export type ScoreFn = (x: Tensor, t: Tensor) => Tensor;

export interface LikelihoodOptions {
  tMin: number;
  tMax: number;
  rtol: number;
  atol: number;
  divergence: DivergenceMethod;
}

export interface LikelihoodResult {
  /** log p_{t_min}(x) per example, nats */
  logp: Float64Array;
  /** log π(x_T) and ℓ(T), the two parts of logp */
  priorLogp: Float64Array;
  deltaLogp: Float64Array;
  nfe: number;
  steps: number;
}

/** u(x, t) = f(t)x − ½g(t)²s(x, t), the PF-ODE drift of the VP process. */
export function pfOdeDrift(score: ScoreFn, vp: VpConfig): (x: Tensor, t: Tensor) => Tensor {
  return (x, t) => {
    const { f, g2 } = driftDiffusionT(vp, t);
    const col = (v: Tensor) => reshape(v, [x.shape[0], ...x.shape.slice(1).map(() => 1)]);
    return sub(mul(col(f), x), mul(col(mul(g2, 0.5)), score(x, t)));
  };
}

/** log N(x; 0, I) per example. */
export function standardNormalLogp(x: Tensor): Tensor {
  const D = x.size / x.shape[0];
  return sub(mul(sumPerExample(square(x)), -0.5), (D / 2) * Math.log(2 * Math.PI));
}

export async function pfOdeLogLikelihood(
  score: ScoreFn,
  vp: VpConfig,
  x: Tensor,
  o: LikelihoodOptions,
): Promise<LikelihoodResult> {
  const drift = pfOdeDrift(score, vp);
  const dynamics = (t: Tensor, [xt]: Tensor[]) => {
    const { value, div } = divergence((y) => drift(y, t), xt, o.divergence);
    return [stopGradient(value), stopGradient(div)];
  };
  const ell0 = zeros(x.backend, [x.shape[0]], x.dtype);
  // The dynamics return detached tensors, so the solver's updates record no graph.
  const sol = await solveOde(dynamics, [x, ell0], o.tMin, o.tMax, {
    tableau: DORMAND_PRINCE,
    rtol: o.rtol,
    atol: o.atol,
  });
  const [xT, ellT] = sol.y;
  const prior = noGrad(() => standardNormalLogp(xT));
  const [p, d] = await Promise.all([prior.read(), ellT.read()]);
  const logp = Float64Array.from(p, (v, i) => v + d[i]);
  for (const t of [prior, xT, ellT, ell0]) t.dispose();
  return {
    logp,
    priorLogp: Float64Array.from(p),
    deltaLogp: Float64Array.from(d),
    nfe: sol.nfe,
    steps: sol.steps,
  };
}
