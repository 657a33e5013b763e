/**
 * eval-nll on the shipped mixtures, against their closed forms: per mixture and backend, the
 * exact mean log p_{t_min}, the ODE estimate with exact divergence (mixture's own p_T), the
 * Hutchinson estimate (one Rademacher probe) ± its standard error, mean NFE and seconds.
 *
 *   deno run -A bench/eval_mixtures.ts [--n 200] [--backend all|webgpu|reference]
 */

import { parseArgs } from "node:util";
import { type Backend, referenceBackend, Rng, sizeOf, webgpuBackend } from "../compute/mod.ts";
import { GmmModel } from "../data/gmm_model.ts";
import { VpSde } from "../sde/vp.ts";
import { evaluateNll, type NllOptions } from "../eval/nll.ts";
import { mean, meanStderr } from "../io/statistics.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: { n: { type: "string", default: "200" }, backend: { type: "string", default: "all" } },
});
const n = Number(flags.n);
const vp = new VpSde();
const tMin = vp.tMinLikelihood;
const backends: Backend[] = [];
if (flags.backend !== "webgpu") backends.push(referenceBackend());
if (flags.backend !== "reference") {
  const gpu = await webgpuBackend();
  if (gpu) backends.push(gpu);
}

console.log(
  "| mixture | D | backend | exact mean log p | ODE, exact divergence | Hutchinson, 1 probe (Δ from exact ± s.e.) | mean NFE | seconds (exact) |",
);
console.log("|---|---|---|---|---|---|---|---|");
for (const file of ["mix2d.json", "mix10d.json"]) {
  const model = await GmmModel.load(new URL(`../fixtures/${file}`, import.meta.url).pathname, vp);
  const D = sizeOf(model.shape);
  const x = model.sample(Rng.fromSeed(7), referenceBackend(), n, "f64");
  const values = Float64Array.from(await x.read());
  x.dispose();
  const exact = Array.from(
    { length: n },
    (_, i) => model.logpHost([...values.subarray(i * D, (i + 1) * D)], tMin),
  );
  for (const backend of backends) {
    const dtype = backend.supports("f64") ? "f64" : "f32";
    const base: NllOptions = {
      backend,
      dtype,
      tMin,
      rtol: 1e-5,
      atol: 1e-5,
      divergence: "exact",
      probe: "rademacher",
      probes: 1,
      dequantization: "none",
      dequantSamples: 1,
      prior: "exact",
      batch: 200,
      rng: Rng.fromSeed(1),
      firstIndex: 0,
    };
    const t0 = performance.now();
    const ode = await evaluateNll(model, { values, n, quantization: null }, base);
    const seconds = (performance.now() - t0) / 1000;
    const hutch = await evaluateNll(model, { values, n, quantization: null }, {
      ...base,
      divergence: "hutchinson",
    });
    const hm = mean(hutch.map((e) => -e.nll));
    // the probe noise: standard error of the per-example difference from the exact divergence
    const { mean: dm, stderr: dse } = meanStderr(hutch.map((e, i) => ode[i].nll - e.nll));
    const odeMean = ode.reduce((s, e) => s - e.nll, 0) / n;
    const exactMean = exact.reduce((a, b) => a + b, 0) / n;
    const nfe = ode.reduce((s, e) => s + e.nfe, 0) / n;
    console.log(
      `| ${file} | ${D} | ${backend.name} ${dtype} | ${exactMean.toFixed(5)} | ${
        odeMean.toFixed(5)
      } | ` +
        `${hm.toFixed(4)} (Δ ${dm.toFixed(4)} ± ${dse.toFixed(4)}) | ${nfe.toFixed(1)} | ${
          seconds.toFixed(1)
        } |`,
    );
  }
}
