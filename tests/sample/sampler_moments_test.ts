/**
 * Every sampler with the exact mixture score reproduces the mixture's mean and covariance within
 * 4 standard errors. CI sizes (reference float64; 1000 draws in 2-D, 500 in 10-D, short grids)
 * keep this file near 20 s on two cores; `bench/samplers.ts` runs 20 000 draws at the default
 * step counts. Euler–Maruyama on both backends lives in euler_maruyama_test.ts.
 */

import { mul, referenceBackend, Rng, type Tensor } from "../../compute/mod.ts";
import { GmmModel } from "../../data/gmm_model.ts";
import type { ScoreFn } from "../../sde/likelihood.ts";
import { VpSde } from "../../sde/vp.ts";
import { eulerMaruyama, uniformTimeGrid } from "../../sample/samplers/euler_maruyama.ts";
import { predictorCorrector } from "../../sample/samplers/predictor_corrector.ts";
import { pfOdeSample } from "../../sample/samplers/ode.ts";
import { fixture } from "../data/gmm_oracle.ts";
import { assertMoments, moments } from "../data/sample_moments.ts";

const VP = new VpSde();
const be = referenceBackend();

/** The largest |z| over the means and covariance entries, for the log. */
function worstZ(x: ArrayLike<number>, n: number, model: GmmModel): number {
  const est = moments(x, n, model.D), m = model.meanHost(), c = model.covarianceHost();
  let z = 0;
  for (let i = 0; i < model.D; i++) {
    z = Math.max(z, Math.abs(est.mean[i] - m[i]) / est.meanSe[i]);
    for (let j = 0; j <= i; j++) {
      z = Math.max(z, Math.abs(est.cov[i][j] - c[i][j]) / est.covSe[i][j]);
    }
  }
  return z;
}

type Sampler = (score: ScoreFn, xT: Tensor, rng: Rng) => Promise<Tensor>;

const SAMPLERS: Record<string, Sampler> = {
  // 200 reverse-SDE steps: the O(1/N) bias is well inside 4 s.e. of ≤ 1000 draws
  "em, 200 steps": (score, xT, rng) =>
    Promise.resolve(eulerMaruyama(score, VP, xT, uniformTimeGrid(1, VP.tMinSampling, 200), rng).x),
  // 100 predictor steps, one Langevin step each at snr 0.16 (200 NFE)
  "pc, 100 steps": (score, xT, rng) =>
    Promise.resolve(
      predictorCorrector(score, VP, xT, uniformTimeGrid(1, VP.tMinSampling, 100), rng).x,
    ),
  "ode (dopri5)": async (score, xT) =>
    (await pfOdeSample(score, VP, xT, [1, VP.tMinSampling], { method: "dopri5" })).x,
  "heun, 50 steps": async (score, xT) =>
    (await pfOdeSample(score, VP, xT, uniformTimeGrid(1, VP.tMinSampling, 50), {
      method: "heun",
    })).x,
};

for (const [file, n] of [["mix2d.json", 1000], ["mix10d.json", 500]] as const) {
  const model = await GmmModel.load(fixture(file), VP);
  for (const [name, run] of Object.entries(SAMPLERS)) {
    Deno.test(`${name}: ${n} exact-score samples of ${file} match its moments`, async () => {
      const rng = Rng.fromSeed(31);
      const xT = mul(rng.derive("prior").normal(be, [n, model.D], "f64"), VP.priorStd);
      const x = await run((y, t) => model.score(y, t), xT, rng.derive("noise"));
      const values = await x.read();
      console.log(`worst |z|: ${worstZ(values, n, model).toFixed(2)}`);
      assertMoments(values, n, model.meanHost(), model.covarianceHost(), name);
      x.dispose();
      xT.dispose();
    });
  }
}
