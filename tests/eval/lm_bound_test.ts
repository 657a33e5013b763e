/**
 * The Likelihood-Matching chain bound on Gaussian data N(μ, c² I), where the exact score and
 * the exact denoising covariance make every reverse transition the true one: the bound then
 * equals −log p_0(y) on every path when the chain ends in the data's own p_T, whatever the
 * number of steps. A wrong covariance loosens it.
 */

import assert from "node:assert/strict";
import { eachBackend } from "../_helpers/backends.ts";
import {
  add,
  div,
  full,
  mul,
  referenceBackend,
  Rng,
  square,
  sub,
  sum,
  type Tensor,
  tensor,
} from "../../compute/mod.ts";
import { VpSde } from "../../sde/vp.ts";
import { lmChainBound } from "../../eval/lm_bound.ts";
import { evaluateLmBound } from "../../eval/lm_bound_eval.ts";
import { perExample } from "../../sde/parameterization.ts";

const vp = new VpSde(), D = 4, c = 0.7, mu = [0.5, -1, 0.2, 0];
const ys = [[0.1, -0.4, 0.9, -0.3], [1.2, -1.5, 0.2, 0.4], [0.5, -1, 0.2, 0]];

/** Gaussian data: s = (αμ − x)/v and Cov[x_0 | x_t] = c²σ²/v, with v = α²c² + σ². */
function gaussian(covScale: number) {
  const v = (t: Tensor) => {
    const { alpha, sigma } = vp.alphaSigmaT(t);
    return { alpha, sigma, v: add(mul(square(alpha), c * c), square(sigma)) };
  };
  return {
    sde: vp,
    score(x: Tensor, t: Tensor) {
      const m = v(t), mean = tensor(x.backend, mu, [1, D], x.dtype);
      return div(sub(mul(mean, perExample(m.alpha, x)), x), perExample(m.v, x));
    },
    denoisingCov(x: Tensor, t: Tensor) {
      const m = v(t);
      const d = div(mul(square(m.sigma), c * c * covScale), m.v); // [B]
      return { d: mul(full(x.backend, x.shape, 1, x.dtype), perExample(d, x)), u: null };
    },
  };
}

/** log p_T(x) of the data's own marginal N(α_T μ, α_T² c² + σ_T²) at T = 1. */
function logpT(x: Tensor): Tensor {
  const a = vp.alpha(1), v = a * a * c * c + vp.sigma(1) ** 2;
  const m = tensor(x.backend, mu.map((mi) => a * mi), [1, D], x.dtype);
  return mul(add(sum(square(sub(x, m)), [1]), D * v * Math.log(2 * Math.PI * v)), -0.5 / v);
}

const logp0 = (y: number[]) =>
  y.reduce(
    (s, yi, i) => s - 0.5 * Math.log(2 * Math.PI * c * c) - (yi - mu[i]) ** 2 / (2 * c * c),
    0,
  );

eachBackend("LM chain bound: exact transitions give −log p(y) on every path", async (k) => {
  const y = tensor(k.backend, ys.flat(), [ys.length, D], k.dtype);
  for (const steps of [5, 50]) {
    const r = await lmChainBound(gaussian(1), y, {
      tMin: vp.tMinLikelihood,
      steps,
      rng: Rng.fromSeed(steps),
      logPrior: logpT,
    });
    // the chain starts at the data: t_min only enters through the grid
    ys.forEach((yi, i) => {
      const want = -logp0(yi);
      // float64: rounding of sums whose terms cancel from ~1e3 nats; float32: the same in f32
      const slack = k.dtype === "f64" ? 1e-7 : 2e-2;
      assert.ok(
        Math.abs(r.nll[i] - want) < slack,
        `${steps} steps, example ${i}: ${r.nll[i]} vs ${want}`,
      );
      assert.ok(Math.abs(r.nll[i] - (r.prior[i] + r.transitions[i] + r.forward[i])) < 1e-9);
    });
  }
});

Deno.test("LM chain bound: a wrong covariance gives a looser bound on average", async () => {
  const be = referenceBackend(), n = 200;
  const rows = Array.from({ length: n }, (_, i) => ys[i % ys.length]).flat();
  const y = tensor(be, rows, [n, D], "f64");
  const mean = (v: Float64Array) => v.reduce((s, x) => s + x, 0) / v.length;
  const exact = await lmChainBound(gaussian(1), y, { tMin: 1e-5, steps: 20, rng: Rng.fromSeed(1) });
  const wrong = await lmChainBound(gaussian(3), y, { tMin: 1e-5, steps: 20, rng: Rng.fromSeed(1) });
  assert.ok(
    mean(wrong.nll) > mean(exact.nll) + 0.1,
    `${mean(wrong.nll)} vs exact ${mean(exact.nll)}`,
  );
});

// Every draw of the chain (forward noise, dequantisation) is keyed by the example's index: an
// example's bound is the same in one batch of 6 as in batches of 4 and 2, as for the PF-ODE NLL.
Deno.test("LM chain bound over a dataset does not depend on the batch size", async () => {
  const be = referenceBackend(), n = 6;
  const levels = Array.from({ length: n * D }, (_, i) => (i * 37) % 11);
  const data = {
    values: Float64Array.from(levels),
    n,
    quantization: { bits: 0, a: 0.2, b: -1 },
  };
  const model = { ...gaussian(1), shape: [D] };
  const run = (batch: number) =>
    evaluateLmBound(model, data, {
      backend: be,
      dtype: "f64",
      tMin: 1e-5,
      steps: 8,
      batch,
      rng: Rng.fromSeed(3),
    });
  const whole = await run(6), split = await run(4);
  assert.deepEqual(split, whole);
});
