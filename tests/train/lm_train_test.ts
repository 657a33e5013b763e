/**
 * `train --objective lm`: the held-out quasi-NLL falls by a stated margin within a minute on
 * WebGPU; the command writes a two-network checkpoint that resumes bit-for-bit and that
 * eval-nll and the LM sampler read; --freeze-score trains the head on a fixed score network.
 */

import assert from "node:assert/strict";
import { gpuTest } from "../_helpers/backends.ts";
import { runMain } from "../_helpers/cli.ts";
import { mean, referenceBackend, Rng, tensor, tidy } from "../../compute/mod.ts";
import { loadCheckpoint } from "../../io/checkpoint.ts";
import { covarianceHead, headNetwork } from "../../nn/covariance_head.ts";
import { scoreFromPrediction } from "../../sde/parameterization.ts";
import { lmLoss, lmTimes } from "../../train/objectives/lm.ts";
import { resolveTrainData } from "../../train/data.ts";
import { type LmParams, Trainer } from "../../train/trainer.ts";
import type { TrainConfig } from "../../train/config.ts";
import { makeSde, sdeToJson } from "../../sde/processes.ts";
import { ADAM_DEFAULT } from "../../compute/optim/adam.ts";
import { TOY_MIXTURE } from "../../train/presets.ts";

const common = [
  "--hidden",
  "16",
  "--layers",
  "2",
  "--n-train",
  "256",
  "--batch",
  "16",
  "--eval-examples",
  "4",
  "--log-every",
  "5",
  "--backend",
  "reference",
  "--quiet",
];
const tiny = ["train", "--objective", "lm", "--rank", "1", "--time-points", "3", ...common];

gpuTest("lm learning: 200 WebGPU steps lower the held-out quasi-NLL by ≥ 5 nats", async (gpu) => {
  const sde = makeSde("vp");
  const model = { kind: "mlp" as const, dim: 2, hidden: 64, layers: 3, timeFeatures: 32 };
  const config: TrainConfig = {
    data: TOY_MIXTURE,
    nTrain: 4096,
    model,
    objective: "lm",
    weighting: "simple",
    timeSampling: "uniform",
    param: "eps",
    sde: sdeToJson(sde),
    tMin: sde.tMinLikelihood,
    highOrder: 0,
    batch: 128,
    adam: { ...ADAM_DEFAULT, lr: 2e-3 },
    warmup: 20,
    clip: 1,
    ema: 0,
    seed: 3,
    initFrom: null,
    dequant: "none",
    flip: false,
    lm: { rank: 1, timePoints: 4, freezeScore: false, head: headNetwork(model, 1) },
  };
  const data = await resolveTrainData(TOY_MIXTURE, 4096, Rng.fromSeed(3).derive("data"), sde);
  const trainer = new Trainer(gpu, "f32", config, data.train);
  // the held-out objective with fixed times and noise, on 500 held-out points
  const n = 500, rng = Rng.fromSeed(99);
  const heldOut = async () =>
    await tidy(() => {
      const x0 = tensor(gpu, data.heldOut.subarray(0, 2 * n), [n, 2], "f32");
      const times = lmTimes(rng.derive("t"), n, 4, config.tMin, sde.T);
      const noise = [0, 1, 2, 3, 4].map((k) => rng.derive(k).normal(gpu, [n, 2], "f32"));
      const p = trainer.params as LmParams, m = trainer.model(false);
      const s = (x: typeof x0, t: typeof x0) =>
        scoreFromPrediction("eps", m.predict(x, t, p.score), x, sde.alphaSigmaT(t));
      const cov = (x: typeof x0, t: typeof x0) =>
        covarianceHead(p.head, config.lm!.head, 1, sde, x, t);
      return mean(lmLoss(s, cov, sde, { x0, times, noise }));
    }).item();
  const before = await heldOut();
  for (let i = 0; i < 200; i++) trainer.trainStep().dispose();
  const after = await heldOut();
  console.log(
    `held-out LM quasi-NLL: ${before.toFixed(3)} → ${after.toFixed(3)} nats after 200 steps`,
  );
  assert.ok(before - after >= 5 && after < 15, `quasi-NLL ${before} → ${after}`);
});

Deno.test("train --objective lm: checkpoint, exact resume, eval-nll, --freeze-score", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lm-train-" });
  const whole = await runMain([...tiny, "--steps", "10", "--out", `${dir}/whole`, "--json"]);
  assert.equal(whole.code, 0, whole.stderr);
  const s = JSON.parse(whole.stdout);
  assert.ok(Number.isFinite(s.heldout.lm_bound.nll_nats), "the run reports the chain's bound");
  assert.equal(s.config.lm.head.outDim, 4, "head outputs D·(1 + r) = 2·2 values");
  const ck = await loadCheckpoint(`${dir}/whole/ckpt.safetensors`, referenceBackend(), "f32");
  assert.ok(Object.keys(ck.params).some((k) => k.startsWith("params.head.")));

  assert.equal((await runMain([...tiny, "--steps", "5", "--out", `${dir}/split`])).code, 0);
  const resumed = await runMain([...tiny, "--steps", "10", "--out", `${dir}/split`, "--resume"]);
  assert.equal(resumed.code, 0, resumed.stderr);
  const a = await Deno.readFile(`${dir}/whole/ckpt.safetensors`);
  const b = await Deno.readFile(`${dir}/split/ckpt.safetensors`);
  assert.ok(a.length === b.length && a.every((v, i) => v === b[i]), "5 + 5 steps ≠ 10 steps");

  // a DSM run, then the head alone on its frozen score network
  const base = await runMain(["train", ...common, "--steps", "5", "--out", `${dir}/dsm`]);
  assert.equal(base.code, 0, base.stderr);
  const frozen = await runMain([
    ...tiny,
    "--steps",
    "5",
    "--init",
    `${dir}/dsm/ckpt.safetensors`,
    "--freeze-score",
    "--out",
    `${dir}/frozen`,
  ]);
  assert.equal(frozen.code, 0, frozen.stderr);
  const be = referenceBackend();
  const from = await loadCheckpoint(`${dir}/dsm/ckpt.safetensors`, be, "f32");
  const to = await loadCheckpoint(`${dir}/frozen/ckpt.safetensors`, be, "f32");
  for (const [name, t] of Object.entries(from.params)) {
    const kept = to.params[name.replace("params.", "params.score.")];
    assert.deepEqual(await kept.read(), await t.read(), `${name} changed under --freeze-score`);
  }

  const evaluated = await runMain([
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
  assert.match(JSON.parse(evaluated.stdout).model, /rank-1 covariance head/);

  const chain = (ckpt: string) =>
    runMain([
      "eval-nll",
      "--ckpt",
      ckpt,
      "--data",
      "gmm:fixtures/mix2c.json",
      "--limit",
      "4",
      "--bound",
      "lm",
      "--steps",
      "20",
      "--backend",
      "reference",
      "--quiet",
      "--json",
    ]);
  const bounded = await chain(`${dir}/whole/ckpt.safetensors`);
  assert.equal(bounded.code, 0, bounded.stderr);
  const lm = JSON.parse(bounded.stdout).lm_bound;
  assert.equal(lm.steps, 20);
  assert.ok(Math.abs(lm.bpd - lm.nll_nats / (2 * Math.LN2)) < 1e-12);
  const refused = await chain(`${dir}/dsm/ckpt.safetensors`);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /--bound lm needs a covariance head/);

  const sample = (ckpt: string) =>
    runMain([
      "sample",
      "--ckpt",
      ckpt,
      "--sampler",
      "lm",
      "--steps",
      "5",
      "--n",
      "8",
      "--out",
      `${dir}/lm.json`,
      "--backend",
      "reference",
      "--quiet",
    ]);
  const sampled = await sample(`${dir}/whole/ckpt.safetensors`);
  assert.equal(sampled.code, 0, sampled.stderr);
  const doc = JSON.parse(await Deno.readTextFile(`${dir}/lm.json`));
  assert.equal(doc.samples.length, 8);
  assert.ok(doc.samples.flat().every(Number.isFinite));
  const noHead = await sample(`${dir}/dsm/ckpt.safetensors`);
  assert.equal(noHead.code, 2);
  assert.match(noHead.stderr, /--sampler lm needs a covariance head/);
});

Deno.test("train --objective lm: usage errors name the flag", async () => {
  const cases: [string[], RegExp][] = [
    [["train", "--rank", "2"], /--rank is a setting of --objective lm/],
    [["train", "--objective", "lm", "--freeze-score"], /--freeze-score .* --init CKPT/],
    [["train", "--objective", "lm", "--weighting", "simple"], /DSM settings/],
  ];
  for (const [args, message] of cases) {
    const r = await runMain([...args, "--steps", "1", "--backend", "reference"]);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
});
