import assert from "node:assert/strict";
import { referenceBackend, Rng, type Tensor, tensor } from "../../compute/mod.ts";
import { GmmModel } from "../../data/gmm_model.ts";
import { parseGmmSpec } from "../../data/gmm_spec.ts";
import { VpSde } from "../../sde/vp.ts";
import { chiQuantile } from "../../sde/special.ts";
import {
  densityGuidanceRule,
  densityGuidanceSample,
  predictedShift,
} from "../../sample/guidance/density.ts";
import { stochasticGuidanceSample } from "../../sample/guidance/stochastic.ts";
import { priorGuidanceSample } from "../../sample/guidance/prior.ts";
import { flowCoefs, scaledFlowRates } from "../../sample/flow/scaled.ts";
import { scoreTerms } from "../../sample/flow/score_terms.ts";
import { logpRateDeterministic } from "../../sample/logp_tracking.ts";
import { assertAllClose } from "../_helpers/all_close.ts";
import { gpuTest } from "../_helpers/backends.ts";
import { tol } from "../_helpers/tolerances.ts";

const VP = new VpSde();
const T_MIN = VP.tMinSampling;
const C = 0.5;
const ref = referenceBackend();

/** N(μ, c²I) with μ_i = 0.2 sin(i + 1): isotropic, so Δlog p_t = −D/v_t does not depend on x. */
function gaussian(D: number): GmmModel {
  const mu = Array.from({ length: D }, (_, i) => 0.2 * Math.sin(i + 1));
  return new GmmModel(
    parseGmmSpec(JSON.stringify({ weights: [1], means: [mu], stds: [C] }), `gauss${D}`),
    VP,
  );
}

const logpRows = (m: GmmModel, x: Float64Array) =>
  Array.from(
    { length: x.length / m.D },
    (_, b) => m.logpHost(Array.from(x.subarray(b * m.D, (b + 1) * m.D)), T_MIN),
  );
const mean = (v: ArrayLike<number>) => Array.from(v).reduce((s, x) => s + x, 0) / v.length;
const relTo = (a: number, b: number) => Math.abs(a / b - 1);

/**
 * The PF-ODE's end points from x_T rescaled to the median norm, in closed form: for N(μ, c²I)
 * the flow keeps (x_t − α_t μ)/√v_t fixed (v_t = α_t²c² + σ_t²), so
 * x_0 = α_0 μ + √(v_0/v_T)(x_T − α_T μ).
 */
function pfClosedForm(m: GmmModel, xT: Float64Array, B: number): Float64Array {
  const D = m.D, r = chiQuantile(D, 0.5) * VP.priorStd;
  const v = (t: number) => VP.alpha(t) ** 2 * C * C + VP.sigma(t) ** 2;
  const mu = m.spec.means[0], a0 = VP.alpha(T_MIN), aT = VP.alpha(VP.T);
  const out = new Float64Array(B * D);
  for (let b = 0; b < B; b++) {
    const row = xT.subarray(b * D, (b + 1) * D);
    const scale = r / Math.sqrt(row.reduce((p, x) => p + x * x, 0));
    row.forEach((x, i) => {
      out[b * D + i] = a0 * mu[i] + Math.sqrt(v(T_MIN) / v(VP.T)) * (x * scale - aT * mu[i]);
    });
  }
  return out;
}

/**
 * Latents, a Rademacher probe (exact Hutchinson here: vᵀ(−I/v)v = −D/v for every ±1 vector)
 * and the options every solve shares.
 */
function setup(D: number, B: number, seed: number) {
  const xT = Rng.fromSeed(seed).normal(ref, [B, D], "f64");
  const probe = Rng.fromSeed(seed + 1).rademacher(ref, [B, D], "f64");
  const o = {
    tMin: T_MIN,
    rtol: 1e-5,
    atol: 1e-5,
    divergence: { method: "hutchinson" as const, probe },
  };
  return { xT, probe, o, dispose: () => [xT, probe].forEach((t) => t.dispose()) };
}

Deno.test("density guidance shifts log p_0 by ½√(2D)Φ⁻¹(q)Δλ: q = 0.3 at D = 64", async () => {
  const m = gaussian(64), s = setup(64, 8, 1);
  const score = (x: Tensor, t: Tensor) => m.score(x, t);
  // prior guidance at q = 0.5 is the PF-ODE from the same median-norm latents
  const pf = await priorGuidanceSample(score, VP, s.xT, { ...s.o, q: 0.5 });
  const dg = await densityGuidanceSample(score, VP, s.xT, { ...s.o, q: 0.3 });
  const pred = predictedShift(VP, 64, 0.3, T_MIN);
  const lpPf = logpRows(m, pf.x), lpDg = logpRows(m, dg.x);
  const shift = mean(lpDg) - mean(lpPf), tracked = mean(dg.logp) - mean(pf.logp);
  console.log(
    `D = 64, q = 0.3: shift ${shift.toFixed(4)} (tracked ${tracked.toFixed(4)}) vs predicted ` +
      `${pred.toFixed(4)} nats: rel. error ${relTo(shift, pred).toExponential(2)} ` +
      `(tracked ${relTo(tracked, pred).toExponential(2)}); NFE ${dg.nfe} vs PF ${pf.nfe}`,
  );
  assert.ok(relTo(shift, pred) < tol.guidanceShift.rtol, tol.guidanceShift.why);
  assert.ok(relTo(tracked, pred) < tol.guidanceShift.rtol, tol.guidanceShift.why);
  assert.ok(dg.withheld.every((w) => w === 0), "a reachable target must not be clamped");
  s.dispose();
});

Deno.test("density guidance shifts log p_0 by ½√(2D)Φ⁻¹(q)Δλ: q = 0.7 at D = 1024", async () => {
  const D = 1024, B = 8, m = gaussian(D), s = setup(D, B, 5);
  const dg = await densityGuidanceSample((x, t) => m.score(x, t), VP, s.xT, { ...s.o, q: 0.7 });
  const pfX = pfClosedForm(m, Float64Array.from(await s.xT.read()), B);
  const pred = predictedShift(VP, D, 0.7, T_MIN);
  const shift = mean(logpRows(m, dg.x)) - mean(logpRows(m, pfX));
  console.log(
    `D = 1024, q = 0.7: shift ${shift.toFixed(4)} vs predicted ${pred.toFixed(4)} nats: ` +
      `rel. error ${relTo(shift, pred).toExponential(2)}; NFE ${dg.nfe}`,
  );
  assert.ok(relTo(shift, pred) < tol.guidanceShift.rtol, tol.guidanceShift.why);
  assert.ok(dg.withheld.every((w) => w === 0), "a reachable target must not be clamped");
  s.dispose();
});

Deno.test("density guidance at low D with q = 0.7: the clamp engages, results stay finite", async () => {
  // D = 2 asks for +10.05 nats, but from the median norm the mode is only ln 2 nats away.
  const D = 2, B = 8, m = gaussian(D), s = setup(D, B, 7);
  const score = (x: Tensor, t: Tensor) => m.score(x, t);
  const pf = await priorGuidanceSample(score, VP, s.xT, { ...s.o, q: 0.5 });
  const dg = await densityGuidanceSample(score, VP, s.xT, { ...s.o, q: 0.7 });
  const pred = predictedShift(VP, D, 0.7, T_MIN);
  assert.ok([...dg.x, ...dg.logp].every(Number.isFinite), "results must stay finite");
  assert.ok(dg.withheld.every((w) => w > 0), "every sample hits the mode: clamp engaged");
  const lpDg = logpRows(m, dg.x), shift = mean(lpDg) - mean(logpRows(m, pf.x));
  const vMin = VP.alpha(T_MIN) ** 2 * C * C + VP.sigma(T_MIN) ** 2;
  const atMode = -(D / 2) * Math.log(2 * Math.PI * vMin);
  lpDg.forEach((l) => assert.ok(l <= atMode + 1e-9, `log p_0 ${l} above the mode's ${atMode}`));
  // For a Gaussian the withheld nats are exactly what the realised shift lacks.
  const closure = shift + mean(dg.withheld);
  console.log(
    `D = 2, q = 0.7: clamped ${dg.withheld.filter((w) => w > 0).length}/${B}; realised shift ` +
      `${shift.toFixed(4)} + withheld ${mean(dg.withheld).toFixed(4)} = ${closure.toFixed(4)} vs ` +
      `predicted ${pred.toFixed(4)} nats; gap to the mode ${
        (atMode - mean(lpDg)).toExponential(2)
      }`,
  );
  assert.ok(relTo(closure, pred) < tol.guidanceShift.rtol, "realised + withheld = predicted");
  s.dispose();
});

Deno.test("stochastic density guidance with the exact correction keeps the deterministic shift", async () => {
  const D = 64, B = 24, phi = 0.5, window: [number, number] = [0.2, 0.8], steps = 300;
  const m = gaussian(D), s = setup(D, B, 11);
  const score = (x: Tensor, t: Tensor) => m.score(x, t);
  const pf = logpRows(m, (await priorGuidanceSample(score, VP, s.xT, { ...s.o, q: 0.5 })).x);
  const det =
    mean(logpRows(m, (await densityGuidanceSample(score, VP, s.xT, { ...s.o, q: 0.3 })).x)) -
    mean(pf);
  const run = async (exactCorrection: boolean) => {
    const r = await stochasticGuidanceSample(score, VP, s.xT, {
      ...s.o,
      q: 0.3,
      noise: phi,
      window,
      steps,
      exactCorrection,
      rng: Rng.fromSeed(99),
    });
    const diffs = logpRows(m, r.x).map((l, i) => l - pf[i]);
    const sd = Math.sqrt(diffs.reduce((p, d) => p + (d - mean(diffs)) ** 2, 0) / (B - 1));
    return { shift: mean(diffs), se: sd / Math.sqrt(B), tracked: mean(r.logp) - mean(pf), diffs };
  };
  const exact = await run(true), published = await run(false);
  // The published form drops −ŝᵀHŝ = 1/v: per unit time it raises log p by ½φ̃²g²/v, so over
  // the window by ½φ̃²∫g²/v dt (midpoint rule, float64).
  let expectedDev = 0;
  const M = 4000, h = (window[1] - window[0]) / M;
  for (let i = 0; i < M; i++) {
    const t = window[0] + (i + 0.5) * h;
    expectedDev += (0.5 * phi * phi * VP.diffusion2(t) * h) /
      (VP.alpha(t) ** 2 * C * C + VP.sigma(t) ** 2);
  }
  const dev = mean(published.diffs.map((d, i) => d - exact.diffs[i]));
  console.log(
    `stochastic q = 0.3, D = 64, φ̃ = ${phi}, window ${window}, ${steps} EM steps, ${B} paths: ` +
      `exact-correction shift ${exact.shift.toFixed(4)} ± ${exact.se.toFixed(4)} (tracked ` +
      `${exact.tracked.toFixed(4)}) vs deterministic ${det.toFixed(4)}: rel. ${
        relTo(exact.shift, det).toExponential(2)
      }; published form ${published.shift.toFixed(4)} (rel. ${
        relTo(published.shift, det).toExponential(2)
      }), ` +
      `its deviation ${dev.toFixed(4)} vs closed form ${expectedDev.toFixed(4)} nats`,
  );
  assert.ok(
    relTo(exact.shift, det) < tol.stochasticGuidanceShift.rtol,
    tol.stochasticGuidanceShift.why,
  );
  assert.ok(relTo(exact.tracked, det) < tol.stochasticGuidanceShift.rtol, "tracked shift");
  assert.ok(5 * exact.se < tol.stochasticGuidanceShift.rtol * Math.abs(det), "MC error ≪ 2 %");
  assert.ok(relTo(dev, expectedDev) < 0.15, "published deviation matches ½φ̃²∫g²/v dt");
  s.dispose();
});

Deno.test("the closed-form log-density rate equals §4's general ∂_t log p + s·u", async () => {
  const mix = new GmmModel(
    parseGmmSpec(
      JSON.stringify({ weights: [0.4, 0.6], means: [[-1, 0.5], [1, -0.5]], stds: [0.3, 0.7] }),
      "mix",
    ),
    VP,
  );
  const x = tensor(ref, [0.3, -0.2, 1.4, 0.9, -2, 0.1], [3, 2], "f64");
  const t = tensor(ref, [0.05, 0.3, 0.8], [3], "f64");
  const score = (y: Tensor, u: Tensor) => mix.score(y, u);
  const terms = scoreTerms(score, x, t, { method: "exact" }, true);
  const c = flowCoefs(VP, t);
  let worst = 0;
  for (const eta of [1, 2, densityGuidanceRule(2, 0.8)(terms, c).eta]) {
    const r = scaledFlowRates(x, terms, c, eta);
    const general = logpRateDeterministic(VP, x, t, terms.s, terms.lap, r.dx);
    const [mine, theirs] = [await r.dEll.read(), await general.read()];
    assertAllClose(mine, theirs, tol.logpRateForms, `dℓ/dt, η = ${eta}`);
    worst = Math.max(worst, ...Array.from(mine, (v, i) => Math.abs(v - theirs[i])));
  }
  console.log(`closed-form vs general §4 rate: max difference ${worst.toExponential(2)}`);
});

gpuTest("density guidance on WebGPU (float32): q = 0.3 at D = 16 within 1 %", async (gpu) => {
  const D = 16, B = 4, m = gaussian(D);
  const xT = Rng.fromSeed(1).normal(gpu, [B, D], "f32");
  const probe = Rng.fromSeed(2).rademacher(gpu, [B, D], "f32");
  const o = {
    tMin: T_MIN,
    rtol: 1e-5,
    atol: 1e-5,
    divergence: { method: "hutchinson" as const, probe },
  };
  const score = (x: Tensor, t: Tensor) => m.score(x, t);
  const dg = await densityGuidanceSample(score, VP, xT, { ...o, q: 0.3 });
  const pred = predictedShift(VP, D, 0.3, T_MIN);
  const pfX = pfClosedForm(m, Float64Array.from(await xT.read()), B);
  const shift = mean(logpRows(m, dg.x)) - mean(logpRows(m, pfX));
  console.log(
    `WebGPU D = 16, q = 0.3: shift ${shift.toFixed(4)} vs ${pred.toFixed(4)} nats: rel. error ` +
      `${relTo(shift, pred).toExponential(2)}`,
  );
  assert.ok(relTo(shift, pred) < tol.guidanceShift.rtol, tol.guidanceShift.why);
  xT.dispose();
  probe.dispose();
});
