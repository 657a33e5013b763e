/**
 * EDM's Heun sampler (sample/samplers/edm_heun.ts, docs/samplers.md §3) with the exact scores of
 * Gaussian mixtures. Its levels are Karras et al.'s, placed in σ/α and mapped to times by λ⁻¹; it
 * is second order, so its moments approach those of a tight Dormand–Prince solution (followed by
 * the same final denoising step) four times faster per doubling of the steps, land within
 * Monte-Carlo error of the mixture's moments, and its tracked log p converges at order 2 to the
 * data density of what it returns. Reference float64 except the cross-backend cases.
 */

import assert from "node:assert/strict";
import { eachBackend } from "../_helpers/backends.ts";
import { tol } from "../_helpers/tolerances.ts";
import { runMain } from "../_helpers/cli.ts";
import {
  type Backend,
  type DType,
  full,
  referenceBackend,
  Rng,
  type Tensor,
} from "../../compute/mod.ts";
import { GmmModel } from "../../data/gmm_model.ts";
import { makeSde } from "../../sde/processes.ts";
import type { SdeKind } from "../../sde/sde.ts";
import { EDM_RHO, edmHeun, edmLevels } from "../../sample/samplers/edm_heun.ts";
import { noiseRatio } from "../../sample/samplers/noise_ratio_ode.ts";
import { pfOdeSample } from "../../sample/samplers/ode.ts";
import { fixture } from "../data/gmm_oracle.ts";
import { assertMoments, momentError, moments, priorLatents } from "../data/sample_moments.ts";

const be = referenceBackend();
const VP = makeSde("vp");

/** EDM samples from `xT` with `steps` levels, read back. */
async function run(model: GmmModel, xT: Tensor, steps: number) {
  const { sde } = model;
  const r = edmHeun(
    (x, t) => model.score(x, t),
    sde,
    xT,
    edmLevels(sde, sde.T, sde.tMinSampling, steps),
  );
  assert.equal(r.nfe, 2 * steps - 1);
  const x = await r.x.read();
  r.x.dispose();
  return x;
}

Deno.test("edm levels: Karras et al.'s schedule in σ/α, exact ends, times through λ⁻¹", () => {
  // VE has α = 1, so its levels are EDM's σ_i for σ ∈ [σ(t_min), σ_max] themselves
  const ve = makeSde("ve"), N = 18;
  const { nu, t } = edmLevels(ve, ve.T, ve.tMinSampling, N);
  const [hi, lo] = [ve.sigma(ve.T), ve.sigma(ve.tMinSampling)];
  assert.equal(nu.length, N + 1);
  assert.equal(nu[N], 0);
  assert.equal(t[0], ve.T);
  assert.equal(t[N - 1], ve.tMinSampling);
  for (let i = 0; i < N; i++) {
    const karras =
      (hi ** (1 / EDM_RHO) + (i / (N - 1)) * (lo ** (1 / EDM_RHO) - hi ** (1 / EDM_RHO))) **
        EDM_RHO;
    assert.ok(
      Math.abs(nu[i] - karras) <= tol.edmLevelsF64.rtol * karras,
      `ν_${i} ${nu[i]} vs ${karras}`,
    );
  }
  for (const kind of ["vp", "subvp", "ve", "vdm"] as SdeKind[]) {
    const sde = makeSde(kind), g = edmLevels(sde, sde.T, sde.tMinSampling, N);
    for (let i = 0; i < N; i++) {
      if (i > 0) {
        assert.ok(g.nu[i] < g.nu[i - 1] && g.t[i] < g.t[i - 1], `${kind}: not decreasing at ${i}`);
      }
      const back = noiseRatio(sde, g.t[i]);
      assert.ok(
        Math.abs(back - g.nu[i]) <= tol.edmLevelsF64.rtol * g.nu[i],
        `${kind}: ν(t_${i}) ${back} vs ${g.nu[i]}`,
      );
    }
  }
  assert.deepEqual(edmLevels(VP, 1, 0.5, 1), { nu: [noiseRatio(VP, 1), 0], t: [1] });
  assert.throws(() => edmLevels(VP, 1, 0.5, 0), /steps must be ≥ 1/);
});

// Against Dormand–Prince to t_min followed by the same last step (the denoiser, E[x₀ | x]) from
// the same latents: each doubling of the steps divides the moment error by ≈ 4 (order 2), on two
// mixtures and two seeds; at 20 steps (39 evaluations) every moment lies within 4 standard
// errors of the truth.
for (const [file, n] of [["mix2d.json", 400], ["mix10d.json", 200]] as const) {
  for (const seed of [1, 2]) {
    Deno.test(`edm on ${file}, seed ${seed}: moments converge at order 2 to the PF-ODE's and match the mixture`, async () => {
      const model = await GmmModel.load(fixture(file), VP);
      const xT = priorLatents(VP, seed, n, model.D);
      const ode = await pfOdeSample((x, t) => model.score(x, t), VP, xT, [VP.T, VP.tMinSampling], {
        method: "dopri5",
        rtol: 1e-6,
        atol: 1e-6,
      });
      const denoised = model.denoisingMean(ode.x, full(be, [n], VP.tMinSampling, "f64"));
      const m = moments(await denoised.read(), n, model.D);
      const ref = { meanHost: () => m.mean, covarianceHost: () => m.cov };
      const err = (x: ArrayLike<number>) => {
        const e = momentError(ref, x, n);
        return e.mean + e.cov;
      };
      const [coarse, fine] = [err(await run(model, xT, 10)), await run(model, xT, 20)];
      const last = err(fine), order = Math.log2(coarse / last) * Math.log(2) / Math.log(19 / 9);
      const truth = momentError(model, fine, n);
      console.log(
        `${file} seed ${seed}: ‖Δmean‖ + ‖Δcov‖ against DP5 ${
          coarse.toExponential(2)
        } (10 steps), ` +
          `${last.toExponential(2)} (20); order ${order.toFixed(2)}; against the truth at 20: ` +
          `${truth.mean.toExponential(2)} + ${truth.cov.toExponential(2)}`,
      );
      assert.ok(Math.abs(order - 2) < tol.samplerOrder.atol, `order ${order}`);
      assertMoments(fine, n, model.meanHost(), model.covarianceHost(), `edm, 20 steps`);
      for (const t of [xT, ode.x, denoised]) t.dispose();
    });
  }
}

Deno.test("edm on sub-VP, VE and VDM: 18 steps match the mixture's moments", async () => {
  for (const kind of ["subvp", "ve", "vdm"] as SdeKind[]) {
    const sde = makeSde(kind), n = 400;
    const model = await GmmModel.load(fixture("mix2d.json"), sde);
    const xT = priorLatents(sde, 3, n, 2);
    assertMoments(await run(model, xT, 18), n, model.meanHost(), model.covarianceHost(), kind);
    xT.dispose();
  }
});

// Algorithm 2: with the exact score, churn (noise added to raise each level, then a Heun step
// from the raised level) keeps the marginals, so the moments still match; S_churn = 0 is
// Algorithm 1 exactly, and churn refuses log-p tracking.
Deno.test("edm with churn: the moments still match; S_churn = 0 is the deterministic sampler", async () => {
  const n = 400;
  for (const file of ["mix2d.json", "mix2r.json"]) {
    const model = await GmmModel.load(fixture(file), VP);
    const xT = priorLatents(VP, 9, n, 2);
    const levels = edmLevels(VP, VP.T, VP.tMinSampling, 18);
    const score = (x: Tensor, t: Tensor) => model.score(x, t);
    const rng = Rng.fromSeed(9).derive("churn");
    const noise = (i: number) => rng.derive(i).normal(be, [n, 2], "f64");
    const churn = { sChurn: 40, sTmin: 0.05, sTmax: 50, sNoise: 1, noise };
    const r = edmHeun(score, VP, xT, levels, { churn });
    assert.equal(r.nfe, 35);
    assertMoments(await r.x.read(), n, model.meanHost(), model.covarianceHost(), `${file}, churn`);
    const plain = edmHeun(score, VP, xT, levels);
    const off = edmHeun(score, VP, xT, levels, { churn: { ...churn, sChurn: 0 } });
    assert.deepEqual(await off.x.read(), await plain.x.read());
    for (const t of [xT, r.x, plain.x, off.x]) t.dispose();
  }
  const logp = { initial: full(be, [2], 0, "f64"), divergence: { method: "exact" as const } };
  const churn = {
    sChurn: 1,
    sTmin: 0,
    sTmax: Infinity,
    sNoise: 1,
    noise: () => priorLatents(VP, 1, 2, 2),
  };
  assert.throws(
    () =>
      edmHeun((x) => x, VP, priorLatents(VP, 1, 2, 2), edmLevels(VP, 1, 0.01, 3), { logp, churn }),
    /tracked only without churn/,
  );
});

// Tracked log p (from the mixture's own p_T) against the closed-form density of the data (VP's
// t = 0, where σ/α = 0) at the returned samples: second order, so doubling the steps divides the
// error by ≈ 4.
Deno.test("edm: tracked log p converges at order 2 to the exact data log-density of its samples", async () => {
  const n = 32;
  for (const file of ["mix2d.json", "mix10d.json"]) {
    const model = await GmmModel.load(fixture(file), VP);
    const xT = priorLatents(VP, 5, n, model.D);
    const initial = model.logp(xT, full(be, [n], VP.T, "f64"));
    const meanError = async (steps: number) => {
      const r = edmHeun(
        (x, t) => model.score(x, t),
        VP,
        xT,
        edmLevels(VP, VP.T, VP.tMinSampling, steps),
        {
          logp: { initial, divergence: { method: "exact" } },
        },
      );
      const [x, ell] = [await r.x.read(), await r.logp!.read()];
      r.x.dispose();
      r.logp!.dispose();
      let sum = 0;
      for (let i = 0; i < n; i++) {
        sum += Math.abs(
          ell[i] - model.logpHost(Array.from(x.subarray(i * model.D, (i + 1) * model.D)), 0),
        );
      }
      return sum / n;
    };
    const [e20, e40] = [await meanError(20), await meanError(40)];
    const order = Math.log2(e20 / e40) * Math.log(2) / Math.log(39 / 19);
    console.log(
      `${file}: mean |tracked − exact| ${e20.toFixed(4)} (20 steps), ${
        e40.toFixed(4)
      } (40) nats; order ${order.toFixed(2)}`,
    );
    assert.ok(Math.abs(order - 2) < tol.samplerOrder.atol, `${file}: order ${order}`);
    for (const t of [xT, initial]) t.dispose();
  }
});

// Every backend: 18 steps reproduce mix2d's moments, and the tracked log p equals the float64
// reference's from the same latents.
eachBackend("edm: exact-score samples match mix2d's moments and track log p", async (k) => {
  const model = await GmmModel.load(fixture("mix2d.json"), VP);
  const n = 400, levels = edmLevels(VP, VP.T, VP.tMinSampling, 18);
  const tracked = async (backend: Backend, dtype: DType) => {
    const xT = priorLatents(VP, 7, n, 2, backend, dtype);
    const initial = model.logp(xT, full(backend, [n], VP.T, dtype));
    const r = edmHeun((x, t) => model.score(x, t), VP, xT, levels, {
      logp: { initial, divergence: { method: "exact" } },
    });
    const out = { x: await r.x.read(), ell: await r.logp!.read() };
    for (const t of [xT, initial, r.x, r.logp!]) t.dispose();
    return out;
  };
  const [got, ref] = [await tracked(k.backend, k.dtype), await tracked(be, "f64")];
  assertMoments(got.x, n, model.meanHost(), model.covarianceHost(), k.name);
  let worst = 0, discretisation = 0;
  for (let i = 0; i < n; i++) {
    worst = Math.max(worst, Math.abs(got.ell[i] - ref.ell[i]));
    discretisation = Math.max(
      discretisation,
      Math.abs(ref.ell[i] - model.logpHost([ref.x[2 * i], ref.x[2 * i + 1]], 0)),
    );
  }
  console.log(
    `${k.name}: max |tracked − float64 reference| ${worst.toExponential(2)} nats; ` +
      `the reference's own error at 18 steps ${discretisation.toFixed(3)}`,
  );
  assert.ok(worst < tol.edmLogpCrossBackend.atol, `${k.name}: tracked log p off by ${worst}`);
});

// The command: 2N − 1 evaluations, EDM's levels as σ/α in the JSON, and log p of the written
// (denoised) samples under the data density.
Deno.test("sample --sampler edm: the JSON reports its levels and the tracked log p", async () => {
  const dir = await Deno.makeTempDir();
  const r = await runMain([
    ...["sample", "--model", "gmm:fixtures/mix2d.json", "--n", "6", "--backend", "reference"],
    ...["--quiet", "--sampler", "edm", "--steps", "40", "--track-logp", "--prior", "exact"],
    ...["--divergence", "exact", "--json", "--out", `${dir}/e.json`],
  ]);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.equal(doc.nfe_mean, 79);
  assert.equal(doc.rho, EDM_RHO);
  assert.equal(doc.sigma_max, noiseRatio(VP, 1));
  assert.equal(doc.sigma_min, noiseRatio(VP, doc.t_min));
  const model = await GmmModel.load(fixture("mix2d.json"), VP);
  const { samples } = JSON.parse(await Deno.readTextFile(`${dir}/e.json`));
  samples.forEach((x: number[], i: number) => {
    const exact = model.logpHost(x, 0);
    assert.ok(
      Math.abs(doc.logp_nats[i] - exact) < tol.edmTrackedLogpCli.atol,
      `#${i}: ${doc.logp_nats[i]} vs ${exact}`,
    );
  });
  await Deno.remove(dir, { recursive: true });
});
