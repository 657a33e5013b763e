/**
 * The full configuration of a training run: everything that determines the weights, hashed
 * into checkpoints so `--resume` can refuse a changed run. `steps` and output settings are not
 * part of the hash (a resumed run may extend its length).
 */

import type { SdeJson } from "../sde/processes.ts";
import type { Parameterization } from "../sde/model.ts";
import type { AdamConfig } from "./optim/adam.ts";
import type { MlpConfig } from "../nn/mlp.ts";
import type { TimeSampling } from "./time_sampling.ts";
import type { Weighting } from "./objectives/dsm.ts";

export type Objective = "dsm" | "flow";

export interface TrainConfig {
  data: string;
  /** training examples drawn from a generative spec (gmm:, toy:) */
  nTrain: number;
  model: { kind: "mlp" } & MlpConfig;
  objective: Objective;
  weighting: Weighting;
  timeSampling: TimeSampling;
  param: Parameterization;
  sde: SdeJson;
  tMin: number;
  highOrder: number;
  batch: number;
  adam: AdamConfig;
  warmup: number;
  clip: number;
  ema: number;
  seed: number;
  /** the run this one was initialised from (`--init`), by config hash */
  initFrom: string | null;
}

/** The two-component mixture of the issue tracker's learning test (exact entropy 1.864 nats). */
export const TOY_MIXTURE = "gmm:fixtures/mix2c.json";

/** `--preset toy`: an MLP on a 2-D mixture, a few minutes on a 2-core CPU. */
export const TOY_PRESET = {
  data: TOY_MIXTURE,
  nTrain: 8192,
  steps: 2000,
  batch: 256,
  lr: 2e-3,
  hidden: 128,
  layers: 3,
  objective: "dsm" as Objective,
  weighting: "likelihood" as Weighting,
  timeSampling: "importance" as TimeSampling,
};
