/**
 * An isotropic Gaussian mixture Σ_k w_k N(μ_k, c_k² I) pushed through a linear process:
 * p_t = Σ_k w_k N(α_t μ_k, (α_t² c_k² + σ_t²) I) (docs/MATH.md §6). Exact log-density and score
 * at every t, on the device (per-example times) and in float64 on the host. The full mixture
 * model with covariances and the `gmm:FILE` loader build on this.
 */

import {
  add,
  type Backend,
  div,
  type DType,
  exp,
  log,
  logsumexp,
  lt,
  matmul,
  mul,
  reshape,
  type Rng,
  sub,
  sum,
  type Tensor,
  tensor,
} from "../compute/mod.ts";

export interface IsoGmm {
  weights: number[];
  means: number[][];
  stds: number[];
}

/** Two well-separated clusters: the spike's and the tests' toy data (D = 2). */
export const TWO_BLOBS: IsoGmm = {
  weights: [0.3, 0.7],
  means: [[-2, 0.5], [1.5, -1]],
  stds: [0.4, 0.6],
};

interface Consts {
  means: Tensor; // [K, D]
  meanSq: Tensor; // [1, K]
  var0: Tensor; // [1, K] c_k²
  logW: Tensor; // [1, K]
}

function consts(g: IsoGmm, backend: Backend, dtype: DType): Consts {
  const K = g.weights.length, D = g.means[0].length;
  return {
    means: tensor(backend, g.means.flat(), [K, D], dtype),
    meanSq: tensor(backend, g.means.map((m) => m.reduce((s, v) => s + v * v, 0)), [1, K], dtype),
    var0: tensor(backend, g.stds.map((s) => s * s), [1, K], dtype),
    logW: tensor(backend, g.weights.map(Math.log), [1, K], dtype),
  };
}

/** Component log-densities log w_k + log N_k(x) ([B, K]) and the variances v_k ([B, K]). */
function componentLogits(
  g: IsoGmm,
  x: Tensor,
  alpha: Tensor,
  sigma: Tensor,
): { logits: Tensor; v: Tensor; c: Consts } {
  const c = consts(g, x.backend, x.dtype);
  const D = x.shape[1];
  const a = reshape(alpha, [x.shape[0], 1]), s = reshape(sigma, [x.shape[0], 1]);
  const v = add(mul(mul(a, a), c.var0), mul(s, s));
  // ‖x − αμ_k‖² = ‖x‖² − 2α x·μ_k + α²‖μ_k‖²
  const dist2 = add(
    sub(sum(mul(x, x), [1], true), mul(mul(a, 2), matmul(x, c.means, false, true))),
    mul(mul(a, a), c.meanSq),
  );
  const logits = sub(
    sub(c.logW, mul(log(mul(v, 2 * Math.PI)), D / 2)),
    div(dist2, mul(v, 2)),
  );
  return { logits, v, c };
}

/** log p_t(x) per example ([B]); α, σ are per-example ([B]). */
export function gmmLogp(g: IsoGmm, x: Tensor, alpha: Tensor, sigma: Tensor): Tensor {
  return logsumexp(componentLogits(g, x, alpha, sigma).logits, [1]);
}

/** ∇ log p_t(x) = Σ_k r_k (α μ_k − x)/v_k with responsibilities r = softmax(logits). */
export function gmmScore(g: IsoGmm, x: Tensor, alpha: Tensor, sigma: Tensor): Tensor {
  const { logits, v, c } = componentLogits(g, x, alpha, sigma);
  const r = exp(sub(logits, logsumexp(logits, [1], true)));
  const rv = div(r, v);
  const a = reshape(alpha, [x.shape[0], 1]);
  return sub(mul(matmul(rv, c.means), a), mul(x, sum(rv, [1], true)));
}

/** Float64 log p_t(x) for one point, the oracle of likelihood tests. */
export function gmmLogpHost(g: IsoGmm, alpha: number, sigma: number, x: readonly number[]): number {
  const D = x.length;
  const terms = g.weights.map((w, k) => {
    const v = alpha * alpha * g.stds[k] ** 2 + sigma * sigma;
    const d2 = x.reduce((s, xi, i) => s + (xi - alpha * g.means[k][i]) ** 2, 0);
    return Math.log(w) - (D / 2) * Math.log(2 * Math.PI * v) - d2 / (2 * v);
  });
  const m = Math.max(...terms);
  return m + Math.log(terms.reduce((s, l) => s + Math.exp(l - m), 0));
}

/** n samples of the mixture drawn on the device: a component by inverse CDF, then a normal. */
export function gmmSample(
  g: IsoGmm,
  rng: Rng,
  backend: Backend,
  n: number,
  dtype: DType = "f32",
): Tensor {
  const K = g.weights.length, D = g.means[0].length;
  const c = consts(g, backend, dtype);
  const u = rng.derive("component").uniform(backend, [n, 1], dtype);
  // one-hot of the component: 1[u < W_k] − 1[u < W_{k−1}] with cumulative weights W
  const cum = g.weights.map((_, k) => g.weights.slice(0, k + 1).reduce((s, w) => s + w, 0));
  cum[K - 1] = 1.0000001; // u < 1 always lands in some component despite rounding
  const below = lt(u, tensor(backend, cum, [1, K], dtype));
  const onehot = sub(below, shiftRight(below, backend, dtype));
  const stds = tensor(backend, g.stds, [K, 1], dtype);
  const z = rng.derive("noise").normal(backend, [n, D], dtype);
  return add(matmul(onehot, c.means), mul(matmul(onehot, stds), z));
}

/** Column k−1 of `m` moved to column k (zero in column 0): W_{k−1} indicators. */
function shiftRight(m: Tensor, backend: Backend, dtype: DType): Tensor {
  const K = m.shape[1];
  const shift = new Float64Array(K * K);
  for (let k = 1; k < K; k++) shift[(k - 1) * K + k] = 1;
  return matmul(m, tensor(backend, shift, [K, K], dtype));
}
