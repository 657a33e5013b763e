import assert from "node:assert/strict";
import { eachBackend } from "../_helpers/backends.ts";
import { assertAllClose } from "../_helpers/all_close.ts";
import { tol } from "../_helpers/tolerances.ts";
import { referenceBackend, Rng, tensor } from "../../compute/mod.ts";
import { GmmModel } from "../../data/gmm_model.ts";
import { pfOdeLogLikelihood } from "../../sde/likelihood.ts";
import { fixture } from "../data/gmm_oracle.ts";
import { makeSde, sdeFromJson, sdeToJson } from "../../sde/processes.ts";
import {
  spAlphaSquaredIntegral,
  spGammaOfAlphaSquaredMass,
  spImportanceTimes,
  SpSde,
} from "../../sde/sp.ts";

const close = (a: number, b: number, rel: number) => Math.abs(a - b) <= rel * Math.abs(b);
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const TIMES = [0, 1e-5, 1e-3, 0.1, 0.37, 0.5, 0.9, 1];

Deno.test("sp: α + σ = 1 on the straight path, α = sigmoid(−γ/2), σ = sigmoid(γ/2)", () => {
  const sp = makeSde("sp") as SpSde;
  assert.deepEqual(sp.params, { gammaMin: -13.3, gammaMax: 5 });
  for (const t of TIMES) {
    const gamma = -13.3 + 18.3 * t;
    assert.ok(close(sp.gamma(t), gamma, 1e-15));
    assert.ok(close(sp.alpha(t), sigmoid(-gamma / 2), 1e-14), `α at ${t}`);
    assert.ok(close(sp.sigma(t), sigmoid(gamma / 2), 1e-14), `σ at ${t}`);
    assert.ok(Math.abs(sp.alpha(t) + sp.sigma(t) - 1) <= 4.5e-16, `α + σ at ${t}`);
  }
});

Deno.test("sp: α²/σ² = e^λ, λ = −γ, and λ⁻¹ inverts λ over the whole range", () => {
  const sp = makeSde("sp", { gammaMin: -12, gammaMax: 7 });
  for (const t of TIMES) {
    const lambda = sp.logSnr(t);
    assert.ok(close(sp.alpha(t) ** 2 / sp.sigma(t) ** 2, Math.exp(lambda), 1e-13), `e^λ at ${t}`);
    assert.ok(Math.abs(sp.timeOfLogSnr(lambda) - t) <= 1e-15, `λ⁻¹(λ(${t}))`);
  }
  for (let i = 0; i <= 20; i++) {
    const lambda = sp.logSnr(1) + (i / 20) * (sp.logSnr(0) - sp.logSnr(1));
    assert.ok(Math.abs(sp.logSnr(sp.timeOfLogSnr(lambda)) - lambda) <= 1e-13);
  }
});

Deno.test("sp: f = d ln α/dt, g² = dσ²/dt − 2fσ², g²/σ² = −dλ/dt against central differences", () => {
  const sp = makeSde("sp");
  const h = 1e-5, rel = tol.sdeFiniteDiff.rtol;
  const d = (fn: (t: number) => number, t: number) => (fn(t + h) - fn(t - h)) / (2 * h);
  for (const t of [1e-3, 0.1, 0.37, 0.5, 0.9, 1 - 1e-3]) {
    const s2 = (u: number) => sp.sigma(u) ** 2;
    assert.ok(close(sp.driftCoef(t), d((u) => Math.log(sp.alpha(u)), t), rel), `f at ${t}`);
    const g2 = d(s2, t) - 2 * sp.driftCoef(t) * s2(t);
    assert.ok(close(sp.diffusion2(t), g2, rel), `g² at ${t}`);
    assert.ok(close(sp.diffusion2(t) / s2(t), -d((u) => sp.logSnr(u), t), rel), `g²/σ² at ${t}`);
  }
});

Deno.test("sp: prior N(0, σ_T² I) with σ_T = sigmoid(γmax/2); σ0 at γmin = −13.3", () => {
  const sp = makeSde("sp");
  assert.ok(close(sp.priorStd, sigmoid(2.5), 1e-15));
  assert.ok(close(sp.priorStd, sp.sigma(1), 1e-15));
  // σ0 = sigmoid(−6.65) = 1.29235e-3: VDM-γ's σ0 = √sigmoid(−13.3) = 1.294e-3 to within 0.2 %
  assert.ok(close(sp.sigma(0), 1.29235e-3, 1e-5), `σ0 ${sp.sigma(0)}`);
  assert.ok(close(sp.sigma(0), makeSde("vdm").sigma(0), 2e-3));
  assert.equal(sp.tMinLikelihood, 0);
  assert.equal(sp.tMinSampling, 0);
});

Deno.test("sp: JSON round trip and the checks on γ", () => {
  const sp = makeSde("sp", { gammaMin: -10, gammaMax: 6 });
  const back = sdeFromJson(JSON.parse(JSON.stringify(sdeToJson(sp))));
  assert.equal(back.kind, "sp");
  assert.deepEqual(back.params, { gammaMin: -10, gammaMax: 6 });
  assert.throws(
    () => makeSde("sp", { gammaMax: -20 }),
    /sp SDE: gammaMax must be a finite number > gammaMin, found -20/,
  );
});

Deno.test("sp importance sampling: ∫α² dγ in closed form against Simpson, its inverse, the draws' law", () => {
  const g0 = -13.3, g1 = 5, n = 4000, h = (g1 - g0) / n;
  let simpson = 0;
  for (let i = 0; i <= n; i++) {
    simpson += (i === 0 || i === n ? 1 : i % 2 ? 4 : 2) * sigmoid(-(g0 + i * h) / 2) ** 2;
  }
  simpson *= h / 3;
  const Z = spAlphaSquaredIntegral(g1) - spAlphaSquaredIntegral(g0);
  assert.ok(close(Z, simpson, 1e-10), `Z ${Z}, Simpson ${simpson}`);
  assert.ok(close(Z, 11.29911, 1e-6), `Z = ${Z}`);
  for (const frac of [0, 1e-9, 0.01, 0.3, 0.5, 0.77, 0.999, 1]) {
    const gamma = spGammaOfAlphaSquaredMass(g0, g1, frac * Z);
    const mass = spAlphaSquaredIntegral(gamma) - spAlphaSquaredIntegral(g0);
    assert.ok(Math.abs(mass - frac * Z) <= 1e-12 * Z, `mass at ${frac}: ${mass / Z}`);
    assert.ok(gamma >= g0 && gamma <= g1);
  }
  // antithetic pairs, and the empirical CDF of t against the α² law at a few points
  const m = 20000;
  const { t, Z: z2 } = spImportanceTimes(Rng.fromSeed(3), m, g0, g1);
  assert.equal(z2, Z);
  const sp = new SpSde(g0, g1);
  const u = (i: number) =>
    (spAlphaSquaredIntegral(sp.gamma(t[i])) - spAlphaSquaredIntegral(g0)) / Z;
  for (let i = 0; i < 10; i++) assert.ok(Math.abs(u(i) + u(i + m / 2) - 1) < 1e-10);
  for (const q of [0.1, 0.5, 0.9]) {
    const tq = (spGammaOfAlphaSquaredMass(g0, g1, q * Z) - g0) / (g1 - g0);
    const below = t.filter((v) => v <= tq).length / m;
    assert.ok(Math.abs(below - q) < 0.01, `P(t ≤ t_${q}) = ${below}`);
  }
});

eachBackend("sp on the device agrees with float64 (α, σ, f, g² relatively)", async (c) => {
  const sde = makeSde("sp");
  const ts = [0, 1e-6, 1e-3, 0.1, 0.5, 1];
  const held = c.dtype === "f64" ? ts : ts.map(Math.fround);
  const t = tensor(c.backend, ts, [ts.length], c.dtype);
  const { alpha, sigma } = sde.alphaSigmaT(t);
  const { f, g2 } = sde.driftDiffusionT(t);
  const tl = { ...(c.dtype === "f64" ? tol.f64 : tol.f32SdeCoefficients), atol: 0 };
  const host = (fn: (t: number) => number) => held.map((u) => fn.call(sde, u));
  assertAllClose(await alpha.read(), host(sde.alpha), tl, "sp α");
  assertAllClose(await sigma.read(), host(sde.sigma), tl, "sp σ");
  assertAllClose(await f.read(), host(sde.driftCoef), tl, "sp f");
  assertAllClose(await g2.read(), host(sde.diffusion2), tl, "sp g²");
});

Deno.test("sp: the PF-ODE with the exact mixture score reproduces log p_0 (f and g² consistent with α, σ)", async () => {
  const sp = makeSde("sp");
  const model = await GmmModel.load(fixture("two_blobs.json"), sp);
  const points = [[-2, 0.5], [1.5, -1], [-0.2, -0.3], [3, -2]];
  const be = referenceBackend();
  const x = tensor(be, points.flat(), [points.length, 2], "f64");
  const r = await pfOdeLogLikelihood((xt, t) => model.score(xt, t), sp, x, {
    tMin: 0,
    tMax: 1,
    rtol: 1e-8,
    atol: 1e-8,
    divergence: { method: "exact" },
    // the mixture's own p_T: then the ODE's answer is exact up to the solver
    terminalLogp: (xT) => model.logp(xT, tensor(be, points.map(() => 1), [points.length], "f64")),
  });
  points.forEach((p, i) => {
    const exact = model.logpHost(p, 0);
    assert.ok(Math.abs(r.logp[i] - exact) < 1e-5, `${p}: ${r.logp[i]} vs closed form ${exact}`);
  });
});
