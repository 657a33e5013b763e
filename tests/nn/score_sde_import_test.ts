/**
 * `import score-sde` end to end: the original code's tiny DDPM++ and NCSN++ checkpoints
 * (fixtures/score_sde/) become checkpoints here whose score equals score_sde's `get_score_fn`
 * output on the recorded inputs (for the VE model on [0, 1] data, after the change of variables
 * to [−1, 1]), which eval-nll and sample then take with --ckpt; wrong configurations, damaged
 * files and `data.centered = False` outside VE are refused naming the problem.
 */

import assert from "node:assert/strict";
import { add, mul, tensor, tensorWithHostCopy } from "../../compute/mod.ts";
import { referenceBackend } from "../../compute/select.ts";
import { pngFolder, runImportedCommands } from "../_helpers/imported_commands.ts";
import { loadModel } from "../../cli/load_model.ts";
import { runMain } from "../_helpers/cli.ts";
import { tol } from "../_helpers/tolerances.ts";

const FIXTURE = "fixtures/score_sde/ddpmpp_tiny.pth";
const doc = JSON.parse(await Deno.readTextFile("fixtures/score_sde/ddpmpp_tiny.json"));
const dir = await Deno.makeTempDir({ prefix: "score_sde_import_" });
const configFile = `${dir}/config.json`;
await Deno.writeTextFile(configFile, JSON.stringify(doc.config));
const imported = `${dir}/ddpmpp.safetensors`;
const IMPORT = ["import", "score-sde", FIXTURE, "--config", configFile, "--out", imported];

Deno.test("import score-sde: the imported model's score is score_sde's on the recorded inputs", async () => {
  const r = await runMain(IMPORT);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /imported .*ddpmpp_tiny\.pth \(step 250, EMA weights\): score_sde ncsnpp/);
  const be = referenceBackend();
  const model = await loadModel({ ckpt: imported }, be, "f64");
  const f = doc.forward;
  const x = tensor(be, f.x.values, f.x.shape, "f64");
  const t = tensorWithHostCopy(be, Float64Array.from(f.t), [f.t.length], "f64");
  const score = await model.score(x, t).read();
  // score_sde divides by σ_t computed in float32, √(1 − e^{2 log α}): at t = 1e-5 the
  // cancellation costs it 0.6% (σ = 1.00662e-3 against 1.00050e-3), so the examples at
  // t ≥ 0.1 (float32 σ exact to 1e-6) are compared with its score, and every example with
  // −output/σ_t for the process's own σ_t
  const per = score.length / f.t.length, want: number[] = f.score.values;
  for (let b = 0; b < f.t.length; b++) {
    const sigma = model.sde.sigma(f.t[b]);
    const rows = Array.from({ length: per }, (_, j) => b * per + j);
    const scale = Math.max(...rows.map((i) => Math.abs(want[i])));
    const errOfOutput = Math.max(...rows.map((i) =>
      Math.abs(score[i] + f.output.values[i] / sigma)
    )) /
      scale * (f.std[b] / sigma);
    assert.ok(
      errOfOutput <= tol.importedNetwork.atol,
      `example ${b}: −output/σ off by ${errOfOutput}`,
    );
    if (f.t[b] < 0.1) continue;
    const err = Math.max(...rows.map((i) => Math.abs(score[i] - want[i]))) / scale;
    assert.ok(err <= tol.importedNetwork.atol, `example ${b}: max error / max |score| = ${err}`);
  }
});

/** Ten 8 × 8 RGB images (the fixture's two, repeated) in a folder: the last one is the test split. */
function imagesFolder(): Promise<string> {
  const u8: number[] = doc.likelihood.images_uint8.values;
  // HWC pixel j of image i from the fixture's CHW images
  return pngFolder(dir, 8, 8, (i, j) => u8[(i % 2) * 192 + (j % 3) * 64 + Math.floor(j / 3)]);
}

/** eval-nll, sample and guidance of a checkpoint; bits/dim must carry the 8-bit offset of 7. */
async function evalAndSample(ckpt: string) {
  const r = await runImportedCommands(ckpt, await imagesFolder(), dir, [3, 8, 8]);
  assert.ok(r.bpd > 7, `${r.bpd}`);
  return r;
}

Deno.test("an imported checkpoint runs through eval-nll, sample and guidance", async () => {
  if (!(await Deno.stat(imported).catch(() => null))) {
    const r = await runMain(IMPORT);
    assert.equal(r.code, 0, r.stderr);
  }
  await evalAndSample(imported);
});

const VE_FIXTURE = "fixtures/score_sde/ncsnpp_ve_tiny.pth";
const veDoc = JSON.parse(await Deno.readTextFile("fixtures/score_sde/ncsnpp_ve_tiny.json"));
const veConfig = `${dir}/ve_config.json`;
await Deno.writeTextFile(veConfig, JSON.stringify(veDoc.config));
const veImported = `${dir}/ncsnpp_ve.safetensors`;

Deno.test("import score-sde: a VE NCSN++ on [0, 1] data has score_sde's score, in [−1, 1] coordinates", async () => {
  const r = await runMain([
    "import",
    "score-sde",
    VE_FIXTURE,
    "--config",
    veConfig,
    "--out",
    veImported,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /\(step 300, EMA weights\): score_sde ncsnpp .* ve process/);
  const be = referenceBackend();
  const model = await loadModel({ ckpt: veImported }, be, "f64");
  // x = 2y − 1: the process is VE with σ doubled, and the score in x is half score_sde's in y
  const m = veDoc.config.model;
  assert.equal(model.sde.kind, "ve");
  assert.ok(Math.abs(model.sde.sigma(0) - 2 * m.sigma_min) <= 1e-12 * m.sigma_min);
  assert.ok(Math.abs(model.sde.sigma(1) - 2 * m.sigma_max) <= 1e-12 * m.sigma_max);
  const f = veDoc.forward;
  const y = tensor(be, f.x.values, f.x.shape, "f64");
  const t = tensorWithHostCopy(be, Float64Array.from(f.t), [f.t.length], "f64");
  const score = await model.score(add(mul(y, 2), -1), t).read();
  const per = score.length / f.t.length, want: number[] = f.score.values;
  for (let b = 0; b < f.t.length; b++) {
    const rows = Array.from({ length: per }, (_, j) => b * per + j);
    const scale = Math.max(...rows.map((i) => Math.abs(want[i] / 2)));
    const err = Math.max(...rows.map((i) => Math.abs(score[i] - want[i] / 2))) / scale;
    assert.ok(err <= tol.importedNetwork.atol, `example ${b} (t = ${f.t[b]}): ${err}`);
  }
});

Deno.test("an imported VE NCSN++ runs through eval-nll, sample and guidance", async () => {
  if (!(await Deno.stat(veImported).catch(() => null))) {
    const r = await runMain([
      "import",
      "score-sde",
      VE_FIXTURE,
      "--config",
      veConfig,
      "--out",
      veImported,
    ]);
    assert.equal(r.code, 0, r.stderr);
  }
  await evalAndSample(veImported);
});

Deno.test("import score-sde: the sub-VP NCSN++ fixture has score_sde's score", async () => {
  const subvpDoc = JSON.parse(await Deno.readTextFile("fixtures/score_sde/ncsnpp_subvp_tiny.json"));
  const config = `${dir}/subvp_config.json`, out = `${dir}/ncsnpp_subvp.safetensors`;
  await Deno.writeTextFile(config, JSON.stringify(subvpDoc.config));
  const r = await runMain([
    "import",
    "score-sde",
    "fixtures/score_sde/ncsnpp_subvp_tiny.pth",
    "--config",
    config,
    "--out",
    out,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /subvp process/);
  const be = referenceBackend();
  const model = await loadModel({ ckpt: out }, be, "f64");
  const f = subvpDoc.forward;
  const x = tensor(be, f.x.values, f.x.shape, "f64");
  const t = tensorWithHostCopy(be, Float64Array.from(f.t), [f.t.length], "f64");
  const score = await model.score(x, t).read();
  const per = score.length / f.t.length;
  for (let b = 0; b < f.t.length; b++) {
    // the process's own σ_t: score_sde's float32 σ_t cancels badly at small t (see above)
    const sigma = model.sde.sigma(f.t[b]);
    const rows = Array.from({ length: per }, (_, j) => b * per + j);
    const want = rows.map((i) => -f.output.values[i] / sigma);
    const scale = Math.max(...want.map(Math.abs));
    const err = Math.max(...rows.map((i, j) => Math.abs(score[i] - want[j]))) / scale;
    assert.ok(err <= tol.importedNetwork.atol, `example ${b}: ${err}`);
  }
});

Deno.test("import score-sde refuses data.centered = False outside VE, naming the field", async () => {
  const vp = `${dir}/vp_uncentered.json`;
  await Deno.writeTextFile(
    vp,
    JSON.stringify({ ...doc.config, data: { ...doc.config.data, centered: false } }),
  );
  const r = await runMain([
    "import",
    "score-sde",
    FIXTURE,
    "--config",
    vp,
    "--out",
    `${dir}/vp_uncentered.safetensors`,
  ]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /data\.centered = False with training\.sde = 'vpsde'/);
  assert.equal(await Deno.stat(`${dir}/vp_uncentered.safetensors`).catch(() => null), null);
});

Deno.test("import refuses a wrong configuration, a damaged file and bad flags", async () => {
  const wrong = `${dir}/wrong.json`;
  await Deno.writeTextFile(
    wrong,
    JSON.stringify({ ...doc.config, model: { ...doc.config.model, nf: 16 } }),
  );
  const shape = await runMain([
    "import",
    "score-sde",
    FIXTURE,
    "--config",
    wrong,
    "--out",
    `${dir}/w.safetensors`,
  ]);
  assert.equal(shape.code, 3, shape.stderr);
  assert.match(
    shape.stderr,
    /has shape \[.*\], the configuration gives \[.*\] \(is --config right\?\)/,
  );
  const bytes = await Deno.readFile(FIXTURE);
  const cut = `${dir}/cut.pth`;
  await Deno.writeFile(cut, bytes.slice(0, Math.floor(bytes.length / 2)));
  const damaged = await runMain([
    "import",
    "score-sde",
    cut,
    "--config",
    configFile,
    "--out",
    `${dir}/c.safetensors`,
  ]);
  assert.equal(damaged.code, 3, damaged.stderr);
  assert.match(damaged.stderr, /cut\.pth/);
  for (
    const [args, message] of [
      [["import", "nope", FIXTURE, "--out", "x"], /unknown format "nope"/],
      [["import", "score-sde", FIXTURE, "--out", "x"], /needs --config/],
      [
        ["import", "score-sde", FIXTURE, "--config", "vp/nope", "--out", "x"],
        /expected one of vp\/cifar10_ddpmpp_continuous/,
      ],
      [["import", "score-sde", FIXTURE, "--config", configFile], /needs --out/],
    ] as const
  ) {
    const r = await runMain([...args]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, message);
  }
  assert.equal(await Deno.stat(`${dir}/w.safetensors`).catch(() => null), null, "nothing written");
});
