/**
 * The Likelihood-Matching sampler (docs/MATH.md §3.5): on a grid from T down to t_min,
 *   Y_{k−1} = μ(Y_k) + (b/a)(√D_M ⊙ ξ1 + V ξ2),   M = D_M + V Vᵀ,  ξ1 ~ N(0, I_D), ξ2 ~ N(0, I_r),
 * whose noise has covariance (b²/a²) M exactly; the last step returns the mean. A model with
 * a dense Hessian (the analytic mixture) uses the exact moments instead: Σ = (b²/a²)(I + b²H),
 * sampled through its full D×D Cholesky factor (small D).
 */

import {
  add,
  cholesky,
  full,
  keep,
  matmul,
  mul,
  noGrad,
  reshape,
  type Rng,
  sqrt,
  type Tensor,
  tensor,
  tidy,
} from "../../compute/mod.ts";
import type { Sde } from "../../sde/sde.ts";
import {
  column,
  type LowRank,
  reverseMean,
  type StepCoefficients,
  stepCoefficients,
  stepMatrix,
} from "../../sde/lm/transition.ts";

/** What the sampler needs of a model: its score and either C(x, t) or the dense Hessian. */
export interface LmModel {
  score(x: Tensor, t: Tensor): Tensor;
  denoisingCov?(x: Tensor, t: Tensor): LowRank;
  hessian?(x: Tensor, t: Tensor): Tensor;
}

/**
 * One step t → s from x [B, …]: a draw from N(μ, (b²/a²) M). The batch holds examples
 * first, first + 1, …: each purpose's stream of `rng` is positioned at example `first`, so an
 * example draws the same numbers whatever batch it shares (one stream per purpose, counters
 * per example, as every sampler keys its draws).
 */
export function lmStep(
  model: LmModel,
  x: Tensor,
  t: Tensor,
  k: StepCoefficients,
  rng: Rng,
  first = 0,
): Tensor {
  const B = x.shape[0], D = x.size / B;
  const mu = reshape(reverseMean(x, model.score(x, t), k), [B, D]);
  const ratio = column(Float64Array.from(k.a, (a, i) => Math.sqrt(k.b2[i]) / a), mu); // b/a
  let noise: Tensor;
  if (model.denoisingCov) {
    const m = stepMatrix(model.denoisingCov(x, t), k);
    const d = reshape(m.d, [B, D]);
    noise = mul(sqrt(d), rng.derive("diagonal").at(first * D).normal(x.backend, [B, D], x.dtype));
    if (m.u) {
      const r = m.u.shape[2];
      const xi = rng.derive("factor").at(first * r).normal(x.backend, [B, r, 1], x.dtype);
      noise = add(noise, reshape(matmul(m.u, xi), [B, D]));
    }
  } else if (model.hessian) {
    // (b²/a²) M = (b²/a²)(I + b² H): scale the Cholesky factor of M by b/a
    const eye = new Float64Array(D * D);
    for (let i = 0; i < D; i++) eye[i * D + i] = 1;
    const h = model.hessian(x, t);
    const m = add(
      mul(h, reshape(column(k.b2, h), [B, 1, 1])),
      tensor(x.backend, eye, [D, D], x.dtype),
    );
    const xi = rng.derive("dense").at(first * D).normal(x.backend, [B, D, 1], x.dtype);
    noise = reshape(matmul(cholesky(m), xi), [B, D]);
  } else {
    throw new Error(
      "the LM sampler needs a covariance head (train --objective lm) or an analytic model",
    );
  }
  return reshape(add(mu, mul(noise, ratio)), x.shape);
}

/**
 * Runs the chain over `grid` (descending, grid[0] = T) on examples first, first + 1, …;
 * step i draws from `rng.derive(i)`. `x` is not consumed.
 */
export function lmSample(
  model: LmModel,
  sde: Sde,
  x: Tensor,
  grid: readonly number[],
  rng: Rng,
  first = 0,
): { x: Tensor; nfe: number } {
  const B = x.shape[0];
  let cur = x;
  for (let i = 0; i + 1 < grid.length; i++) {
    const t = grid[i], s = grid[i + 1], last = i + 2 === grid.length;
    const k = stepCoefficients(sde, new Float64Array(B).fill(s), new Float64Array(B).fill(t));
    const next = keep(tidy(() =>
      noGrad(() => {
        const tt = full(x.backend, [B], t, x.dtype);
        if (last) return reverseMean(cur, model.score(cur, tt), k);
        return lmStep(model, cur, tt, k, rng.derive(i), first);
      })
    ));
    if (cur !== x) cur.dispose();
    cur = next;
  }
  return { x: cur, nfe: grid.length - 1 };
}
