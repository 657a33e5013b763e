import assert from "node:assert/strict";
import { eachBackend } from "../_helpers/backends.ts";
import { Rng, tensor } from "../../compute/mod.ts";
import { dequantize, truncationBound } from "../../eval/dequantization.ts";
import { EIGHT_BIT_SYMMETRIC } from "../../data/quantization.ts";
import { erf } from "../../sde/special.ts";
import { makeSde } from "../../sde/processes.ts";

const logZ = (tau: number) => Math.log(erf(tau / Math.SQRT2));

Deno.test("bits/dim offsets follow from the scaling: +7 for [−1, 1], +8 for [0, 1]", () => {
  assert.ok(Math.abs(-Math.log2(EIGHT_BIT_SYMMETRIC.a) - 7) < 1e-12);
  assert.ok(Math.abs(-Math.log2(1 / 256) - 8) < 1e-12);
});

Deno.test("truncation bound τ = α0/(256σ0) and Z_τ of docs/MATH.md §7", () => {
  const vdm = makeSde("vdm"), vp = makeSde("vp");
  const tauVdm = truncationBound(vdm, 0, EIGHT_BIT_SYMMETRIC);
  assert.ok(Math.abs(tauVdm - 3.0187) < 1e-4, `VDM τ = ${tauVdm}`);
  assert.ok(Math.abs(erf(tauVdm / Math.SQRT2) - 0.997461) < 1e-6);
  assert.ok(Math.abs(truncationBound(vp, 1e-5, EIGHT_BIT_SYMMETRIC) - 3.904) < 1e-3);
});

eachBackend(
  "uniform dequantisation stays inside each bin and reports the bin volume",
  async ({ backend, dtype }) => {
    const vp = makeSde("vp");
    const levels = [0, 1, 127, 255, 3, 200];
    const k = tensor(backend, levels, [3, 2], dtype);
    const d = dequantize("uniform", k, EIGHT_BIT_SYMMETRIC, vp, 1e-5, Rng.fromSeed(1));
    const x = await d.x.read();
    const { a, b } = EIGHT_BIT_SYMMETRIC;
    levels.forEach((lv, i) =>
      assert.ok(x[i] >= a * lv + b - 1e-6 && x[i] <= a * (lv + 1) + b + 1e-6, `x ${x[i]}`)
    );
    assert.ok(Math.abs(d.logVolume - 2 * Math.log(a)) < 1e-12);
    assert.equal(d.logq, null);
  },
);

eachBackend(
  "truncated-normal dequantisation: start points and the exact log q",
  async ({ backend, dtype }) => {
    const vdm = makeSde("vdm");
    const levels = [0, 255, 17, 128];
    const d = dequantize(
      "truncated-normal",
      tensor(backend, levels, [2, 2], dtype),
      EIGHT_BIT_SYMMETRIC,
      vdm,
      0,
      Rng.fromSeed(2),
    );
    const x = await d.x.read(), lq = await d.logq!.read();
    const a0 = vdm.alpha(0), s0 = vdm.sigma(0), tau = truncationBound(vdm, 0, EIGHT_BIT_SYMMETRIC);
    const { a, b } = EIGHT_BIT_SYMMETRIC;
    for (let n = 0; n < 2; n++) {
      let expected = 0;
      for (let j = 0; j < 2; j++) {
        const i = 2 * n + j;
        const eps = (x[i] - a0 * (a * (levels[i] + 0.5) + b)) / s0;
        assert.ok(Math.abs(eps) <= tau * (1 + 1e-3), `ε = ${eps} outside ±τ`);
        // density of σ0·ε with ε ~ N(0, 1) truncated to [−τ, τ]
        expected += -0.5 * Math.log(2 * Math.PI * s0 * s0) - eps * eps / 2 - logZ(tau);
      }
      const tol = dtype === "f64" ? 1e-9 : 1e-3;
      assert.ok(Math.abs(lq[n] - expected) < tol, `log q ${lq[n]} vs ${expected}`);
    }
    assert.equal(d.logVolume, 0);
  },
);
