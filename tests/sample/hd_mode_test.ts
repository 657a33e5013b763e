import assert from "node:assert/strict";
import { type Backend, type DType, referenceBackend, Rng, tensor } from "../../compute/mod.ts";
import { GmmModel } from "../../data/gmm_model.ts";
import { parseGmmSpec } from "../../data/gmm_spec.ts";
import { VpSde } from "../../sde/vp.ts";
import { hdModeSample } from "../../sample/hd/hd_mode.ts";
import { assertAllClose, maxRelativeError } from "../_helpers/all_close.ts";
import { gpuTest } from "../_helpers/backends.ts";
import { tol } from "../_helpers/tolerances.ts";

const VP = new VpSde();
const T_MIN = VP.tMinSampling; // 1e-3
const MU = [0.3, -0.8, 1.2, 0];
const C = 0.5;
const GAUSS = new GmmModel(
  parseGmmSpec(JSON.stringify({ weights: [1], means: [MU], stds: [C] }), "gauss4"),
  VP,
);
const MIX = new GmmModel(
  parseGmmSpec(
    JSON.stringify({ weights: [0.3, 0.7], means: [[-1.5, 0.5], [1, -0.5]], stds: [0.4, 0.6] }),
    "mix2",
  ),
  VP,
);

/**
 * The HD ODE dx = [f x − g² s] dt for data N(μ, c²I): with s = −(x − α μ)/v, v = α²c² + σ²,
 * y = x − α μ obeys y' = (f + g²/v) y. Since v' = 2f v + g² (from g² = (σ²)' − 2fσ²),
 * f + g²/v = (ln v)' − (ln α)', so y_t = y_T (v_t α_T)/(v_T α_t). At t = 0 (α = 1, v = c²)
 * this is E[x_0 | x_T] = μ + (α_T c²/(α_T²c² + σ_T²))(x_T − α_T μ) of docs/MATH.md §5; at t_min the
 * two differ by a relative ~σ²(t_min)/c² (4.4e-4 at t_min = 1e-3), more than the tolerance,
 * so the solver is checked against the closed form at its own end time.
 */
function hdClosedForm(xT: ArrayLike<number>, t: number): number[] {
  const v = (u: number) => VP.alpha(u) ** 2 * C * C + VP.sigma(u) ** 2;
  const aT = VP.alpha(VP.T), at = VP.alpha(t);
  const gain = (v(t) * aT) / (v(VP.T) * at);
  return Array.from(xT, (x, i) => at * MU[i % MU.length] + gain * (x - aT * MU[i % MU.length]));
}

/** E[x_0 | x_T] of docs/MATH.md §5 (the t = 0 limit). */
function posteriorMean(xT: ArrayLike<number>): number[] {
  const aT = VP.alpha(VP.T), sT = VP.sigma(VP.T);
  const k = (aT * C * C) / (aT * aT * C * C + sT * sT);
  return Array.from(xT, (x, i) => MU[i % MU.length] + k * (x - aT * MU[i % MU.length]));
}

const atTimes = (be: Backend, dtype: DType, n: number, t: number) =>
  tensor(be, new Float64Array(n).fill(t), [n], dtype);

function logpRows(model: GmmModel, x: Float64Array, t: number): number[] {
  const D = model.D;
  return Array.from(
    { length: x.length / D },
    (_, b) => model.logpHost(Array.from(x.subarray(b * D, (b + 1) * D)), t),
  );
}

Deno.test("hd-mode from T lands on the Gaussian's E[x_0 | x_T] (closed form at t_min, and at t → 0)", async () => {
  const be = referenceBackend(), B = 8;
  const xT = Rng.fromSeed(1).normal(be, [B, 4], "f64");
  const host = await xT.read();
  const run = (tMin: number) =>
    hdModeSample((x, t) => GAUSS.score(x, t), VP, xT, {
      tThreshold: VP.T,
      tMin,
      rtol: 1e-6,
      atol: 1e-6,
      divergence: { method: "exact" },
      terminalLogp: (y) => GAUSS.logp(y, atTimes(be, "f64", B, VP.T)),
    });
  const r = await run(T_MIN);
  assertAllClose(r.x, hdClosedForm(host, T_MIN), tol.hdGaussianEnd, "HD end at t_min");
  const gapToPosterior = maxRelativeError(r.x, posteriorMean(host), 1e-3);
  // the same ODE run to t = 1e-6 (σ² ≈ 1e-7) ends on E[x_0 | x_T] itself
  const near0 = await run(1e-6);
  assertAllClose(near0.x, posteriorMean(host), tol.hdGaussianEnd, "HD end near t = 0");
  // tracked log p (§4 deterministic form on the HD segment) against the closed form
  const exact = logpRows(GAUSS, r.x, T_MIN);
  assertAllClose(r.logp, exact, tol.trackedLogpF64, "tracked log p_0");
  console.log(
    `HD from T: rel. error ${
      maxRelativeError(r.x, hdClosedForm(host, T_MIN), 1e-3).toExponential(2)
    } ` +
      `vs the t_min closed form, ${
        gapToPosterior.toExponential(2)
      } vs E[x_0|x_T] (the t_min offset); ` +
      `at t_min = 1e-6: ${
        maxRelativeError(near0.x, posteriorMean(host), 1e-3).toExponential(2)
      }; ` +
      `tracked log p error ${
        Math.max(...exact.map((e, i) => Math.abs(e - r.logp[i]))).toExponential(2)
      } nats`,
  );
  xT.dispose();
});

Deno.test("hd-mode from a late threshold beats the PF-ODE's log p_0 on a mixture, and tracks it", async () => {
  const be = referenceBackend(), B = 16;
  const xT = Rng.fromSeed(3).normal(be, [B, 2], "f64");
  const threshold = VP.timeOfLogSnr(2);
  const run = (tThreshold: number) =>
    hdModeSample((x, t) => MIX.score(x, t), VP, xT, {
      tThreshold,
      tMin: T_MIN,
      rtol: 1e-6,
      atol: 1e-6,
      divergence: { method: "exact" },
      terminalLogp: (y) => MIX.logp(y, atTimes(be, "f64", B, VP.T)),
    });
  const pf = await run(T_MIN), hd = await run(threshold);
  const lpPf = logpRows(MIX, pf.x, T_MIN), lpHd = logpRows(MIX, hd.x, T_MIN);
  lpHd.forEach((v, i) => assert.ok(v > lpPf[i], `latent ${i}: HD ${v} ≤ PF ${lpPf[i]}`));
  // Δlog p varies with x here, so this exercises the deterministic rate beyond −∇·u
  assertAllClose(hd.logp, lpHd, tol.trackedLogpF64, "tracked HD log p_0");
  assertAllClose(pf.logp, lpPf, tol.trackedLogpF64, "tracked PF log p_0");
  const gain = lpHd.reduce((s, v, i) => s + v - lpPf[i], 0) / B;
  const trackErr = Math.max(...lpHd.map((v, i) => Math.abs(v - hd.logp[i])));
  console.log(
    `HD from λ = 2 (t = ${threshold.toFixed(4)}): mean log p_0 gain ${gain.toFixed(4)} nats over ` +
      `the PF-ODE, ${lpHd.filter((v, i) => v > lpPf[i]).length}/${B} higher; tracked log p error ` +
      `${trackErr.toExponential(2)} nats`,
  );
  xT.dispose();
});

gpuTest("hd-mode on WebGPU (float32) lands on the Gaussian closed form", async (gpu) => {
  const B = 4;
  const xT = Rng.fromSeed(1).normal(gpu, [B, 4], "f32");
  const host = await xT.read();
  const probe = Rng.fromSeed(2).rademacher(gpu, [B, 4], "f32");
  const r = await hdModeSample((x, t) => GAUSS.score(x, t), VP, xT, {
    tThreshold: VP.T,
    tMin: T_MIN,
    rtol: 1e-5,
    atol: 1e-5,
    divergence: { method: "hutchinson", probe },
  });
  const expected = hdClosedForm(host, T_MIN);
  assertAllClose(r.x, expected, tol.hdGaussianEndF32, "HD end (f32)");
  assert.ok(r.logp.every(Number.isFinite));
  console.log(
    `HD from T on WebGPU: rel. error ${maxRelativeError(r.x, expected, 1e-3).toExponential(2)}`,
  );
  xT.dispose();
  probe.dispose();
});
