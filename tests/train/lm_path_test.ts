/**
 * The Likelihood-Matching training loss assembles one forward path per example and sums the
 * reverse transitions' quasi-NLLs (MATH.md §3.5). On Gaussian data N(μ, c² I) the exact score
 * and the exact denoising covariance make every reverse transition the true q(x_{k−1} | x_k),
 * and Bayes' rule telescopes along the path:
 *
 *   Σ_k −log q(x_{k−1} | x_k) = −log p_{t_0}(x_{t_0}) + log p_{t_N}(x_{t_N}) − Σ_k −log q(x_k | x_{k−1}),
 *
 * i.e. prior at t_N + transitions − forward densities = −log p_{t_0}(x_{t_0}) on every path.
 * The right side is computed here on the host in float64 from the same times and noise, so a
 * wrong coefficient, time or pairing in the loss's path shows up example by example.
 */

import { eachBackend } from "../_helpers/backends.ts";
import { assertAllClose } from "../_helpers/all_close.ts";
import { tol } from "../_helpers/tolerances.ts";
import { add, div, full, mul, Rng, square, sub, type Tensor, tensor } from "../../compute/mod.ts";
import { perExample } from "../../sde/parameterization.ts";
import { VpSde } from "../../sde/vp.ts";
import { lmLoss, lmTimes } from "../../train/objectives/lm.ts";

const vp = new VpSde(), D = 3, C = 0.7, MU = [0.5, -1, 0.2];
const X0 = [[0.1, -0.4, 0.9], [1.2, -1.5, 0.2], [0.5, -1, 0.2], [-0.6, 0.3, -0.1]];
const B = X0.length, N = 4, T_MIN = 1e-3;

/** Gaussian data: s = (αμ − x)/v and Cov[x_0 | x_t] = c²σ²/v I, v = α²c² + σ². */
function marginal(t: Tensor) {
  const { alpha, sigma } = vp.alphaSigmaT(t);
  return { alpha, sigma, v: add(mul(square(alpha), C * C), square(sigma)) };
}
function score(x: Tensor, t: Tensor): Tensor {
  const m = marginal(t), mean = tensor(x.backend, MU, [1, D], x.dtype);
  return div(sub(mul(mean, perExample(m.alpha, x)), x), perExample(m.v, x));
}
function denoisingCov(x: Tensor, t: Tensor) {
  const m = marginal(t);
  const d = div(mul(square(m.sigma), C * C), m.v);
  return { d: mul(full(x.backend, x.shape, 1, x.dtype), perExample(d, x)), u: null };
}

/** log N(x; m, v I) */
const logNormal = (x: number[], m: number[], v: number) =>
  x.reduce((s, xi, i) => s - 0.5 * Math.log(2 * Math.PI * v) - (xi - m[i]) ** 2 / (2 * v), 0);
/** log p_t(x) of the data's marginal N(α_t μ, α_t²c² + σ_t²) */
const logMarginal = (x: number[], t: number) =>
  logNormal(x, MU.map((m) => vp.alpha(t) * m), vp.alpha(t) ** 2 * C * C + vp.sigma(t) ** 2);

eachBackend(
  "LM loss: the path telescopes to −log p_{t0} + log p_{tN} − Σ log q(x_k | x_{k−1})",
  async (c) => {
    const rng = Rng.fromSeed(4);
    const times = lmTimes(rng.derive("time"), B, N, T_MIN, vp.T);
    const noise = Array.from(
      { length: N + 1 },
      (_, k) => rng.derive("noise").derive(k).normal(c.backend, [B, D], c.dtype),
    );
    const x0 = tensor(c.backend, X0.flat(), [B, D], c.dtype);
    const loss = await lmLoss(score, denoisingCov, vp, { x0, times, noise }).read();
    const z = await Promise.all(noise.map((n) => n.read()));
    const expected = X0.map((y, i) => {
      const t = (k: number) => times[i * (N + 1) + k];
      const draw = (k: number) => Array.from(z[k].subarray(i * D, (i + 1) * D));
      let x = y.map((yj, j) => vp.alpha(t(0)) * yj + vp.sigma(t(0)) * draw(0)[j]);
      const start = x;
      let forward = 0;
      for (let k = 1; k <= N; k++) {
        const a = vp.alpha(t(k)) / vp.alpha(t(k - 1));
        const b2 = vp.sigma(t(k)) ** 2 - a * a * vp.sigma(t(k - 1)) ** 2;
        const next = x.map((xj, j) => a * xj + Math.sqrt(b2) * draw(k)[j]);
        forward += logNormal(next, x.map((xj) => a * xj), b2);
        x = next;
      }
      return -logMarginal(start, t(0)) + logMarginal(x, t(N)) - forward;
    });
    assertAllClose(
      loss,
      expected,
      c.dtype === "f64" ? tol.lmPathIdentityF64 : tol.lmPathIdentityF32,
      "LM path loss",
    );
  },
);
