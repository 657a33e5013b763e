/**
 * `import edm` end to end: the original code's tiny snapshots (fixtures/edm/) become checkpoints
 * here whose model is EDM's denoiser as an x0-prediction under the VE process (score =
 * (D − x)/σ²); a class-conditional one answers `withLabel` with the original's labelled output;
 * eval-nll and sample take the result with --ckpt; damaged or foreign files exit 3 naming the
 * file and `--weights raw` is refused.
 */

import assert from "node:assert/strict";
import { tensor, tensorWithHostCopy } from "../../compute/mod.ts";
import { referenceBackend } from "../../compute/select.ts";
import { pngFolder, runImportedCommands } from "../_helpers/imported_commands.ts";
import { loadModel } from "../../cli/load_model.ts";
import type { DiffusionModel } from "../../sde/model.ts";
import { runMain } from "../_helpers/cli.ts";
import { tol } from "../_helpers/tolerances.ts";

const doc = JSON.parse(await Deno.readTextFile("fixtures/edm/edm_nets.json"));
const COND = "fixtures/edm/ddpmpp_edm_cond.pkl";
const dir = await Deno.makeTempDir({ prefix: "edm_import_" });
const imported = `${dir}/cond.safetensors`;

async function importCond(): Promise<void> {
  if (await Deno.stat(imported).catch(() => null)) return;
  const r = await runMain(["import", "edm", COND, "--out", imported]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /imported .*ddpmpp_edm_cond\.pkl \(EMA weights\): EDM SongUNet/);
}

/** x + σ² · score(x, t): the denoiser the model's score implies, per example. */
async function denoiserOf(
  m: DiffusionModel,
  net: { x: { values: number[]; shape: number[] } },
  t: number[],
) {
  const be = referenceBackend();
  const x = tensor(be, net.x.values, net.x.shape, "f64");
  const s = await m.score(x, tensorWithHostCopy(be, Float64Array.from(t), [t.length], "f64"))
    .read();
  const per = s.length / t.length;
  return Array.from(s, (v, i) => net.x.values[i] + m.sde.sigma(t[Math.floor(i / per)]) ** 2 * v);
}

function relativeError(actual: number[], expected: number[]): number {
  const scale = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  return actual.reduce((w, v, i) => Math.max(w, Math.abs(v - expected[i]) / scale), 0);
}

Deno.test("import edm: a conditional model's labelled and unlabelled scores are the original's", async () => {
  await importCond();
  const model = await loadModel({ ckpt: imported }, referenceBackend(), "f64");
  assert.equal(model.classes, 10);
  assert.equal(model.sde.kind, "ve");
  assert.deepEqual([model.sde.sigma(0), model.sde.sigma(1)].map((v) => +v.toPrecision(6)), [
    0.002,
    80,
  ]);
  const net = doc.nets.ddpmpp_edm_cond;
  const t = net.sigma.map((s: number) => Math.log(s / 0.002) / Math.log(80 / 0.002));
  const five = await denoiserOf(model.withLabel!(5), net, t);
  const none = await denoiserOf(model.withLabel!(null), net, t);
  const bare = await denoiserOf(model, net, t);
  for (
    const [what, got, want] of [
      ["class 5", five, net.D_class5.values],
      ["no label", none, net.D_no_labels.values],
      ["no labels option", bare, net.D_no_labels.values],
    ] as const
  ) {
    const err = relativeError(got, want);
    assert.ok(err <= tol.importedNetwork.atol, `${what}: ${err}`);
  }
  assert.ok(relativeError(five, none) > 1e-3, "the label changes the output");
});

Deno.test("an imported EDM checkpoint runs through eval-nll, sample and guidance", async () => {
  await importCond();
  const images = await pngFolder(dir, 8, 8);
  await runImportedCommands(imported, images, dir, [3, 8, 8]);
  // and guided to class 3 on the class-conditional network
  await runImportedCommands(imported, images, dir, [3, 8, 8], {
    modelFlags: ["--class", "3", "--cfg", "1"],
    tag: "class3",
  });
});

Deno.test("import edm refuses damaged and foreign files (exit 3, naming them) and --weights raw", async () => {
  const bytes = await Deno.readFile(COND);
  const cut = `${dir}/cut.pkl`;
  await Deno.writeFile(cut, bytes.slice(0, Math.floor(bytes.length / 2)));
  const damaged = await runMain(["import", "edm", cut, "--out", `${dir}/c.safetensors`]);
  assert.equal(damaged.code, 3, damaged.stderr);
  assert.match(damaged.stderr, /cut\.pkl/);
  const foreign = "fixtures/score_sde/ddpmpp_tiny.pth";
  const other = await runMain(["import", "edm", foreign, "--out", `${dir}/f.safetensors`]);
  assert.equal(other.code, 3, other.stderr);
  assert.match(other.stderr, /ddpmpp_tiny\.pth: "ema" must be one of EDM.s EDMPrecond/);
  const missing = await runMain([
    "import",
    "edm",
    `${dir}/none.pkl`,
    "--out",
    `${dir}/n.safetensors`,
  ]);
  assert.equal(missing.code, 3, missing.stderr);
  assert.match(missing.stderr, /none\.pkl: no such file/);
  const plain = `${dir}/plain.pkl`; // pickle.dumps({"step": 3}, protocol=2)
  await Deno.writeFile(
    plain,
    Uint8Array.from([0x80, 2, 0x7d, 0x58, 4, 0, 0, 0, 0x73, 0x74, 0x65, 0x70, 0x4b, 3, 0x73, 0x2e]),
  );
  const noEma = await runMain(["import", "edm", plain, "--out", `${dir}/p.safetensors`]);
  assert.equal(noEma.code, 3, noEma.stderr);
  assert.match(noEma.stderr, /plain\.pkl: expected an EDM network snapshot/);
  const raw = await runMain([
    "import",
    "edm",
    COND,
    "--weights",
    "raw",
    "--out",
    `${dir}/r.safetensors`,
  ]);
  assert.equal(raw.code, 2, raw.stderr);
  assert.match(raw.stderr, /holds only the EMA network/);
});
