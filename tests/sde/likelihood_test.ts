import assert from "node:assert/strict";
import { eachBackend } from "../_helpers/backends.ts";
import { type Backend, type DType, referenceBackend, tensor } from "../../compute/mod.ts";
import { GmmModel } from "../../data/gmm_model.ts";
import { pfOdeLogLikelihood } from "../../sde/likelihood.ts";
import { VpSde } from "../../sde/vp.ts";
import { fixture } from "../data/gmm_oracle.ts";

const VP = new VpSde();
const TWO_BLOBS = await GmmModel.load(fixture("two_blobs.json"), VP);

const POINTS = [[-2, 0.5], [1.5, -1], [-0.2, -0.3], [0.9, -1.6], [3, -2]];
const T_MIN = 1e-5;

async function logLikelihood(
  backend: Backend,
  dtype: DType,
  divergence: "exact" | [number, number],
) {
  const x = tensor(backend, POINTS.flat(), [POINTS.length, 2], dtype);
  const probe = divergence === "exact"
    ? null
    : tensor(backend, POINTS.flatMap(() => divergence), [POINTS.length, 2], dtype);
  return await pfOdeLogLikelihood((xt, t) => TWO_BLOBS.score(xt, t), VP, x, {
    tMin: T_MIN,
    tMax: 1,
    rtol: 1e-5,
    atol: 1e-5,
    divergence: probe ? { method: "hutchinson", probe } : { method: "exact" },
  });
}

// With the exact mixture score and exact divergence the PF-ODE reproduces log p_{t_min} up to
// the standard prior's mismatch with the mixture's own p_T (a few 1e-3 nats in 2-D, docs/MATH.md §6)
// and the solver tolerance; float32 must agree with float64 far below that.
eachBackend(
  "PF-ODE log-likelihood under the exact mixture score matches the closed form",
  async (k) => {
    const r = await logLikelihood(k.backend, k.dtype, "exact");
    POINTS.forEach((p, i) => {
      const exact = TWO_BLOBS.logpHost(p, T_MIN);
      assert.ok(
        Math.abs(r.logp[i] - exact) < 0.02,
        `point ${p}: ${r.logp[i]} vs closed form ${exact}`,
      );
      assert.ok(
        Math.abs(r.priorLogp[i] + r.deltaLogp[i] - r.logp[i]) < 1e-12,
        "logp = log π(x_T) + ℓ(T)",
      );
    });
    assert.ok(r.nfe > 0 && r.steps > 0);
    if (k.dtype === "f32") {
      const f64 = await logLikelihood(referenceBackend(), "f64", "exact");
      const worst = Math.max(...r.logp.map((v, i) => Math.abs(v - f64.logp[i])));
      assert.ok(worst < 1e-3, `float32 differs from float64 by ${worst} nats`);
    }
  },
);

// In 2-D the probes (1, 1) and (1, −1) give eᵀJe = tr J ± (J₁₂ + J₂₁): their mean is the exact
// divergence, so the two Hutchinson log-likelihoods must average to the exact one (up to the
// solver tolerance, as the step sizes differ slightly).
Deno.test("PF-ODE likelihood: two complementary Hutchinson probes average to the exact value", async () => {
  const exact = await logLikelihood(referenceBackend(), "f64", "exact");
  const plus = await logLikelihood(referenceBackend(), "f64", [1, 1]);
  const minus = await logLikelihood(referenceBackend(), "f64", [1, -1]);
  exact.logp.forEach((e, i) => {
    const mean = (plus.logp[i] + minus.logp[i]) / 2;
    assert.ok(Math.abs(mean - e) < 1e-3, `point ${i}: mean ${mean} vs exact ${e}`);
    assert.ok(Math.abs(plus.logp[i] - minus.logp[i]) > 1e-6, "the probes must differ");
  });
});
