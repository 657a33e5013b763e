/**
 * What guidance and hd-mode report beyond their samples: the realised shift of mean log p_0
 * beside the predicted one (density guidance), and `--detail-report` as in `sample`.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { runMain } from "../_helpers/cli.ts";
import { tol } from "../_helpers/tolerances.ts";
import { pearson, spearman } from "../../sample/detail_report.ts";

const dir = await Deno.makeTempDir({ prefix: "guidance_reports_" });
const ref = ["--backend", "reference", "--quiet", "--divergence", "exact"];
const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;

// An isotropic Gaussian in 8-D: density guidance's shift is exact there (up to DP5 error).
const D = 8;
const GAUSS = join(dir, "gauss8.json");
await Deno.writeTextFile(
  GAUSS,
  JSON.stringify({ weights: [1], means: [new Array(D).fill(0.2)], stds: [0.6] }),
);
// Images 1×4×4 of two spreads, for the detail report.
const IMG = join(dir, "img.json");
await Deno.writeTextFile(
  IMG,
  JSON.stringify({
    weights: [0.5, 0.5],
    means: [new Array(16).fill(-0.5), new Array(16).fill(0.3)],
    stds: [0.05, 0.4],
    shape: [1, 4, 4],
  }),
);

async function json(args: string[]) {
  const r = await runMain(args);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

Deno.test("guidance --q reports the realised shift against the PF-ODE from the same latents", async () => {
  const common = ["guidance", "--model", `gmm:${GAUSS}`, "--n", "4", "--prior", "exact", ...ref];
  const [guided, text, pf] = await Promise.all([
    json([...common, "--q", "0.3", "--out", join(dir, "g.json"), "--json"]),
    runMain([...common, "--q", "0.3", "--out", join(dir, "t.json")]),
    // prior guidance at q = 0.5 is the PF-ODE from the median-norm latents density guidance uses
    json([...common, "--prior-q", "0.5", "--out", join(dir, "pf.json"), "--json"]),
  ]);
  const realised = mean(guided.logp_nats) - mean(pf.logp_nats);
  const diffs = guided.logp_nats.map((v: number, i: number) => v - pf.logp_nats[i]);
  const se = Math.sqrt(
    diffs.reduce((a: number, d: number) => a + (d - realised) ** 2, 0) / (diffs.length - 1) /
      diffs.length,
  );
  const close = (a: number, b: number) =>
    Math.abs(a - b) <= tol.f64.atol + tol.f64.rtol * Math.abs(b);
  assert.ok(
    close(guided.realised_shift_nats, realised),
    `${guided.realised_shift_nats} vs ${realised}`,
  );
  assert.ok(close(guided.realised_shift_stderr, se), `${guided.realised_shift_stderr} vs ${se}`);
  assert.ok(close(guided.pf_ode_logp_mean, mean(pf.logp_nats)));
  const predicted = guided.predicted_shift_nats;
  assert.ok(
    Math.abs(realised - predicted) < tol.guidanceShift.rtol * Math.abs(predicted),
    `realised ${realised} vs predicted ${predicted}: ${tol.guidanceShift.why}`,
  );
  assert.equal(text.code, 0, text.stderr);
  assert.match(
    text.stdout,
    new RegExp(
      `predicted ${predicted.toFixed(4)} nats, realised ${realised.toFixed(4)} ± ${
        se.toFixed(4)
      } nats`,
    ),
  );
});

Deno.test("hd-mode and guidance --detail-report write PNG sizes beside −log p_0, as sample does", async () => {
  for (const mode of [["hd-mode", "--threshold", "0.5"], ["guidance", "--q", "0.3"]]) {
    const out = join(dir, `${mode[0]}.png`);
    const doc = await json([
      ...mode,
      "--model",
      `gmm:${IMG}`,
      "--n",
      "5",
      "--detail-report",
      "--out",
      out,
      "--json",
      ...ref,
    ]);
    const file = join(dir, `${mode[0]}.detail.csv`);
    assert.equal(doc.detail_report.file, file);
    assert.equal(doc.detail_report.n, 5);
    const [header, ...rows] = (await Deno.readTextFile(file)).trim().split("\n");
    assert.equal(header, "index,png_bytes,neg_logp_nats,bits_per_dim");
    assert.equal(rows.length, 5);
    const sizes: number[] = [], nlls: number[] = [];
    rows.forEach((row, i) => {
      const [index, bytes, nll] = row.split(",").map(Number);
      assert.equal(index, i);
      assert.ok(Number.isInteger(bytes) && bytes > 0);
      assert.equal(nll, -doc.logp_nats[i]);
      sizes.push(bytes);
      nlls.push(nll);
    });
    assert.ok(new Set(sizes).size > 1, `${mode[0]}: the images should differ in PNG size`);
    assert.equal(doc.detail_report.pearson, pearson(sizes, nlls), mode[0]);
    assert.equal(doc.detail_report.spearman, spearman(sizes, nlls), mode[0]);
  }
});

Deno.test("--detail-report in hd-mode and guidance: points or a single sample exit 2", async () => {
  const cases: [string[], RegExp][] = [
    [["hd-mode", "--model", `gmm:${GAUSS}`, "--out", join(dir, "p.npy")], /images \[C, H, W\]/],
    [
      ["guidance", "--q", "0.3", "--model", `gmm:${IMG}`, "--n", "1", "--out", join(dir, "o.png")],
      /≥ 2 samples/,
    ],
  ];
  for (const [args, message] of cases) {
    const r = await runMain([...args, "--detail-report", ...ref]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, message);
  }
});
