/**
 * Seconds per training step of the image presets' U-Nets on each backend, with parameter
 * counts and a memory estimate at the preset's default batch (weights, EMA and Adam moments,
 * plus the live bytes of one step's tape measured at batch 1 and 2 and extrapolated).
 * Synthetic 8-bit images of the preset's shape feed the step: its cost does not depend on
 * pixel values.
 *
 *   deno run -A bench/image_presets.ts [--presets mnist,cifar10] [--batch 1] [--steps 2]
 *                                     [--backend all|webgpu|reference]
 */

import { parseArgs } from "node:util";
import {
  type Backend,
  referenceBackend,
  Rng,
  sizeOf,
  sum,
  tensor,
  tidy,
  valueAndGrad,
  webgpuBackend,
} from "../compute/mod.ts";
import type { Dataset } from "../data/dataset.ts";
import { EIGHT_BIT_SYMMETRIC } from "../data/quantization.ts";
import { countParams, networkForward, type NetworkParams } from "../nn/network.ts";
import { makeSde, sdeToJson } from "../sde/processes.ts";
import type { TrainConfig } from "../train/config.ts";
import { ADAM_DEFAULT } from "../compute/optim/adam.ts";
import { PRESETS } from "../train/presets.ts";
import { Trainer } from "../train/trainer.ts";

const { values: f } = parseArgs({
  args: Deno.args,
  options: {
    presets: { type: "string", default: "mnist,cifar10" },
    batch: { type: "string" },
    steps: { type: "string", default: "2" },
    backend: { type: "string", default: "all" },
  },
});

const backends: Backend[] = [];
if (f.backend !== "reference") {
  const gpu = await webgpuBackend();
  if (gpu) backends.push(gpu);
}
if (f.backend !== "webgpu") backends.push(referenceBackend());

function syntheticImages(shape: number[], n: number): Dataset {
  const d = sizeOf(shape), rng = Rng.fromSeed(1).uniformHost(n * d);
  return {
    n,
    shape,
    description: `synthetic ${shape.join("×")}`,
    batch: (idx) =>
      Float64Array.from({ length: idx.length * d }, (_, i) => {
        const k = idx[Math.floor(i / d)];
        return Math.floor(rng[k * d + (i % d)] * 256);
      }),
  };
}

/** Live bytes of one step's forward and backward graph, before its scope frees it. */
function tapeBytes(be: Backend, model: TrainConfig["model"], params: NetworkParams, B: number) {
  const shape = model.kind === "unet" ? [model.channels, model.resolution, model.resolution] : [2];
  const before = be.liveBytes();
  let during = 0;
  tidy(() => {
    const x = tensor(be, new Float64Array(B * sizeOf(shape)), [B, ...shape]);
    const t = tensor(be, new Float64Array(B).fill(0.5), [B]);
    const { grad } = valueAndGrad((p: NetworkParams) => sum(networkForward(p, model, x, t)))(
      params,
    );
    void grad;
    during = be.liveBytes();
  });
  return during - before;
}

console.log(
  "| preset | parameters | backend | batch | s/step (median of " + f.steps +
    ") | memory estimate at default batch |",
);
console.log("|---|---|---|---|---|---|");
for (const name of f.presets!.split(",")) {
  const p = PRESETS[name];
  if (!p || p.model.kind !== "unet") throw new Error(`--presets: ${name} is not an image preset`);
  const B = Number(f.batch ?? p.batch);
  const sde = makeSde("vp");
  const shape = [p.model.channels, p.model.resolution, p.model.resolution];
  const config: TrainConfig = {
    data: p.data,
    nTrain: 0,
    model: p.model,
    objective: p.objective,
    weighting: p.weighting,
    timeSampling: p.timeSampling,
    param: "eps",
    sde: sdeToJson(sde),
    tMin: sde.tMinLikelihood,
    highOrder: 0,
    batch: B,
    adam: { ...ADAM_DEFAULT, lr: p.lr },
    warmup: p.warmup,
    clip: 1,
    ema: p.ema,
    seed: 0,
    initFrom: null,
    dequant: p.dequant,
    flip: p.flip,
    lm: null,
  };
  for (const be of backends) {
    const trainer = new Trainer(be, "f32", config, syntheticImages(shape, 64), EIGHT_BIT_SYMMETRIC);
    const nParams = countParams(trainer.params);
    const times: number[] = [];
    for (let s = 0; s <= Number(f.steps); s++) {
      const t0 = performance.now();
      const loss = trainer.trainStep();
      await loss.item(); // the step's work is done when its loss can be read
      loss.dispose();
      if (s > 0) times.push((performance.now() - t0) / 1000); // step 0 compiles pipelines
      console.error(
        `${name} ${be.name} batch ${B}: step ${s} ${
          ((performance.now() - t0) / 1000).toFixed(2)
        } s`,
      );
    }
    times.sort((a, b) => a - b);
    const perExample = tapeBytes(be, p.model, trainer.params as NetworkParams, 2) -
      tapeBytes(be, p.model, trainer.params as NetworkParams, 1);
    const fixed = 4 * 4 * nParams; // weights, EMA, Adam m and v in float32
    const gib = (fixed + p.batch * perExample) / 2 ** 30;
    console.log(
      `| ${name} | ${(nParams / 1e6).toFixed(2)} M | ${be.name} | ${B} | ${
        times[Math.floor(times.length / 2)].toFixed(2)
      } | ${gib.toFixed(1)} GiB at batch ${p.batch} (${
        (perExample / 2 ** 20).toFixed(0)
      } MiB of tape per example) |`,
    );
  }
}
