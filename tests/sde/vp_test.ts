import assert from "node:assert/strict";
import { eachBackend } from "../_helpers/backends.ts";
import { assertAllClose } from "../_helpers/all_close.ts";
import { tol } from "../_helpers/tolerances.ts";
import { tensor } from "../../compute/mod.ts";
import { VpSde } from "../../sde/vp.ts";

const vp = new VpSde();
const close = (a: number, b: number, rel: number) => Math.abs(a - b) <= rel * Math.abs(b);

Deno.test("VP sanity values of docs/MATH.md §7", () => {
  assert.ok(close(vp.alpha(1e-5), 0.999999, 1e-6));
  assert.ok(close(vp.sigma(1e-5), 1.0005e-3, 1e-4));
  assert.ok(close(vp.logSnr(1e-5), 13.8145, 1e-5));
  assert.ok(close(vp.alpha(1e-3), 0.999945, 1e-6));
  assert.ok(close(vp.sigma(1e-3), 1.04854e-2, 1e-5));
  assert.ok(close(vp.logSnr(1e-3), 9.11543, 1e-5));
  assert.ok(close(vp.alpha(1), 6.57159e-3, 1e-5));
  assert.ok(close(vp.sigma(1), 0.999978, 1e-6));
  assert.ok(close(vp.logSnr(1), -10.05, 1e-3));
  // ScoreFlow's importance-sampling normaliser Z = λ(t_min) − λ(T)
  assert.ok(close(vp.logSnr(1e-5) - vp.logSnr(1), 23.8645, 1e-5));
});

Deno.test("VP: λ⁻¹ inverts λ, g²/σ² = −dλ/dt, f = d ln α/dt, g² = dσ²/dt − 2fσ²", () => {
  for (const t of [1e-5, 1e-3, 0.1, 0.5, 1]) {
    assert.ok(close(vp.timeOfLogSnr(vp.logSnr(t)), t, 1e-9), `λ⁻¹(λ(${t}))`);
    const h = Math.min(t / 1000, 1e-5);
    const dLambda = (vp.logSnr(t + h) - vp.logSnr(t - h)) / (2 * h);
    assert.ok(close(vp.diffusion2(t) / vp.sigma(t) ** 2, -dLambda, 1e-5), `g²/σ² at ${t}`);
    const dLogAlpha = (Math.log(vp.alpha(t + h)) - Math.log(vp.alpha(t - h))) / (2 * h);
    assert.ok(close(vp.driftCoef(t), dLogAlpha, 1e-5), `f at ${t}`);
    const dSigma2 = (vp.sigma(t + h) ** 2 - vp.sigma(t - h) ** 2) / (2 * h);
    assert.ok(close(vp.diffusion2(t), dSigma2 - 2 * vp.driftCoef(t) * vp.sigma(t) ** 2, 1e-5));
  }
});

eachBackend(
  "VP on the device agrees with float64, small-t series included",
  async ({ backend, dtype }) => {
    const ts = [0, 1e-6, 1e-5, 1e-3, 0.02, 0.1, 0.5, 1];
    const { alpha, sigma } = vp.alphaSigmaT(tensor(backend, ts, [ts.length], dtype));
    const { f, g2 } = vp.driftDiffusionT(tensor(backend, ts, [ts.length], dtype));
    const t32 = dtype === "f64" ? tol.f64 : { ...tol.f32Elementwise, rtol: 1e-6 };
    assertAllClose(await alpha.read(), ts.map((t) => vp.alpha(t)), t32, "α");
    // relative accuracy of σ is what matters at small t (it divides the score)
    assertAllClose(await sigma.read(), ts.map((t) => vp.sigma(t)), { ...t32, atol: 0 }, "σ");
    assertAllClose(await f.read(), ts.map((t) => vp.driftCoef(t)), t32, "f");
    assertAllClose(await g2.read(), ts.map((t) => vp.diffusion2(t)), t32, "g²");
  },
);
