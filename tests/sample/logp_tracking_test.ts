import assert from "node:assert/strict";
import {
  divergence,
  full,
  mul,
  referenceBackend,
  Rng,
  stopGradient,
  sub,
  type Tensor,
  tensor,
} from "../../compute/mod.ts";
import { GmmModel } from "../../data/gmm_model.ts";
import { pfOdeDrift } from "../../sde/likelihood.ts";
import { makeSde } from "../../sde/processes.ts";
import { solveOde } from "../../sde/ode/solve.ts";
import { DORMAND_PRINCE } from "../../sde/ode/tableaus.ts";
import type { SdeKind } from "../../sde/sde.ts";
import {
  logpIncrementStochastic,
  logpRateDeterministic,
  logpTimeDerivative,
  reverseSdeLogpIncrement,
  scoreAndLaplacian,
} from "../../sample/logp_tracking.ts";
import { fixture } from "../data/gmm_oracle.ts";
import { tol } from "../_helpers/tolerances.ts";

const be = referenceBackend();
const TIMES = [1e-3, 0.05, 0.3, 0.9];

/** Points near the data at time t: α_t x0 + σ_t z for mixture draws x0 (float64). */
async function pointsAt(model: GmmModel, t: number, n: number, seed: number): Promise<Tensor> {
  const rng = Rng.fromSeed(seed);
  const [x0, z] = await Promise.all([
    model.sample(rng, be, n, "f64").read(),
    rng.derive("z").normal(be, [n, model.D], "f64").read(),
  ]);
  const a = model.sde.alpha(t), s = model.sde.sigma(t);
  return tensor(be, Array.from(x0, (v, i) => a * v + s * z[i]), [n, model.D], "f64");
}

const cases: [string, SdeKind][] = [
  ["mix2d.json", "vp"],
  ["mix10d.json", "vp"],
  ["mix2d.json", "ve"],
  ["mix2d.json", "subvp"],
  ["mix10d.json", "vdm"],
];

// ∂_t log p = −∇·f − f·s + ½g²(Δlog p + ‖s‖²) is the Fokker–Planck equation divided by p, so
// with the mixture's exact score and Laplacian it must equal the central difference of the
// closed-form log p_t in t, on every process.
Deno.test("∂_t log p from the score and Laplacian equals the t-derivative of the closed form", async () => {
  for (const [file, kind] of cases) {
    const model = await GmmModel.load(fixture(file), makeSde(kind));
    for (const t of TIMES) {
      const x = await pointsAt(model, t, 6, 3);
      const tT = full(be, [6], t, "f64");
      const { score, laplacian } = scoreAndLaplacian((y, u) => model.score(y, u), x, tT, {
        method: "exact",
      });
      const rate = await logpTimeDerivative(model.sde, x, tT, score, laplacian).read();
      const h = 1e-4 * t;
      const up = await model.logp(x, full(be, [6], t + h, "f64")).read();
      const down = await model.logp(x, full(be, [6], t - h, "f64")).read();
      rate.forEach((r, i) => {
        const fd = (up[i] - down[i]) / (2 * h);
        assert.ok(
          Math.abs(r - fd) <= tol.logpRateFiniteDiff.rtol * Math.max(1, Math.abs(fd)),
          `${file} ${kind} t=${t} #${i}: ${r} vs finite difference ${fd}`,
        );
      });
    }
  }
});

// Along the PF-ODE drift u the general deterministic rate ∂_t log p + s·u must equal −∇·u
// (the continuity equation) pointwise, when s is the exact score.
Deno.test("the general deterministic rate on the PF-ODE drift equals −∇·u pointwise", async () => {
  for (const [file, kind] of cases) {
    const model = await GmmModel.load(fixture(file), makeSde(kind));
    const score = (y: Tensor, u: Tensor) => model.score(y, u);
    const drift = pfOdeDrift(score, model.sde);
    for (const t of TIMES) {
      const x = await pointsAt(model, t, 6, 5);
      const tT = full(be, [6], t, "f64");
      const { score: s, laplacian } = scoreAndLaplacian(score, x, tT, { method: "exact" });
      const { value: u, div } = divergence((y) => drift(y, tT), x, { method: "exact" });
      const general = await logpRateDeterministic(model.sde, x, tT, s, laplacian, u).read();
      const direct = await div.read();
      general.forEach((g, i) => {
        const scale = Math.max(1, Math.abs(direct[i]));
        assert.ok(
          Math.abs(g + direct[i]) <= tol.logpFormsF64.rtol * scale,
          `${file} ${kind} t=${t} #${i}: ${g} vs −∇·u = ${-direct[i]}`,
        );
      });
    }
  }
});

// The reverse SDE's increment is the stochastic form with u = f − g²s, G = gI and
// tr(GGᵀ∇²log p) = g²Δlog p: the Laplacians cancel, so both must agree to rounding.
Deno.test("the reverse-SDE increment equals the general stochastic increment with G = gI", async () => {
  const model = await GmmModel.load(fixture("mix10d.json"), makeSde("vp"));
  const score = (y: Tensor, u: Tensor) => model.score(y, u);
  for (const t of TIMES) {
    const dt = -1e-3;
    const x = await pointsAt(model, t, 6, 7);
    const z = Rng.fromSeed(9).normal(be, x.shape, "f64");
    const tT = full(be, [6], t, "f64");
    const { score: s, laplacian } = scoreAndLaplacian(score, x, tT, { method: "exact" });
    const g2 = model.sde.diffusion2(t);
    const drift = sub(mul(x, model.sde.driftCoef(t)), mul(s, g2));
    const gDw = mul(z, Math.sqrt(g2 * Math.abs(dt)));
    const general = await logpIncrementStochastic(
      model.sde,
      x,
      tT,
      s,
      laplacian,
      drift,
      dt,
      gDw,
      mul(laplacian, g2),
    ).read();
    const special = await reverseSdeLogpIncrement(model.sde, t, dt, s, z).read();
    general.forEach((g, i) =>
      assert.ok(
        Math.abs(g - special[i]) <= tol.logpFormsF64.rtol * Math.max(1, Math.abs(g)),
        `t=${t} #${i}: ${g} vs ${special[i]}`,
      )
    );
  }
});

// Integrated along a whole PF-ODE solve (one state {x, ℓ₁, ℓ₂}, so both ride the same steps):
// ℓ₁ by −∇·u and ℓ₂ by the general rate ∂_t log p + s·u must end equal, and equal to the
// closed form's change log p_{t_min}(x_0) − log p_T(x_T).
Deno.test("integrated along the PF-ODE, the general rate tracks log p exactly as −∇·u does", async () => {
  const model = await GmmModel.load(fixture("mix2d.json"), makeSde("vp"));
  const sde = model.sde, n = 8, tMin = sde.tMinSampling;
  const score = (y: Tensor, u: Tensor) => model.score(y, u);
  const drift = pfOdeDrift(score, sde);
  const dynamics = (t: Tensor, [x]: Tensor[]) => {
    const { value: u, div } = divergence((y) => drift(y, t), x, { method: "exact" });
    const { score: s, laplacian } = scoreAndLaplacian(score, x, t, { method: "exact" });
    const general = logpRateDeterministic(sde, x, t, s, laplacian, u);
    return [u, mul(div, -1), general].map((v) => stopGradient(v));
  };
  const xT = Rng.fromSeed(2).normal(be, [n, 2], "f64");
  const zero = full(be, [n], 0, "f64");
  const sol = await solveOde(dynamics, [xT, zero, zero], sde.T, tMin, {
    tableau: DORMAND_PRINCE,
    rtol: 1e-8,
    atol: 1e-8,
  });
  const [x0, byDiv, byRate] = await Promise.all(sol.y.map((v) => v.read()));
  const startLogp = await model.logp(xT, full(be, [n], sde.T, "f64")).read();
  for (let i = 0; i < n; i++) {
    const scale = Math.max(1, Math.abs(byDiv[i]));
    assert.ok(
      Math.abs(byRate[i] - byDiv[i]) <= tol.logpFormsF64.rtol * scale,
      `#${i}: general ${byRate[i]} vs −∇·u ${byDiv[i]}`,
    );
    const change = model.logpHost([x0[2 * i], x0[2 * i + 1]], tMin) - startLogp[i];
    assert.ok(
      Math.abs(byDiv[i] - change) < tol.odeAdaptiveF64.atol,
      `#${i}: ${byDiv[i]} vs closed form ${change}`,
    );
  }
});
