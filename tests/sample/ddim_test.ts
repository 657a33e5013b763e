/**
 * DDIM (sample/samplers/ddim.ts, docs/samplers.md §2) with the exact scores of Gaussian
 * mixtures. η = 0 is a first-order solver of the PF-ODE: its moments approach those of a tight
 * Dormand–Prince solution from the same latents at order 1, the finer run lands within
 * Monte-Carlo error of the mixture's moments, and its tracked log p converges to the closed-form
 * log p_{t_min} of the samples it returns. η = 1 is the ancestral sampler: its step is the exact
 * Gaussian posterior q(x_s | x_t, x₀), and its draws reproduce the moments. Reference float64
 * except the cross-backend cases; ~15 s on two cores.
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
import { ddim, ddimCoefficients } from "../../sample/samplers/ddim.ts";
import { uniformTimeGrid } from "../../sample/samplers/euler_maruyama.ts";
import { pfOdeSample } from "../../sample/samplers/ode.ts";
import { fixture } from "../data/gmm_oracle.ts";
import { assertMoments, momentError, moments, priorLatents } from "../data/sample_moments.ts";

const be = referenceBackend();
const VP = makeSde("vp");

/** The sample moments of `x` standing in for the exact ones in `momentError`. */
function asReference(x: ArrayLike<number>, n: number, D: number) {
  const m = moments(x, n, D);
  return { meanHost: () => m.mean, covarianceHost: () => m.cov };
}

/** DDIM samples on the uniform grid of `steps` from `xT`, read back. */
async function run(model: GmmModel, xT: Tensor, steps: number, eta: number, seed = 0) {
  const { sde } = model;
  const r = ddim(
    (x, t) => model.score(x, t),
    sde,
    xT,
    uniformTimeGrid(sde.T, sde.tMinSampling, steps),
    Rng.fromSeed(seed).derive("noise"),
    { eta },
  );
  assert.equal(r.nfe, steps);
  const x = await r.x.read();
  r.x.dispose();
  return x;
}

Deno.test("ddim: η = 1 is the Gaussian posterior q(x_s | x_t, x₀) and η = 0 the exponential-integrator step", () => {
  for (const kind of ["vp", "ve", "subvp", "vdm"] as SdeKind[]) {
    const sde = makeSde(kind);
    for (const [t, s] of [[1, 0.9], [0.5, 0.49], [0.02, sde.tMinSampling]]) {
      const at = sde.alpha(t), st = sde.sigma(t), as = sde.alpha(s), ss = sde.sigma(s);
      // x_t = a x_s + b ε: the posterior has variance σ_s²b²/σ_t² and the mean
      // (a σ_s²/σ_t²) x_t + (α_s b²/σ_t²) x₀
      const a = at / as, b2 = st * st - a * a * ss * ss;
      const one = ddimCoefficients(sde, t, s, 1);
      // with ε̂ the true noise (x_t − α_t x₀)/σ_t, DDIM's step is A x_t + B x₀ + c z
      const A = one.a + one.b / st, B = -one.b * at / st;
      const close = (got: number, want: number, what: string) =>
        assert.ok(
          Math.abs(got - want) <= tol.ddimCoefficientsF64.rtol * Math.abs(want),
          `${kind} ${t} → ${s}: ${what} ${got} vs ${want}`,
        );
      close(one.c * one.c, (ss * ss * b2) / (st * st), "variance");
      close(A, (a * ss * ss) / (st * st), "x_t coefficient");
      close(B, (as * b2) / (st * st), "x₀ coefficient");
      // η = 0: x_s = α_s x̂₀ + σ_s ε̂, x̂₀ = (x_t − σ_t ε̂)/α_t
      const zero = ddimCoefficients(sde, t, s, 0);
      assert.equal(zero.c, 0);
      close(zero.a, as / at, "η = 0: x_t coefficient");
      close(zero.b, ss - (as * st) / at, "η = 0: ε̂ coefficient");
    }
  }
  assert.throws(() => ddimCoefficients(VP, 1, 0.5, 1.5), /η must lie in \[0, 1\]/);
  assert.throws(() => ddimCoefficients(VP, 0.5, 1, 0.5), /must go down in time/);
});

Deno.test("ddim: log p is tracked only for η = 0", () => {
  const xT = priorLatents(VP, 1, 4, 2),
    model = GmmModel.isotropic(
      { weights: [1], means: [[0, 0]], stds: [1] },
      VP,
    );
  const logp = { initial: full(be, [4], 0, "f64"), divergence: { method: "exact" as const } };
  assert.throws(
    () => ddim((x, t) => model.score(x, t), VP, xT, [1, 0.5], Rng.fromSeed(0), { eta: 0.5, logp }),
    /tracked only for η = 0/,
  );
});

// η = 0 against a tight Dormand–Prince solve from the same latents: the moment error falls like
// 1/N from 10 steps (order 1), on two mixtures and two seeds; at 40 steps (2-D) or 80
// (10-D, whose far-apart components need more) every moment lies within 4 standard errors of
// the truth.
for (const [file, n, fine] of [["mix2d.json", 400, 40], ["mix10d.json", 200, 80]] as const) {
  for (const seed of [1, 2]) {
    Deno.test(`ddim η = 0 on ${file}, seed ${seed}: moments converge at order 1 to the PF-ODE's and match the mixture`, async () => {
      const model = await GmmModel.load(fixture(file), VP);
      const xT = priorLatents(VP, seed, n, model.D);
      const ode = await pfOdeSample((x, t) => model.score(x, t), VP, xT, [VP.T, VP.tMinSampling], {
        method: "dopri5",
        rtol: 1e-6,
        atol: 1e-6,
      });
      const ref = asReference(await ode.x.read(), n, model.D);
      const err = async (steps: number) => {
        const e = momentError(ref, await run(model, xT, steps, 0), n);
        return e.mean + e.cov;
      };
      const coarse = await err(10), medium = await err(fine / 2);
      const x = await run(model, xT, fine, 0);
      const e = momentError(ref, x, n), last = e.mean + e.cov;
      // the asymptotic range starts early; beyond it the moment error's signs add noise
      const order = Math.log(coarse / medium) / Math.log(fine / 2 / 10);
      const truth = momentError(model, x, n);
      console.log(
        `${file} seed ${seed}: ‖Δmean‖ + ‖Δcov‖ against DP5 ${
          coarse.toExponential(2)
        } (10 steps), ` +
          `${medium.toExponential(2)} (${fine / 2}), ${last.toExponential(2)} (${fine}); order ${
            order.toFixed(2)
          }; against the truth at ${fine}: ${truth.mean.toExponential(2)} + ${
            truth.cov.toExponential(2)
          }`,
      );
      assert.ok(medium < coarse && last < medium, "the error must shrink with the steps");
      assert.ok(Math.abs(order - 1) < tol.samplerOrder.atol, `order ${order}`);
      assertMoments(x, n, model.meanHost(), model.covarianceHost(), `ddim η = 0, ${fine} steps`);
      for (const t of [xT, ode.x]) t.dispose();
    });
  }
}

// η = 1 (ancestral): 5 steps are visibly biased, 40 match the mixture's moments; two seeds each.
for (const [file, n] of [["mix2d.json", 400], ["mix10d.json", 200]] as const) {
  Deno.test(`ddim η = 1 on ${file}: 40 ancestral steps match the mixture's moments, 5 do not`, async () => {
    const model = await GmmModel.load(fixture(file), VP);
    for (const seed of [1, 2]) {
      const xT = priorLatents(VP, seed, n, model.D);
      const coarse = await run(model, xT, 5, 1, seed), fine = await run(model, xT, 40, 1, seed);
      const [ec, ef] = [momentError(model, coarse, n), momentError(model, fine, n)];
      console.log(
        `${file} seed ${seed}: ‖Δmean‖ + ‖Δcov‖ against the truth ${
          (ec.mean + ec.cov).toFixed(3)
        } ` +
          `(5 steps), ${(ef.mean + ef.cov).toFixed(3)} (40)`,
      );
      assert.throws(() =>
        assertMoments(coarse, n, model.meanHost(), model.covarianceHost(), "5 steps")
      );
      assertMoments(fine, n, model.meanHost(), model.covarianceHost(), `ddim η = 1, seed ${seed}`);
      xT.dispose();
    }
  });
}

// The other processes, with the same grid: both ends of η at 40 steps.
Deno.test("ddim on sub-VP, VE and VDM: η = 0 and η = 1 match the mixture's moments", async () => {
  for (const kind of ["subvp", "ve", "vdm"] as SdeKind[]) {
    const sde = makeSde(kind), n = 400;
    const model = await GmmModel.load(fixture("mix2d.json"), sde);
    const xT = priorLatents(sde, 3, n, 2);
    for (const eta of [0, 1]) {
      assertMoments(
        await run(model, xT, 40, eta, 3),
        n,
        model.meanHost(),
        model.covarianceHost(),
        `${kind}, η = ${eta}`,
      );
    }
    xT.dispose();
  }
});

// Tracked log p for η = 0 (started from the mixture's own p_T) against the closed form at the
// samples: a first-order error, so 4× the steps divide it by ≈ 4, and Richardson's
// extrapolation 2e(2N) − e(N) of the per-sample errors removes most of what is left.
Deno.test("ddim η = 0: tracked log p converges at order 1 to the exact log p_{t_min} of its samples", async () => {
  const n = 32;
  for (const file of ["mix2d.json", "mix10d.json"]) {
    const model = await GmmModel.load(fixture(file), VP);
    const xT = priorLatents(VP, 5, n, model.D);
    const initial = model.logp(xT, full(be, [n], VP.T, "f64"));
    const errors = async (steps: number) => {
      const r = ddim(
        (x, t) => model.score(x, t),
        VP,
        xT,
        uniformTimeGrid(VP.T, VP.tMinSampling, steps),
        Rng.fromSeed(0),
        {
          eta: 0,
          logp: { initial, divergence: { method: "exact" } },
        },
      );
      const [x, ell] = [await r.x.read(), await r.logp!.read()];
      r.x.dispose();
      r.logp!.dispose();
      return Array.from(
        { length: n },
        (_, i) =>
          ell[i] -
          model.logpHost(Array.from(x.subarray(i * model.D, (i + 1) * model.D)), VP.tMinSampling),
      );
    };
    const meanAbs = (e: number[]) => e.reduce((p, v) => p + Math.abs(v), 0) / e.length;
    const [e20, e40, e80] = [await errors(20), await errors(40), await errors(80)];
    const extrapolated = meanAbs(e80.map((v, i) => 2 * v - e40[i]));
    console.log(
      `${file}: mean |tracked − exact| ${meanAbs(e20).toFixed(3)} (20 steps), ${
        meanAbs(e40).toFixed(3)
      } (40), ` +
        `${meanAbs(e80).toFixed(3)} (80) nats; extrapolated ${extrapolated.toFixed(4)}`,
    );
    const order = Math.log2(meanAbs(e20) / meanAbs(e80)) / 2;
    assert.ok(Math.abs(order - 1) < tol.samplerOrder.atol, `${file}: order ${order}`);
    assert.ok(
      extrapolated < tol.ddimLogpRichardson.atol * meanAbs(e80),
      `${file}: extrapolation leaves ${extrapolated}`,
    );
    for (const t of [xT, initial]) t.dispose();
  }
});

// Every backend: 40 steps of both η reproduce mix2d's moments, and η = 0's tracked log p equals
// the float64 reference's from the same latents (its own discretisation error, ≈ 1.6 nats at
// worst here, is the reference's too, not the backend's).
eachBackend("ddim: exact-score samples match mix2d's moments; η = 0 tracks log p", async (k) => {
  const model = await GmmModel.load(fixture("mix2d.json"), VP);
  const n = 400, grid = uniformTimeGrid(VP.T, VP.tMinSampling, 40);
  const score = (x: Tensor, t: Tensor) => model.score(x, t);
  const tracked = async (backend: Backend, dtype: DType) => {
    const xT = priorLatents(VP, 7, n, 2, backend, dtype);
    const initial = model.logp(xT, full(backend, [n], VP.T, dtype));
    const r = ddim(score, VP, xT, grid, Rng.fromSeed(7), {
      eta: 0,
      logp: { initial, divergence: { method: "exact" } },
    });
    const out = { x: await r.x.read(), ell: await r.logp!.read() };
    for (const t of [xT, initial, r.x, r.logp!]) t.dispose();
    return out;
  };
  const [got, ref] = [await tracked(k.backend, k.dtype), await tracked(be, "f64")];
  const xT = priorLatents(VP, 7, n, 2, k.backend, k.dtype);
  const anc = ddim(score, VP, xT, grid, Rng.fromSeed(7).derive("noise"), { eta: 1 });
  assertMoments(got.x, n, model.meanHost(), model.covarianceHost(), `${k.name} η = 0`);
  assertMoments(await anc.x.read(), n, model.meanHost(), model.covarianceHost(), `${k.name} η = 1`);
  let worst = 0, discretisation = 0;
  for (let i = 0; i < n; i++) {
    worst = Math.max(worst, Math.abs(got.ell[i] - ref.ell[i]));
    const exact = model.logpHost([ref.x[2 * i], ref.x[2 * i + 1]], VP.tMinSampling);
    discretisation = Math.max(discretisation, Math.abs(ref.ell[i] - exact));
  }
  console.log(
    `${k.name}: max |tracked − float64 reference| ${worst.toExponential(2)} nats; ` +
      `the reference's own error at 40 steps ${discretisation.toFixed(3)}`,
  );
  assert.ok(worst < tol.ddimLogpCrossBackend.atol, `${k.name}: tracked log p off by ${worst}`);
  for (const t of [xT, anc.x]) t.dispose();
});

// The command: --eta belongs to ddim, a stochastic DDIM refuses --track-logp (exit 2, naming the
// flags), and a deterministic run reports η, its NFE and the tracked log p of what it wrote.
Deno.test("sample --sampler ddim: --eta checks, and a tracked run's JSON", async () => {
  const dir = await Deno.makeTempDir();
  const base = [
    "sample",
    "--model",
    "gmm:fixtures/mix2d.json",
    "--n",
    "6",
    "--backend",
    "reference",
    "--quiet",
  ];
  const [stochastic, wrong, ok] = await Promise.all([
    runMain([
      ...base,
      "--sampler",
      "ddim",
      "--eta",
      "0.5",
      "--track-logp",
      "--out",
      `${dir}/a.json`,
    ]),
    runMain([...base, "--sampler", "em", "--eta", "1", "--out", `${dir}/b.json`]),
    runMain([
      ...base,
      ...["--sampler", "ddim", "--steps", "80", "--track-logp", "--prior", "exact"],
      ...["--divergence", "exact", "--json", "--out", `${dir}/c.json`],
    ]),
  ]);
  assert.equal(stochastic.code, 2, stochastic.stderr);
  assert.match(
    stochastic.stderr,
    /--track-logp needs a deterministic sampler; --sampler ddim with --eta 0\.5/,
  );
  assert.equal(wrong.code, 2, wrong.stderr);
  assert.match(wrong.stderr, /--eta is for --sampler ddim, not em/);
  assert.equal(ok.code, 0, ok.stderr);
  const doc = JSON.parse(ok.stdout);
  assert.equal(doc.sampler, "ddim");
  assert.equal(doc.eta, 0);
  assert.equal(doc.nfe_mean, 80);
  const model = await GmmModel.load(fixture("mix2d.json"), VP);
  const { samples } = JSON.parse(await Deno.readTextFile(`${dir}/c.json`));
  samples.forEach((x: number[], i: number) => {
    const exact = model.logpHost(x, doc.t_min);
    assert.ok(
      Math.abs(doc.logp_nats[i] - exact) < tol.ddimTrackedLogpCli.atol,
      `#${i}: ${doc.logp_nats[i]} vs ${exact}`,
    );
  });
  await Deno.remove(dir, { recursive: true });
});
