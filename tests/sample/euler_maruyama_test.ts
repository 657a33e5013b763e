import assert from "node:assert/strict";
import { eachBackend } from "../_helpers/backends.ts";
import { full, mul, referenceBackend, Rng } from "../../compute/mod.ts";
import { GmmModel } from "../../data/gmm_model.ts";
import { VpSde } from "../../sde/vp.ts";
import { eulerMaruyama, uniformTimeGrid } from "../../sample/samplers/euler_maruyama.ts";
import { fixture } from "../data/gmm_oracle.ts";
import { assertMoments } from "../data/sample_moments.ts";

const VP = new VpSde();
const model = await GmmModel.load(fixture("mix2d.json"), VP);

// With the exact score, 200 reverse-SDE steps from the prior reproduce the data's moments
// (the discretisation bias is far below the 4-standard-error band of 1000 draws).
eachBackend("euler–maruyama: exact-score samples match the mixture's moments", async (k) => {
  const n = 1000, rng = Rng.fromSeed(11);
  const xT = mul(rng.derive("prior").normal(k.backend, [n, 2], k.dtype), VP.priorStd);
  const grid = uniformTimeGrid(VP.T, VP.tMinSampling, 200);
  const { x, nfe } = eulerMaruyama((x, t) => model.score(x, t), VP, xT, grid, rng);
  assert.equal(nfe, 200);
  assertMoments(await x.read(), n, model.meanHost(), model.covarianceHost(), "EM samples");
  x.dispose();
  xT.dispose();
});

// The `noise` option replaces the default draws one for one, and tracking log p leaves the
// path of x untouched.
Deno.test("euler–maruyama: given increments equal the default ones; tracking does not move x", async () => {
  const be = referenceBackend(), n = 16, rng = Rng.fromSeed(3);
  const xT = rng.derive("prior").normal(be, [n, 2], "f64");
  const grid = uniformTimeGrid(VP.T, VP.tMinSampling, 50);
  const score = (x: typeof xT, t: typeof xT) => model.score(x, t);
  const plain = eulerMaruyama(score, VP, xT, grid, rng);
  const given = eulerMaruyama(score, VP, xT, grid, Rng.fromSeed(99), {
    noise: (i) => rng.derive(i).normal(be, [n, 2], "f64"),
    logp: { initial: full(be, [n], 0, "f64"), divergence: { method: "exact" } },
  });
  assert.deepEqual(await given.x.read(), await plain.x.read());
  assert.equal(given.logp!.shape[0], n);
  assert.ok((await given.logp!.read()).every(Number.isFinite));
});

Deno.test("euler–maruyama: the time grid runs from T to t_min in equal steps", () => {
  const g = uniformTimeGrid(1, 1e-3, 4);
  assert.equal(g.length, 5);
  assert.equal(g[0], 1);
  assert.equal(g[4], 1e-3);
  assert.ok(Math.abs(g[1] - g[0] - (g[4] - g[3])) < 1e-15);
  assert.throws(() => uniformTimeGrid(1, 0, 0), /steps must be ≥ 1/);
});
