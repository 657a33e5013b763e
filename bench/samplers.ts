/**
 * The samplers against the shipped mixtures' exact moments at full size (the CI tests use
 * fewer draws): per mixture and sampler, the worst |z| of the D means and D(D+1)/2
 * covariance entries (standard errors from the draws' own fourth moments), the NFE per sample
 * and seconds. Draws go through the `sample` command's batch path (keyed by global index).
 *
 *   deno run -A bench/samplers.ts [--n 20000] [--batch 2000] [--mix mix2d,mix10d]
 *     [--samplers em,pc,ode,heun] [--em-steps 1000] [--pc-steps 1000] [--heun-steps 100]
 *     [--pc-norms batch|example]
 *     [--backend reference|webgpu] [--json]
 */

import { parseArgs } from "node:util";
import { type Backend, type DType, referenceBackend, Rng, webgpuBackend } from "../compute/mod.ts";
import { GmmModel } from "../data/gmm_model.ts";
import { VpSde } from "../sde/vp.ts";
import { sampleBatch, type SamplerSpec } from "../sample/sample_batch.ts";
import { DEFAULT_SNR } from "../sample/samplers/predictor_corrector.ts";
import { moments } from "../tests/data/sample_moments.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    n: { type: "string", default: "20000" },
    batch: { type: "string", default: "2000" },
    mix: { type: "string", default: "mix2d,mix10d" },
    samplers: { type: "string", default: "em,pc,ode,heun" },
    "em-steps": { type: "string", default: "1000" },
    "pc-steps": { type: "string", default: "1000" },
    "heun-steps": { type: "string", default: "100" },
    "pc-norms": { type: "string", default: "batch" },
    backend: { type: "string", default: "reference" },
    json: { type: "boolean", default: false },
  },
});
const n = Number(flags.n), batch = Number(flags.batch);
const backend: Backend | null = flags.backend === "webgpu"
  ? await webgpuBackend()
  : referenceBackend();
if (!backend) throw new Error("no WebGPU adapter");
const dtype: DType = backend.supports("f64") ? "f64" : "f32";
const vp = new VpSde();

const specs: Record<string, SamplerSpec> = {
  em: { kind: "em", steps: Number(flags["em-steps"]) },
  pc: {
    kind: "pc",
    steps: Number(flags["pc-steps"]),
    snr: DEFAULT_SNR,
    correctorSteps: 1,
    norms: flags["pc-norms"] === "example" ? "example" : "batch",
  },
  ode: { kind: "ode", rtol: 1e-5, atol: 1e-5 },
  heun: { kind: "heun", steps: Number(flags["heun-steps"]) },
};

/** Worst |z| over the means and the lower triangle of the covariance. */
function worstZ(x: Float64Array, model: GmmModel) {
  const est = moments(x, n, model.D);
  const mean = model.meanHost(), cov = model.covarianceHost();
  let zMean = 0, zCov = 0;
  for (let i = 0; i < model.D; i++) {
    zMean = Math.max(zMean, Math.abs((est.mean[i] - mean[i]) / est.meanSe[i]));
    for (let j = 0; j <= i; j++) {
      zCov = Math.max(zCov, Math.abs((est.cov[i][j] - cov[i][j]) / est.covSe[i][j]));
    }
  }
  return { zMean, zCov };
}

const rows: Record<string, unknown>[] = [];
if (!flags.json) {
  console.log(`${n} samples per cell, ${backend.name} ${dtype}, VP, t_min = ${vp.tMinSampling}`);
  console.log(
    "| mixture | sampler | steps | NFE per sample | worst |z| mean | worst |z| cov | seconds |",
  );
  console.log("|---|---|---|---|---|---|---|");
}
for (const mix of flags.mix.split(",")) {
  const model = await GmmModel.load(
    new URL(`../fixtures/${mix}.json`, import.meta.url).pathname,
    vp,
  );
  for (const name of flags.samplers.split(",")) {
    const sampler = specs[name];
    if (!sampler) throw new Error(`unknown sampler ${name}`);
    const started = performance.now();
    const x = new Float64Array(n * model.D);
    let nfe = 0;
    for (let start = 0; start < n; start += batch) {
      const nb = Math.min(batch, n - start);
      const o = { sampler, tMin: vp.tMinSampling, rng: Rng.fromSeed(2026), backend, dtype };
      const r = await sampleBatch(model, o, start, nb);
      x.set(r.x, start * model.D);
      nfe += r.nfe.reduce((s, v) => s + v, 0);
    }
    const seconds = (performance.now() - started) / 1000;
    const { zMean, zCov } = worstZ(x, model);
    const steps = "steps" in sampler ? sampler.steps : "adaptive";
    const row = { mixture: mix, sampler: name, steps, nfe: nfe / n, zMean, zCov, seconds };
    rows.push(row);
    if (!flags.json) {
      console.log(
        `| ${mix} | ${name} | ${steps} | ${(nfe / n).toFixed(1)} | ${zMean.toFixed(2)} | ${
          zCov.toFixed(2)
        } | ${seconds.toFixed(1)} |`,
      );
    }
  }
}
if (flags.json) console.log(JSON.stringify({ n, backend: backend.name, dtype, rows }, null, 2));
