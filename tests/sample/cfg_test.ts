/**
 * Classifier-free guidance on a labelled mixture with exact conditional scores: the guided field
 * is the stated blend of the two scores, its endpoints are the unconditional (w = −1, γ = 0) and
 * conditional (w = 0, γ = 1) models, and samples drawn with it reproduce the exact moments of
 * the whole mixture and of the class on every backend.
 */

import assert from "node:assert/strict";
import { eachBackend } from "../_helpers/backends.ts";
import { mul, referenceBackend, Rng, type Tensor, tensor } from "../../compute/mod.ts";
import { GmmModel } from "../../data/gmm_model.ts";
import { loadGmmSpec, parseGmmSpec } from "../../data/gmm_spec.ts";
import { InputError } from "../../io/errors.ts";
import { classWeights } from "../../data/gmm_classes.ts";
import { UsageError } from "../../io/errors.ts";
import { classifierFreeGuidance } from "../../sample/cfg.ts";
import { eulerMaruyama, uniformTimeGrid } from "../../sample/samplers/euler_maruyama.ts";
import { VpSde } from "../../sde/vp.ts";
import { ROOT } from "../_helpers/cli.ts";
import { assertMoments, momentError } from "../data/sample_moments.ts";
import { tol } from "../_helpers/tolerances.ts";

const VP = new VpSde();
/** Three classes in 2-D; class 0 is itself a mixture of two components. */
const mixture = new GmmModel(await loadGmmSpec(`${ROOT}/fixtures/mix2l.json`), VP);
const be = referenceBackend();

function logsumexpHost(v: number[]): number {
  const m = Math.max(...v);
  return m + Math.log(v.reduce((s, x) => s + Math.exp(x - m), 0));
}

function points(n: number, seed: number): { x: Tensor; t: Tensor } {
  const rng = Rng.fromSeed(seed);
  const x = mul(rng.derive("x").normal(be, [n, 2], "f64"), 2);
  const t = tensor(be, rng.derive("t").uniformHost(n).map((u) => 0.01 + 0.98 * u), [n], "f64");
  return { x, t };
}

Deno.test("cfg: the mixture's classes are exact conditionals: Σ_c W_c p_t(x | c) = p_t(x)", async () => {
  assert.equal(mixture.classes, 3);
  assert.equal(mixture.withLabel!(null), mixture);
  assert.equal(mixture.withLabel!(1), mixture.withLabel!(1), "one model per class, kept");
  assert.throws(() => mixture.withLabel!(3), UsageError);
  const { x, t } = points(64, 1), weights = classWeights(mixture.spec);
  const joint = await Promise.all(
    weights.map(async (w, c) =>
      (await mixture.withLabel!(c).logp(x, t).read()).map((l) => l + Math.log(w))
    ),
  );
  const whole = await mixture.logp(x, t).read();
  whole.forEach((l, i) => {
    const sum = logsumexpHost(joint.map((j) => j[i]));
    assert.ok(Math.abs(sum - l) <= tol.f64.atol + tol.f64.rtol * Math.abs(l), `${sum} vs ${l}`);
  });
});

Deno.test("cfg: a mixture file's classes: indices per component or one class each; defects name the field", () => {
  const base = { weights: [0.5, 0.5], means: [[0], [1]], stds: [1, 1] };
  const parse = (classes: unknown) => parseGmmSpec(JSON.stringify({ ...base, classes }), "m.json");
  assert.deepEqual(parse("components").classes, [0, 1]);
  assert.deepEqual(parse([0, 0]).classes, [0, 0]);
  assert.equal(parseGmmSpec(JSON.stringify(base), "m.json").classes, undefined);
  for (
    const [classes, message] of [
      [[0], /field "classes": expected "components" or 2 class indices/],
      [[0, 1.5], /field "classes\[1\]": expected an integer in \[0, 2\), found 1\.5/],
      [[1, 1], /field "classes": expected every class 0 … 1 used, found no class 0/],
      ["each", /field "classes"/],
    ] as const
  ) {
    assert.throws(
      () => parse(classes),
      (e: Error) => e instanceof InputError && message.test(e.message),
    );
  }
});

Deno.test("cfg: the guided score is (1 + w)·s_k − w·s, the same as s + γ(s_k − s) with γ = 1 + w", async () => {
  const { x, t } = points(32, 2);
  const s = await mixture.score(x, t).read();
  const sk = await mixture.withLabel!(0).score(x, t).read();
  for (const w of [-1, 0, 0.5, 3]) {
    const byW = await classifierFreeGuidance(mixture, 0, { w }).score(x, t).read();
    const byGamma = await classifierFreeGuidance(mixture, 0, { gamma: 1 + w }).score(x, t).read();
    byW.forEach((v, i) => {
      const want = (1 + w) * sk[i] - w * s[i];
      const close = (a: number, b: number) =>
        Math.abs(a - b) <= tol.f64.atol + tol.f64.rtol * Math.abs(b);
      assert.ok(close(v, want), `w = ${w}: ${v} vs ${want}`);
      assert.ok(close(byGamma[i], v));
    });
  }
  const guided = classifierFreeGuidance(mixture, 2, { w: 1.5 });
  assert.match(guided.description, /class 2 \(w = 1\.5, γ = 2\.5\)/);
  assert.deepEqual(guided.shape, mixture.shape);
  assert.equal(guided.sde, VP);
  assert.equal(guided.logp, undefined, "the guided field is not the score of a known density");
  const plain = new GmmModel({ ...mixture.spec, classes: undefined }, VP);
  assert.equal(plain.withLabel, undefined);
  assert.throws(() => classifierFreeGuidance(plain, 0, { w: 1 }), UsageError);
});

/** Euler–Maruyama, 200 steps, from the prior: 1000 samples of the guided model. */
async function guidedSamples(
  backend: Parameters<typeof tensor>[0],
  dtype: "f32" | "f64",
  model: ReturnType<typeof classifierFreeGuidance>,
  seed: number,
): Promise<Float64Array> {
  const n = 1000, rng = Rng.fromSeed(seed);
  const xT = mul(rng.derive("prior").normal(backend, [n, 2], dtype), VP.priorStd);
  const grid = uniformTimeGrid(VP.T, VP.tMinSampling, 200);
  const { x } = eulerMaruyama((y, t) => model.score(y, t), VP, xT, grid, rng);
  const values = Float64Array.from(await x.read());
  x.dispose();
  xT.dispose();
  return values;
}

// The endpoints of the guidance family reproduce the exact moments within 4 standard errors:
// γ = 0 (w = −1) the whole mixture's, γ = 1 (w = 0) class 0's (two of the four components).
eachBackend(
  "cfg: samples at γ = 0 and γ = 1 match the unconditional and conditional moments",
  async (k) => {
    const cases = [
      { strength: { w: -1 }, exact: mixture, what: "γ = 0 (w = −1): the whole mixture" },
      { strength: { gamma: 1 }, exact: mixture.withLabel!(0), what: "γ = 1 (w = 0): class 0" },
    ];
    for (const [i, c] of cases.entries()) {
      const x = await guidedSamples(
        k.backend,
        k.dtype,
        classifierFreeGuidance(mixture, 0, c.strength),
        40 + i,
      );
      const err = momentError(c.exact, x, 1000);
      console.log(
        `${k.name} ${c.what}: |mean error| ${err.mean.toFixed(4)}, ‖cov error‖_F ${
          err.cov.toFixed(4)
        }`,
      );
      assertMoments(x, 1000, c.exact.meanHost(), c.exact.covarianceHost(), `${k.name} ${c.what}`);
    }
  },
);
