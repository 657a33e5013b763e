/**
 * Image training end to end on a folder of 8×8 PNGs with a tiny U-Net: checkpoints, the
 * sample grid, bits/dim of the held-out split, bit-for-bit resume with dropout, flips and
 * uniform dequantisation all drawing from the step's streams, and eval-nll on the checkpoint.
 */

import assert from "node:assert/strict";
import { decode, encode } from "fast-png";
import { runMain } from "../_helpers/cli.ts";

const dir = await Deno.makeTempDir({ prefix: "image-train-" });
const images = `${dir}/digits`;
await Deno.mkdir(images);
for (let i = 0; i < 20; i++) {
  // a bright square at a position that depends on i, on a dark background
  const data = Uint8Array.from({ length: 64 }, (_, j) => {
    const [r, c] = [Math.floor(j / 8), j % 8];
    return Math.abs(r - (i % 5) - 2) < 2 && Math.abs(c - (i % 3) - 2) < 2 ? 230 : 20 + i;
  });
  await Deno.writeFile(
    `${images}/im${String(i).padStart(2, "0")}.png`,
    encode({ width: 8, height: 8, data, channels: 1, depth: 8 }),
  );
}

const tiny = (steps: number) => [
  "train",
  "--data",
  `images:${images}`,
  "--model",
  "unet",
  "--base",
  "4",
  "--mults",
  "1,2",
  "--res-blocks",
  "1",
  "--attn",
  "4",
  "--groups",
  "2",
  "--dropout",
  "0.1",
  "--flip",
  "--steps",
  String(steps),
  "--batch",
  "3",
  "--log-every",
  "1",
  "--eval-examples",
  "2",
  "--grid",
  "4",
  "--grid-steps",
  "5",
  "--backend",
  "reference",
  "--quiet",
];

Deno.test("train on images: checkpoint, sample grid, held-out bits/dim, exact resume", async () => {
  const whole = await runMain([...tiny(4), "--out", `${dir}/whole`, "--json"]);
  assert.equal(whole.code, 0, whole.stderr);
  const s = JSON.parse(whole.stdout);
  assert.equal(s.config.model.kind, "unet");
  assert.deepEqual([s.config.model.channels, s.config.model.resolution], [1, 8]);
  assert.equal(s.heldout.dequantization, "uniform");
  assert.equal(s.heldout.n, 2, "the folder's last tenth is the held-out split");
  assert.ok(Number.isFinite(s.heldout.bpd) && s.heldout.bpd > 0, `bpd ${s.heldout.bpd}`);
  const nats = s.heldout.nll_nats / (64 * Math.LN2);
  assert.ok(Math.abs(s.heldout.bpd - nats) < 1e-12, "bits/dim = nats / (D ln 2)");

  // 4 samples in a 2 × 2 grid of 8 × 8 cells with 1-pixel gaps
  const png = decode(await Deno.readFile(s.samples_png));
  assert.equal(png.width, 2 * 8 + 1);
  assert.equal(png.height, 2 * 8 + 1);

  const first = await runMain([...tiny(2), "--out", `${dir}/split`]);
  assert.equal(first.code, 0, first.stderr);
  const resumed = await runMain([...tiny(4), "--out", `${dir}/split`, "--resume"]);
  assert.equal(resumed.code, 0, resumed.stderr);
  const a = await Deno.readFile(`${dir}/whole/ckpt.safetensors`);
  const b = await Deno.readFile(`${dir}/split/ckpt.safetensors`);
  assert.ok(a.length === b.length && a.every((v, i) => v === b[i]), "2 + 2 steps ≠ 4 steps");

  const evaluated = await runMain([
    "eval-nll",
    "--ckpt",
    `${dir}/whole/ckpt.safetensors`,
    "--data",
    `images:${images}`,
    "--split",
    "test",
    "--dequant",
    "truncated-normal",
    "--rtol",
    "1e-3",
    "--atol",
    "1e-3",
    "--backend",
    "reference",
    "--quiet",
    "--json",
  ]);
  assert.equal(evaluated.code, 0, evaluated.stderr);
  const e = JSON.parse(evaluated.stdout);
  assert.equal(e.n, 2);
  assert.equal(e.dequantization, "truncated-normal");
  assert.ok(Number.isFinite(e.bpd));
});

Deno.test("train on images: usage errors name the flag", async () => {
  const cases: [string[], RegExp][] = [
    [["--model", "mlp"], /--model mlp takes points/],
    [["--model", "unet", "--hidden", "8"], /--hidden is not a setting of --model unet/],
    [["--attn", "", "--groups", "3"], /--groups: UnetConfig.groups: 3 does not divide/],
    [
      ["--attn", "", "--mults", "1,2,2,2,2"],
      /--mults: UnetConfig.resolution: 8 is not divisible by 2\^\(levels − 1\) = 16/,
    ],
    [["--model", "unet"], /--attn: UnetConfig.attnResolutions: 7 is not a level resolution/],
  ];
  for (const [flags, message] of cases) {
    const r = await runMain([
      "train",
      "--data",
      `images:${images}`,
      ...flags,
      "--steps",
      "1",
      "--backend",
      "reference",
      "--out",
      `${dir}/bad`,
    ]);
    assert.equal(r.code, 2, `${flags.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  }
});
