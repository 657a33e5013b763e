/**
 * The ScoreFlow bound's prior term follows `--prior`: under `exact` it is E[−log p_T(x_T)] with
 * the mixture's own p_T, as the PF-ODE NLL beside it uses. The mixture is chosen so that p_T is
 * far from π: under VE (σ_T = 50), components at ±150 leave p_T = ½N(±150, (1 + σ_T²)I),
 * while π = N(0, σ_T² I), and E_z[log p_T(x_T) − log π(x_T)] is about 3.8 nats.
 */

import assert from "node:assert/strict";
import { eachBackend } from "../_helpers/backends.ts";
import { runMain } from "../_helpers/cli.ts";
import { Rng, tensor } from "../../compute/mod.ts";
import { GmmModel } from "../../data/gmm_model.ts";
import { scoreFlowBound } from "../../eval/bound.ts";
import { VeSde } from "../../sde/ve.ts";

const M = 150, C = 1;
const SPEC = { weights: [0.5, 0.5], means: [[M, 0], [-M, 0]], stds: [C, C] };
const X = [[151, -0.5], [-149.2, 0.8], [150.3, 1.1]];
const ve = new VeSde(), T_MIN = 1e-5, SAMPLES = 2000;

const logNormal = (x: number, m: number, v: number) =>
  -0.5 * Math.log(2 * Math.PI * v) - (x - m) ** 2 / (2 * v);
const logSumExp = (a: number, b: number) => Math.max(a, b) + Math.log1p(Math.exp(-Math.abs(a - b)));

/** −log p_0(x) of the mixture itself (no noise). */
const nllData = (x: number[]) =>
  -logSumExp(
    Math.log(0.5) + logNormal(x[0], M, C * C) + logNormal(x[1], 0, C * C),
    Math.log(0.5) + logNormal(x[0], -M, C * C) + logNormal(x[1], 0, C * C),
  );

/**
 * Mean and standard deviation over z of h = log p_T(x_T) − log π(x_T), x_T = x + σ_T z (VE:
 * α = 1). h separates into a term in x_T1 (the mixture) and one in x_T2 (two centred
 * Gaussians), each integrated against φ(z) by Simpson's rule on [−10, 10].
 */
function priorMismatch(x: number[]): { mean: number; sd: number } {
  const sT = ve.sigma(1), v = C * C + sT * sT, s2 = ve.priorStd ** 2;
  const h1 = (y: number) =>
    logSumExp(Math.log(0.5) + logNormal(y, M, v), Math.log(0.5) + logNormal(y, -M, v)) -
    logNormal(y, 0, s2);
  const h2 = (y: number) => logNormal(y, 0, v) - logNormal(y, 0, s2);
  const moments = (h: (y: number) => number, xi: number) => {
    const n = 4000, a = -10, step = 20 / n;
    let m1 = 0, m2 = 0;
    for (let i = 0; i <= n; i++) {
      const z = a + i * step, w = (i === 0 || i === n ? 1 : i % 2 ? 4 : 2) * (step / 3);
      const p = Math.exp(-z * z / 2) / Math.sqrt(2 * Math.PI), y = h(xi + sT * z);
      m1 += w * p * y;
      m2 += w * p * y * y;
    }
    return { m: m1, v: m2 - m1 * m1 };
  };
  const a = moments(h1, x[0]), b = moments(h2, x[1]);
  return { mean: a.m + b.m, sd: Math.sqrt(a.v + b.v) };
}

eachBackend(
  "ScoreFlow bound: --prior exact uses the mixture's p_T in the prior term",
  async (c) => {
    const model = new GmmModel({ source: "ve-pair", shape: [2], ...SPEC }, ve);
    const x = tensor(c.backend, X.flat(), [X.length, 2], c.dtype);
    const bound = (prior: "standard" | "exact") =>
      scoreFlowBound(model, x, {
        tMin: T_MIN,
        samples: SAMPLES,
        rng: Rng.fromSeed(5),
        firstIndex: 0,
        prior,
      });
    const exact = await bound("exact"), standard = await bound("standard");
    X.forEach((xi, i) => {
      // with the exact score and p_T the bound is tight (its gap ~1e-5 nats/dim)
      assert.ok(
        Math.abs(exact.nll[i] - nllData(xi)) < 4 * exact.stderr[i] + 1e-3,
        `example ${i}: exact-prior bound ${exact.nll[i]} ± ${exact.stderr[i]} vs ${nllData(xi)}`,
      );
      // the same draws elsewhere: the two differ by the Monte-Carlo mean of log p_T − log π
      const { mean, sd } = priorMismatch(xi);
      assert.ok(mean > 3, `p_T must differ measurably from π (mismatch ${mean})`);
      const moved = standard.nll[i] - exact.nll[i];
      assert.ok(
        Math.abs(moved - mean) < 4 * sd / Math.sqrt(SAMPLES),
        `example ${i}: the prior term moved by ${moved}, expected ${mean} ± ${
          sd / Math.sqrt(SAMPLES)
        }`,
      );
      assert.ok(Math.abs(standard.diffusion[i] - exact.diffusion[i]) < 1e-12);
    });
  },
);

Deno.test("eval-nll --bound --prior exact: the bound sits on the NLL and says which prior it used", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bound-prior-" });
  const file = `${dir}/ve_pair.json`;
  await Deno.writeTextFile(file, JSON.stringify(SPEC));
  const run = async (prior: string) => {
    const r = await runMain([
      "eval-nll",
      "--model",
      `gmm:${file}`,
      "--data",
      `gmm:${file}`,
      "--limit",
      "3",
      "--sde",
      "ve",
      "--prior",
      prior,
      "--bound",
      "--bound-samples",
      String(SAMPLES),
      "--divergence",
      "exact",
      "--per-example",
      "--backend",
      "reference",
      "--json",
      "--quiet",
    ]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  };
  const [exact, standard] = await Promise.all([run("exact"), run("standard")]);
  assert.equal(exact.prior, "exact");
  assert.equal(exact.bound.prior, "exact");
  assert.equal(standard.bound.prior, "standard");
  for (const e of exact.per_example) {
    assert.ok(
      Math.abs(e.bound_nats - e.nll_nats) < 4 * e.bound_stderr + 1e-3,
      `example ${e.index}: bound ${e.bound_nats} ± ${e.bound_stderr} vs NLL ${e.nll_nats}`,
    );
  }
  assert.ok(standard.bound.parts.prior - exact.bound.parts.prior > 3);
});
