import assert from "node:assert/strict";
import { type BackendCase, eachBackend } from "../_helpers/backends.ts";
import { assertAllClose } from "../_helpers/all_close.ts";
import { tol } from "../_helpers/tolerances.ts";
import { mul, tensor, tensorWithHostCopy, watch } from "../../compute/mod.ts";
import { DEFAULT_T_MIN, makeSde, SDE_KINDS, sdeFromJson, sdeToJson } from "../../sde/processes.ts";
import { VDM_UNIFORM_DEQUANT_GAMMA0, VdmSde } from "../../sde/vdm.ts";
import type { Sde } from "../../sde/sde.ts";
import { erf } from "../../sde/special.ts";

const close = (a: number, b: number, rel: number) => Math.abs(a - b) <= rel * Math.abs(b);

/** `value` rounds to `printed` (docs/MATH.md's figures): within half a unit of its last digit. */
function assertPrinted(value: number, printed: string, what: string): void {
  const [mantissa, exponent = "0"] = printed.split("e");
  const unit = 10 ** (Number(exponent) - (mantissa.split(".")[1]?.length ?? 0));
  assert.ok(
    Math.abs(value - Number(printed)) <= 0.5 * unit,
    `${what}: ${value}, docs/MATH.md ${printed}`,
  );
}

Deno.test("sub-VP: ScoreFlow IS normaliser Z = λ(t_min) − λ(T) (docs/MATH.md §7)", () => {
  const s = makeSde("subvp");
  assertPrinted(s.logSnr(1e-5) - s.logSnr(1), "37.6789", "Z at t_min = 1e-5");
  assertPrinted(s.logSnr(1e-2) - s.logSnr(1), "22.4841", "Z at t_min = 1e-2");
  assert.equal(s.priorStd, 1);
});

Deno.test("VE: prior N(0, 2500 I) and g(1) = 206.364 (docs/MATH.md §7)", () => {
  const ve = makeSde("ve");
  assert.equal(ve.priorStd ** 2, 2500);
  assertPrinted(Math.sqrt(ve.diffusion2(1)), "206.364", "g(1)");
  assert.equal(ve.sigma(0), 0.01);
  assert.ok(close(ve.sigma(1), 50, 1e-15));
});

Deno.test("VDM-γ: σ0 at both starts, velocity IS normaliser, τ and Z_τ (docs/MATH.md §2, §7)", () => {
  const vdm = makeSde("vdm") as VdmSde;
  assertPrinted(vdm.sigma(0), "1.294e-3", "σ0 at γ = −13.3");
  assert.equal(VDM_UNIFORM_DEQUANT_GAMMA0, -11.8);
  const t0 = vdm.timeOfLogSnr(-VDM_UNIFORM_DEQUANT_GAMMA0);
  assert.ok(close(vdm.gamma(t0), -11.8, 1e-15));
  assertPrinted(vdm.sigma(t0), "2.7394e-3", "σ0 at γ = −11.8");
  // Z = ∫ α² dγ over [γmin, γmax], by Simpson's rule in t (γ′ constant), and in closed form
  const n = 2000, h = 1 / n, dGamma = vdm.gammaMax - vdm.gammaMin;
  let simpson = 0;
  for (let i = 0; i <= n; i++) {
    simpson += (i === 0 || i === n ? 1 : i % 2 ? 4 : 2) * vdm.alpha(i * h) ** 2 * dGamma;
  }
  simpson *= h / 3;
  const closed = 2 * Math.log(vdm.sigma(1) / vdm.sigma(0));
  assert.ok(close(simpson, closed, 1e-10), `Simpson ${simpson}, closed form ${closed}`);
  assertPrinted(closed, "13.2933", "velocity IS normaliser");
  const tau = vdm.alpha(0) / (256 * vdm.sigma(0));
  assertPrinted(tau, "3.0187", "τ");
  assertPrinted(erf(tau / Math.SQRT2), "0.997461", "Z_τ");
  assert.ok(close(vdm.priorStd, Math.sqrt(1 / (1 + Math.exp(-5))), 1e-15));
});

Deno.test("VP: truncated-normal τ = α0/(256σ0) at t_min = 1e-5 (docs/MATH.md §2)", () => {
  const vp = makeSde("vp");
  assertPrinted(vp.alpha(1e-5) / (256 * vp.sigma(1e-5)), "3.904", "τ");
});

Deno.test("default t_min per process (likelihood / sampling) matches docs/MATH.md §1", () => {
  assert.deepEqual(DEFAULT_T_MIN, {
    vp: { likelihood: 1e-5, sampling: 1e-3 },
    subvp: { likelihood: 1e-2, sampling: 1e-3 },
    ve: { likelihood: 1e-5, sampling: 1e-5 },
    vdm: { likelihood: 0, sampling: 0 },
    sp: { likelihood: 0, sampling: 0 },
  });
});

for (const kind of SDE_KINDS) {
  const sde = makeSde(kind);

  Deno.test(`${kind}: λ⁻¹ inverts λ; g²/σ² = −dλ/dt, f = d ln α/dt, g² = dσ²/dt − 2fσ²`, () => {
    for (const t of [1e-5, 1e-3, 0.1, 0.5, 1]) {
      assert.ok(close(sde.timeOfLogSnr(sde.logSnr(t)), t, 1e-9), `λ⁻¹(λ(${t}))`);
      // VP and sub-VP are singular at t = 0 (σ → 0) and need h ≪ t; VE and VDM are smooth
      // through 0, where VDM's α = 1 − 8e-7 needs a wider step to rise above rounding
      const h = sde.sigma(0) === 0 ? Math.min(t / 1000, 1e-5) : 1e-4;
      const d = (fn: (t: number) => number) => (fn(t + h) - fn(t - h)) / (2 * h);
      const rel = tol.sdeFiniteDiff.rtol;
      const s2 = (u: number) => sde.sigma(u) ** 2;
      assert.ok(close(sde.diffusion2(t) / s2(t), -d((u) => sde.logSnr(u)), rel), `g²/σ² at ${t}`);
      assert.ok(close(sde.driftCoef(t), d((u) => Math.log(sde.alpha(u))), rel), `f at ${t}`);
      const g2 = d(s2) - 2 * sde.driftCoef(t) * s2(t);
      assert.ok(close(sde.diffusion2(t), g2, rel), `g² at ${t}`);
    }
    // and the other way round, across the whole λ range of [1e-5, 1]
    const [lo, hi] = [sde.logSnr(1), sde.logSnr(1e-5)];
    for (let i = 0; i <= 20; i++) {
      const lambda = lo + (i / 20) * (hi - lo);
      assert.ok(
        Math.abs(sde.logSnr(sde.timeOfLogSnr(lambda)) - lambda) <= 1e-10 * (1 + Math.abs(lambda)),
      );
    }
  });

  eachBackend(
    `${kind} on the device agrees with float64, small-t formulas included`,
    (c) => assertDeviceAgrees(sde, c, kind),
  );
}

// γ ∈ [−20, 10] pushes both ends: σ² = 2e-9 and α² = 4.5e-5 must both stay relatively accurate,
// which √(1 − sigmoid(γ)) for α or √(1 − sigmoid(−γ)) for σ would not
eachBackend(
  "vdm with γ ∈ [−20, 10] on the device keeps α and σ relatively accurate",
  (c) => assertDeviceAgrees(makeSde("vdm", { gammaMin: -20, gammaMax: 10 }), c, "wide vdm"),
);

/** The tensor methods against the float64 host methods, all four RELATIVELY (no atol). */
async function assertDeviceAgrees(sde: Sde, c: BackendCase, what: string): Promise<void> {
  const ts = [0, 1e-6, 1e-5, 1e-3, 0.02, 0.1, 0.5, 1];
  // compare at the times the device actually holds, so only the formulas' rounding shows
  const held = c.dtype === "f64" ? ts : ts.map(Math.fround);
  const t = tensor(c.backend, ts, [ts.length], c.dtype);
  const { alpha, sigma } = sde.alphaSigmaT(t);
  const { f, g2 } = sde.driftDiffusionT(t);
  // σ divides the score and α divides x0-predictions: relative accuracy is what matters
  const tl = { ...(c.dtype === "f64" ? tol.f64 : tol.f32SdeCoefficients), atol: 0 };
  const host = (fn: (t: number) => number) => held.map((u) => fn.call(sde, u));
  assertAllClose(await alpha.read(), host(sde.alpha), tl, `${what} α`);
  assertAllClose(await sigma.read(), host(sde.sigma), tl, `${what} σ`);
  assertAllClose(await f.read(), host(sde.driftCoef), tl, `${what} f`);
  assertAllClose(await g2.read(), host(sde.diffusion2), tl, `${what} g²`);
}

Deno.test("makeSde rejects bad constants, naming the parameter, what it expected and what it found", () => {
  const cases: [() => unknown, RegExp][] = [
    [() => makeSde("vp", { beta0: -1 }), /vp SDE: beta0 must be a finite number > 0, found -1/],
    [
      () => makeSde("subvp", { beta1: 0.05 }),
      /subvp SDE: beta1 must be a finite number ≥ beta0, found 0.05/,
    ],
    [
      () => makeSde("ve", { sigmaMax: NaN }),
      /ve SDE: sigmaMax must be a finite number > sigmaMin, found NaN/,
    ],
    [
      () => makeSde("ve", { sigmaMin: 60 }),
      /sigmaMax must be a finite number > sigmaMin, found 50/,
    ],
    [
      () => makeSde("vdm", { gammaMin: -Infinity }),
      /gammaMin must be a finite number, found -Infinity/,
    ],
    [
      () => makeSde("vdm", { gammaMax: -20 }),
      /gammaMax must be a finite number > gammaMin, found -20/,
    ],
    [
      () => makeSde("ve", { beta0: 1 } as never),
      /unknown parameter "beta0" \(expected sigmaMin, sigmaMax\)/,
    ],
    [() => makeSde("vp", { beta0: "0.1" } as never), /beta0 must be a number, found "0.1"/],
    [() => makeSde("edm" as never), /unknown SDE kind "edm" \(expected vp, subvp, ve, vdm, sp\)/],
    [() => sdeFromJson({ params: {} }), /must be an object \{kind, params\}/],
    [() => sdeFromJson({ kind: "vp", params: 3 }), /params must be an object, found 3/],
  ];
  for (const [fn, message] of cases) assert.throws(fn, message);
});

Deno.test("sdeFromJson(sdeToJson(sde)) rebuilds the process through JSON text", () => {
  const custom = {
    vp: { beta0: 0.2, beta1: 15 },
    subvp: { beta0: 0.05, beta1: 25 },
    ve: { sigmaMin: 0.02, sigmaMax: 80 },
    vdm: { gammaMin: -10, gammaMax: 6 },
    sp: { gammaMin: -10, gammaMax: 6 },
  };
  for (const kind of SDE_KINDS) {
    const sde = makeSde(kind, custom[kind]);
    const back = sdeFromJson(JSON.parse(JSON.stringify(sdeToJson(sde))));
    assert.equal(back.kind, kind);
    assert.deepEqual(back.params, custom[kind]);
    for (const t of [1e-3, 0.3, 1]) assert.equal(back.sigma(t), sde.sigma(t));
  }
  // absent params mean the paper's defaults
  assert.deepEqual(sdeFromJson({ kind: "vp" }).params, { beta0: 0.1, beta1: 20 });
  assert.deepEqual(makeSde("subvp").params, { beta0: 0.1, beta1: 20 });
  assert.deepEqual(makeSde("ve").params, { sigmaMin: 0.01, sigmaMax: 50 });
  assert.deepEqual(makeSde("vdm").params, { gammaMin: -13.3, gammaMax: 5 });
});

eachBackend(
  "times known on the host take the host methods with no device pass; a gradient needs the tensor path",
  async (c) => {
    const ts = [1e-5, 1e-3, 0.1, 0.5, 1];
    const held = c.dtype === "f64" ? ts : ts.map(Math.fround);
    for (const kind of SDE_KINDS) {
      const sde = makeSde(kind);
      const t = tensorWithHostCopy(c.backend, held, [ts.length], c.dtype);
      const before = c.backend.stats().dispatches;
      const { alpha, sigma } = sde.alphaSigmaT(t);
      const { f, g2 } = sde.driftDiffusionT(t);
      assert.equal(c.backend.stats().dispatches, before, `${kind}: no kernel ran`);
      const exact = { ...(c.dtype === "f64" ? tol.f64 : tol.f32Elementwise), atol: 0 };
      const host = (fn: (t: number) => number) => held.map((u) => fn.call(sde, u));
      assertAllClose(await alpha.read(), host(sde.alpha), exact, `${kind} α`);
      assertAllClose(await sigma.read(), host(sde.sigma), exact, `${kind} σ`);
      assertAllClose(await f.read(), host(sde.driftCoef), exact, `${kind} f`);
      assertAllClose(await g2.read(), host(sde.diffusion2), exact, `${kind} g²`);
      // a watched time, or one computed on the device, goes through the differentiable formulas
      const watched = sde.alphaSigmaT(watch(t)).sigma;
      assert.ok(watched.requiresGrad, `${kind}: σ of a watched t carries its gradient`);
      assert.equal(mul(t, 1).hostValues(), null, "a computed tensor has no host copy");
    }
  },
);
