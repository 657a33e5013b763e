/**
 * The cost of one function evaluation of the PF-ODE likelihood for score_sde's CIFAR-10 DDPM++
 * (`vp/cifar10_ddpmpp_continuous`, about 62 M parameters; random weights: the cost does not
 * depend on them): the network's forward pass plus one input VJP (a Hutchinson divergence), at
 * a few batch sizes, on each backend asked for. Seconds per image for a whole bits/dim solve
 * are this cost per example times the solve's NFE, which the report lets you choose.
 *
 *   deno run -A bench/ncsnpp_eval.ts [--backend cpu|webgpu|all] [--batch 1,8] [--nfe 200]
 */

import { mul, Rng, sum, type Tensor, tensor, valueAndGrad } from "../compute/mod.ts";
import type { Backend } from "../compute/backend.ts";
import { cpuBackend, webgpuBackend } from "../compute/select.ts";
import { initNcsnpp, ncsnppForward } from "../nn/ncsnpp.ts";
import { ncsnppConfigOf, SCORE_SDE_CONFIGS } from "../nn/import/score_sde.ts";
import { measure } from "./measure.ts";

const args = Deno.args;
const flag = (name: string, fallback: string) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};
const which = flag("--backend", "all"), nfe = Number(flag("--nfe", "200"));
const batches = flag("--batch", "1,8").split(",").map(Number);
const config = ncsnppConfigOf(SCORE_SDE_CONFIGS["vp/cifar10_ddpmpp_continuous"]);

const backends: Backend[] = [];
if (which === "all" || which === "cpu") {
  const c = cpuBackend();
  if (!("error" in c)) backends.push(c);
}
if (which === "all" || which === "webgpu") {
  const g = await webgpuBackend();
  if (g) backends.push(g);
}
console.log(
  `| backend | batch | ms per evaluation (forward + VJP) | s per image at ${nfe} NFE | hours for 10,000 images |`,
);
console.log("|---|---|---|---|---|");
for (const be of backends) {
  const params = initNcsnpp(be, Rng.fromSeed(0), config, "f32");
  for (const b of batches) {
    const rng = Rng.fromSeed(1);
    const x = rng.normal(be, [b, 3, 32, 32]), v = rng.normal(be, [b, 3, 32, 32]);
    const t = tensor(be, Array.from({ length: b }, (_, i) => 0.1 + 0.8 * i / b), [b]);
    const evaluate = () => {
      const { grad } = valueAndGrad((xi: Tensor) =>
        sum(mul(ncsnppForward(params, config, xi, t), v))
      )(x);
      return grad;
    };
    const r = await measure(be, "ncsnpp.eval", 0, 2, evaluate);
    const perImage = r.ms_median / b / 1000 * nfe;
    console.log(
      `| ${be.name} | ${b} | ${r.ms_median.toFixed(0)} | ${perImage.toFixed(1)} | ${
        (perImage * 10000 / 3600).toFixed(1)
      } |`,
    );
    for (const z of [x, v, t]) z.dispose();
  }
  for (const p of Object.values(params)) p.dispose();
}
