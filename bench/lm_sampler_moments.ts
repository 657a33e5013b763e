/**
 * The Likelihood-Matching sampler with exact mixture moments against Euler–Maruyama: the error
 * of the samples' mean and covariance (Euclidean norms of the differences to the mixture's
 * closed-form moments) at growing step counts, on three 2-D mixtures — the shipped mix2d, one
 * with narrow components (covariance eigenvalues near 0.05) and one with strongly correlated
 * components (correlation ±0.95). The Monte-Carlo floor column is the error that n exact draws
 * from the mixture itself show, the level a converged sampler reaches.
 *
 *   deno run -A bench/lm_sampler_moments.ts [--n 20000] [--steps 5,20,50,200] [--backend reference]
 */

import { parseArgs } from "node:util";
import { mul, Rng, selectBackend, type Tensor } from "../compute/mod.ts";
import { GmmModel } from "../data/gmm_model.ts";
import { eulerMaruyama, uniformTimeGrid } from "../sample/samplers/euler_maruyama.ts";
import { lmSample } from "../sample/samplers/lm.ts";
import { logSnrGrid } from "../sde/log_snr_grid.ts";
import { VpSde } from "../sde/vp.ts";
import { momentError } from "../tests/data/sample_moments.ts";

/** mix2d (shipped), narrow components (eigenvalues 0.03–0.07), correlation ±0.95. */
const MIXTURES = ["mix2d", "mix2n", "mix2r"];

const { values: f } = parseArgs({
  args: Deno.args,
  options: {
    n: { type: "string", default: "20000" },
    steps: { type: "string", default: "5,20,50,200" },
    backend: { type: "string", default: "reference" },
    seed: { type: "string", default: "6" },
  },
});
const n = Number(f.n), stepCounts = f.steps.split(",").map(Number), seed = Number(f.seed);
const backend = await selectBackend(f.backend as "reference", (s) => console.error(s));
const dtype = backend.name === "reference" ? "f64" : "f32";
const vp = new VpSde();

const rows: string[] = [];
for (const name of MIXTURES) {
  const model = await GmmModel.load(
    new URL(`../fixtures/${name}.json`, import.meta.url).pathname,
    vp,
  );
  const rng = Rng.fromSeed(seed);
  const error = async (x: Tensor) => momentError(model, await x.read(), n);
  const floor = await error(model.sample(rng.derive("exact"), backend, n, dtype));
  for (const steps of stepCounts) {
    const xT = mul(rng.derive("prior").derive(steps).normal(backend, [n, 2], dtype), vp.priorStd);
    const lm = lmSample(
      model,
      vp,
      xT,
      logSnrGrid(vp, vp.T, vp.tMinSampling, steps),
      rng.derive("lm").derive(steps),
    );
    const em = eulerMaruyama(
      (x, t) => model.score(x, t),
      vp,
      xT,
      uniformTimeGrid(vp.T, vp.tMinSampling, steps),
      rng.derive("em").derive(steps),
    );
    const [e1, e2] = [await error(lm.x), await error(em.x)];
    const fmt = (e: { mean: number; cov: number }) => `${e.mean.toFixed(3)} / ${e.cov.toFixed(3)}`;
    rows.push(
      `| ${name} | ${steps} | ${fmt(e1)} | ${fmt(e2)} | ${fmt(floor)} |`,
    );
    console.error(rows.at(-1));
    for (const t of [xT, lm.x, em.x]) t.dispose();
  }
}
console.log(`n = ${n}, seed ${seed}, backend ${backend.name}; errors are ‖Δmean‖ / ‖Δcov‖_F`);
console.log("| mixture | steps | LM (exact moments) | Euler–Maruyama | exact draws (MC floor) |");
console.log("| --- | --- | --- | --- | --- |");
for (const r of rows) console.log(r);
