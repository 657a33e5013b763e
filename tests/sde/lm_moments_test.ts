/**
 * With the exact score and Hessian of a mixture, the Likelihood-Matching reverse moments
 * μ = (x_t + b² s)/a and Σ = (b²/a²)(I + b² H) are the exact conditional mean and covariance of
 * x_s given x_t (second-order Tweedie). The oracle is independent of both formulas: quadrature
 * of p(x_s | x_t) ∝ p_s(x_s) N(x_t; a x_s, b² I) on a grid, in 1-D and 2-D.
 */

import assert from "node:assert/strict";
import { referenceBackend, tensor } from "../../compute/mod.ts";
import { GmmModel } from "../../data/gmm_model.ts";
import { parseGmmSpec } from "../../data/gmm_spec.ts";
import { VpSde } from "../../sde/vp.ts";
import { reverseMean, stepCoefficients } from "../../sde/lm/transition.ts";
import { fixture } from "../data/gmm_oracle.ts";

const vp = new VpSde(), be = referenceBackend();

/** Mean and covariance of p(x_s | x_t) by the trapezoid rule on a regular grid. */
function quadrature(
  model: GmmModel,
  xt: number[],
  s: number,
  t: number,
  lo: number,
  hi: number,
  n: number,
) {
  const D = xt.length, a = vp.alpha(t) / vp.alpha(s);
  const b2 = vp.sigma(t) ** 2 - a * a * vp.sigma(s) ** 2;
  const h = (hi - lo) / (n - 1);
  const pts = D === 1 ? Array.from({ length: n }, (_, i) => [lo + i * h]) : Array.from(
    { length: n * n },
    (_, k) => [lo + Math.floor(k / n) * h, lo + (k % n) * h],
  );
  const logw = pts.map((x) =>
    model.logpHost(x, s) - x.reduce((q, xi, i) => q + (xt[i] - a * xi) ** 2, 0) / (2 * b2)
  );
  const m = logw.reduce((p, v) => Math.max(p, v), -Infinity);
  const w = logw.map((l) => Math.exp(l - m));
  const z = w.reduce((p, v) => p + v, 0);
  const mean = Array.from({ length: D }, (_, i) => pts.reduce((p, x, k) => p + w[k] * x[i], 0) / z);
  const cov = mean.map((_, i) =>
    mean.map((_, j) =>
      pts.reduce((p, x, k) => p + w[k] * (x[i] - mean[i]) * (x[j] - mean[j]), 0) / z
    )
  );
  return { mean, cov, a, b2 };
}

async function lmMoments(model: GmmModel, xt: number[], s: number, t: number) {
  const D = xt.length;
  const x = tensor(be, xt, [1, D], "f64"), tt = tensor(be, [t], [1], "f64");
  const k = stepCoefficients(vp, [s], [t]);
  const mean = await reverseMean(x, model.score(x, tt), k).read();
  const h = await model.hessian(x, tt).read();
  const r = k.b2[0] / (k.a[0] * k.a[0]);
  const cov = Array.from(
    { length: D },
    (_, i) => Array.from({ length: D }, (_, j) => r * ((i === j ? 1 : 0) + k.b2[0] * h[i * D + j])),
  );
  return { mean: [...mean], cov };
}

function assertClose(got: number[], want: number[], rel: number, what: string) {
  const scale = Math.max(...want.map(Math.abs));
  got.forEach((g, i) =>
    assert.ok(Math.abs(g - want[i]) <= rel * scale, `${what}[${i}]: ${g} vs quadrature ${want[i]}`)
  );
}

Deno.test("LM moments: exact score and Hessian give the conditional moments of a 1-D mixture", async () => {
  const model = new GmmModel(
    parseGmmSpec(
      JSON.stringify({ weights: [0.3, 0.7], means: [[-1], [1.5]], covs: [[[0.2]], [[0.5]]] }),
      "1-D",
    ),
    vp,
  );
  for (const [xt, s, t] of [[0.7, 0.2, 0.5], [-0.3, 0.05, 0.1], [1.1, 0.5, 0.9]] as const) {
    const q = quadrature(model, [xt], s, t, -8, 8, 40001);
    const m = await lmMoments(model, [xt], s, t);
    // relative 1e-6: the trapezoid rule on a smooth, well-resolved density
    assertClose(m.mean, q.mean, 1e-6, `mean (x_t = ${xt}, ${s} → ${t})`);
    assertClose(m.cov.flat(), q.cov.flat(), 1e-6, `variance (x_t = ${xt}, ${s} → ${t})`);
  }
});

Deno.test("LM moments: exact score and Hessian give the conditional moments of a 2-D mixture", async () => {
  const model = await GmmModel.load(fixture("mix2d.json"), vp);
  for (const [xt, s, t] of [[[0.4, -0.2], 0.3, 0.5], [[-1.2, 0.8], 0.1, 0.2]] as const) {
    const q = quadrature(model, [...xt], s, t, -6, 6, 801);
    const m = await lmMoments(model, [...xt], s, t);
    // relative 1e-5 of the largest entry: a 801² grid
    assertClose(m.mean, q.mean, 1e-5, `mean (${s} → ${t})`);
    assertClose(m.cov.flat(), q.cov.flat(), 1e-5, `covariance (${s} → ${t})`);
  }
});
