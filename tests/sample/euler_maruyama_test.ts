import assert from "node:assert/strict";
import { eachBackend } from "../_helpers/backends.ts";
import { mul, Rng } from "../../compute/mod.ts";
import { GmmModel } from "../../data/gmm_model.ts";
import { VpSde } from "../../sde/vp.ts";
import { eulerMaruyama, uniformTimeGrid } from "../../sample/samplers/euler_maruyama.ts";
import { fixture } from "../data/gmm_oracle.ts";
import { assertMoments } from "../data/sample_moments.ts";

const VP = new VpSde();
const model = await GmmModel.load(fixture("mix2d.json"), VP);

// With the exact score, 400 reverse-SDE steps from the prior reproduce the data's moments
// (the discretisation bias is far below the 4-standard-error band of 2000 draws).
eachBackend("euler–maruyama: exact-score samples match the mixture's moments", async (k) => {
  const n = 2000, rng = Rng.fromSeed(11);
  const xT = mul(rng.derive("prior").normal(k.backend, [n, 2], k.dtype), VP.priorStd);
  const grid = uniformTimeGrid(VP.T, VP.tMinSampling, 400);
  const { x, nfe } = eulerMaruyama((x, t) => model.score(x, t), VP, xT, grid, rng);
  assert.equal(nfe, 400);
  assertMoments(await x.read(), n, model.meanHost(), model.covarianceHost(), "EM samples");
  x.dispose();
  xT.dispose();
});

Deno.test("euler–maruyama: the time grid runs from T to t_min in equal steps", () => {
  const g = uniformTimeGrid(1, 1e-3, 4);
  assert.equal(g.length, 5);
  assert.equal(g[0], 1);
  assert.equal(g[4], 1e-3);
  assert.ok(Math.abs(g[1] - g[0] - (g[4] - g[3])) < 1e-15);
  assert.throws(() => uniformTimeGrid(1, 0, 0), /steps must be ≥ 1/);
});
