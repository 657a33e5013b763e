/**
 * The tiny deterministic run behind the training regression fixture: the toy mixture, a
 * 2×16 MLP, likelihood-weighted importance-sampled DSM, float64 on the reference backend.
 */

import { referenceBackend, Rng } from "../compute/mod.ts";
import { sdeToJson } from "../sde/processes.ts";
import { VpSde } from "../sde/vp.ts";
import type { TrainConfig } from "./config.ts";
import { resolveTrainData } from "./data.ts";
import { ADAM_DEFAULT } from "./optim/adam.ts";
import { Trainer } from "./trainer.ts";

export const TINY_CONFIG: TrainConfig = {
  data: "gmm:fixtures/mix2c.json",
  nTrain: 256,
  model: { kind: "mlp", dim: 2, hidden: 16, layers: 2, timeFeatures: 8 },
  objective: "dsm",
  weighting: "likelihood",
  timeSampling: "importance",
  param: "eps",
  sde: sdeToJson(new VpSde()),
  tMin: 1e-5,
  highOrder: 0,
  batch: 32,
  adam: { ...ADAM_DEFAULT, lr: 1e-3 },
  warmup: 0,
  clip: 1,
  ema: 0.99,
  seed: 7,
  initFrom: null,
  dequant: "none",
  flip: false,
  lm: null,
};

/** A trainer for the tiny run (paths relative to the repository root). */
export async function tinyTrainer(root: string): Promise<Trainer> {
  const c = { ...TINY_CONFIG, data: `gmm:${root}/fixtures/mix2c.json` };
  const data = await resolveTrainData(
    c.data,
    c.nTrain,
    Rng.fromSeed(c.seed).derive("data"),
    new VpSde(),
  );
  return new Trainer(referenceBackend(), "f64", c, data.train);
}
