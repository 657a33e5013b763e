import assert from "node:assert/strict";
import { runMain } from "../_helpers/cli.ts";
import { GmmModel } from "../../data/gmm_model.ts";
import { VpSde } from "../../sde/vp.ts";
import { fixture } from "../data/gmm_oracle.ts";
import { tol } from "../_helpers/tolerances.ts";

const MIX = "gmm:fixtures/mix2d.json";
const run = (args: string[]) => runMain(["sample", ...args]);
const quick = ["--backend", "reference", "--quiet"];
const dir = await Deno.makeTempDir();

Deno.test("sample --help documents the flags", async () => {
  const r = await run(["--help"]);
  assert.equal(r.code, 0);
  for (
    const flag of [
      "--sampler",
      "--steps",
      "--rtol",
      "--snr",
      "--track-logp",
      "--prior",
      "--detail-report",
    ]
  ) {
    assert.match(r.stdout, new RegExp(flag));
  }
});

Deno.test("sample --sampler ode --track-logp --json: one document with the documented fields", async () => {
  const out = `${dir}/ode.json`;
  const r = await run([
    "--model",
    MIX,
    "--sampler",
    "ode",
    "--n",
    "8",
    "--track-logp",
    "--out",
    out,
    "--json",
    ...quick,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  for (
    const k of [
      "command",
      "n",
      "sampler",
      "steps",
      "sde",
      "t_min",
      "t_max",
      "nfe_mean",
      "logp_nats",
      "out",
      "seconds",
      "backend",
    ]
  ) {
    assert.ok(k in doc, `missing ${k}`);
  }
  assert.equal(doc.command, "sample");
  assert.equal(doc.n, 8);
  assert.equal(doc.sampler, "ode");
  assert.deepEqual(doc.sde, { kind: "vp", params: { beta0: 0.1, beta1: 20 } });
  assert.equal(doc.t_min, 1e-3);
  assert.equal(doc.t_max, 1);
  assert.equal(doc.out, out);
  assert.equal(doc.backend, "reference");
  assert.equal(doc.logp_nats.length, 8);
  assert.ok(doc.nfe_mean > 20 && doc.steps > 3, `NFE ${doc.nfe_mean}, steps ${doc.steps}`);
  const written = JSON.parse(await Deno.readTextFile(out));
  assert.deepEqual(written.shape, [2]);
  assert.equal(written.samples.length, 8);
});

// With exact divergence and the mixture's own p_T, the reported log p of each written sample
// is the closed form's up to the solver at its default tolerances.
Deno.test("sample --prior exact --divergence exact: reported log p equals the closed form of the written samples", async () => {
  const out = `${dir}/exact.json`;
  const r = await run([
    "--model",
    MIX,
    "--n",
    "6",
    "--track-logp",
    "--divergence",
    "exact",
    "--prior",
    "exact",
    "--out",
    out,
    "--json",
    ...quick,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  const model = await GmmModel.load(fixture("mix2d.json"), new VpSde());
  const { samples } = JSON.parse(await Deno.readTextFile(out));
  samples.forEach((x: number[], i: number) => {
    const exact = model.logpHost(x, doc.t_min);
    assert.ok(
      Math.abs(doc.logp_nats[i] - exact) < tol.trackedLogpOdeCli.atol,
      `#${i}: ${doc.logp_nats[i]} vs ${exact}`,
    );
  });
});

// Every draw is keyed by the sample's global index: the batch size changes nothing.
Deno.test("sample: --batch does not change the samples or their log p", async () => {
  const go = (batch: string, name: string) =>
    run([
      "--model",
      MIX,
      "--sampler",
      "em",
      "--steps",
      "30",
      "--n",
      "7",
      "--batch",
      batch,
      "--track-logp",
      "--out",
      `${dir}/${name}`,
      "--json",
      ...quick,
    ]);
  const [a, b] = await Promise.all([go("7", "b7.json"), go("3", "b3.json")]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  assert.deepEqual(JSON.parse(a.stdout).logp_nats, JSON.parse(b.stdout).logp_nats);
  assert.equal(
    await Deno.readTextFile(`${dir}/b7.json`),
    await Deno.readTextFile(`${dir}/b3.json`),
  );
});

Deno.test("sample writes .npy, .png and .json by extension; prints a summary", async () => {
  const results = await Promise.all(
    ["npy", "png"].map((ext) =>
      run([
        "--model",
        MIX,
        "--sampler",
        "heun",
        "--steps",
        "5",
        "--n",
        "4",
        "--out",
        `${dir}/s.${ext}`,
        ...quick,
      ])
    ),
  );
  for (const r of results) assert.equal(r.code, 0, r.stderr);
  assert.match(results[0].stdout, /samples\s+4 of gmm:fixtures\/mix2d\.json/);
  assert.match(results[0].stdout, /NFE\s+10\.0 per sample/);
  const npy = await Deno.readFile(`${dir}/s.npy`), png = await Deno.readFile(`${dir}/s.png`);
  assert.equal(new TextDecoder().decode(npy.subarray(1, 6)), "NUMPY");
  assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]); // "PNG"
});

// An image mixture (1×4×4, isotropic components of different spread): the detail report
// lists each image's PNG bytes beside −log p_0 and prints both correlations.
Deno.test("sample --detail-report writes per-image PNG sizes and correlations", async () => {
  const spec = `${dir}/img.json`;
  const D = 16;
  await Deno.writeTextFile(
    spec,
    JSON.stringify({
      weights: [0.5, 0.5],
      means: [new Array(D).fill(-0.5), new Array(D).fill(0.3)],
      stds: [0.05, 0.4],
      shape: [1, 4, 4],
    }),
  );
  const out = `${dir}/img.png`;
  const r = await run([
    "--model",
    `gmm:${spec}`,
    "--sampler",
    "heun",
    "--steps",
    "20",
    "--n",
    "12",
    "--track-logp",
    "--divergence",
    "exact",
    "--detail-report",
    "--out",
    out,
    ...quick,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Pearson -?\d\.\d{3}, Spearman -?\d\.\d{3}/);
  const lines = (await Deno.readTextFile(`${dir}/img.detail.csv`)).trim().split("\n");
  assert.equal(lines[0], "index,png_bytes,neg_logp_nats,bits_per_dim");
  assert.equal(lines.length, 13);
  const [, bytes, nll] = lines[1].split(",").map(Number);
  assert.ok(bytes > 0 && Number.isFinite(nll));
});
