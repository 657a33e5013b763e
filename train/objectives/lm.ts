/**
 * The Likelihood Matching objective (docs/MATH.md §3.5): per example, t_0 = t_min and N sorted
 * times t_1 < … < t_N in (t_min, T] with Dirichlet(1, …, 1) spacings (the order statistics of
 * N uniforms); one forward path x_{t_0} = α_{t_0} x_0 + σ_{t_0} z_0, x_{t_k} = a_k x_{t_{k−1}} +
 * b_k ε_k; and the N transitions' Gaussian quasi-NLLs −log N(x_{t_{k−1}}; μ(x_{t_k}), (b²/a²) M)
 * summed. The score network enters through μ, the covariance head through M.
 */

import { add, mean, mul, reshape, type Tensor, tensor } from "../../compute/mod.ts";
import type { Rng } from "../../compute/mod.ts";
import { covarianceHead } from "../../nn/covariance_head.ts";
import type { ScoreFn } from "../../sde/likelihood.ts";
import { scoreFromPrediction } from "../../sde/parameterization.ts";
import type { Sde } from "../../sde/sde.ts";
import { quasiNll } from "../../sde/lm/quasi_nll.ts";
import {
  column,
  type LowRank,
  reverseMean,
  stepCoefficients,
  stepMatrix,
} from "../../sde/lm/transition.ts";
import type { LmParams, Objective } from "./objective.ts";

export type CovarianceFn = (x: Tensor, t: Tensor) => LowRank;

export interface LmBatch {
  x0: Tensor;
  /** times [B × (N + 1)], row i = t_min < t_1 < … < t_N of example i */
  times: Float64Array;
  /** N + 1 standard normals shaped like x0: z_0 for x_{t_0}, then ε_1 … ε_N */
  noise: Tensor[];
}

/** Row i: t_min followed by N sorted uniforms on (t_min, T] (Dirichlet(1,…,1) spacings). */
export function lmTimes(rng: Rng, B: number, N: number, tMin: number, T: number): Float64Array {
  const u = rng.uniformHost(B * N), out = new Float64Array(B * (N + 1));
  for (let i = 0; i < B; i++) {
    // 1 − u ∈ (0, 1] keeps every point above t_min
    const row = Array.from(u.subarray(i * N, (i + 1) * N), (v) => tMin + (T - tMin) * (1 - v));
    row.sort((a, b) => a - b);
    out[i * (N + 1)] = tMin;
    out.set(row, i * (N + 1) + 1);
  }
  return out;
}

/** Per-example loss [B]: the sum of the N transitions' quasi-NLLs (nats). */
export function lmLoss(score: ScoreFn, cov: CovarianceFn, sde: Sde, batch: LmBatch): Tensor {
  const { x0, times, noise } = batch;
  const B = x0.shape[0], N = noise.length - 1, D = x0.size / B;
  const at = (k: number) => Float64Array.from({ length: B }, (_, i) => times[i * (N + 1) + k]);
  const t0 = at(0);
  let x = add(
    mul(x0, column(t0.map((t) => sde.alpha(t)), x0)),
    mul(noise[0], column(t0.map((t) => sde.sigma(t)), x0)),
  );
  let total: Tensor | null = null;
  for (let k = 1; k <= N; k++) {
    const s = at(k - 1), t = at(k);
    const c = stepCoefficients(sde, s, t);
    const next = add(mul(x, column(c.a, x)), mul(noise[k], column(c.b2.map(Math.sqrt), x)));
    const tt = tensor(x0.backend, t, [B], x0.dtype);
    const mu = reverseMean(next, score(next, tt), c);
    const m = stepMatrix(cov(next, tt), c);
    const r = reshape(add(x, mul(mu, -1)), [B, D]);
    const nll = quasiNll(r, m, c.a.map((a) => a * a), c.b2).nll;
    total = total ? add(total, nll) : nll;
    x = next;
  }
  return total!;
}

/**
 * The step's Likelihood-Matching loss: N sorted times per example from the stream's "time",
 * and N + 1 noise draws ("noise"/k). With `--freeze-score` only the head is differentiated;
 * the score network is read from the weights as they stand.
 */
export const lmObjective: Objective = ({ x0, stream, sde, config: c, net, params }) => {
  const lm = c.lm!, N = lm.timePoints, B = x0.shape[0];
  const times = lmTimes(stream.derive("time"), B, N, c.tMin, sde.T);
  const noise = Array.from(
    { length: N + 1 },
    (_, k) => stream.derive("noise").derive(k).normal(x0.backend, x0.shape, x0.dtype),
  );
  return (p) => {
    const { score, head } = lm.freezeScore
      ? { score: (params as LmParams).score, head: (p as LmParams).head }
      : p as LmParams;
    const s = (x: Tensor, t: Tensor) =>
      scoreFromPrediction(c.param, net(score)(x, t), x, sde.alphaSigmaT(t));
    const cov = (x: Tensor, t: Tensor) => covarianceHead(head, lm.head, lm.rank, sde, x, t);
    return mean(lmLoss(s, cov, sde, { x0, times, noise }));
  };
};
