/**
 * bits/dim plumbing on images: an analytic mixture with "shape": [1, 4, 4] evaluated on a PNG
 * folder gives the closed-form bits/dim, the dequantisation offset (+7 for [−1, 1]) included.
 *
 * The model is one isotropic Gaussian N(0, s² I), so p_{t0} = N(0, v I), v = α0² s² + σ0².
 * Uniform dequantisation, y = a(k + u) − 1, a = 2/256:
 *   E_u[−log p(y)] = (D/2) ln 2πv + Σ_j [c_j² + a²/12] / 2v,  c_j = a(k_j + ½) − 1,
 *   bpd = (E[−log p] − D ln a) / (D ln 2), i.e. −log p/(D ln 2) + 7.
 * Truncated normal (i-DODE), x = α0 c + σ0 ε, ε ∈ [−τ, τ]:
 *   E[log p(x) − log q] = −(D/2) ln 2πv − Σ_j (α0² c_j² + σ0² m2)/2v + (D/2) ln 2πσ0² + D ln Z_τ + D m2/2,
 *   m2 = E[ε²] = 1 − 2τφ(τ)/Z_τ.
 */

import assert from "node:assert/strict";
import { encode } from "fast-png";
import { runMain } from "../_helpers/cli.ts";
import { meanStderr } from "../../io/statistics.ts";
import { VpSde } from "../../sde/vp.ts";
import { erf } from "../../sde/special.ts";

const D = 16, S = 0.5, N_IMAGES = 10, a = 2 / 256;
const dir = await Deno.makeTempDir({ prefix: "bpd-images-" });
const pixels: Uint8Array[] = [];
for (let i = 0; i < N_IMAGES; i++) {
  const p = Uint8Array.from({ length: D }, (_, j) => (i * 53 + j * 29 + 7) % 256);
  pixels.push(p);
  await Deno.writeFile(
    `${dir}/img${i}.png`,
    encode({ width: 4, height: 4, data: p, channels: 1, depth: 8 }),
  );
}
const model = `${dir}/gauss.json`;
await Deno.writeTextFile(
  model,
  JSON.stringify({ weights: [1], means: [Array(D).fill(0)], stds: [S], shape: [1, 4, 4] }),
);

const vp = new VpSde();
const tMin = vp.tMinLikelihood, a0 = vp.alpha(tMin), s0 = vp.sigma(tMin);
const v = a0 * a0 * S * S + s0 * s0;
const centres = (k: Uint8Array) => [...k].map((x) => a * (x + 0.5) - 1);

async function evalBpd(dequant: string) {
  const r = await runMain([
    "eval-nll",
    "--model",
    `gmm:${model}`,
    "--data",
    `images:${dir}`,
    "--split",
    "train",
    "--dequant",
    dequant,
    "--divergence",
    "exact",
    "--prior",
    "exact",
    "--rtol",
    "1e-7",
    "--atol",
    "1e-7",
    "--backend",
    "reference",
    "--per-example",
    "--json",
    "--quiet",
  ]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

Deno.test("image bpd: uniform dequantisation gives the closed form with its +7 offset", async () => {
  const doc = await evalBpd("uniform");
  const train = pixels.slice(0, doc.n);
  assert.equal(doc.n, 9, "images:DIR keeps its last tenth as the test split");
  assert.equal(doc.dequantization, "uniform");
  // closed-form expectation over u, and the exact standard deviation of one draw per example
  let expected = 0, variance = 0;
  for (const k of train) {
    const c = centres(k);
    expected += (D / 2) * Math.log(2 * Math.PI * v) +
      c.reduce((s, cj) => s + cj * cj + (a * a) / 12, 0) / (2 * v);
    // (c + w)², w ~ U[−a/2, a/2]: Var = 4c²·a²/12 + (a⁴/80 − a⁴/144)
    variance += c.reduce((s, cj) => s + 4 * cj * cj * a * a / 12 + a ** 4 / 80 - a ** 4 / 144, 0) /
      (4 * v * v);
  }
  const n = train.length;
  const bpd = (expected / n - D * Math.log(a)) / (D * Math.LN2);
  const se = Math.sqrt(variance) / n / (D * Math.LN2);
  assert.ok(
    Math.abs(doc.bpd - bpd) < 4 * se + 1e-5,
    `bpd ${doc.bpd} vs closed form ${bpd} ± ${se}`,
  );
  // the offset: −log2 a = 7 for 8-bit data scaled to [−1, 1]
  const perExampleNats = doc.per_example.map((e: { nll_nats: number }) => e.nll_nats);
  const meanNats = perExampleNats.reduce((s: number, x: number) => s + x, 0) / n;
  assert.ok(Math.abs(doc.bpd - (meanNats / (D * Math.LN2))) < 1e-12);
  assert.ok(Math.abs(bpd - ((expected / n) / (D * Math.LN2) + 7)) < 1e-12);
});

Deno.test("image bpd: truncated-normal dequantisation matches its closed form", async () => {
  const doc = await evalBpd("truncated-normal");
  assert.equal(doc.dequantization, "truncated-normal");
  const tau = a0 * (a / 2) / s0, z = erf(tau / Math.SQRT2);
  const m2 = 1 - (2 * tau * Math.exp(-tau * tau / 2)) / Math.sqrt(2 * Math.PI) / z;
  const train = pixels.slice(0, doc.n);
  // per-example residuals against the closed form; their spread (‖ε‖²/2 mostly) sets the band
  const residuals = train.map((k, i) => {
    const c = centres(k);
    const logp = -(D / 2) * Math.log(2 * Math.PI * v) -
      c.reduce((s, cj) => s + a0 * a0 * cj * cj + s0 * s0 * m2, 0) / (2 * v);
    const logq = -(D / 2) * Math.log(2 * Math.PI * s0 * s0) - D * Math.log(z) - D * m2 / 2;
    return doc.per_example[i].nll_nats + (logp - logq);
  });
  const { mean, stderr: se } = meanStderr(residuals);
  assert.ok(Math.abs(mean) < 4 * se, `mean residual ${mean} nats, standard error ${se}`);
});
