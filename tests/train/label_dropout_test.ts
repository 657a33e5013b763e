/**
 * Class-conditional training with label dropout: labels reach the network through the trainer,
 * and a short run on the labelled 2-D mixture learns both the conditional scores (better than
 * the exact unconditional score, which ignores the label, predicts them) and the unconditional
 * score (better than the untrained network).
 */

import assert from "node:assert/strict";
import {
  add,
  type Backend,
  mul,
  referenceBackend,
  Rng,
  sub,
  sum,
  type Tensor,
  tensor,
} from "../../compute/mod.ts";
import { cpuOrSkip } from "../_helpers/backends.ts";
import { GmmModel } from "../../data/gmm_model.ts";
import { loadGmmSpec } from "../../data/gmm_spec.ts";
import { classWeights } from "../../data/gmm_classes.ts";
import { resolveTrainData } from "../../train/data.ts";
import { Trainer } from "../../train/trainer.ts";
import { fitClassesToData, fitModelToData, trainConfig } from "../../cli/train_config.ts";
import { sdeFromJson } from "../../sde/processes.ts";
import type { DiffusionModel } from "../../sde/model.ts";
import { ROOT } from "../_helpers/cli.ts";
import { UsageError } from "../../io/errors.ts";
import { imageDataset } from "../../data/image_dataset.ts";
import { loadMnist } from "../../data/mnist.ts";

/** Optimiser steps of the run: about 4 s on the cpu backend. */
const STEPS = 1200;
const MIXTURE = `${ROOT}/fixtures/mix2l.json`;

/** Mean ‖a(x) − b(x)‖² over x. */
async function meanSquaredGap(
  a: DiffusionModel,
  b: DiffusionModel,
  x: Tensor,
  t: Tensor,
): Promise<number> {
  const d = sub(a.score(x, t), b.score(x, t));
  const v = await sum(mul(d, d)).item();
  return v / x.shape[0];
}

/** n draws of p_t(· | class) at time t (whole mixture for null). */
function noisy(be: Backend, model: GmmModel, n: number, t: number, rng: Rng) {
  const x0 = model.sample(rng.derive("x0"), be, n, "f32");
  const sde = model.sde, a = sde.alpha(t), s = sde.sigma(t);
  const x = add(mul(x0, a), mul(rng.derive("z").normal(be, x0.shape, "f32"), s));
  return { x, t: tensor(be, new Float64Array(n).fill(t), [n], "f32") };
}

Deno.test("label dropout: a short run learns conditional and unconditional scores", async () => {
  const started = performance.now();
  const backend = cpuOrSkip() ?? referenceBackend();
  const requested = trainConfig({
    preset: "toy",
    data: `gmm:${MIXTURE}`,
    nTrain: 4096,
    hidden: 64,
    layers: 2,
    weighting: "simple",
    timeSampling: "uniform",
    batch: 256,
    lr: 3e-3,
    warmup: 20,
    ema: 0.98,
    highOrder: 0,
    weightDecay: 0,
    clip: 1,
    seed: 0,
    labelDropout: 0.3,
  });
  const sde = sdeFromJson(requested.sde);
  const data = await resolveTrainData(requested.data, requested.nTrain, Rng.fromSeed(0), sde);
  assert.equal(data.train.classes, 3);
  // the labelled rows follow p(c) p(x | c): class frequencies and class means
  const every = Int32Array.from({ length: data.train.n }, (_, i) => i);
  const labels = data.train.labels!(every), rows = data.train.batch(every);
  const exactModel = new GmmModel(await loadGmmSpec(MIXTURE), sde);
  classWeights(exactModel.spec).forEach((w, c) => {
    const members = [...every].filter((i) => labels[i] === c);
    const share = members.length / data.train.n;
    assert.ok(
      Math.abs(share - w) < 4 * Math.sqrt(w * (1 - w) / data.train.n),
      `class ${c}: ${share}`,
    );
    const mean = exactModel.withLabel!(c).meanHost();
    mean.forEach((m, d) => {
      const v = members.map((i) => rows[i * 2 + d]);
      const est = v.reduce((s, x) => s + x, 0) / v.length;
      const se = Math.sqrt(v.reduce((s, x) => s + (x - est) ** 2, 0) / v.length / v.length);
      assert.ok(Math.abs(est - m) < 4 * se, `class ${c} mean[${d}]: ${est} vs ${m} (s.e. ${se})`);
    });
  });
  const config = fitClassesToData(fitModelToData(requested, data.train.shape), data.train.classes);
  assert.equal((config.model as { classes?: number }).classes, 3);
  assert.equal(config.labelDropout, 0.3);
  const trainer = new Trainer(backend, "f32", config, data.train, null);
  const exact = new GmmModel(await loadGmmSpec(MIXTURE), sde);
  const fresh = trainer.model(false).withLabel!(null);
  const T = 0.2, n = 2000, rng = Rng.fromSeed(5);
  const all = noisy(backend, exact, n, T, rng.derive("all"));
  const freshGap = await meanSquaredGap(fresh, exact, all.x, all.t);

  for (let i = 0; i < STEPS; i++) trainer.trainStep().dispose();
  const model = trainer.model(true);
  const unconditionalGap = await meanSquaredGap(model.withLabel!(null), exact, all.x, all.t);
  console.log(
    `unconditional: ‖ŝ − s‖² ${unconditionalGap.toFixed(3)} (untrained ${freshGap.toFixed(3)})`,
  );

  const weights = classWeights(exact.spec);
  let learned = 0, blind = 0;
  for (let k = 0; k < weights.length; k++) {
    const cls = exact.withLabel!(k);
    const at = noisy(backend, cls, n, T, rng.derive(k));
    learned += weights[k] * await meanSquaredGap(model.withLabel!(k), cls, at.x, at.t);
    blind += weights[k] * await meanSquaredGap(exact, cls, at.x, at.t);
  }
  console.log(
    `conditional: ‖ŝ_k − s_k‖² ${learned.toFixed(3)}, label-blind ‖s − s_k‖² ${blind.toFixed(3)}`,
  );
  assert.ok(learned < 0.25 * blind, `conditional ${learned} vs label-blind ${blind}`);
  assert.ok(unconditionalGap < 0.4 * freshGap, `${unconditionalGap} vs untrained ${freshGap}`);

  trainer.dispose();
  console.log(`${((performance.now() - started) / 1000).toFixed(1)} s on ${backend.name}`);
});

Deno.test("label dropout: unconditional runs keep their configuration; unlabelled data are refused", async () => {
  const plain = trainConfig({ preset: "toy", highOrder: 0, weightDecay: 0, clip: 1, seed: 0 });
  assert.ok(!("labelDropout" in plain), "an unconditional run's config (and hash) is unchanged");
  assert.equal(fitClassesToData(plain, 3), plain);
  const cfg = trainConfig({
    preset: "toy",
    data: "toy:moons",
    highOrder: 0,
    weightDecay: 0,
    clip: 1,
    seed: 0,
    labelDropout: 0.1,
  });
  assert.throws(() => fitClassesToData(cfg, undefined), (e: Error) => {
    assert.ok(e instanceof UsageError);
    assert.match(e.message, /--label-dropout needs labelled data.*toy:moons has no labels/);
    return true;
  });
  // the image loaders' labels reach the training set
  const digits = imageDataset(await loadMnist("train", 30));
  assert.equal(digits.classes, 10);
  assert.deepEqual(digits.labels!([0, 1, 2, 13]), Int32Array.of(0, 1, 2, 3));
});
