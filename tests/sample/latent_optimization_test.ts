import assert from "node:assert/strict";
import { join } from "node:path";
import { type Backend, type DType, full, Rng, type Tensor, tensor } from "../../compute/mod.ts";
import { GmmModel } from "../../data/gmm_model.ts";
import { VpSde } from "../../sde/vp.ts";
import { differentiablePfOde, optimizeLatent } from "../../sample/guidance/latent_optimization.ts";
import { eachBackend } from "../_helpers/backends.ts";
import { runMain } from "../_helpers/cli.ts";
import { tol } from "../_helpers/tolerances.ts";

/**
 * N(0, s²I) data under VP. The PF-ODE keeps x_t/√v_t fixed (v_t = α_t²s² + σ_t²), so
 * x_0 = a x_T, and a fixed-step solve of this linear ODE is linear too, x_0 = a_h x_T. With
 * z = x_T/σ_T and ρ = ‖z‖: log p_0(x_0) = −‖x_0‖²/(2v_0) − K = −Aρ² − K, A = a_h²σ_T²/(2v_0),
 * K = (D/2)ln(2πv_0). The objective ½(−Aρ² − K − V)² + λ(ρ − √D)² depends on ρ alone; its
 * stationarity condition A²ρ³ + (A(K + V) + λ)ρ − λ√D = 0 has exactly one positive root
 * (Descartes: one sign change), the minimum.
 */
const VP = new VpSde();
const T_MIN = VP.tMinSampling;
const S = 0.5, D = 8, STEPS = 2, LAMBDA = 0.5, ITERS = 150, LR = 0.1;
const gauss = GmmModel.isotropic({ weights: [1], means: [new Array(D).fill(0)], stds: [S] }, VP);
const v = (t: number) => VP.alpha(t) ** 2 * S * S + VP.sigma(t) ** 2;
const score = (x: Tensor, t: Tensor) => gauss.score(x, t);

/** The unique positive root of A²ρ³ + (A(K + V) + λ)ρ − λ√D, by bisection to rounding. */
function optimum(A: number, K: number, V: number): { ratio: number; logp: number } {
  const g = (r: number) => A * A * r ** 3 + (A * (K + V) + LAMBDA) * r - LAMBDA * Math.sqrt(D);
  let lo = 0, hi = 1;
  while (g(hi) < 0) hi *= 2;
  for (let i = 0; i < 200; i++) {
    const mid = 0.5 * (lo + hi);
    if (g(mid) > 0) hi = mid;
    else lo = mid;
  }
  return { ratio: lo / Math.sqrt(D), logp: -A * lo * lo - K };
}

/** a_h: the fixed-step solve applied to a unit vector. */
async function discreteFactor(backend: Backend, dtype: DType): Promise<number> {
  const e = new Float64Array(D);
  e[0] = 1;
  const x0 = differentiablePfOde(score, VP, tensor(backend, e, [1, D], dtype), T_MIN, STEPS).x0;
  return (await x0.read())[0];
}

// Two latents raised towards −3 nats, two lowered towards −14 (they start near −6).
const TARGETS = [-3, -3, -14, -14];

eachBackend(
  "latent optimisation reaches the closed-form optimum of the penalised objective on a Gaussian",
  async ({ backend, dtype, name }) => {
    const K = (D / 2) * Math.log(2 * Math.PI * v(T_MIN));
    const aH = await discreteFactor(backend, dtype), a = Math.sqrt(v(T_MIN) / v(VP.T));
    const A = (f: number) => (f * f * VP.priorStd ** 2) / (2 * v(T_MIN));
    const xT = Rng.fromSeed(3).normal(backend, [TARGETS.length, D], dtype);
    const r = await optimizeLatent(score, VP, xT, {
      targetLogp: TARGETS,
      iters: ITERS,
      lr: LR,
      priorWeight: LAMBDA,
      steps: STEPS,
      tMin: T_MIN,
      divergence: { method: "exact" },
      exactLogp: (x, t) => gauss.logp(x, t),
    });
    xT.dispose();
    assert.equal(r.logpBy, "closed-form");
    assert.equal(r.history.length, ITERS + 1);
    const last = r.history[ITERS];
    TARGETS.forEach((V, b) => {
      const discrete = optimum(A(aH), K, V), continuous = optimum(A(a), K, V);
      const ratio = last.normRatio[b], logp = last.logp[b];
      console.log(
        `${name}, V = ${V}: ‖z‖/√D ${ratio.toFixed(6)} vs optimum ${discrete.ratio.toFixed(6)} ` +
          `(error ${(ratio - discrete.ratio).toExponential(2)}), log p_0 ${logp.toFixed(5)} vs ` +
          `${discrete.logp.toFixed(5)} (error ${(logp - discrete.logp).toExponential(2)}); ` +
          `the ODE's own optimum ${continuous.ratio.toFixed(6)}, ${continuous.logp.toFixed(5)}`,
      );
      const t = tol.latentOptimum;
      assert.ok(Math.abs(ratio - discrete.ratio) <= t.rtol * discrete.ratio, t.why);
      assert.ok(Math.abs(logp - discrete.logp) <= t.atol, t.why);
      // the returned sample is the final latent's, and its log p_0 the closed form's there
      const row = Array.from(r.x.subarray(b * D, (b + 1) * D));
      assert.ok(Math.abs(gauss.logpHost(row, T_MIN) - logp) < 1e-3 * Math.abs(logp));
      assert.ok(last.objective[b] < r.history[0].objective[b], "the objective decreased");
    });
  },
);

Deno.test("latent optimisation by the PF-ODE likelihood (second-order autodiff) reaches its closed-form optimum", async () => {
  const backend = (await import("../../compute/mod.ts")).referenceBackend();
  // The tracked ℓ = log p_T(x_T) + ∫ −∇·u dt; for the Gaussian ∇·u does not depend on x, so
  // ℓ = −ρ²σ_T²/(2v_T) − K_h with K_h what the solver gives at x_T = 0.
  const pT = (x: Tensor) => gauss.logp(x, full(x.backend, [x.shape[0]], VP.T, x.dtype));
  const zero = tensor(backend, new Float64Array(D), [1, D], "f64");
  const track = { initial: pT(zero), divergence: { method: "exact" } as const };
  const Kh = -(await differentiablePfOde(score, VP, zero, T_MIN, STEPS, track).ell!.read())[0];
  const A = VP.priorStd ** 2 / (2 * v(VP.T));
  const targets = [-3, -14];
  const xT = Rng.fromSeed(5).normal(backend, [targets.length, D], "f64");
  const probe = Rng.fromSeed(6).rademacher(backend, [targets.length, D], "f64");
  const r = await optimizeLatent(score, VP, xT, {
    targetLogp: targets,
    iters: ITERS,
    lr: LR,
    priorWeight: LAMBDA,
    steps: STEPS,
    tMin: T_MIN,
    // Hutchinson is exact for an isotropic Gaussian's constant Hessian
    divergence: { method: "hutchinson", probe },
    terminalLogp: pT,
  });
  assert.equal(r.logpBy, "pf-ode");
  const last = r.history[ITERS];
  targets.forEach((V, b) => {
    const o = optimum(A, Kh, V);
    console.log(
      `PF-ODE likelihood, V = ${V}: ‖z‖/√D ${last.normRatio[b].toFixed(6)} vs ` +
        `${o.ratio.toFixed(6)}, log p_0 ${last.logp[b].toFixed(5)} vs ${o.logp.toFixed(5)}`,
    );
    const t = tol.latentOptimum;
    assert.ok(Math.abs(last.normRatio[b] - o.ratio) <= t.rtol * o.ratio, t.why);
    assert.ok(Math.abs(last.logp[b] - o.logp) <= t.atol, t.why);
  });
});

Deno.test("guidance --optimize-latent: per-iteration report, and the flags it needs", async () => {
  const dir = await Deno.makeTempDir({ prefix: "latent_opt_" });
  const spec = join(dir, "gauss.json"), out = join(dir, "x.json");
  await Deno.writeTextFile(
    spec,
    JSON.stringify({ weights: [1], means: [new Array(D).fill(0)], stds: [S] }),
  );
  const base = ["guidance", "--model", `gmm:${spec}`, "--backend", "reference", "--quiet"];
  const r = await runMain([
    ...base,
    "--optimize-latent",
    "--target-logp",
    "-3",
    "--iters",
    "30",
    "--steps",
    "4",
    "--prior-weight",
    `${LAMBDA}`,
    "--n",
    "3",
    "--out",
    out,
    "--json",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.equal(doc.mode, "optimize-latent");
  assert.equal(doc.logp_by, "closed-form");
  assert.equal(doc.iterations.length, 31);
  const [first, last] = [doc.iterations[0], doc.iterations[30]];
  assert.equal(first.logp_nats.length, 3);
  assert.ok(Math.abs(last.logp_mean + 3) < Math.abs(first.logp_mean + 3), "towards the target");
  assert.deepEqual(doc.logp_nats, last.logp_nats);
  for (
    const [args, fragment] of [
      [["--q", "0.3", "--target-logp", "-3"], "--target-logp needs --optimize-latent"],
      [["--optimize-latent"], "--optimize-latent needs --target-logp"],
      [["--optimize-latent", "--target-logp", "-3", "--q", "0.3"], "conflict"],
    ] as const
  ) {
    const e = await runMain([...base, ...args, "--out", out]);
    assert.equal(e.code, 2, e.stderr);
    assert.match(e.stderr, new RegExp(fragment));
  }
});
