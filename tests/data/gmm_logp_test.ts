import assert from "node:assert/strict";
import { eachBackend } from "../_helpers/backends.ts";
import { assertAllClose } from "../_helpers/all_close.ts";
import { tol } from "../_helpers/tolerances.ts";
import { tensor } from "../../compute/mod.ts";
import { GmmModel } from "../../data/gmm_model.ts";
import { VpSde } from "../../sde/vp.ts";
import { denseAt, fixture, probePoints } from "./gmm_oracle.ts";

const VP = new VpSde();
const FIXTURES = ["mix2d.json", "mix10d.json"].map(fixture);
/** t_min for likelihood (σ ≈ 1e-3), intermediate times, and T = 1 (α ≈ 6.6e-3). */
const TIMES = [1e-5, 1e-3, 0.1, 0.5, 1];

const models = await Promise.all(FIXTURES.map((f) => GmmModel.load(f, VP)));

/** Every (point, time) pair as one batch with per-example times. */
function grid(m: GmmModel) {
  const pts = probePoints(m.spec, 9);
  const xs = TIMES.flatMap(() => pts);
  const ts = TIMES.flatMap((t) => pts.map(() => t));
  return { xs, ts };
}

// The host oracle uses the eigendecompositions the device uses; check it against an
// independent dense Cholesky evaluation so a wrong decomposition cannot hide in both.
Deno.test("gmm: logpHost equals the dense Cholesky closed form (float64)", () => {
  for (const m of models) {
    const { xs, ts } = grid(m);
    const host = xs.map((x, i) => m.logpHost(x, ts[i]));
    const dense = xs.map((x, i) => denseAt(m.spec, x, VP.alpha(ts[i]), VP.sigma(ts[i])).logp);
    assertAllClose(host, dense, tol.f64, `${m.description} logpHost`);
  }
});

eachBackend("gmm: logp on the device equals logpHost for per-example t", async (k) => {
  for (const m of models) {
    const { xs, ts } = grid(m);
    const x = tensor(k.backend, xs.flat(), [xs.length, m.D], k.dtype);
    const t = tensor(k.backend, ts, [ts.length], k.dtype);
    const logp = await m.logp(x, t).read();
    assert.deepEqual([...m.logp(x, t).shape], [xs.length]);
    const host = xs.map((p, i) => m.logpHost(p, ts[i]));
    assertAllClose(logp, host, k.dtype === "f64" ? tol.f64 : tol.f32GmmLogp, m.description);
  }
});

// A wrong time or scale would shift every value; the log-densities at t = 1e-5 and t = 1 must
// differ (the mixture has diffused into a near-standard normal) and be finite.
Deno.test("gmm: logpHost changes with t and is finite at both ends", () => {
  const m = models[0];
  const x = m.spec.means[0];
  const early = m.logpHost(x, 1e-5), late = m.logpHost(x, 1);
  assert.ok(Number.isFinite(early) && Number.isFinite(late));
  assert.ok(Math.abs(early - late) > 0.5, `log p at a mean: ${early} at t_min, ${late} at T`);
  // at T the marginal is close to N(0, I): log p(0) ≈ −log 2π in 2-D
  assert.ok(Math.abs(m.logpHost([0, 0], 1) + Math.log(2 * Math.PI)) < 0.01);
});
