/**
 * Bits/dim of imported score_sde networks against score_sde's own `likelihood.py` on the same
 * dequantised images (fixtures/score_sde/*_probe.json, made by
 * fixtures/gen/score_sde_bpd_probe.py): the PF-ODE from t = 1e-5 to 1 with the Hutchinson
 * divergence and the very probe the original drew, so both sides compute the same number, one
 * VJP per step. At rtol = atol = 1e-7 the original is converged to float32 rounding and ours
 * must agree within 1e-3 bpd; at score_sde's default 1e-5 both are further from that value, and
 * ours must be further than at 1e-7 (the error shrinks with the tolerance).
 *
 * Two networks: the VP DDPM++ (data on [−1, 1], as here) and the VE NCSN++ on [0, 1] data,
 * imported through the change of variables x = 2y − 1 (σ doubled, score halved); its prior is
 * N(0, σ_max²) around the black image y = 0 in the original and around x = 0 here, so the VE
 * case is solved with the original's prior too, which must agree more tightly still.
 * The exact-divergence comparison (minutes per image) is bench/score_sde_bpd.ts; WebGPU runs
 * the same solve there (minutes per image on lavapipe), and its forward pass is checked against
 * the original in tests/nn/ncsnpp_test.ts.
 */

import assert from "node:assert/strict";
import {
  add,
  type Backend,
  type DType,
  mul,
  square,
  sumPerExample,
  type Tensor,
  tensor,
} from "../../compute/mod.ts";
import { referenceBackend } from "../../compute/select.ts";
import { readTorchFile } from "../../io/torch_file.ts";
import type { NcsnppParams } from "../../nn/ncsnpp.ts";
import {
  ncsnppConfigOf,
  parseScoreSdeConfig,
  scoreSdeProcess,
  scoreSdeWeights,
} from "../../nn/import/score_sde.ts";
import { NetworkScoreModel } from "../../nn/score_network.ts";
import { makeSde } from "../../sde/processes.ts";
import { pfOdeLogLikelihood } from "../../sde/likelihood.ts";
import { cpuOrSkip } from "../_helpers/backends.ts";
import { tol } from "../_helpers/tolerances.ts";

const DIR = new URL("../../fixtures/score_sde/", import.meta.url).pathname;

interface ProbeRun {
  rtol: number;
  image: number;
  bpd: number;
  probe: { values: number[] };
}

/** One fixture: its network as imported here, and the original's probe runs. */
async function fixture(name: string) {
  const doc = JSON.parse(await Deno.readTextFile(`${DIR}${name}.json`));
  const probes = JSON.parse(await Deno.readTextFile(`${DIR}${name}_probe.json`));
  const settings = parseScoreSdeConfig(doc.config, `${name}.json`);
  const config = ncsnppConfigOf(settings);
  const file = `${DIR}${name}.pth`;
  const weights = scoreSdeWeights(
    readTorchFile(await Deno.readFile(file), file),
    file,
    config,
    "ema",
  );
  const process = scoreSdeProcess(settings);
  const sde = makeSde(process.kind, process.params);
  const runs: ProbeRun[] = probes.runs;
  return {
    settings,
    probes,
    sde,
    original: (rtol: number, image: number) =>
      runs.find((r) => r.rtol === rtol && r.image === image)!,
    /**
     * Our bits/dim of image `image` with the original's probe at rtol = atol = `rtol`; with
     * `originalPrior`, the VE prior of the original's [0, 1] data space (x-space N(−1, 4σ_max²)).
     */
    async bpd(be: Backend, dtype: DType, image: number, rtol: number, originalPrior = false) {
      const params: NcsnppParams = {};
      for (const [k, v] of weights.params) params[k] = tensor(be, v.data, v.shape, dtype);
      const param = process.kind === "ve" ? "score" : "eps";
      const model = new NetworkScoreModel(sde, { kind: "ncsnpp", ...config }, param, params);
      const L = doc.likelihood, D: number = L.N, shape = [1, ...L.scaled_input.shape.slice(1)];
      // the original's model input; [0, 1] data (centered = False) are x = 2y − 1 here
      const y = Float64Array.from(L.scaled_input.values.slice(image * D, (image + 1) * D));
      const centered = settings.data.centered;
      const x = tensor(be, centered ? y : y.map((v) => 2 * v - 1), shape, dtype);
      // ±1 probes: the same probe in either space
      const probe = tensor(be, this.original(rtol, image).probe.values, shape, dtype);
      const sigmaMax = process.params.sigmaMax;
      const terminalLogp = originalPrior
        ? (xT: Tensor) =>
          add(
            mul(sumPerExample(square(add(xT, 1))), -0.5 / sigmaMax ** 2),
            -0.5 * D * Math.log(2 * Math.PI * sigmaMax ** 2),
          )
        : undefined;
      const r = await pfOdeLogLikelihood(model.score.bind(model), sde, x, {
        tMin: probes.settings.eps,
        tMax: probes.settings.T,
        rtol,
        atol: rtol,
        divergence: { method: "hutchinson", probe },
        terminalLogp,
      });
      for (const t of [...Object.values(params), x, probe]) t.dispose();
      // bits/dim of 8-bit data on [−1, 1]: −log p/(D ln 2) + log2(128), the original's on
      // [0, 1] with its +8 being the same number (log p_x = log p_y − D ln 2)
      return -r.logp[0] / D / Math.LN2 + 7;
    },
  };
}

const ddpmpp = await fixture("ddpmpp_tiny");
const ncsnppVe = await fixture("ncsnpp_ve_tiny");

Deno.test("score_sde bits/dim, VP DDPM++: ours match likelihood.py within 1e-3 on both images [cpu]", async () => {
  const be = cpuOrSkip();
  if (!be) return console.warn("skipped: no BLAS library");
  for (const image of [0, 1]) {
    const converged = ddpmpp.original(1e-7, image).bpd;
    const tight = await ddpmpp.bpd(be, "f32", image, 1e-7);
    const loose = await ddpmpp.bpd(be, "f32", image, 1e-5);
    assert.ok(
      Math.abs(tight - converged) <= tol.importedBpd.atol,
      `image ${image}: ours ${tight}, original ${converged}`,
    );
    assert.ok(
      Math.abs(loose - converged) > Math.abs(tight - converged),
      `image ${image}: the error should shrink from rtol 1e-5 (${loose}) to 1e-7 (${tight})`,
    );
  }
});

Deno.test("score_sde bits/dim, VP DDPM++: ours match likelihood.py within 1e-3 [reference f64]", async () => {
  const converged = ddpmpp.original(1e-7, 1).bpd;
  const ours = await ddpmpp.bpd(referenceBackend(), "f64", 1, 1e-7);
  assert.ok(
    Math.abs(ours - converged) <= tol.importedBpd.atol,
    `ours ${ours}, original ${converged}`,
  );
});

Deno.test("score_sde bits/dim, VE NCSN++ on [0, 1] data: ours match likelihood.py within 1e-3 [cpu]", async () => {
  const be = cpuOrSkip();
  if (!be) return console.warn("skipped: no BLAS library");
  const converged = ncsnppVe.original(1e-7, 0).bpd;
  const ours = await ncsnppVe.bpd(be, "f32", 0, 1e-7);
  const samePrior = await ncsnppVe.bpd(be, "f32", 0, 1e-7, true);
  assert.ok(
    Math.abs(ours - converged) <= tol.importedBpd.atol,
    `ours ${ours}, original ${converged}`,
  );
  // with the original's prior only the solvers differ
  assert.ok(
    Math.abs(samePrior - converged) <= Math.abs(ours - converged) + 1e-5,
    `with the original's prior ${samePrior}, ours ${ours}, original ${converged}`,
  );
  assert.ok(Math.abs(samePrior - converged) <= tol.importedBpd.atol / 10);
});
