/**
 * Small deterministic runs on analytic mixtures: the tiny run behind the training regression
 * fixture (the toy mixture, a 2×16 MLP, likelihood-weighted importance-sampled DSM, float64 on
 * the reference backend) and the spike's runs that `bench --spike` times and the leak test
 * repeats (two isotropic blobs, a 3×128 MLP, with and without a second-order term).
 */

import { type Backend, type DType, referenceBackend, Rng } from "../compute/mod.ts";
import { makeSde, sdeFromJson, sdeToJson } from "../sde/processes.ts";
import { VpSde } from "../sde/vp.ts";
import type { TrainConfig } from "./config.ts";
import { resolveTrainData } from "./data.ts";
import { ADAM_DEFAULT } from "../compute/optim/adam.ts";
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

/**
 * The spike's run on fixtures/two_blobs.json (paths relative to the repository root): an
 * ε-prediction MLP 3×128 trained by DSM (simple weighting, uniform times, VP), or with a
 * positive `highOrder` the velocity MLP trained by flow matching plus the second-order term
 * through a Hutchinson divergence (VDM), the trainer's one objective that has that term.
 */
export function spikeConfig(root: string, highOrder: number): TrainConfig {
  const flow = highOrder > 0, sde = makeSde(flow ? "vdm" : "vp");
  return {
    ...TINY_CONFIG,
    data: `gmm:${root}/fixtures/two_blobs.json`,
    nTrain: 4096,
    model: { kind: "mlp", dim: 2, hidden: 128, layers: 3, timeFeatures: 32 },
    objective: flow ? "flow" : "dsm",
    weighting: "simple",
    timeSampling: "uniform",
    param: flow ? "velocity" : "eps",
    sde: sdeToJson(sde),
    tMin: 1e-3,
    highOrder,
    batch: 256,
    seed: 0,
  };
}

/** A trainer for `config` on its `gmm:` data, drawn from the config's seed. */
export async function mixtureTrainer(
  config: TrainConfig,
  backend: Backend = referenceBackend(),
  dtype: DType = "f64",
): Promise<Trainer> {
  const data = await resolveTrainData(
    config.data,
    config.nTrain,
    Rng.fromSeed(config.seed).derive("data"),
    sdeFromJson(config.sde),
  );
  return new Trainer(backend, dtype, config, data.train);
}

/** A trainer for the tiny run (paths relative to the repository root). */
export function tinyTrainer(root: string): Promise<Trainer> {
  return mixtureTrainer({ ...TINY_CONFIG, data: `gmm:${root}/fixtures/mix2c.json` });
}
