/**
 * i-DODE's network and checkpoints (nn/vdm_unet.ts, nn/import/idode.ts, cli/import_idode.ts) on a
 * tiny network built and saved by i-DODE's own code (fixtures/gen/idode_nets.py): the parameter
 * names and shapes are the checkpoint's, every backend gives the original network's output (EMA
 * and raw weights), the imported model's score is i-DODE's ε-prediction over σ under the VP and
 * SP schedules and for an ε-network, an imported checkpoint runs through eval-nll, sample and guidance,
 * and wrong configurations are refused naming the field.
 */

import assert from "node:assert/strict";
import { gunzipSync } from "fflate";
import { tensor, tensorWithHostCopy } from "../../compute/mod.ts";
import { referenceBackend } from "../../compute/select.ts";
import { pngFolder, runImportedCommands } from "../_helpers/imported_commands.ts";
import { loadModel } from "../../cli/load_model.ts";
import {
  idodeMapping,
  type IdodeModelConfig,
  idodeWeights,
  parseIdodeConfig,
  readIdodeState,
} from "../../nn/import/idode.ts";
import {
  type VdmUnetConfig,
  vdmUnetForward,
  type VdmUnetParams,
  vdmUnetShapes,
} from "../../nn/vdm_unet.ts";
import { eachBackend } from "../_helpers/backends.ts";
import { runMain } from "../_helpers/cli.ts";
import { tol } from "../_helpers/tolerances.ts";

const DIR = "fixtures/idode";
const doc = JSON.parse(await Deno.readTextFile(`${DIR}/tiny_vdm_unet.json`));
const CKPT = `${DIR}/${doc.checkpoint}`;
const state = readIdodeState(gunzipSync(await Deno.readFile(CKPT)), CKPT);
const settings = (extra: Record<string, unknown> = {}): IdodeModelConfig =>
  parseIdodeConfig({ ...doc.config, resolution: doc.shape[2], ...extra }, "tiny.json");
const vp = idodeMapping(settings(), state.ema, CKPT);
const [B, C, H, W] = doc.shape as number[];

function maxRelativeError(actual: ArrayLike<number>, expected: number[]): number {
  const scale = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    worst = Math.max(worst, Math.abs(actual[i] - expected[i]) / scale);
  }
  return worst;
}

Deno.test("i-dode: the training state's step, and the parameter names and shapes the network derives", () => {
  assert.equal(state.step, doc.step);
  const names = [...state.ema.keys()].map((k) => `score_model/${k}`).sort();
  assert.deepEqual(names, doc.param_names);
  assert.deepEqual([...state.params.keys()].sort(), [...state.ema.keys()].sort());
  assert.deepEqual(vp.network, {
    resolution: H,
    channels: C,
    nEmbd: 32,
    nLayer: 1,
    fourierFeatures: true,
    attention: true,
    output: "raw",
    gammaMin: -13.3,
    gammaMax: 5,
  });
  assert.deepEqual([vp.sde.kind, vp.param], ["vdm", "velocity"]);
  const sp = idodeMapping(settings({ schedule: "SP" }), state.ema, CKPT);
  assert.deepEqual([sp.sde.kind, sp.param, sp.network.output], ["sp", "eps", "sp-eps"]);
  const eps = idodeMapping(settings({ velocity: false }), state.ema, CKPT);
  assert.deepEqual([eps.sde.kind, eps.param, eps.network.output], ["vdm", "eps", "raw"]);
  // every derived name, in the derived shape, and nothing else
  const mapped = idodeWeights(state.ema, vp.network, CKPT);
  assert.deepEqual(
    [...mapped].map(([k, w]) => `${k} [${w.shape}]`).sort(),
    [...vdmUnetShapes(vp.network)].map(([k, s]) => `${k} [${s}]`).sort(),
  );
});

Deno.test("i-dode fixture: EMA and raw weights give outputs far apart (a wrong set fails)", () => {
  const c = doc.cases[1];
  assert.ok(maxRelativeError(c.net_ema, c.net_raw) > 100 * tol.importedNetwork.atol);
});

eachBackend(
  "i-dode vdm unet: the original network's output at three time pairs, EMA and raw weights, and SP's ε̂",
  async (c) => {
    const x = tensor(c.backend, doc.x, [B, C, H, W], c.dtype);
    const params = (weights: "ema" | "raw") => {
      const p: VdmUnetParams = {};
      const named = idodeWeights(weights === "ema" ? state.ema : state.params, vp.network, CKPT);
      for (const [name, w] of named) p[name] = tensor(c.backend, w.data, w.shape, c.dtype);
      return p;
    };
    const sets = { ema: params("ema"), raw: params("raw") };
    const spNet: VdmUnetConfig = { ...vp.network, output: "sp-eps" };
    const bound = c.dtype === "f64" ? tol.importedNetworkF64Fourier.atol : tol.importedNetwork.atol;
    let worst = 0;
    for (const k of doc.cases) {
      const t = tensorWithHostCopy(c.backend, Float64Array.from(k.t), [B], c.dtype);
      const checks: [VdmUnetParams, VdmUnetConfig, number[], string][] = [
        [sets.ema, vp.network, k.net_ema, "ema"],
        [sets.raw, vp.network, k.net_raw, "raw"],
        [sets.ema, spNet, k.eps_sp_ema, "sp ε̂"],
      ];
      for (const [p, config, expected, what] of checks) {
        const out = vdmUnetForward(p, config, x, t);
        assert.deepEqual(out.shape, [B, C, H, W]);
        const err = maxRelativeError(await out.read(), expected);
        worst = Math.max(worst, err);
        assert.ok(err <= bound, `${what} at t = ${k.t}: ${err}`);
        out.dispose();
      }
      t.dispose();
    }
    console.log(`${c.name}: max error / max |output| = ${worst.toExponential(2)}`);
    for (const p of Object.values(sets)) for (const v of Object.values(p)) v.dispose();
    x.dispose();
  },
);

const dir = await Deno.makeTempDir({ prefix: "idode_import_" });
async function importWith(name: string, extra: Record<string, unknown>): Promise<string> {
  const config = `${dir}/${name}.json`;
  await Deno.writeTextFile(config, JSON.stringify({ ...doc.config, resolution: H, ...extra }));
  const out = `${dir}/${name}.safetensors`;
  const r = await runMain(["import", "i-dode", CKPT, "--config", config, "--out", out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /imported .*ckpt-1\.flax\.gz \(step 1234, EMA weights\): i-DODE vdm unet/);
  return out;
}

Deno.test("import i-dode: the score is −ε̂/σ of i-DODE's noise_fn under VP, SP and for an ε-network", async () => {
  const be = referenceBackend();
  // float32, the original's arithmetic (tests/_helpers/tolerances.ts importedNetworkF64Fourier)
  const x = tensor(be, doc.x, [B, C, H, W], "f32");
  for (
    const [name, extra, key, kind] of [
      ["vp", {}, "eps_vp_ema", "vdm"],
      ["sp", { schedule: "SP" }, "eps_sp_ema", "sp"],
      ["eps", { velocity: false, importance: false }, "eps_eps_ema", "vdm"],
    ] as const
  ) {
    const model = await loadModel({ ckpt: await importWith(name, extra) }, be, "f32");
    assert.equal(model.sde.kind, kind);
    for (const k of doc.cases) {
      const t = tensorWithHostCopy(be, Float64Array.from(k.t), [B], "f32");
      const score = await model.score(x, t).read();
      const want: number[] = k[key];
      const per = score.length / B;
      for (let b = 0; b < B; b++) {
        const sigma = model.sde.sigma(k.t[b]);
        const rows = Array.from({ length: per }, (_, j) => b * per + j);
        const scale = Math.max(...rows.map((i) => Math.abs(want[i])));
        // compare σ·s with −ε̂: the error as a fraction of the largest |ε̂|
        const err = Math.max(...rows.map((i) => Math.abs(score[i] * sigma + want[i]))) / scale;
        assert.ok(err <= tol.importedNetwork.atol, `${name} at t = ${k.t[b]}: ${err}`);
      }
    }
  }
});

Deno.test("an imported i-DODE checkpoint runs through eval-nll, sample and guidance (VP and SP)", async () => {
  const images = await pngFolder(dir, H, W);
  for (const [name, extra] of [["vp-e2e", {}], ["sp-e2e", { schedule: "SP" }]] as const) {
    const ckpt = await importWith(name, extra);
    await runImportedCommands(ckpt, images, dir, [C, H, W], {
      // random weights on 2^7·2π Fourier features make the drift stiff (2720 evaluations from
      // t = t_min at 1e-3): a short, loose solve checks the plumbing
      evalFlags: ["--t-min", "0.9", "--rtol", "1e-2", "--atol", "1e-2"],
      tag: name,
    });
  }
});

Deno.test("import i-dode refuses a configuration the weights contradict, and bad flags", async () => {
  const wrong = `${dir}/wrong.json`;
  await Deno.writeTextFile(wrong, JSON.stringify({ ...doc.config, sm_n_layer: 2 }));
  const r = await runMain([
    "import",
    "i-dode",
    CKPT,
    "--config",
    wrong,
    "--out",
    `${dir}/w.safetensors`,
  ]);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /the configuration says sm_n_layer = 2, the weights have 1/);
  const odd = `${dir}/odd.json`;
  await Deno.writeTextFile(odd, JSON.stringify({ schedule: "VE" }));
  const s = await runMain([
    "import",
    "i-dode",
    CKPT,
    "--config",
    odd,
    "--out",
    `${dir}/w.safetensors`,
  ]);
  assert.equal(s.code, 3, s.stderr);
  assert.match(s.stderr, /schedule must be "VP" or "SP", found "VE"/);
  const cut = `${dir}/cut.flax`;
  const raw = gunzipSync(await Deno.readFile(CKPT));
  await Deno.writeFile(cut, raw.slice(0, raw.length >> 1));
  const d = await runMain([
    "import",
    "i-dode",
    cut,
    "--config",
    "cifar10",
    "--out",
    `${dir}/c.safetensors`,
  ]);
  assert.equal(d.code, 3, d.stderr);
  assert.match(d.stderr, /cut\.flax: not a MessagePack file/);
  for (
    const [args, message] of [
      [["import", "i-dode", CKPT, "--out", "x"], /needs --config/],
      [
        ["import", "i-dode", CKPT, "--config", "cifar100", "--out", "x"],
        /expected one of cifar10, /,
      ],
    ] as const
  ) {
    const e = await runMain([...args]);
    assert.equal(e.code, 2, e.stderr);
    assert.match(e.stderr, message);
  }
  assert.equal(await Deno.stat(`${dir}/w.safetensors`).catch(() => null), null, "nothing written");
});
