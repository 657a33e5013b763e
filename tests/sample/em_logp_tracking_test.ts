/**
 * Log-density tracking on the reverse SDE (docs/MATH.md §4): d log p = (−∇·f − ½g²‖s‖²) dt + g s·dW̄
 * with the very increments of the x update. Its Euler discretisation misses the zero-mean
 * fluctuation ½g²|dt|(zᵀ∇²log p z − Δlog p) of each step, so the tracked value approaches the
 * exact log p_{t_min} of the returned sample like a random walk, error ∝ N^(−1/2). One Brownian
 * path is drawn at 4096 steps and coarsened by summing pairs of increments, so both grids see
 * the same noise and the comparison is of discretisations, not of paths. Reference float64,
 * 256 samples of mix2d started at the mixture's own p_T (no prior mismatch); ~20 s.
 */

import assert from "node:assert/strict";
import { full, referenceBackend, Rng, tensor } from "../../compute/mod.ts";
import { GmmModel } from "../../data/gmm_model.ts";
import { VpSde } from "../../sde/vp.ts";
import { eulerMaruyama, uniformTimeGrid } from "../../sample/samplers/euler_maruyama.ts";
import { fixture } from "../data/gmm_oracle.ts";
import { tol } from "../_helpers/tolerances.ts";

const VP = new VpSde(), T_MIN = VP.tMinSampling;
const be = referenceBackend();
const N_SAMPLES = 256, FINE = 4096, D = 2;

Deno.test("EM log-p tracking: 4096 steps on a shared Brownian path beat 1024", async () => {
  const model = await GmmModel.load(fixture("mix2d.json"), VP);
  const rng = Rng.fromSeed(17);
  const xT = rng.derive("prior").normal(be, [N_SAMPLES, D], "f64");
  const initial = model.logp(xT, full(be, [N_SAMPLES], VP.T, "f64"));
  // dW of the fine grid, step-major: FINE × N_SAMPLES × D; then halve the grid by summing pairs
  const h = (VP.T - T_MIN) / FINE;
  let dW = (await rng.derive("brownian").normal(be, [FINE, N_SAMPLES, D], "f64").read())
    .map((z) => z * Math.sqrt(h));
  const levels = new Map<number, Float64Array>([[FINE, Float64Array.from(dW)]]);
  const row = N_SAMPLES * D;
  for (let steps = FINE / 2; steps >= 1024; steps /= 2) {
    const coarse = new Float64Array(steps * row);
    for (let j = 0; j < steps; j++) {
      for (let e = 0; e < row; e++) {
        coarse[j * row + e] = dW[2 * j * row + e] + dW[(2 * j + 1) * row + e];
      }
    }
    levels.set(steps, coarse);
    dW = coarse;
  }

  const mae = async (steps: number) => {
    const inc = levels.get(steps)!, dt = (VP.T - T_MIN) / steps;
    const r = eulerMaruyama(
      (x, t) => model.score(x, t),
      VP,
      xT,
      uniformTimeGrid(VP.T, T_MIN, steps),
      rng,
      {
        // z = dW/√|dt|: the sampler adds g·√|dt|·z
        noise: (i) =>
          tensor(be, inc.subarray(i * row, (i + 1) * row).map((v) => v / Math.sqrt(dt)), [
            N_SAMPLES,
            D,
          ], "f64"),
        logp: { initial, divergence: { method: "exact" } },
      },
    );
    const [x, ell] = await Promise.all([r.x.read(), r.logp!.read()]);
    let sum = 0;
    for (let i = 0; i < N_SAMPLES; i++) {
      sum += Math.abs(ell[i] - model.logpHost([x[i * D], x[i * D + 1]], T_MIN));
    }
    r.x.dispose();
    r.logp!.dispose();
    return sum / N_SAMPLES;
  };
  const coarse = await mae(1024), fine = await mae(FINE);
  console.log(
    `mean |tracked − exact log p_{t_min}|: ${coarse.toFixed(4)} nats at 1024 EM steps, ` +
      `${fine.toFixed(4)} at 4096 (ratio ${(fine / coarse).toFixed(2)}; N^(−1/2) predicts 0.5)`,
  );
  assert.ok(fine < coarse, `4096 steps (${fine}) must beat 1024 (${coarse})`);
  // a strong-order-½ scheme: 4× the steps should roughly halve the error, certainly not keep it
  assert.ok(
    fine < tol.emTrackingHalving.atol * coarse,
    `error ratio ${fine / coarse} is not a convergence`,
  );
});
