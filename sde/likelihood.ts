/**
 * Exact log-likelihood through the probability-flow ODE (docs/MATH.md §2, score_sde convention):
 * integrate {x, ℓ} from t_min to T with dx/dt = u = f(t)x − ½g(t)²s(x,t) and dℓ/dt = ∇·u;
 * then log p_{t_min}(x) = log π(x_T) + ℓ(T). Step control is per example, on the host.
 */

import {
  divergence,
  type DivergenceMethod,
  mul,
  noGrad,
  stopGradient,
  sub,
  type Tensor,
  zeros,
} from "../compute/mod.ts";
import { solveOde } from "./ode/solve.ts";
import { DORMAND_PRINCE } from "./ode/tableaus.ts";
import type { Sde } from "./sde.ts";
import { priorLogp } from "./prior.ts";
import { mapPerExample } from "./host_times.ts";
import { perExample } from "./parameterization.ts";

/** A score function of per-example times: x [B, …], t [B] → [B, …]. */
export type ScoreFn = (x: Tensor, t: Tensor) => Tensor;

export interface LikelihoodOptions {
  tMin: number;
  tMax: number;
  rtol: number;
  atol: number;
  divergence: DivergenceMethod;
  /** log-density at T; default the process's prior π (`--prior standard`) */
  terminalLogp?: (xT: Tensor) => Tensor;
}

export interface LikelihoodResult {
  /** log p_{t_min}(x) per example, nats */
  logp: Float64Array;
  /** log π(x_T) and ℓ(T), the two parts of logp */
  priorLogp: Float64Array;
  deltaLogp: Float64Array;
  /** x_T, where the ODE ended (row-major, one row per example) */
  endPoint: Float64Array;
  nfe: number;
  /** function evaluations each example needed (its cost had it been solved alone) */
  nfePerExample: Int32Array;
  steps: number;
}

/** u(x, t) = f(t)x − ½g(t)²s(x, t), the probability-flow drift. */
export function pfOdeDrift(score: ScoreFn, sde: Sde): (x: Tensor, t: Tensor) => Tensor {
  return (x, t) => {
    const { f, g2 } = sde.driftDiffusionT(t);
    const halfG2 = mapPerExample(g2, (v) => 0.5 * v, (v) => mul(v, 0.5));
    return sub(mul(perExample(f, x), x), mul(perExample(halfG2, x), score(x, t)));
  };
}

export async function pfOdeLogLikelihood(
  score: ScoreFn,
  sde: Sde,
  x: Tensor,
  o: LikelihoodOptions,
): Promise<LikelihoodResult> {
  const drift = pfOdeDrift(score, sde);
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
  const prior = noGrad(() => (o.terminalLogp ?? ((y: Tensor) => priorLogp(sde, y)))(xT));
  const [p, d, end] = await Promise.all([prior.read(), ellT.read(), xT.read()]);
  const logp = Float64Array.from(p, (v, i) => v + d[i]);
  for (const t of [prior, xT, ellT, ell0]) t.dispose();
  return {
    logp,
    priorLogp: Float64Array.from(p),
    deltaLogp: Float64Array.from(d),
    endPoint: Float64Array.from(end),
    nfe: sol.nfe,
    nfePerExample: sol.nfePerExample,
    steps: sol.steps,
  };
}
