import { eachBackend } from "../_helpers/backends.ts";
import { assertAllClose } from "../_helpers/all_close.ts";
import { tol } from "../_helpers/tolerances.ts";
import { add, div, grad, mul, referenceBackend, sum, tensor } from "../../compute/mod.ts";
import { GmmModel } from "../../data/gmm_model.ts";
import { perExample } from "../../sde/parameterization.ts";
import { VpSde } from "../../sde/vp.ts";
import { denseAt, fixture, probePoints } from "./gmm_oracle.ts";

const VP = new VpSde();
const TIMES = [1e-5, 1e-3, 0.1, 0.5, 1];
const models = await Promise.all(
  ["mix2d.json", "mix10d.json"].map((f) => GmmModel.load(fixture(f), VP)),
);

function grid(m: GmmModel) {
  const pts = probePoints(m.spec, 6, 7);
  return { xs: TIMES.flatMap(() => pts), ts: TIMES.flatMap((t) => pts.map(() => t)) };
}

// The closed-form score must be the gradient of the closed-form log-density: autodiff of logp
// on the same backend, and the dense float64 oracle Σ_k r_k C_k⁻¹(αμ_k − x).
eachBackend("gmm: score equals ∇ logp (autodiff) and the dense closed form", async (k) => {
  for (const m of models) {
    const { xs, ts } = grid(m);
    const x = tensor(k.backend, xs.flat(), [xs.length, m.D], k.dtype);
    const t = tensor(k.backend, ts, [ts.length], k.dtype);
    const score = await m.score(x, t).read();
    const autodiff = await grad((y) => sum(m.logp(y, t)))(x).read();
    const f64 = k.dtype === "f64";
    assertAllClose(score, autodiff, f64 ? tol.f64 : tol.f32Grad, `${m.description} ∇ logp`);
    const dense = xs.flatMap((p, i) => denseAt(m.spec, p, VP.alpha(ts[i]), VP.sigma(ts[i])).score);
    assertAllClose(score, dense, f64 ? tol.f64 : tol.f32GmmScore, `${m.description} score`);
  }
});

// Central differences of the float64 host oracle: independent of every tensor op.
Deno.test("gmm: score equals central differences of logpHost (float64)", async () => {
  const h = 1e-5;
  for (const m of models) {
    const { xs, ts } = grid(m);
    const x = tensor(referenceBackend(), xs.flat(), [xs.length, m.D], "f64");
    const score = await m.score(x, tensor(referenceBackend(), ts, [ts.length], "f64")).read();
    const fd = xs.flatMap((p, i) =>
      p.map((_, d) => {
        const plus = p.map((v, j) => (j === d ? v + h : v));
        const minus = p.map((v, j) => (j === d ? v - h : v));
        return (m.logpHost(plus, ts[i]) - m.logpHost(minus, ts[i])) / (2 * h);
      })
    );
    assertAllClose(score, fd, tol.finiteDiff, `${m.description} score vs finite differences`);
  }
});

// E[x_0 | x_t] against the host Gaussian-conditional formula Σ_k r_k(μ_k + αΣ_k C_k⁻¹(x − αμ_k)).
eachBackend("gmm: denoising mean equals the closed-form conditional mean", async (k) => {
  for (const m of models) {
    const { xs, ts } = grid(m);
    const x = tensor(k.backend, xs.flat(), [xs.length, m.D], k.dtype);
    const t = tensor(k.backend, ts, [ts.length], k.dtype);
    const mean = await m.denoisingMean(x, t).read();
    const dense = xs.flatMap((p, i) =>
      denseAt(m.spec, p, VP.alpha(ts[i]), VP.sigma(ts[i])).denoisingMean
    );
    const f64 = k.dtype === "f64";
    assertAllClose(mean, dense, f64 ? tol.f64 : tol.f32GmmTweedie, `${m.description} E[x0|xt]`);
  }
});

// The stable form must equal Tweedie's formula (x + σ² ∇log p)/α, here in float64 where the
// cancellation in Tweedie's form costs nothing measurable.
Deno.test("gmm: denoising mean equals Tweedie's (x + σ² score)/α (float64)", async () => {
  const be = referenceBackend();
  for (const m of models) {
    const { xs, ts } = grid(m);
    const x = tensor(be, xs.flat(), [xs.length, m.D], "f64");
    const t = tensor(be, ts, [ts.length], "f64");
    const { alpha, sigma } = VP.alphaSigmaT(t);
    const tweedie = div(
      add(x, mul(perExample(mul(sigma, sigma), x), m.score(x, t))),
      perExample(alpha, x),
    );
    assertAllClose(
      await m.denoisingMean(x, t).read(),
      await tweedie.read(),
      tol.f64Tweedie,
      `${m.description} Tweedie`,
    );
  }
});
