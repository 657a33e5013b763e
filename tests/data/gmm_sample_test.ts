import assert from "node:assert/strict";
import { eachBackend } from "../_helpers/backends.ts";
import { referenceBackend, Rng } from "../../compute/mod.ts";
import { GmmModel } from "../../data/gmm_model.ts";
import { VpSde } from "../../sde/vp.ts";
import { fixture } from "./gmm_oracle.ts";
import { assertMoments } from "./sample_moments.ts";

const VP = new VpSde();
const N = 20_000;
const models = await Promise.all(
  ["mix2d.json", "mix10d.json"].map((f) => GmmModel.load(fixture(f), VP)),
);

eachBackend("gmm: 20,000 draws match the mixture's mean and covariance", async (k) => {
  for (const [i, m] of models.entries()) {
    const x = m.sample(Rng.fromSeed(100 + i), k.backend, N, k.dtype);
    assert.deepEqual([...x.shape], [N, m.D]);
    assertMoments(await x.read(), N, m.meanHost(), m.covarianceHost(), m.description);
  }
});

// The moments are the law of total covariance; check them against a direct computation for
// mix2d so the sampling test does not rest on a wrong oracle.
Deno.test("gmm: meanHost and covarianceHost equal E[x] and E[x xᵀ] − E[x]E[x]ᵀ", () => {
  const m = models[0];
  const { weights: w, means: mu, covs } = m.spec;
  const mean = [0, 1].map((i) => w.reduce((s, wk, k) => s + wk * mu[k][i], 0));
  assert.deepEqual(m.meanHost().map((v) => v.toFixed(12)), mean.map((v) => v.toFixed(12)));
  // E[x_0 x_1] = Σ w_k (Σ_k[0][1] + μ_k0 μ_k1)
  const exy = w.reduce((s, wk, k) => s + wk * (covs![k][0][1] + mu[k][0] * mu[k][1]), 0);
  assert.ok(Math.abs(m.covarianceHost()[0][1] - (exy - mean[0] * mean[1])) < 1e-14);
  assert.ok(Math.abs(m.covarianceHost()[0][1] - m.covarianceHost()[1][0]) === 0);
});

// Draws advance the generator: the same seed repeats them exactly, a second call differs.
Deno.test("gmm: sampling is deterministic in the generator and advances it", async () => {
  const be = referenceBackend(), m = models[0];
  const a = Rng.fromSeed(5), b = Rng.fromSeed(5);
  const first = await m.sample(a, be, 64, "f64").read();
  assert.deepEqual(first, await m.sample(b, be, 64, "f64").read());
  const second = await m.sample(a, be, 64, "f64").read();
  assert.notDeepEqual(first, second);
});
