/**
 * The Likelihood-Matching chain's own variational bound (docs/MATH.md §3.5), per example y:
 *   −log p(y) ≤ E_q[ −log π(x_K) + Σ_k −log p_θ(x_{k−1} | x_k) + Σ_k log q(x_k | x_{k−1}) ],
 * on the grid y = x_0, t_1 = t_min < … < t_K = T (equal log-SNR steps, sde/lm/grid.ts), with one
 * forward path per example: x_1 = α_1 y + σ_1 z, x_k = a_k x_{k−1} + b_k ε_k, so that
 * log q(x_k | x_{k−1}) = −(D/2) ln(2π b_k²) − ‖ε_k‖²/2 exactly. The reverse transitions are the
 * chain's Gaussians N(μ, (b²/a²)M); the last one, down to y itself, has covariance C.
 */

import {
  add,
  keep,
  mul,
  noGrad,
  reshape,
  type Rng,
  square,
  sub,
  sum,
  type Tensor,
  tensor,
  tidy,
} from "../compute/mod.ts";
import type { Sde } from "../sde/sde.ts";
import { logSnrGrid } from "../sde/log_snr_grid.ts";
import { quasiNll } from "../sde/lm/quasi_nll.ts";
import {
  column,
  dataStepCoefficients,
  reverseMean,
  type StepCoefficients,
  stepCoefficients,
  stepMatrix,
} from "../sde/lm/transition.ts";
import type { LowRank } from "../sde/lm/transition.ts";

export interface LmBoundModel {
  readonly sde: Sde;
  score(x: Tensor, t: Tensor): Tensor;
  denoisingCov(x: Tensor, t: Tensor): LowRank;
}

/** Per-example parts in nats: the bound is prior + transitions + forward. */
export interface LmBoundParts {
  nll: Float64Array;
  prior: Float64Array;
  transitions: Float64Array;
  forward: Float64Array;
}

/**
 * The bound for a batch y [B, …] in model space holding examples first, first + 1, …: step k
 * draws from `rng.derive(k)` positioned at example `first`, so an example's path is the same
 * whatever batch or shard it is evaluated in.
 */
export async function lmChainBound(
  model: LmBoundModel,
  y: Tensor,
  o: {
    tMin: number;
    steps: number;
    rng: Rng;
    /** log of the terminal density at x_K ([B]); default the process's prior π = N(0, σ_T² I) */
    logPrior?: (x: Tensor) => Tensor;
    /** the global index of the batch's first example (default 0) */
    first?: number;
  },
): Promise<LmBoundParts> {
  const { sde } = model;
  const B = y.shape[0], D = y.size / B;
  const grid = logSnrGrid(sde, sde.T, o.tMin, o.steps).reverse(); // t_1 = t_min … t_K = T
  const fill = (v: number) => new Float64Array(B).fill(v);
  // running sums stay on the device: one readback at the end, not one per step
  let transitions: Tensor | null = null, forward: Tensor | null = null;
  const accumulate = (total: Tensor | null, v: Tensor) => {
    if (!total) return keep(v);
    const next = keep(add(total, v));
    total.dispose();
    v.dispose();
    return next;
  };
  let prev = y;
  for (let k = 0; k < grid.length; k++) {
    const c: StepCoefficients = k === 0
      ? dataStepCoefficients(sde, fill(grid[0]))
      : stepCoefficients(sde, fill(grid[k - 1]), fill(grid[k]));
    const [next, nll, logq] = tidy(() =>
      noGrad(() => {
        const eps = o.rng.derive(k).at((o.first ?? 0) * D).normal(y.backend, y.shape, y.dtype);
        const x = add(mul(prev, column(c.a, prev)), mul(eps, column(c.b2.map(Math.sqrt), prev)));
        const tt = tensor(y.backend, fill(grid[k]), [B], y.dtype);
        const mu = reverseMean(x, model.score(x, tt), c);
        const m = stepMatrix(model.denoisingCov(x, tt), c);
        const r = reshape(sub(prev, mu), [B, D]);
        const nll = quasiNll(r, m, c.a.map((a) => a * a), c.b2).nll;
        // log q(x_k | x_{k−1}) = −(D/2) ln(2π b²) − ‖ε‖²/2
        const logq = add(
          mul(sum(reshape(square(eps), [B, D]), [1]), -0.5),
          -(D / 2) * Math.log(2 * Math.PI * c.b2[0]),
        );
        return [keep(x), nll, logq];
      })
    );
    transitions = accumulate(transitions, nll);
    forward = accumulate(forward, logq);
    if (prev !== y) prev.dispose();
    prev = next;
  }
  // −log π(x_K), π = N(0, σ_T² I), or the caller's terminal density
  const s2 = sde.priorStd ** 2;
  const logPrior = o.logPrior ??
    ((x: Tensor) =>
      mul(
        add(sum(reshape(square(x), [B, D]), [1]), D * s2 * Math.log(2 * Math.PI * s2)),
        -0.5 / s2,
      ));
  const prior = Float64Array.from(await tidy(() => noGrad(() => logPrior(prev))).read(), (v) => -v);
  const parts = {
    prior,
    transitions: Float64Array.from(await transitions!.read()),
    forward: Float64Array.from(await forward!.read()),
  };
  for (const t of [prev, transitions!, forward!]) t.dispose();
  const nll = prior.map((p, i) => p + parts.transitions[i] + parts.forward[i]);
  return { nll, ...parts };
}
