/**
 * score_sde's NCSNpp as nn/ncsnpp.ts evaluates it, on a tiny DDPM++ built and saved by the
 * original code (fixtures/gen/score_sde_ddpmpp.py): the parameter names and shapes the port
 * derives from the configuration are exactly the checkpoint's, the EMA and raw weight sets are
 * told apart, and every backend gives the original network's output and score on the recorded
 * inputs.
 */

import assert from "node:assert/strict";
import { type Backend, type Tensor, tensor, tensorWithHostCopy } from "../../compute/mod.ts";
import { flattenTensors, readTorchFile } from "../../io/torch_file.ts";
import {
  type NcsnppConfig,
  ncsnppForward,
  type NcsnppParams,
  ncsnppShapes,
} from "../../nn/ncsnpp.ts";
import { ncsnppConfigOf, parseScoreSdeConfig, scoreSdeWeights } from "../../nn/import/score_sde.ts";
import { eachBackend } from "../_helpers/backends.ts";
import { tol } from "../_helpers/tolerances.ts";

const DIR = new URL("../../fixtures/score_sde/", import.meta.url).pathname;
const CKPT = `${DIR}ddpmpp_tiny.pth`;
const root = readTorchFile(await Deno.readFile(CKPT), CKPT);
const doc = JSON.parse(await Deno.readTextFile(`${DIR}ddpmpp_tiny.json`));
const config: NcsnppConfig = ncsnppConfigOf(parseScoreSdeConfig(doc.config, "ddpmpp_tiny.json"));

Deno.test("ncsnpp: the derived parameter names and shapes are the original state dict's", () => {
  const model = flattenTensors((root as Map<string, never>).get("model")!);
  const original = [...model].filter(([k]) => k !== "module.sigmas").map(([k, t]) =>
    `${k.slice("module.".length)} [${t.shape}]`
  );
  const derived = [...ncsnppShapes(config)].map(([k, s]) => `${k} [${s}]`);
  assert.deepEqual(derived, original);
});

const fwd = doc.forward;

function loadParams(
  c: { backend: Backend; dtype: "f32" | "f64" },
  weights: "ema" | "raw",
) {
  const w = scoreSdeWeights(root, CKPT, config, weights);
  const p: NcsnppParams = {};
  for (const [name, v] of w.params) p[name] = tensor(c.backend, v.data, v.shape, c.dtype);
  return { p, step: w.step };
}

function maxRelativeError(actual: Float32Array | Float64Array, expected: number[]): number {
  const scale = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    worst = Math.max(worst, Math.abs(actual[i] - expected[i]) / scale);
  }
  return worst;
}

Deno.test("ncsnpp fixture: the EMA and raw weights give outputs far apart (a wrong set fails)", () => {
  const ema = Float64Array.from(fwd.output.values as number[]);
  const gap = maxRelativeError(ema, fwd.output_with_raw_weights.values);
  assert.ok(gap > 100 * tol.importedNetwork.atol, `gap ${gap}`);
});

eachBackend(
  "ncsnpp: the original network's output on the recorded inputs, EMA and raw weights",
  async (c) => {
    const x = tensor(c.backend, fwd.x.values, fwd.x.shape, c.dtype);
    const t = tensorWithHostCopy(c.backend, Float64Array.from(fwd.t), [fwd.t.length], c.dtype);
    for (
      const [weights, expected] of [["ema", fwd.output], [
        "raw",
        fwd.output_with_raw_weights,
      ]] as const
    ) {
      const { p, step } = loadParams(c, weights);
      assert.equal(step, doc.checkpoint.step);
      const out: Tensor = ncsnppForward(p, config, x, t);
      assert.deepEqual(out.shape, expected.shape);
      const err = maxRelativeError(await out.read(), expected.values);
      console.log(`${c.name} ${weights}: max error / max |output| = ${err.toExponential(2)}`);
      assert.ok(err <= tol.importedNetwork.atol, `${weights}: ${err}`);
      out.dispose();
      for (const v of Object.values(p)) v.dispose();
    }
    x.dispose();
    t.dispose();
  },
);
