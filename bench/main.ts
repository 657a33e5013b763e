/**
 * `deno task bench`: performance figures, never asserted in tests (machines here are noisy;
 * compare ratios from one run): the foundation spike and the kernel benchmarks, on every
 * available backend.
 *
 *   deno task bench [--json] [--only spike|kernels] [--steps N] [--batch B]
 *                   [--backend all|webgpu|reference]
 */

import { parseArgs } from "node:util";
import { type Backend, referenceBackend, webgpuBackend } from "../compute/mod.ts";
import { runSpike } from "./spike.ts";
import { type KernelResult, runKernels } from "./kernels.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    json: { type: "boolean", default: false },
    steps: { type: "string", default: "200" },
    batch: { type: "string", default: "256" },
    backend: { type: "string", default: "all" },
    only: { type: "string" },
  },
});

const steps = Number(values.steps), batch = Number(values.batch);
if (!Number.isInteger(steps) || steps < 10) {
  throw new Error(`--steps must be an integer ≥ 10, got ${values.steps}`);
}
if (!Number.isInteger(batch) || batch < 1) {
  throw new Error(`--batch must be a positive integer, got ${values.batch}`);
}

const backends: Backend[] = [];
if (values.backend !== "webgpu") backends.push(referenceBackend());
if (values.backend !== "reference") {
  const gpu = await webgpuBackend();
  if (gpu) backends.push(gpu);
  else console.error("bench: no WebGPU adapter; reference backend only");
}

const gpu = await webgpuBackend();
const machine = {
  adapter: gpu ? `${gpu.adapterName}${gpu.software ? " (software)" : ""}` : "none",
  cpus: navigator.hardwareConcurrency,
  deno: Deno.version.deno,
};
const log = (s: string) => console.error(s);
const spike = values.only === "kernels" ? null : await runSpike(backends, steps, batch, log);
const kernels = values.only === "spike" ? null : await runKernels(backends, log);

/** WebGPU time over reference time, case by case (the figure to compare across machines). */
function ratios(results: KernelResult[]) {
  return [...new Set(results.map((r) => r.name))].map((name) => {
    const gpu = results.find((r) => r.name === name && r.backend === "webgpu");
    const ref = results.find((r) => r.name === name && r.backend === "reference");
    return { name, webgpu_over_reference_speed: gpu && ref ? ref.ms_median / gpu.ms_median : null };
  });
}

if (values.json) {
  console.log(
    JSON.stringify(
      { machine, spike, results: kernels, ratios: kernels && ratios(kernels) },
      null,
      2,
    ),
  );
} else {
  console.log(`machine: ${machine.adapter}, ${machine.cpus} CPUs, Deno ${machine.deno}`);
  if (kernels) {
    console.log("kernels:");
    console.log(
      "name                              backend     ms median   (min–max)          GFLOP/s",
    );
    for (const r of kernels) {
      console.log(
        `${r.name.padEnd(33)} ${r.backend.padEnd(11)} ${r.ms_median.toFixed(1).padStart(9)}   (${
          r.ms_min.toFixed(1)
        }–${r.ms_max.toFixed(1)})`.padEnd(76) + r.gflops.toFixed(2),
      );
    }
    for (const q of ratios(kernels)) {
      if (q.webgpu_over_reference_speed) {
        console.log(
          `  ${q.name}: webgpu ${q.webgpu_over_reference_speed.toFixed(1)}× the reference`,
        );
      }
    }
  }
}
if (!values.json && spike) {
  console.log("\ntraining (ε-MLP 3×128 SiLU, 2-D mixture):");
  console.log(
    "backend     high-order  batch  ms/step  dispatches/step  pipelines  live@10      live@end     loss first→last",
  );
  for (const t of spike.training) {
    console.log(
      `${t.backend.padEnd(11)} ${String(t.highOrder).padEnd(11)} ${String(t.batch).padEnd(6)} ${
        t.msPerStep.toFixed(1).padStart(7)
      }  ${t.dispatchesPerStep.toFixed(0).padStart(15)}  ${
        String(t.pipelinesCompiled).padStart(9)
      }  ${String(t.liveBytesAtStep10).padEnd(11)}  ${String(t.liveBytesAtEnd).padEnd(11)}  ${
        t.firstLoss.toFixed(3)
      }→${t.lastLoss.toFixed(3)}`,
    );
  }
  console.log(
    "\nPF-ODE log-likelihood (exact mixture score, exact divergence, DP5 rtol=atol=1e-5):",
  );
  for (const l of spike.likelihood) {
    console.log(
      `${l.backend.padEnd(11)} ${l.dtype}  ${l.points} points  ${
        l.ms.toFixed(0)
      } ms  NFE ${l.nfe}  steps ${l.steps}  ` +
        `mean |logp − closed form| ${l.meanAbsErrorVsClosedForm.toExponential(2)} nats`,
    );
  }
  for (const e of spike.float32Error) {
    console.log(
      `float32 vs float64 (${e.backend}): max |Δ log p| = ${
        e.maxAbsLogpErrorVsFloat64.toExponential(2)
      } nats`,
    );
  }
}
