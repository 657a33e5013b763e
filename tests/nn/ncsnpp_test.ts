/**
 * score_sde's NCSNpp as nn/ncsnpp.ts evaluates it, on tiny networks built and saved by the
 * original code (fixtures/gen/score_sde_ddpmpp.py, fixtures/gen/score_sde_ncsnpp.py): DDPM++;
 * a VE NCSN++ on [0, 1] data with FIR resampling, the `output_skip` output pyramid, the
 * `residual` input pyramid, Fourier features of σ and `scale_by_sigma`; a sub-VP NCSN++ with
 * DDPM blocks, FIR resampling with convolutions, the `residual` output pyramid and the
 * `input_skip` input pyramid stacked (`cat`). For each: the parameter names and shapes the port
 * derives from the configuration are exactly the checkpoint's, the EMA and raw weight sets are
 * told apart, and every backend gives the original network's output on the recorded inputs.
 * Every built-in config has the state-dict layout of the original's full-size network.
 */

import assert from "node:assert/strict";
import {
  add,
  type Backend,
  mul,
  type Tensor,
  tensor,
  tensorWithHostCopy,
} from "../../compute/mod.ts";
import { referenceBackend } from "../../compute/select.ts";
import { flattenTensors, type PickleValue, readTorchFile } from "../../io/torch_file.ts";
import {
  type NcsnppConfig,
  ncsnppForward,
  ncsnppNetwork,
  type NcsnppParams,
  ncsnppShapes,
} from "../../nn/ncsnpp.ts";
import {
  ncsnppConfigOf,
  parseScoreSdeConfig,
  SCORE_SDE_CONFIGS,
  scoreSdeWeights,
} from "../../nn/import/score_sde.ts";
import { eachBackend } from "../_helpers/backends.ts";
import { tol } from "../_helpers/tolerances.ts";

const DIR = new URL("../../fixtures/score_sde/", import.meta.url).pathname;

interface Fixture {
  name: string;
  file: string;
  root: PickleValue;
  // deno-lint-ignore no-explicit-any
  doc: any;
  config: NcsnppConfig;
}

async function fixture(name: string): Promise<Fixture> {
  const file = `${DIR}${name}.pth`;
  const doc = JSON.parse(await Deno.readTextFile(`${DIR}${name}.json`));
  return {
    name,
    file,
    root: readTorchFile(await Deno.readFile(file), file),
    doc,
    config: ncsnppConfigOf(parseScoreSdeConfig(doc.config, `${name}.json`)),
  };
}

const FIXTURES = [
  await fixture("ddpmpp_tiny"),
  await fixture("ncsnpp_ve_tiny"),
  await fixture("ncsnpp_subvp_tiny"),
];

function loadParams(
  f: Fixture,
  c: { backend: Backend; dtype: "f32" | "f64" },
  weights: "ema" | "raw",
) {
  const w = scoreSdeWeights(f.root, f.file, f.config, weights);
  const p: NcsnppParams = {};
  for (const [name, v] of w.params) p[name] = tensor(c.backend, v.data, v.shape, c.dtype);
  return { p, step: w.step };
}

/**
 * The largest error of each example relative to that example's largest |expected|: VE outputs
 * are divided by σ(t), so examples at different t differ in scale by σ_max/σ_min.
 */
function maxRelativeErrorPerExample(
  actual: Float32Array | Float64Array,
  expected: number[],
  examples: number,
): number {
  const per = expected.length / examples;
  let worst = 0;
  for (let b = 0; b < examples; b++) {
    const rows = expected.slice(b * per, (b + 1) * per);
    const scale = rows.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    for (let i = 0; i < per; i++) {
      worst = Math.max(worst, Math.abs(actual[b * per + i] - rows[i]) / scale);
    }
  }
  return worst;
}

for (const f of FIXTURES) {
  Deno.test(`ncsnpp ${f.name}: the derived parameter names and shapes are the original state dict's`, () => {
    const model = flattenTensors((f.root as Map<string, never>).get("model")!);
    const original = [...model].filter(([k]) => k !== "module.sigmas").map(([k, t]) =>
      `${k.slice("module.".length)} [${t.shape}]`
    );
    const derived = [...ncsnppShapes(f.config)].map(([k, s]) => `${k} [${s}]`);
    assert.deepEqual(derived, original);
  });

  Deno.test(`ncsnpp ${f.name}: the EMA and raw weights give outputs far apart (a wrong set fails)`, () => {
    const fwd = f.doc.forward;
    const ema = Float64Array.from(fwd.output.values as number[]);
    const gap = maxRelativeErrorPerExample(ema, fwd.output_with_raw_weights.values, fwd.t.length);
    assert.ok(gap > 100 * tol.importedNetwork.atol, `gap ${gap}`);
  });

  eachBackend(
    `ncsnpp ${f.name}: the original network's output on the recorded inputs, EMA and raw weights`,
    async (c) => {
      const fwd = f.doc.forward;
      const x = tensor(c.backend, fwd.x.values, fwd.x.shape, c.dtype);
      const t = tensorWithHostCopy(c.backend, Float64Array.from(fwd.t), [fwd.t.length], c.dtype);
      for (
        const [weights, expected] of [
          ["ema", fwd.output],
          ["raw", fwd.output_with_raw_weights],
        ] as const
      ) {
        const { p, step } = loadParams(f, c, weights);
        assert.equal(step, f.doc.checkpoint.step);
        const out: Tensor = ncsnppNetwork(p, f.config, x, t);
        assert.deepEqual(out.shape, expected.shape);
        const err = maxRelativeErrorPerExample(await out.read(), expected.values, fwd.t.length);
        console.log(
          `${f.name} ${c.name} ${weights}: max error / max |output| per example = ${
            err.toExponential(2)
          }`,
        );
        assert.ok(err <= tol.importedNetwork.atol, `${weights}: ${err}`);
        out.dispose();
        for (const v of Object.values(p)) v.dispose();
      }
      x.dispose();
      t.dispose();
    },
  );
}

Deno.test("ncsnpp on [0, 1] data: in [−1, 1] coordinates x = 2y − 1 the output is half the network's", async () => {
  const f = FIXTURES[1], fwd = f.doc.forward, be = referenceBackend();
  assert.equal(f.config.centered, false);
  const { p } = loadParams(f, { backend: be, dtype: "f64" }, "ema");
  const y = tensor(be, fwd.x.values, fwd.x.shape, "f64");
  const t = tensorWithHostCopy(be, Float64Array.from(fwd.t), [fwd.t.length], "f64");
  const inY = await ncsnppNetwork(p, f.config, y, t).read();
  const inX = await ncsnppForward(p, f.config, add(mul(y, 2), -1), t).read();
  const half = Float64Array.from(inY, (v) => v / 2);
  const err = maxRelativeErrorPerExample(inX, Array.from(half), fwd.t.length);
  assert.ok(err <= tol.f64.atol, `${err}`);
});

Deno.test("every built-in score_sde config has the original full-size network's state-dict layout", async () => {
  const full = JSON.parse(await Deno.readTextFile(`${DIR}ncsnpp_full_configs.json`)).configs;
  assert.deepEqual(Object.keys(SCORE_SDE_CONFIGS).sort(), Object.keys(full).sort());
  for (const [name, settings] of Object.entries(SCORE_SDE_CONFIGS)) {
    const shapes = [...ncsnppShapes(ncsnppConfigOf(settings))];
    const lines = shapes.map(([k, s]) => `${k}:${s.join(",")}`).join("\n");
    const digest = new Uint8Array(
      await crypto.subtle.digest("SHA-256", new TextEncoder().encode(lines)),
    );
    const hex = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
    const count = shapes.reduce((n, [, s]) => n + s.reduce((a, b) => a * b, 1), 0);
    const want = full[name];
    assert.deepEqual(
      [shapes.length, count, hex, settings.data.centered, settings.model.ema_rate],
      [want.tensors, want.parameters, want.sha256, want.centered, want.ema_rate],
      name,
    );
  }
});
