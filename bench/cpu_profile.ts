/**
 * Where a cpu-backend step spends its time: every Backend method of the cpu backend, and the
 * sgemm calls inside them, timed over a few unet28 training steps (batch 64) or MLP steps
 * (batch 1024). Prints one row per method: milliseconds per step, share of the step, calls.
 *
 *   deno run -A bench/cpu_profile.ts [--case unet28|mlp] [--steps N]
 */

import { mean, Rng, square, sub, tensor, tidy, valueAndGrad } from "../compute/mod.ts";
import { cpuBackend } from "../compute/select.ts";
import { initNetwork, type NetworkConfig, networkForward } from "../nn/network.ts";
import { ADAM_DEFAULT, adamStep, initAdam } from "../compute/optim/adam.ts";
import { PRESETS } from "../train/presets.ts";
import { UNET28_BENCH } from "./models.ts";

const args = Deno.args;
const flag = (name: string, fallback: string) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};
const which = flag("--case", "unet28"), steps = Number(flag("--steps", "3"));
const cpu = cpuBackend();
if ("error" in cpu) {
  console.error(`cpu backend unavailable: ${cpu.error}`);
  Deno.exit(1);
}

const totals = new Map<string, { ms: number; calls: number }>();
let profiling = false;
/** With --detail, unary, binary and reduce rows are split by op and shape. */
const detail = args.includes("--detail");
function labelOf(name: string, a: unknown[]): string {
  if (!detail) return name;
  if (name === "unary") return `unary ${a[0]} [${(a[1] as { length: number }).length}]`;
  if (name === "binary") {
    return `binary ${a[0]} [${a[5]}] strides ${
      JSON.stringify([
        (a[2] as { strides: number[] }).strides,
        (a[4] as { strides: number[] }).strides,
      ])
    }`;
  }
  if (name === "reduce") return `reduce ${a[0]} [${a[2]}] axes [${a[3]}]`;
  return name;
}
function timed<A extends unknown[], R>(name: string, fn: (...a: A) => R): (...a: A) => R {
  return (...a: A) => {
    if (!profiling) return fn(...a);
    const t0 = performance.now();
    const r = fn(...a);
    const label = labelOf(name, a);
    const e = totals.get(label) ?? { ms: 0, calls: 0 };
    e.ms += performance.now() - t0;
    e.calls++;
    totals.set(label, e);
    return r;
  };
}
const proto = Object.getPrototypeOf(cpu);
for (const name of Object.getOwnPropertyNames(proto)) {
  const f = (cpu as unknown as Record<string, unknown>)[name];
  if (name === "constructor" || typeof f !== "function") continue;
  (cpu as unknown as Record<string, unknown>)[name] = timed(name, f.bind(cpu));
}
const blas = cpu.blas as { sgemm: (...a: unknown[]) => void };
blas.sgemm = timed("  (sgemm inside the above)", blas.sgemm.bind(blas));

const rng = Rng.fromSeed(1);
const config = which === "mlp" ? { ...PRESETS.toy.model, dim: 2 } as NetworkConfig : UNET28_BENCH;
const B = which === "mlp" ? 1024 : 64, shape = which === "mlp" ? [B, 2] : [B, 1, 28, 28];
const params = initNetwork(cpu, rng.derive("net"), config);
const x = rng.normal(cpu, shape), y = rng.normal(cpu, shape);
const t = tensor(cpu, rng.derive("t").uniformHost(B), [B]);
const adam = initAdam(params);
const step = () =>
  tidy(() => {
    const { value, grad } = valueAndGrad((p: typeof params) =>
      mean(square(sub(networkForward(p, config, x, t), y)))
    )(params);
    adamStep(params, grad, adam, { ...ADAM_DEFAULT, lr: 1e-3 });
    return value;
  });
await step().read(); // warm-up
profiling = true;
const t0 = performance.now();
for (let i = 0; i < steps; i++) await step().read();
const total = (performance.now() - t0) / steps;
profiling = false;

console.log(`${which} training step on cpu (${cpu.blas.core}): ${total.toFixed(1)} ms per step`);
console.log("| method | ms/step | share | calls/step |\n|---|---|---|---|");
const rows = [...totals].sort((a, b) => b[1].ms - a[1].ms);
let accounted = 0;
for (const [name, e] of rows) {
  if (!name.startsWith(" ")) accounted += e.ms / steps;
  console.log(
    `| ${name} | ${(e.ms / steps).toFixed(1)} | ${(100 * e.ms / steps / total).toFixed(1)}% | ${
      e.calls / steps
    } |`,
  );
}
console.log(
  `| (outside the backend: graph, autodiff, allocation) | ${(total - accounted).toFixed(1)} | ${
    (100 * (total - accounted) / total).toFixed(1)
  }% | |`,
);
