/**
 * The full configuration of a training run: everything that determines the weights, hashed
 * into checkpoints so `--resume` can refuse a changed run. `steps` and output settings are not
 * part of the hash (a resumed run may extend its length).
 */

import type { SdeJson } from "../sde/processes.ts";
import type { Parameterization } from "../sde/model.ts";
import type { AdamConfig } from "../compute/optim/adam.ts";
import type { NetworkConfig } from "../nn/network.ts";
import type { TimeSampling } from "./time_sampling.ts";
import type { Weighting } from "./objectives/dsm.ts";

export type Objective = "dsm" | "flow" | "lm";

/** Likelihood Matching's settings: the covariance head and the time points per path. */
export interface LmConfig {
  /** rank r of C = diag(d) + U Uᵀ (0: diagonal) */
  rank: number;
  /** N transitions per path */
  timePoints: number;
  /** train the head only, on the score network of `--init` */
  freezeScore: boolean;
  head: NetworkConfig;
}

/** How 8-bit training images become continuous: a uniform draw in each bin, or the bin centre. */
export type TrainDequantization = "uniform" | "none";

export interface TrainConfig {
  data: string;
  /** training examples drawn from a generative spec (gmm:, toy:) */
  nTrain: number;
  model: NetworkConfig;
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
  /** integer (image) data only; continuous data ignore it */
  dequant: TrainDequantization;
  /** random horizontal flips of training images */
  flip: boolean;
  /** `--objective lm` only */
  lm: LmConfig | null;
  /**
   * Classifier-free guidance training: each example's label is replaced by "no label" (the
   * zero one-hot) with this probability; the network is conditional (`model.classes`). Absent
   * for unconditional runs, so their configuration (and its hash) is what it always was.
   */
  labelDropout?: number;
  /** a network brought in by `import`: the format, file, configuration and weights it came from */
  imported?: { format: string; file: string; config: string; weights: "ema" | "raw" };
}

/** The flag that sets each field of the config (derived fields, like `tMin`, have none). */
export const CONFIG_FLAGS: Record<string, string> = {
  data: "--data",
  nTrain: "--n-train",
  "model.kind": "--model",
  "model.hidden": "--hidden",
  "model.layers": "--layers",
  "model.base": "--base",
  "model.mults": "--mults",
  "model.resBlocks": "--res-blocks",
  "model.attnResolutions": "--attn",
  "model.groups": "--groups",
  "model.dropout": "--dropout",
  objective: "--objective",
  weighting: "--weighting",
  timeSampling: "--time-sampling",
  param: "--param",
  "sde.kind": "--sde",
  highOrder: "--high-order",
  batch: "--batch",
  "adam.lr": "--lr",
  "adam.weightDecay": "--weight-decay",
  warmup: "--warmup",
  clip: "--clip",
  ema: "--ema",
  seed: "--seed",
  dequant: "--dequant",
  flip: "--flip",
  lm: "--objective",
  "lm.rank": "--rank",
  "lm.timePoints": "--time-points",
  "lm.freezeScore": "--freeze-score",
  labelDropout: "--label-dropout",
  "model.classes": "--label-dropout",
};
