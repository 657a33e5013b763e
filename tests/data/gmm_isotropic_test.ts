import assert from "node:assert/strict";
import { eachBackend } from "../_helpers/backends.ts";
import { assertAllClose } from "../_helpers/all_close.ts";
import { tol } from "../_helpers/tolerances.ts";
import { add, mul, referenceBackend, Rng, type Tensor, tensor } from "../../compute/mod.ts";
import { GmmModel } from "../../data/gmm_model.ts";
import { parseGmmSpec } from "../../data/gmm_spec.ts";
import type { Sde } from "../../sde/sde.ts";
import { VpSde } from "../../sde/vp.ts";
import { denseAt, fixture, probePoints } from "./gmm_oracle.ts";
import { assertMoments } from "./sample_moments.ts";

const VP = new VpSde();
const MU = [0.5, -1, 2, 0.25], C = 0.7, D = 4;
/** One isotropic component with an image-like shape [1, 2, 2]. */
const ISO = parseGmmSpec(
  JSON.stringify({ weights: [1], means: [MU], stds: [C], shape: [1, 2, 2] }),
  "iso.json",
);
const POINTS = [[0.5, -1, 2, 0.25], [1, 0, -1, 2], [-3, 2, 0.5, 0]].map((p) => p.map(Math.fround));
const TIMES = [1e-5, 0.3, 1];

// A single component N(μ, c²I) has p_t = N(αμ, vI), v = α²c² + σ²: log p = −(D/2) log 2πv −
// ‖x − αμ‖²/2v, s = (αμ − x)/v, H = −I/v, Δ log p = −D/v, E[x_0|x_t] = μ + (αc²/v)(x − αμ).
eachBackend("gmm: one isotropic component matches the N(αμ, (α²c² + σ²)I) formulas", async (k) => {
  const m = new GmmModel(ISO, VP);
  const xs = TIMES.flatMap(() => POINTS), ts = TIMES.flatMap((t) => POINTS.map(() => t));
  const B = xs.length;
  const x = tensor(k.backend, xs.flat(), [B, 1, 2, 2], k.dtype);
  const t = tensor(k.backend, ts, [B], k.dtype);
  const at = ts.map((ti) => {
    const a = VP.alpha(ti), s = VP.sigma(ti);
    return { a, v: a * a * C * C + s * s };
  });
  const diff = xs.map((p, i) => p.map((xi, d) => xi - at[i].a * MU[d]));
  const f64 = k.dtype === "f64";

  const logp = diff.map((df, i) =>
    -(D / 2) * Math.log(2 * Math.PI * at[i].v) - df.reduce((s, v) => s + v * v, 0) / (2 * at[i].v)
  );
  assertAllClose(await m.logp(x, t).read(), logp, f64 ? tol.f64 : tol.f32GmmLogp, "log p");

  const score = m.score(x, t);
  assert.deepEqual([...score.shape], [B, 1, 2, 2], "the score keeps the input's shape");
  const expected = diff.flatMap((df, i) => df.map((v) => -v / at[i].v));
  assertAllClose(await score.read(), expected, f64 ? tol.f64 : tol.f32GmmScore, "score");

  const mean = diff.flatMap((df, i) => df.map((v, d) => MU[d] + (at[i].a * C * C / at[i].v) * v));
  const dm = m.denoisingMean(x, t);
  assert.deepEqual([...dm.shape], [B, 1, 2, 2]);
  assertAllClose(await dm.read(), mean, f64 ? tol.f64 : tol.f32GmmTweedie, "E[x0|xt]");

  const v = tensor(k.backend, xs.flatMap((_, i) => [1, -2, 0.5, i]), [B, 1, 2, 2], k.dtype);
  const hv = xs.flatMap((_, i) => [1, -2, 0.5, i].map((u) => -u / at[i].v));
  const hvTol = f64 ? tol.f64 : tol.f32GmmHessian;
  assertAllClose(await m.hessianVectorProduct(x, t, v).read(), hv, hvTol, "Hv");
  assertAllClose(await m.laplacian(x, t).read(), at.map((a) => -D / a.v), hvTol, "Δ log p");

  const n = 20_000, draws = m.sample(Rng.fromSeed(3), k.backend, n, k.dtype);
  assert.deepEqual([...draws.shape], [n, 1, 2, 2]);
  const cov = MU.map((_, i) => MU.map((_, j) => (i === j ? C * C : 0)));
  assertMoments(await draws.read(), n, MU, cov, "isotropic draws");
});

/** A test-only process with α = 1, σ = t (variance exploding, no drift): only the interface. */
class UnitAlphaSde implements Sde {
  readonly kind = "ve";
  readonly params = {};
  readonly T = 1;
  readonly tMinLikelihood = 1e-5;
  readonly tMinSampling = 1e-3;
  readonly priorStd = 1;
  alpha = (_t: number) => 1;
  sigma = (t: number) => t;
  driftCoef = (_t: number) => 0;
  diffusion2 = (t: number) => 2 * t;
  logSnr = (t: number) => -2 * Math.log(t);
  timeOfLogSnr = (lambda: number) => Math.exp(-lambda / 2);
  alphaSigmaT(t: Tensor) {
    return { alpha: add(mul(t, 0), 1), sigma: t };
  }
  driftDiffusionT(t: Tensor) {
    return { f: mul(t, 0), g2: mul(t, 2) };
  }
}

// Nothing in the model may assume VP: under α = 1, σ = t the closed forms change
// (C_k = Σ_k + t²I) and the device must follow them.
eachBackend("gmm: the model follows any process through the Sde interface", async (k) => {
  const sde = new UnitAlphaSde();
  const m = await GmmModel.load(fixture("mix2d.json"), sde);
  const pts = probePoints(m.spec, 6, 3);
  const ts = pts.map((_, i) => [0.01, 0.5, 2][i % 3]);
  const x = tensor(k.backend, pts.flat(), [pts.length, 2], k.dtype);
  const t = tensor(k.backend, ts, [ts.length], k.dtype);
  const dense = pts.map((p, i) => denseAt(m.spec, p, 1, ts[i]));
  const f64 = k.dtype === "f64";
  const lp = await m.logp(x, t).read();
  assertAllClose(lp, dense.map((d) => d.logp), f64 ? tol.f64 : tol.f32GmmLogp, "log p");
  assertAllClose(lp, pts.map((p, i) => m.logpHost(p, ts[i])), f64 ? tol.f64 : tol.f32GmmLogp);
  const sc = await m.score(x, t).read();
  assertAllClose(sc, dense.flatMap((d) => d.score), f64 ? tol.f64 : tol.f32GmmScore, "score");
});

Deno.test("gmm: shapes are checked and the description names the source", () => {
  const m = new GmmModel(ISO, VP), be = referenceBackend();
  assert.equal(m.description, "gmm:iso.json (1 component, D = 4)");
  assert.deepEqual(m.shape, [1, 2, 2]);
  const t = tensor(be, [0.5, 0.5], [2], "f64");
  assert.throws(() => m.score(tensor(be, new Array(6).fill(0), [2, 3], "f64"), t), /D = 4/);
  const x = tensor(be, new Array(8).fill(0), [2, 4], "f64");
  assert.throws(() => m.logp(x, tensor(be, [0.5], [1], "f64")), /expected \[2\]/);
  assert.throws(() => m.logpHost([0, 0], 0.5), /D = 4/);
});
