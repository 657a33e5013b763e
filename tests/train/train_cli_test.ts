import assert from "node:assert/strict";
import { runMain } from "../_helpers/cli.ts";

const tiny = [
  "--steps",
  "20",
  "--batch",
  "32",
  "--hidden",
  "16",
  "--layers",
  "2",
  "--n-train",
  "256",
  "--eval-examples",
  "4",
  "--log-every",
  "5",
  "--backend",
  "reference",
  "--quiet",
];

const main = runMain;

Deno.test("train writes checkpoints, metrics and a held-out NLL; --resume continues bit-for-bit", async () => {
  const dir = await Deno.makeTempDir();
  const whole = await main(["train", ...tiny, "--out", `${dir}/whole`, "--json"]);
  assert.equal(whole.code, 0, whole.stderr);
  const summary = JSON.parse(whole.stdout);
  assert.equal(summary.steps, 20);
  assert.ok(Number.isFinite(summary.heldout.nll_nats));
  for (
    const f of ["ckpt.safetensors", "state.safetensors", "metrics.jsonl", "loss.svg", "eval.json"]
  ) {
    await Deno.stat(`${dir}/whole/${f}`);
  }
  const lines = (await Deno.readTextFile(`${dir}/whole/metrics.jsonl`)).trim().split("\n");
  assert.equal(lines.length, 4, "a loss every 5 steps");

  const half = tiny.map((v, i) => (tiny[i - 1] === "--steps" ? "10" : v));
  assert.equal((await main(["train", ...half, "--out", `${dir}/split`])).code, 0);
  const resumed = await main(["train", ...tiny, "--out", `${dir}/split`, "--resume"]);
  assert.equal(resumed.code, 0, resumed.stderr);
  // the summary counts this invocation's steps; the loss plot shows the whole run
  assert.match(resumed.stdout, /^trained\s+10 steps \(11–20, resumed from step 10\) in /m);
  const points = (svg: string) => /points="([^"]*)"/.exec(svg)![1].trim().split(" ").length;
  assert.equal(points(await Deno.readTextFile(`${dir}/split/loss.svg`)), 4, "steps 5–20");
  assert.equal(
    await Deno.readTextFile(`${dir}/split/loss.svg`),
    await Deno.readTextFile(`${dir}/whole/loss.svg`),
  );
  const a = await Deno.readFile(`${dir}/whole/ckpt.safetensors`);
  const b = await Deno.readFile(`${dir}/split/ckpt.safetensors`);
  assert.ok(
    a.length === b.length && a.every((v, i) => v === b[i]),
    "2 × 10 steps differ from 20 steps",
  );

  const changed = await main([
    "train",
    ...tiny,
    "--steps",
    "30",
    "--lr",
    "0.01",
    "--out",
    `${dir}/split`,
    "--resume",
  ]);
  assert.equal(changed.code, 2);
  assert.match(changed.stderr, /different configuration \(--lr [\d.e-]+ → 0\.01\); change nothing/);

  const evaluated = await main([
    "eval-nll",
    "--ckpt",
    `${dir}/whole/ckpt.safetensors`,
    "--data",
    "gmm:fixtures/mix2c.json",
    "--limit",
    "4",
    "--backend",
    "reference",
    "--quiet",
    "--json",
  ]);
  assert.equal(evaluated.code, 0, evaluated.stderr);
  assert.match(JSON.parse(evaluated.stdout).model, /step 20, EMA weights/);
  const raw = await main([
    "eval-nll",
    "--ckpt",
    `${dir}/whole/ckpt.safetensors`,
    "--weights",
    "raw",
    "--data",
    "gmm:fixtures/mix2c.json",
    "--limit",
    "4",
    "--backend",
    "reference",
    "--quiet",
    "--json",
  ]);
  assert.equal(raw.code, 0, raw.stderr);
  const rawDoc = JSON.parse(raw.stdout), emaDoc = JSON.parse(evaluated.stdout);
  assert.match(rawDoc.model, /\(step 20\)/, "raw weights are named as such");
  assert.notEqual(rawDoc.nll_nats, emaDoc.nll_nats, "raw and EMA weights differ after 20 steps");
  const conflict = await main([
    "eval-nll",
    "--ckpt",
    `${dir}/whole/ckpt.safetensors`,
    "--sde",
    "ve",
    "--data",
    "gmm:fixtures/mix2c.json",
  ]);
  assert.equal(conflict.code, 2);
});

for (
  const [why, args, pattern] of [
    ["lm without --init", ["--objective", "lm", "--freeze-score"], /--init CKPT/],
    ["flow needs vdm", ["--objective", "flow", "--sde", "vp"], /conflicts/],
    [
      "simple + importance",
      ["--weighting", "simple", "--time-sampling", "importance"],
      /conflicts/,
    ],
    ["resume and init", ["--resume", "--init", "x.safetensors"], /conflict/],
    ["bad number", ["--steps", "0"], /--steps must be an integer/],
    ["EMA decay 1 never moves", ["--ema", "1"], /--ema must be a number in \[0, 1\), got 1/],
    ["unknown toy set", ["--data", "toy:moon"], /did you mean "toy:moons"/],
  ] as const
) {
  Deno.test(`train usage error (${why}) exits 2`, async () => {
    const dir = await Deno.makeTempDir();
    const r = await main(["train", ...args, "--out", dir, "--backend", "reference", "--quiet"]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, pattern);
  });
}

Deno.test("a corrupt checkpoint makes --resume exit 3 naming the file", async () => {
  const dir = await Deno.makeTempDir();
  assert.equal((await main(["train", ...tiny, "--out", dir])).code, 0);
  const bytes = await Deno.readFile(`${dir}/ckpt.safetensors`);
  await Deno.writeFile(`${dir}/ckpt.safetensors`, bytes.subarray(0, bytes.length - 7));
  const r = await main(["train", ...tiny, "--steps", "30", "--out", dir, "--resume"]);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /ckpt\.safetensors/);
});

Deno.test("--init keeps the weights and starts a fresh optimiser (first Adam step moves each weight by lr)", async () => {
  const { loadCheckpoint } = await import("../../io/checkpoint.ts");
  const { referenceBackend } = await import("../../compute/mod.ts");
  const dir = await Deno.makeTempDir();
  assert.equal((await main(["train", ...tiny, "--out", `${dir}/a`])).code, 0);
  const args = tiny.map((v, i) => (tiny[i - 1] === "--steps" ? "1" : v));
  const r = await main([
    "train",
    ...args,
    "--out",
    `${dir}/b`,
    "--init",
    `${dir}/a/ckpt.safetensors`,
    "--warmup",
    "0",
    "--lr",
    "0.001",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const be = referenceBackend();
  const a = await loadCheckpoint(`${dir}/a/ckpt.safetensors`, be, "f64");
  const b = await loadCheckpoint(`${dir}/b/ckpt.safetensors`, be, "f64");
  assert.equal(b.meta.step, 1);
  let moved = 0;
  for (const name of Object.keys(a.params)) {
    const va = await a.params[name].read(), vb = await b.params[name].read();
    va.forEach((x, i) => {
      const d = Math.abs(vb[i] - x);
      // a fresh Adam's bias-corrected first step is ±lr wherever the gradient is not tiny
      assert.ok(d <= 1.0001e-3, `${name}[${i}] moved ${d}`);
      if (d > 0.999e-3) moved++;
    });
  }
  assert.ok(moved > 100, `only ${moved} weights moved by lr`);
});
