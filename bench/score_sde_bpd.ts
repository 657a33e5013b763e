/**
 * Bits/dim of the imported tiny DDPM++ (fixtures/score_sde/) against score_sde's own
 * `likelihood.py` on the same dequantised images: the PF-ODE with exact divergence from
 * t = 1e-5 to 1, at the tolerance given, every image solved with its own step control. The
 * fixture holds the original's values at rtol = atol = 1e-5 (each image alone and both
 * together) and at 1e-7 (each image alone). Minutes per image on a 2-core CPU: D = 192 VJPs per step.
 *
 *   deno run -A bench/score_sde_bpd.ts [--rtol 1e-5] [--backend cpu|reference]
 */

import { tensor } from "../compute/mod.ts";
import { cpuBackend, referenceBackend } from "../compute/select.ts";
import { readTorchFile } from "../io/torch_file.ts";
import type { NcsnppParams } from "../nn/ncsnpp.ts";
import { ncsnppConfigOf, parseScoreSdeConfig, scoreSdeWeights } from "../nn/import/score_sde.ts";
import { NetworkScoreModel } from "../nn/score_network.ts";
import { makeSde } from "../sde/processes.ts";
import { pfOdeLogLikelihood } from "../sde/likelihood.ts";

const args = Deno.args;
const flag = (name: string, fallback: string) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};
const rtol = Number(flag("--rtol", "1e-5"));
const cpu = cpuBackend();
const useCpu = flag("--backend", "cpu") === "cpu" && !("error" in cpu);
const be = useCpu ? cpu as Exclude<typeof cpu, { error: string }> : referenceBackend();
const dtype = useCpu ? "f32" : "f64";

const dir = new URL("../fixtures/score_sde/", import.meta.url).pathname;
const file = `${dir}ddpmpp_tiny.pth`;
const doc = JSON.parse(await Deno.readTextFile(`${dir}ddpmpp_tiny.json`));
const config = ncsnppConfigOf(parseScoreSdeConfig(doc.config, "ddpmpp_tiny.json"));
const weights = scoreSdeWeights(
  readTorchFile(await Deno.readFile(file), file),
  file,
  config,
  "ema",
);
const params: NcsnppParams = {};
for (const [k, v] of weights.params) params[k] = tensor(be, v.data, v.shape, dtype);
const sde = makeSde("vp", { beta0: doc.sde.beta_min, beta1: doc.sde.beta_max });
const model = new NetworkScoreModel(sde, { kind: "ncsnpp", ...config }, "eps", params);
const L = doc.likelihood;
const x = tensor(be, L.scaled_input.values, L.scaled_input.shape, dtype);
const started = performance.now();
const r = await pfOdeLogLikelihood(model.score.bind(model), sde, x, {
  tMin: L.settings.eps,
  tMax: 1,
  rtol,
  atol: rtol,
  divergence: { method: "exact" },
});
const ours = Array.from(r.logp, (l) => -l / L.N / Math.LN2 + L.offset);
console.log(
  `ours (${be.name} ${dtype}, rtol = atol = ${rtol}, ${
    ((performance.now() - started) / 1000).toFixed(0)
  } s): bpd ${ours.map((b) => b.toFixed(6)).join(", ")}; NFE ${Array.from(r.nfePerExample)}`,
);
console.log(
  `original at 1e-5, each image alone: ${
    L.single.map((s: { bpd: number[] }) => s.bpd[0].toFixed(6)).join(", ")
  }; both together: ${L.joint.bpd.map((b: number) => b.toFixed(6)).join(", ")}`,
);
const tight = L.reference_tight_tolerance;
if (tight) {
  const theirs = tight.per_image.map((p: { bpd: number[] }) => p.bpd[0]);
  console.log(
    `original at ${tight.settings.rtol}: ${theirs.map((b: number) => b.toFixed(6)).join(", ")}` +
      ` (ours − original: ${
        theirs.map((b: number, i: number) => (ours[i] - b).toExponential(2)).join(", ")
      } bpd)`,
  );
}
