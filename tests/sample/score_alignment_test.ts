import assert from "node:assert/strict";
import {
  add,
  type Backend,
  type DType,
  mul,
  referenceBackend,
  Rng,
  type Tensor,
  tensor,
} from "../../compute/mod.ts";
import { GmmModel } from "../../data/gmm_model.ts";
import { parseGmmSpec } from "../../data/gmm_spec.ts";
import { VpSde } from "../../sde/vp.ts";
import { scoreAlignment } from "../../sample/guidance/score_alignment.ts";
import { hdModeSample } from "../../sample/hd/hd_mode.ts";
import { priorGuidanceRadius, priorGuidanceSample } from "../../sample/guidance/prior.ts";
import { rescaleToNorm } from "../../sample/guidance/latents.ts";
import { gpuTest } from "../_helpers/backends.ts";
import { tol } from "../_helpers/tolerances.ts";

const VP = new VpSde();
const T_MIN = VP.tMinSampling;
const ref = referenceBackend();
const MU = [0.7, -0.4, 1.1], C = 0.5;
const GAUSS = new GmmModel(
  parseGmmSpec(JSON.stringify({ weights: [1], means: [MU], stds: [C] }), "gauss3"),
  VP,
);
const MIX = new GmmModel(
  parseGmmSpec(
    JSON.stringify({ weights: [0.3, 0.7], means: [[-1.5, 0.5], [1, -0.5]], stds: [0.4, 0.6] }),
    "mix2",
  ),
  VP,
);
const atT = (be: Backend, dtype: DType, n: number) =>
  tensor(be, new Float64Array(n).fill(VP.T), [n], dtype);
const exactTerminal = (m: GmmModel, be: Backend, dtype: DType, n: number) => ({
  logp: (y: Tensor) => m.logp(y, atT(be, dtype, n)),
  score: (y: Tensor) => m.score(y, atT(be, dtype, n)),
});

/**
 * Closed forms for data N(μ, c²I) (D dims), v_t = α_t²c² + σ_t²: p_t = N(α_t μ, v_t I), and the
 * PF-ODE keeps (x_t − α_t μ)/√v_t fixed, so the map x_T ↦ x_0 is affine,
 * x_0 = α_0 μ + √(v_0/v_T)(x_T − α_T μ), and J_{T→0} = √(v_0/v_T) I, a multiple of I.
 * With ∇log p_0(x_0) = −(x_0 − α_0 μ)/v_0 = −(x_T − α_T μ)/√(v_0 v_T):
 * - standard prior, v_T = ∇log π(x_T) = −x_T/σ_T²: SA = (x_T − α_T μ)·x_T/(v_T σ_T²);
 * - exact prior, v_T = ∇log p_T(x_T) = −(x_T − α_T μ)/v_T: SA = ‖x_T − α_T μ‖²/v_T².
 * Score-free: J_s = −I/v_t is constant, so ∇·(J_u v) = 0 and SA = ∇log p_T(x_T)·v_T, the
 * terminal density's own ‖v_T‖²: ‖x_T‖²/σ_T⁴ (standard), ‖x_T − α_T μ‖²/v_T² (exact). With the
 * standard prior the two variants differ by the prior's mismatch with p_T (α_T μ, v_T ≠ σ_T²).
 */
function closedForm(
  xT: ArrayLike<number>,
  B: number,
  prior: "standard" | "exact",
  scoreFree: boolean,
) {
  const D = MU.length, aT = VP.alpha(VP.T), s2 = VP.priorStd ** 2;
  const vT = aT * aT * C * C + VP.sigma(VP.T) ** 2;
  return Array.from({ length: B }, (_, b) => {
    let cross = 0, centred = 0, raw = 0;
    for (let i = 0; i < D; i++) {
      const x = xT[b * D + i], y = x - aT * MU[i];
      cross += y * x;
      centred += y * y;
      raw += x * x;
    }
    if (prior === "exact") return centred / (vT * vT);
    return scoreFree ? raw / (s2 * s2) : cross / (vT * s2);
  });
}

Deno.test("score alignment on a Gaussian matches its closed form, transported and score-free", async () => {
  const B = 6, xT = Rng.fromSeed(1).normal(ref, [B, 3], "f64"), host = await xT.read();
  for (const prior of ["standard", "exact"] as const) {
    for (const scoreFree of [false, true]) {
      const r = await scoreAlignment((x, t) => GAUSS.score(x, t), VP, xT, {
        tMin: T_MIN,
        rtol: 1e-6,
        atol: 1e-6,
        divergence: { method: "exact" },
        scoreFree,
        terminal: prior === "exact" ? exactTerminal(GAUSS, ref, "f64", B) : undefined,
      });
      const want = closedForm(host, B, prior, scoreFree);
      const worst = Math.max(...want.map((w, i) => Math.abs(r.alignment[i] / w - 1)));
      console.log(
        `Gaussian SA, ${prior} prior${scoreFree ? ", score-free" : ""}: rel. error ${
          worst.toExponential(2)
        }`,
      );
      assert.ok(worst < tol.scoreAlignmentClosedForm.rtol, tol.scoreAlignmentClosedForm.why);
    }
  }
  xT.dispose();
});

Deno.test("score alignment on a mixture is the derivative of log p_0 along v_T (finite differences)", async () => {
  // SA = d/dε log p_0(x_0(x_T + ε v_T)) at ε = 0, v_T = −x_T/σ_T². Transported: log p_0 is the
  // mixture's exact density at the PF end point; score-free: the flow's own tracked density.
  const B = 6, N = 32, eps = 1e-4, D = 2;
  const xT = Rng.fromSeed(3).normal(ref, [B, D], "f64");
  const probe = Rng.fromSeed(9).rademacher(ref, [B, D], "f64");
  const score = (x: Tensor, t: Tensor) => MIX.score(x, t);
  const cases = [
    { scoreFree: false, divergence: { method: "exact" as const } },
    { scoreFree: true, divergence: { method: "exact" as const } },
    { scoreFree: true, divergence: { method: "hutchinson" as const, probe } },
  ];
  for (const c of cases) {
    const o = { tMin: T_MIN, rtol: 1e-6, atol: 1e-6, fixedSteps: N, divergence: c.divergence };
    const sa = await scoreAlignment(score, VP, xT, { ...o, scoreFree: c.scoreFree });
    const objective = async (sign: number) => {
      const moved = add(xT, mul(xT, -sign * eps / VP.priorStd ** 2));
      const r = await hdModeSample(score, VP, moved, { ...o, tThreshold: T_MIN }); // pure PF-ODE
      moved.dispose();
      if (c.scoreFree) return Array.from(r.logp);
      return Array.from(
        { length: B },
        (_, b) => MIX.logpHost(Array.from(r.x.subarray(b * D, (b + 1) * D)), T_MIN),
      );
    };
    const [plus, minus] = [await objective(1), await objective(-1)];
    const fd = plus.map((p, i) => (p - minus[i]) / (2 * eps));
    const excess = fd.map((f, i) =>
      Math.abs(sa.alignment[i] - f) -
      (tol.scoreAlignmentFiniteDiff.atol + tol.scoreAlignmentFiniteDiff.rtol * Math.abs(f))
    );
    const worst = Math.max(
      ...fd.map((f, i) => Math.abs(sa.alignment[i] - f) / Math.max(Math.abs(f), 1e-3)),
    );
    console.log(
      `mixture SA (${
        c.scoreFree ? "score-free" : "transport"
      }, ${c.divergence.method}) vs finite differences: ` +
        `rel. ${worst.toExponential(2)}; values ${
          Array.from(sa.alignment, (a) => a.toFixed(3)).join(" ")
        }`,
    );
    excess.forEach((e, i) =>
      assert.ok(e <= 0, `latent ${i}: SA ${sa.alignment[i]} vs FD ${fd[i]}`)
    );
  }
  xT.dispose();
  probe.dispose();
});

Deno.test("prior guidance q = 0.7 raises log p_0 where score alignment is positive (mixture)", async () => {
  const B = 16, D = 2;
  const score = (x: Tensor, t: Tensor) => MIX.score(x, t);
  const o = { tMin: T_MIN, rtol: 1e-6, atol: 1e-6, divergence: { method: "exact" as const } };
  const xT = Rng.fromSeed(21).normal(ref, [B, D], "f64");
  const lp = (r: { x: Float64Array }) =>
    Array.from(
      { length: B },
      (_, b) => MIX.logpHost(Array.from(r.x.subarray(b * D, (b + 1) * D)), T_MIN),
    );
  const base = lp(await priorGuidanceSample(score, VP, xT, { ...o, q: 0.5 }));
  const guided = lp(await priorGuidanceSample(score, VP, xT, { ...o, q: 0.7 }));
  // SA along each ray between the two radii: shrinking raises log p_0 where it is positive
  const r5 = priorGuidanceRadius(VP, D, 0.5), r7 = priorGuidanceRadius(VP, D, 0.7);
  const signs = new Array(B).fill(0);
  for (const r of [r7, (r5 + r7) / 2, r5]) {
    const x = rescaleToNorm(xT, r);
    const sa = await scoreAlignment(score, VP, x, { ...o, scoreFree: false });
    sa.alignment.forEach((a, i) => (signs[i] += Math.sign(a)));
    x.dispose();
  }
  const pos = signs.map((s, i) => (s === 3 ? i : -1)).filter((i) => i >= 0);
  const neg = signs.map((s, i) => (s === -3 ? i : -1)).filter((i) => i >= 0);
  assert.ok(pos.length >= B / 2, `too few aligned rays: ${pos.length}`);
  for (const i of pos) assert.ok(guided[i] > base[i], `ray ${i}: SA > 0 but log p_0 fell`);
  for (const i of neg) assert.ok(guided[i] < base[i], `ray ${i}: SA < 0 but log p_0 rose`);
  const gain = pos.reduce((s, i) => s + guided[i] - base[i], 0) / pos.length;
  console.log(
    `prior guidance q = 0.7 vs 0.5: SA > 0 on ${pos.length}/${B} rays (mean log p_0 gain ` +
      `${gain.toFixed(4)} nats there), SA < 0 on ${neg.length} (log p_0 fell on each)`,
  );
  assert.ok(gain > 0);
  xT.dispose();
});

gpuTest("score alignment on WebGPU (float32) matches the Gaussian closed form", async (gpu) => {
  const B = 4, xT = Rng.fromSeed(1).normal(gpu, [B, 3], "f32"), host = await xT.read();
  const r = await scoreAlignment((x, t) => GAUSS.score(x, t), VP, xT, {
    tMin: T_MIN,
    rtol: 1e-5,
    atol: 1e-5,
    divergence: { method: "exact" },
    scoreFree: false,
  });
  const want = closedForm(host, B, "standard", false);
  const worst = Math.max(...want.map((w, i) => Math.abs(r.alignment[i] / w - 1)));
  console.log(`WebGPU Gaussian SA: rel. error ${worst.toExponential(2)}`);
  assert.ok(worst < tol.scoreAlignmentClosedForm.rtol, tol.scoreAlignmentClosedForm.why);
  xT.dispose();
});
