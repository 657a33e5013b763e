import assert from "node:assert/strict";
import { mul, referenceBackend, Rng, type Tensor, tensor } from "../../compute/mod.ts";
import { GmmModel } from "../../data/gmm_model.ts";
import { VpSde } from "../../sde/vp.ts";
import {
  langevinCorrectorStep,
  predictorCorrector,
} from "../../sample/samplers/predictor_corrector.ts";
import { eulerMaruyama, uniformTimeGrid } from "../../sample/samplers/euler_maruyama.ts";
import { fixture } from "../data/gmm_oracle.ts";
import { tol } from "../_helpers/tolerances.ts";

const be = referenceBackend();
const gaussian = (x: Tensor) => mul(x, -1); // s = −x, the score of N(0, I)

function close(actual: ArrayLike<number>, expected: number[], what: string) {
  expected.forEach((e, i) =>
    assert.ok(Math.abs(actual[i] - e) <= tol.f64.atol + tol.f64.rtol * Math.abs(e), `${what}[${i}]`)
  );
}

// Hand-computed: x = (3, 4) has ‖s‖ = 5, z = (1, 0) has ‖z‖ = 1, so with r = 0.16 and α = 1
// ε = 2(0.16/5)² = 0.002048, √(2ε) = 0.064 and x + ε s + √(2ε) z = (3.057856, 3.991808).
Deno.test("langevin corrector, per-example norms: ε = 2α(r‖z‖/‖s‖)² by hand", async () => {
  const x = tensor(be, [3, 4], [1, 2], "f64"), z = tensor(be, [1, 0], [1, 2], "f64");
  const y = langevinCorrectorStep(gaussian, x, 0.5, 1, 0.16, z, "example");
  close(await y.read(), [3.057856, 3.991808], "x'");
});

// Batch norms (score_sde): ‖s‖ = 5 and 1 average 3, ‖z‖ = 1 and 2 average 1.5, so one
// ε = 2(0.16·1.5/3)² = 0.0128 with √(2ε) = 0.16 for both examples; α = 0.5 halves ε.
Deno.test("langevin corrector, batch norms: one ε from the batch means, by hand", async () => {
  const x = tensor(be, [3, 4, 0, 1], [2, 2], "f64"), z = tensor(be, [1, 0, 0, 2], [2, 2], "f64");
  const y = langevinCorrectorStep(gaussian, x, 0.5, 1, 0.16, z, "batch");
  close(await y.read(), [3.1216, 3.9488, 0, 1.3072], "x'");
  const e = 0.0064, root = Math.sqrt(2 * e);
  const half = langevinCorrectorStep(gaussian, x, 0.5, 0.5, 0.16, z);
  close(await half.read(), [3 - 3 * e + root, 4 - 4 * e, 0, 1 - e + 2 * root], "α = 0.5");
});

// NFE counts every score call: one per predictor step plus one per Langevin step; with no
// corrector steps the sampler is Euler–Maruyama on the same predictor noise.
Deno.test("predictor–corrector: NFE, and zero corrector steps reduce it to Euler–Maruyama", async () => {
  const model = await GmmModel.load(fixture("mix2d.json"), new VpSde());
  const score = (x: Tensor, t: Tensor) => model.score(x, t);
  const rng = Rng.fromSeed(8), grid = uniformTimeGrid(1, 1e-3, 20);
  const xT = rng.normal(be, [8, 2], "f64");
  const two = predictorCorrector(score, model.sde, xT, grid, rng, { correctorSteps: 2 });
  assert.equal(two.nfe, 60);
  const noise = (i: number) => rng.derive("predictor").derive(i).normal(be, [8, 2], "f64");
  const none = predictorCorrector(score, model.sde, xT, grid, rng, { correctorSteps: 0 });
  const em = eulerMaruyama(score, model.sde, xT, grid, rng, { noise });
  assert.equal(none.nfe, 20);
  assert.deepEqual(await none.x.read(), await em.x.read());
  assert.notDeepEqual(await two.x.read(), await none.x.read());
  assert.throws(() => predictorCorrector(score, model.sde, xT, grid, rng, { snr: 0 }), /snr/);
});
