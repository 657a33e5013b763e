import assert from "node:assert/strict";
import { eachBackend } from "../_helpers/backends.ts";
import { add, mul, Rng, type Tensor, tensor } from "../../compute/mod.ts";
import { GmmModel } from "../../data/gmm_model.ts";
import { meanStderr } from "../../io/statistics.ts";
import { makeSde } from "../../sde/processes.ts";
import type { Sde } from "../../sde/sde.ts";
import { epsFromScore, velocityFromEpsX0, x0FromEps } from "../../sde/parameterization.ts";
import { dsmLoss } from "../../train/objectives/dsm.ts";
import { flowLoss } from "../../train/objectives/flow.ts";
import {
  logSnrUniformTimes,
  uniformTimes,
  velocityImportanceTimes,
} from "../../train/time_sampling.ts";

// Gaussian data N(μ, c²I): with the exact score every loss has a closed-form expectation at
// each t (docs/MATH.md §3): E ½‖σs + z‖² = ½ D α²c²/v and, for the velocity, ½ D c²/v (α² + σ² = 1),
// v = α²c² + σ². Losses averaged over a large batch must match the time integrals within 4 s.e.
const D = 3, C = 0.6, MU = [0.5, -1, 2];
const GAUSS = { weights: [1], means: [MU], stds: [C] };
const N = 20000;

function exactScore(sde: Sde) {
  const data = GmmModel.isotropic(GAUSS, sde);
  return (x: Tensor, t: Tensor) => data.score(x, t);
}

/** F̂ = E[α ε − σ x0 | x_t] from the exact score (through ε̂ and x̂0). */
function exactVelocity(sde: Sde) {
  const score = exactScore(sde);
  return (x: Tensor, t: Tensor) => {
    const m = sde.alphaSigmaT(t);
    const eps = epsFromScore(score(x, t), m);
    return velocityFromEpsX0(eps, x0FromEps(eps, x, m), m);
  };
}

/** Data and noise for a batch, drawn on the device. */
function draw(backend: Parameters<typeof tensor>[0], dtype: "f32" | "f64", seed: number) {
  const rng = Rng.fromSeed(seed);
  const mu = tensor(backend, MU, [1, D], dtype);
  const x0 = mul(rng.derive("x0").normal(backend, [N, D], dtype), C);
  return { x0: add(x0, mu), z: rng.derive("z").normal(backend, [N, D], dtype), rng };
}

async function meanSe(t: Tensor): Promise<[number, number]> {
  const { mean, stderr } = meanStderr(await t.read());
  return [mean, stderr];
}

/** ∫ f(t) dt over [a, b] by Simpson's rule. */
function simpson(f: (t: number) => number, a: number, b: number, n = 20000): number {
  const h = (b - a) / n;
  let s = f(a) + f(b);
  for (let i = 1; i < n; i++) s += (i % 2 ? 4 : 2) * f(a + i * h);
  return (s * h) / 3;
}

eachBackend(
  "DSM with the exact score: each weighting's mean equals its irreducible value",
  async (c) => {
    const vp = makeSde("vp"), tMin = 1e-3;
    const { x0, z, rng } = draw(c.backend, c.dtype, 1);
    const net = exactScore(vp);
    const v = (t: number) => (vp.alpha(t) * C) ** 2 + vp.sigma(t) ** 2;
    const inner = (t: number) => 0.5 * D * (vp.alpha(t) * C) ** 2 / v(t);
    const simple = await meanSe(
      dsmLoss(net, "score", vp, "simple", { x0, z, t: uniformTimes(rng.derive("t1"), N, vp, tMin) })
        .loss,
    );
    const expectSimple = simpson(inner, tMin, 1) / (1 - tMin);
    assert.ok(
      Math.abs(simple[0] - expectSimple) < 4 * simple[1],
      `simple ${simple} vs ${expectSimple}`,
    );
    const lik = await meanSe(
      dsmLoss(net, "score", vp, "likelihood", {
        x0,
        z,
        t: uniformTimes(rng.derive("t2"), N, vp, tMin),
      }).loss,
    );
    const g2s2 = (t: number) => vp.diffusion2(t) / vp.sigma(t) ** 2;
    const expectLik = simpson((t) => g2s2(t) * inner(t), tMin, 1) / (1 - tMin);
    assert.ok(Math.abs(lik[0] - expectLik) < 4 * lik[1], `likelihood ${lik} vs ${expectLik}`);
    // importance sampling: the same integral (up to the 1/(T − t_min) factor), much lower variance
    const is = logSnrUniformTimes(rng.derive("t3"), N, vp, tMin);
    const imp = await meanSe(
      dsmLoss(net, "score", vp, "likelihood", { x0, z, t: is.t, Z: is.Z }).loss,
    );
    assert.ok(
      Math.abs(imp[0] - expectLik * (1 - tMin)) < 4 * Math.hypot(imp[1], lik[1]),
      `IS ${imp} vs ${expectLik}`,
    );
    assert.ok(imp[1] < lik[1], "importance sampling lowers the variance");
    // the ε-parameterised form of the same exact model gives the same losses
    const epsNet = (x: Tensor, t: Tensor) => epsFromScore(net(x, t), vp.alphaSigmaT(t));
    const viaEps = await meanSe(
      dsmLoss(epsNet, "eps", vp, "simple", {
        x0,
        z,
        t: uniformTimes(rng.derive("t1"), N, vp, tMin),
      }).loss,
    );
    assert.ok(Math.abs(viaEps[0] - simple[0]) < 1e-3 * simple[0]);
  },
);

eachBackend("flow matching with the exact velocity: the mean equals ½ Z D E[c²/v]", async (c) => {
  const vdm = makeSde("vdm");
  const { x0, z, rng } = draw(c.backend, c.dtype, 2);
  const velocity = exactVelocity(vdm);
  const { gammaMin, gammaMax } = vdm.params as { gammaMin: number; gammaMax: number };
  const { t, Z } = velocityImportanceTimes(rng.derive("t"), N, gammaMin, gammaMax);
  const r = await meanSe(flowLoss(velocity, vdm, 0, { x0, z, t, Z }).loss);
  // density of t ∝ α²(t) (over γ, linear in t), normalised by Z/(γ1 − γ0)
  const a2 = (s: number) => vdm.alpha(s) ** 2;
  const v = (s: number) => a2(s) * C * C + vdm.sigma(s) ** 2;
  const expected = Z *
    simpson((s) => a2(s) * (gammaMax - gammaMin) / Z * 0.5 * D * C * C / v(s), 0, 1);
  assert.ok(Math.abs(r[0] - expected) < 4 * r[1] + 1e-4, `flow ${r} vs ${expected}`);
});

eachBackend("high-order term: with the exact velocity the residual has mean zero", async (c) => {
  // σ∇·F̂ = αD − tr Cov[ε|x]/α and E‖F* − F̂‖² = tr Cov[ε|x]/α² (α² + σ² = 1): the residual
  // vanishes in conditional expectation; the Rademacher probe only adds zero-mean noise.
  const vdm = makeSde("vdm");
  const { x0, z, rng } = draw(c.backend, c.dtype, 3);
  const velocity = exactVelocity(vdm);
  const { gammaMin, gammaMax } = vdm.params as { gammaMin: number; gammaMax: number };
  const { t, Z } = velocityImportanceTimes(rng.derive("t"), N, gammaMin, gammaMax);
  const probe = rng.derive("probe").rademacher(c.backend, [N, D], c.dtype);
  const parts = flowLoss(velocity, vdm, 0.1, { x0, z, t, Z, probe });
  const [m, se] = await meanSe(parts.residual!);
  assert.ok(se > 0 && Math.abs(m) < 4 * se, `residual mean ${m} ± ${se}`);
  // a biased velocity (+0.3: E‖F* − F̂‖² grows by 0.09 D) breaks the condition far beyond the noise
  const wrong = flowLoss((x, s) => add(velocity(x, s), 0.3), vdm, 0.1, { x0, z, t, Z, probe });
  const [mw] = await meanSe(wrong.residual!);
  assert.ok(Math.abs(mw) > 8 * se, `wrong velocity residual ${mw}, noise ${se}`);
});
