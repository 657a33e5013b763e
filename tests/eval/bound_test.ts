import assert from "node:assert/strict";
import { eachBackend } from "../_helpers/backends.ts";
import { mul, Rng, type Tensor, tensor } from "../../compute/mod.ts";
import { GmmModel } from "../../data/gmm_model.ts";
import type { DiffusionModel } from "../../sde/model.ts";
import { VpSde } from "../../sde/vp.ts";
import { scoreFlowBound } from "../../eval/bound.ts";

const vp = new VpSde();
const D = 4, C = 0.7;
const MU = [0.5, -1, 0.25, 2];
const GAUSS = GmmModel.isotropic({ weights: [1], means: [MU], stds: [C] }, vp);
const X = [[0.3, -0.6, 1.1, 2.4], [-0.5, -1.4, 0, 1.2]];
const T_MIN = 1e-5;

/** The data score scaled by k: k = 1 is exact, k = 0.8 deliberately wrong. */
function model(k: number): DiffusionModel {
  return {
    sde: vp,
    shape: [D],
    description: `${k}·exact Gaussian score`,
    score: (x: Tensor, t: Tensor) => mul(GAUSS.score(x, t), k),
  };
}

/**
 * The bound's expectation in closed form for Gaussian data and the score k·s: with
 * s = (αμ − x_t)/v, v = α²c² + σ², every expectation over z is a moment of a Gaussian, and the
 * time integral is done by Simpson's rule in λ (∫g² h dt = ∫σ² h dλ).
 */
function expectedBound(x: number[], k: number): number {
  const d2 = x.reduce((s, xi, i) => s + (MU[i] - xi) ** 2, 0);
  const lo = vp.logSnr(1), hi = vp.logSnr(T_MIN), n = 20000, h = (hi - lo) / n;
  let integral = 0;
  for (let i = 0; i <= n; i++) {
    const t = vp.timeOfLogSnr(lo + i * h),
      a = vp.alpha(t),
      s = vp.sigma(t),
      v = a * a * C * C + s * s;
    const f = 0.5 * s * s * (k * k * (a * a * d2 + D * s * s) / (v * v) - (2 * k * D) / v);
    integral += f * (i === 0 || i === n ? 1 : i % 2 === 1 ? 4 : 2);
  }
  integral *= h / 3;
  const aT = vp.alpha(1), sT = vp.sigma(1), aE = vp.alpha(T_MIN), sE = vp.sigma(T_MIN);
  const x2 = x.reduce((s, v) => s + v * v, 0);
  const prior = (D / 2) * Math.log(2 * Math.PI) + (aT * aT * x2 + D * sT * sT) / 2;
  const vE = aE * aE * C * C + sE * sE;
  const quad = 0.5 *
    (D - (2 * k * sE * sE * D) / vE + k * k * sE * sE * (aE * aE * d2 + D * sE * sE) / (vE * vE));
  const offset = quad - D * Math.log(aE) - D / 2;
  return prior + integral - D * Math.log(aT / aE) + offset;
}

const nllExact = (x: number[]) =>
  (D / 2) * Math.log(2 * Math.PI * C * C) +
  x.reduce((s, xi, i) => s + (xi - MU[i]) ** 2, 0) / (2 * C * C);

Deno.test("the closed-form expected bound with the exact score equals the true NLL (checks the oracle)", () => {
  for (const x of X) {
    const gap = expectedBound(x, 1) - nllExact(x);
    assert.ok(Math.abs(gap) < 1e-3 * D, `gap ${gap}`);
    assert.ok(expectedBound(x, 0.8) - nllExact(x) > 0.01, "a wrong score loosens the bound");
  }
});

eachBackend(
  "ScoreFlow bound matches its closed-form expectation within 4 standard errors",
  async (c) => {
    const x = tensor(c.backend, X.flat(), [X.length, D], c.dtype);
    for (const k of [1, 0.8]) {
      const r = await scoreFlowBound(model(k), x, {
        tMin: T_MIN,
        samples: 2000,
        rng: Rng.fromSeed(3),
        firstIndex: 0,
      });
      X.forEach((xi, i) => {
        const expected = expectedBound(xi, k);
        assert.ok(r.stderr[i] > 0 && r.stderr[i] < 1, `stderr ${r.stderr[i]}`);
        assert.ok(
          Math.abs(r.nll[i] - expected) < 4 * r.stderr[i] + 1e-3,
          `k = ${k}, example ${i}: ${r.nll[i]} ± ${r.stderr[i]} vs ${expected}`,
        );
        assert.ok(Math.abs(r.prior[i] + r.diffusion[i] + r.offset[i] - r.nll[i]) < 1e-9);
      });
      if (k === 1) {
        X.forEach((xi, i) => assert.ok(Math.abs(r.nll[i] - nllExact(xi)) < 4 * r.stderr[i] + 1e-3));
      }
    }
  },
);

Deno.test("bound draws are keyed by the global example index (shards agree)", async () => {
  const { referenceBackend } = await import("../../compute/mod.ts");
  const be = referenceBackend();
  const opts = { tMin: T_MIN, samples: 50, rng: Rng.fromSeed(9) };
  const both = await scoreFlowBound(model(1), tensor(be, X.flat(), [2, D], "f64"), {
    ...opts,
    firstIndex: 0,
  });
  const second = await scoreFlowBound(model(1), tensor(be, X[1], [1, D], "f64"), {
    ...opts,
    firstIndex: 1,
  });
  assert.equal(second.nll[0], both.nll[1]);
});
