/**
 * The ScoreFlow bound on dequantised 8-bit images, on the closed-form image mixture of
 * image_bpd_test.ts: one Gaussian N(0, S² I) on [1, 4, 4] images scaled to [−1, 1] (a = 2/256),
 * so every bin probability is a product of normal CDF differences.
 *
 * - uniform: −log P(k) ≤ E_u[bound on −log p(y)] − D ln a, P(k) = Π_j [Φ(u_j/S) − Φ(l_j/S)] over
 *   the bin [l_j, u_j] = [c_j − a/2, c_j + a/2] (the model's p_0; the bound's decoder models it).
 *   With the exact score both gaps (the bound's ~1e-5 nats/dim, Jensen's over a bin of width
 *   a ≪ S) are far below the Monte-Carlo error: the bound lands on −log P(k).
 * - truncated-normal (i-DODE): −log P(k) ≤ E_q[bound on −log p_{t0}(x) + log q(x | k)], P(k) the
 *   mass of p_{t0} = N(0, v I), v = α0²S² + σ0², on the box α0·bin. On a density this smooth q
 *   (a narrow truncated normal) is far from p_{t0} restricted to the box, so the bound lands on
 *   E_q[−log p_{t0} + log q] of image_bpd_test.ts, about 0.39 nats/dim above −log P(k).
 */

import assert from "node:assert/strict";
import { encode } from "fast-png";
import { eachBackend } from "../_helpers/backends.ts";
import { runMain } from "../_helpers/cli.ts";
import { Rng, tensor } from "../../compute/mod.ts";
import { GmmModel } from "../../data/gmm_model.ts";
import { scoreFlowBound } from "../../eval/bound.ts";
import { likelihoodTMin } from "../../eval/dequantization.ts";
import { EIGHT_BIT_SYMMETRIC } from "../../data/quantization.ts";
import { makeSde } from "../../sde/processes.ts";
import type { Sde } from "../../sde/sde.ts";
import { erf, normalCdf } from "../../sde/special.ts";

const D = 16, S = 0.5, a = EIGHT_BIT_SYMMETRIC.a, SAMPLES = 2000;
const LEVELS = Array.from(
  { length: 6 },
  (_, i) => Array.from({ length: D }, (_, j) => (i * 53 + j * 29 + 7) % 256),
);
const SPEC = { weights: [1], means: [Array(D).fill(0)], stds: [S], shape: [1, 4, 4] };
const centre = (k: number) => a * (k + 0.5) - 1;

/** −log of the mass N(0, v) puts on [scale·(c − a/2), scale·(c + a/2)] in every dimension. */
function binNll(k: number[], scale: number, v: number): number {
  const s = Math.sqrt(v);
  return -k.reduce(
    (acc, kj) =>
      acc +
      Math.log(
        normalCdf(scale * (centre(kj) + a / 2) / s) - normalCdf(scale * (centre(kj) - a / 2) / s),
      ),
    0,
  );
}

/** E_q[−log p_{t0}(x) + log q(x | k)] of truncated-normal dequantisation (image_bpd_test.ts). */
function truncatedNormalObjective(k: number[], sde: Sde, t0: number): number {
  const a0 = sde.alpha(t0), s0 = sde.sigma(t0), v = a0 * a0 * S * S + s0 * s0;
  const tau = a0 * (a / 2) / s0, z = erf(tau / Math.SQRT2);
  const m2 = 1 - (2 * tau * Math.exp(-tau * tau / 2)) / Math.sqrt(2 * Math.PI) / z;
  const logp = -(D / 2) * Math.log(2 * Math.PI * v) -
    k.reduce((acc, kj) => acc + a0 * a0 * centre(kj) ** 2 + s0 * s0 * m2, 0) / (2 * v);
  const logq = -(D / 2) * Math.log(2 * Math.PI * s0 * s0) - D * Math.log(z) - D * m2 / 2;
  return logq - logp;
}

for (
  const [sdeKind, kind] of [["vp", "uniform"], ["vdm", "truncated-normal"]] as const
) {
  eachBackend(
    `ScoreFlow bound on ${kind}-dequantised images (${sdeKind}): ≥ −log P(k), and tight`,
    async (c) => {
      const sde = makeSde(sdeKind), tMin = likelihoodTMin(sde, kind);
      const model = new GmmModel({ source: "image-gauss", ...SPEC }, sde);
      const k = tensor(c.backend, LEVELS.flat(), [LEVELS.length, 1, 4, 4], c.dtype);
      const r = await scoreFlowBound(model, k, {
        tMin,
        samples: SAMPLES,
        rng: Rng.fromSeed(11),
        firstIndex: 0,
        dequantization: { kind, quantization: EIGHT_BIT_SYMMETRIC },
      });
      const a0 = sde.alpha(tMin), v0 = a0 * a0 * S * S + sde.sigma(tMin) ** 2;
      const exact = LEVELS.map((lv) =>
        kind === "uniform" ? binNll(lv, 1, S * S) : binNll(lv, a0, v0)
      );
      // what the bound converges to with the exact score: −log P(k) itself, or the variational
      // objective of the truncated normal
      const target = kind === "uniform"
        ? exact
        : LEVELS.map((lv) => truncatedNormalObjective(lv, sde, tMin));
      let gap = 0, variance = 0;
      LEVELS.forEach((_, i) => {
        assert.ok(
          r.nll[i] > exact[i] - 4 * r.stderr[i],
          `example ${i}: bound ${r.nll[i]} ± ${r.stderr[i]} below −log P(k) = ${exact[i]}`,
        );
        gap += (r.nll[i] - target[i]) / LEVELS.length;
        variance += (r.stderr[i] / LEVELS.length) ** 2;
        const parts = r.prior[i] + r.diffusion[i] + r.offset[i] + r.dequantization[i];
        assert.ok(Math.abs(parts - r.nll[i]) < 1e-9 * Math.abs(r.nll[i]));
      });
      assert.ok(
        Math.abs(gap) < 4 * Math.sqrt(variance),
        `mean bound − closed form ${gap} nats, Monte-Carlo standard error ${Math.sqrt(variance)}`,
      );
      if (kind === "uniform") {
        // log q = −D ln a on every draw: +7 bits/dim in nats
        r.dequantization.forEach((v) => assert.ok(Math.abs(v - -D * Math.log(a)) < 1e-9));
      } else {
        const dequantGap = target.reduce((s, t, i) => s + t - exact[i], 0) / LEVELS.length;
        assert.ok(dequantGap > 0.3 * D, `truncated-normal gap ${dequantGap} nats`);
        assert.ok(r.tDecoder > tMin, "the decoder sits after the start point's own time");
      }
    },
  );
}

/**
 * The bound's expectation in closed form for truncated-normal start points x = α0 c + σ0 ε under
 * the exact score of N(0, S² I), through the forward process continued from x: α_c = α_t/α0,
 * σ_c² = σ_t² − α_c²σ0², integrated in t by Simpson's rule (∫ g²/σ_c² · E h dt) from the
 * decoder time t1, found by bisection where λ_c = ln(α_c²/σ_c²) reaches λ(t0). Every term is a
 * moment of x: E‖x‖² = α0²‖c‖² + Dσ0²m2, m2 = E[ε²] of the truncated normal.
 */
function expectedTruncatedNormalBound(levels: number[], sde: Sde, t0: number, S: number): number {
  const a0 = sde.alpha(t0), s0 = sde.sigma(t0), T = sde.T;
  const tau = a0 * (a / 2) / s0, zTau = erf(tau / Math.SQRT2);
  const m2 = 1 - (2 * tau * Math.exp(-tau * tau / 2)) / Math.sqrt(2 * Math.PI) / zTau;
  const x2 = levels.reduce((acc, l) => acc + a0 * a0 * centre(l) ** 2, 0) + D * s0 * s0 * m2;
  const cond = (t: number) => {
    const ac = sde.alpha(t) / a0, sc2 = sde.sigma(t) ** 2 - ac * ac * s0 * s0;
    return { ac, sc2, v: sde.alpha(t) ** 2 * S * S + sde.sigma(t) ** 2 };
  };
  let lo = t0, hi = T;
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2, c = cond(mid);
    if (Math.log(c.ac * c.ac / c.sc2) > sde.logSnr(t0)) lo = mid;
    else hi = mid;
  }
  const t1 = (lo + hi) / 2;
  // E[g²/σ_c² (‖σ_c s + z‖² − ‖z‖²)] with s = −x_t/v, x_t = α_c x + σ_c z
  const integrand = (t: number) => {
    const { ac, sc2, v } = cond(t);
    const h = sc2 * ac * ac * x2 / (v * v) + D * ((1 - sc2 / v) ** 2 - 1);
    return 0.5 * sde.diffusion2(t) / sc2 * h;
  };
  const n = 20000, step = (T - t1) / n;
  let integral = integrand(t1) + integrand(T);
  for (let i = 1; i < n; i++) integral += (i % 2 ? 4 : 2) * integrand(t1 + i * step);
  integral *= step / 3;
  const s2 = sde.priorStd ** 2, end = cond(T), dec = cond(t1);
  const prior = (D / 2) * Math.log(2 * Math.PI * s2) + (end.ac ** 2 * x2 + D * end.sc2) / (2 * s2);
  const divergence = -D * Math.log(sde.alpha(T) / sde.alpha(t1));
  const quad = 0.5 * (D * (1 - dec.sc2 / dec.v) ** 2 + dec.sc2 * dec.ac ** 2 * x2 / dec.v ** 2);
  const offset = quad - D * Math.log(dec.ac) - D / 2;
  const logq = -(D / 2) * Math.log(2 * Math.PI * s0 * s0) - D * Math.log(zTau) - D * m2 / 2;
  return prior + integral + divergence + offset + logq;
}

// A sharp model, S = 0.003 ≈ 2σ0, on the levels next to the middle bin: here the start point's
// own noise σ0 is a large part of p_{t0}'s scale, so continuing the process from x (rather than
// treating x as clean data) moves the bound by ~10 nats per image.
eachBackend(
  "truncated-normal bound on a sharp model matches its closed-form expectation",
  async (c) => {
    const sharp = 0.003, n = 8;
    const levels = Array.from(
      { length: n },
      (_, i) => Array.from({ length: D }, (_, j) => 126 + ((i * 5 + j * 3) % 4)),
    );
    const sde = makeSde("vdm"), tMin = likelihoodTMin(sde, "truncated-normal");
    const model = new GmmModel({ source: "sharp", ...SPEC, stds: [sharp] }, sde);
    const k = tensor(c.backend, levels.flat(), [n, 1, 4, 4], c.dtype);
    const r = await scoreFlowBound(model, k, {
      tMin,
      samples: 4000,
      rng: Rng.fromSeed(12),
      firstIndex: 0,
      dequantization: { kind: "truncated-normal", quantization: EIGHT_BIT_SYMMETRIC },
    });
    let gap = 0, variance = 0;
    levels.forEach((lv, i) => {
      gap += (r.nll[i] - expectedTruncatedNormalBound(lv, sde, tMin, sharp)) / n;
      variance += (r.stderr[i] / n) ** 2;
    });
    assert.ok(
      Math.abs(gap) < 4 * Math.sqrt(variance),
      `mean bound − closed form ${gap} ± ${Math.sqrt(variance)} nats`,
    );
  },
);

Deno.test("eval-nll --bound on images reports the dequantisation and its bits/dim offset", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bound-images-" });
  for (let i = 0; i < 4; i++) {
    await Deno.writeFile(
      `${dir}/img${i}.png`,
      encode({ width: 4, height: 4, data: Uint8Array.from(LEVELS[i]), channels: 1, depth: 8 }),
    );
  }
  await Deno.writeTextFile(`${dir}/gauss.json`, JSON.stringify(SPEC));
  const run = async (sde: string, dequant: string) => {
    const r = await runMain([
      "eval-nll",
      "--model",
      `gmm:${dir}/gauss.json`,
      "--data",
      `images:${dir}`,
      "--split",
      "train",
      "--sde",
      sde,
      "--dequant",
      dequant,
      "--bound",
      "--bound-samples",
      "500",
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
  const [uniform, truncated] = await Promise.all([
    run("vp", "uniform"),
    run("vdm", "truncated-normal"),
  ]);
  assert.equal(uniform.bound.dequantization, "uniform");
  assert.ok(Math.abs(uniform.bound.bpd_offset - 7) < 1e-12, "−log2(2/256) = 7");
  assert.ok(Math.abs(uniform.bound.parts.dequantization - -D * Math.log(a)) < 1e-9);
  assert.ok(
    Math.abs(uniform.bound.bpd - uniform.bound.nll_nats / (D * Math.LN2)) < 1e-12,
    "the bound's bits/dim include the offset, as the NLL's do",
  );
  assert.equal(truncated.bound.dequantization, "truncated-normal");
  assert.equal(truncated.bound.bpd_offset, 0);
  assert.ok(truncated.bound.t_decoder > truncated.t_min);
  for (const doc of [uniform, truncated]) {
    assert.equal(doc.per_example.length, doc.n);
    for (const e of doc.per_example) {
      assert.ok(Number.isFinite(e.bound_nats) && e.bound_stderr > 0);
    }
  }
});
