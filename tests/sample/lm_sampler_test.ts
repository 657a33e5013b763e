/**
 * The Likelihood-Matching sampler: one step's draws have covariance (b²/a²) M (low-rank and
 * dense forms), and with the exact moments of a 2-D mixture 20 LM steps reproduce the data's
 * moments better than 20 Euler–Maruyama steps.
 */

import assert from "node:assert/strict";
import { eachBackend } from "../_helpers/backends.ts";
import { mul, referenceBackend, Rng, type Tensor, tensor, zeros } from "../../compute/mod.ts";
import { GmmModel } from "../../data/gmm_model.ts";
import { VpSde } from "../../sde/vp.ts";
import { stepCoefficients } from "../../sde/lm/transition.ts";
import { logSnrGrid } from "../../sde/log_snr_grid.ts";
import { lmSample, lmStep } from "../../sample/samplers/lm.ts";
import { eulerMaruyama, uniformTimeGrid } from "../../sample/samplers/euler_maruyama.ts";
import { fixture } from "../data/gmm_oracle.ts";
import { assertMoments, moments } from "../data/sample_moments.ts";

const vp = new VpSde();
const D = 3, N = 20000, s = 0.3, t = 0.35;
const d = [0.5, 1.2, 0.8], u = [0.6, -0.3, 0.9]; // C = diag(d) + u uᵀ
const k = stepCoefficients(vp, new Float64Array(N).fill(s), new Float64Array(N).fill(t));
const [a, b2, c1, c2] = [k.a[0], k.b2[0], k.c1[0], k.c2[0]];

/** (b²/a²) M with M = c1 I + c2 C, as the sampler should draw it. */
const expectedCov = (dense: number[][]) => dense.map((row) => row.map((v) => (b2 / (a * a)) * v));

eachBackend("LM step: low-rank draws have covariance (b²/a²)(c1 I + c2 C)", async (c) => {
  const be = c.backend;
  const model = {
    score: (x: Tensor) => zeros(be, x.shape, x.dtype),
    denoisingCov: () => ({
      d: tensor(be, Array.from({ length: N }, () => d).flat(), [N, D], c.dtype),
      u: tensor(be, Array.from({ length: N }, () => u).flat(), [N, D, 1], c.dtype),
    }),
  };
  const x = zeros(be, [N, D], c.dtype);
  const y = lmStep(
    model,
    x,
    tensor(be, new Float64Array(N).fill(t), [N], c.dtype),
    k,
    Rng.fromSeed(3),
  );
  const m = d.map((di, i) =>
    d.map((_, j) => c2 * (u[i] * u[j] + (i === j ? di : 0)) + (i === j ? c1 : 0))
  );
  assertMoments(await y.read(), N, [0, 0, 0], expectedCov(m), "low-rank step");
});

eachBackend("LM step: dense draws have covariance (b²/a²)(I + b² H)", async (c) => {
  const be = c.backend;
  const h = [[-1.5, 0.2, 0], [0.2, -0.7, 0.1], [0, 0.1, -2]];
  const model = {
    score: (x: Tensor) => zeros(be, x.shape, x.dtype),
    hessian: () => tensor(be, Array.from({ length: N }, () => h.flat()).flat(), [N, D, D], c.dtype),
  };
  const y = lmStep(model, zeros(be, [N, D], c.dtype), zeros(be, [N], c.dtype), k, Rng.fromSeed(4));
  const m = h.map((row, i) => row.map((v, j) => (i === j ? 1 : 0) + b2 * v));
  assertMoments(await y.read(), N, [0, 0, 0], expectedCov(m), "dense step");
});

Deno.test("LM sampler: 20 exact-moment steps reproduce a 2-D mixture better than 20 EM steps", async () => {
  const be = referenceBackend(), model = await GmmModel.load(fixture("mix2d.json"), vp);
  const n = 20000, rng = Rng.fromSeed(9);
  const xT = mul(rng.derive("prior").normal(be, [n, 2], "f64"), vp.priorStd);
  const lm = lmSample(model, vp, xT, logSnrGrid(vp, vp.T, vp.tMinSampling, 20), rng.derive("lm"));
  const em = eulerMaruyama(
    (x, tt) => model.score(x, tt),
    vp,
    xT,
    uniformTimeGrid(vp.T, vp.tMinSampling, 20),
    rng.derive("em"),
  );
  const mean = model.meanHost(), cov = model.covarianceHost();
  const error = async (x: Tensor) => {
    const mo = moments(await x.read(), n, 2);
    const dm = Math.hypot(...mo.mean.map((v, i) => v - mean[i]));
    const dc = Math.hypot(...mo.cov.flat().map((v, i) => v - cov.flat()[i]));
    return dm + dc;
  };
  const [eLm, eEm] = [await error(lm.x), await error(em.x)];
  console.log(
    `moment error after 20 steps: LM ${eLm.toFixed(4)}, Euler–Maruyama ${eEm.toFixed(4)}`,
  );
  assert.ok(eLm < eEm, `LM ${eLm} should beat EM ${eEm}`);
});
