/**
 * `--preset NAME`: the defaults of a whole run. `toy` fits a 2-D mixture in a few minutes on a
 * 2-core CPU; the image presets carry the papers' settings for the 32×32 sets (DDPM++ of Song
 * et al. 2021, as used by ScoreFlow and i-DODE) and smaller U-Nets for the 28×28 sets, sized so
 * that a short run on a CPU adapter shows learning. Every field can be overridden by its flag.
 */

import type { NetworkConfig } from "../nn/network.ts";
import type { Weighting } from "./objectives/dsm.ts";
import type { TimeSampling } from "./time_sampling.ts";
import type { Objective, TrainDequantization } from "./config.ts";

export interface Preset {
  data: string;
  nTrain: number;
  steps: number;
  batch: number;
  lr: number;
  warmup: number;
  ema: number;
  model: NetworkConfig;
  objective: Objective;
  weighting: Weighting;
  timeSampling: TimeSampling;
  dequant: TrainDequantization;
  flip: boolean;
  /** held-out examples for the NLL at the end of the run */
  evalExamples: number;
  /** samples in the grid written at the end of an image run */
  gridSamples: number;
}

/** The two-component mixture of the issue tracker's learning test (exact entropy 1.864 nats). */
export const TOY_MIXTURE = "gmm:fixtures/mix2c.json";

const likelihoodDsm = {
  objective: "dsm" as Objective,
  weighting: "likelihood" as Weighting,
  timeSampling: "importance" as TimeSampling,
};

/** The U-Net of the 28×28 presets: 28 → 14 → 7, attention at 7×7. */
export const UNET28: NetworkConfig = {
  kind: "unet",
  channels: 1,
  resolution: 28,
  base: 32,
  mults: [1, 2, 2],
  resBlocks: 1,
  attnResolutions: [7],
  dropout: 0.1,
  groups: 8,
  timeFeatures: 64,
};

/** DDPM++ (cont.) of score_sde for CIFAR-10: 128 · [1, 2, 2, 2], 4 blocks, attention at 16. */
export const DDPMPP32: NetworkConfig = {
  kind: "unet",
  channels: 3,
  resolution: 32,
  base: 128,
  mults: [1, 2, 2, 2],
  resBlocks: 4,
  attnResolutions: [16],
  dropout: 0.1,
  groups: 32,
  timeFeatures: 128,
};

const mnistLike = (data: string): Preset => ({
  data,
  nTrain: 0,
  steps: 2000,
  batch: 32,
  lr: 1e-3,
  warmup: 200,
  ema: 0.999,
  model: UNET28,
  ...likelihoodDsm,
  dequant: "uniform",
  flip: false,
  evalExamples: 16,
  gridSamples: 16,
});

export const PRESETS: Record<string, Preset> = {
  toy: {
    data: TOY_MIXTURE,
    nTrain: 8192,
    steps: 2000,
    batch: 256,
    lr: 2e-3,
    warmup: 100,
    ema: 0.995,
    model: { kind: "mlp", dim: 0, hidden: 128, layers: 3, timeFeatures: 32 },
    ...likelihoodDsm,
    dequant: "none",
    flip: false,
    evalExamples: 300,
    gridSamples: 0,
  },
  mnist: mnistLike("mnist"),
  "fashion-mnist": mnistLike("fashion-mnist"),
  cifar10: {
    data: "cifar10:data/cifar10",
    nTrain: 0,
    steps: 1_300_000,
    batch: 128,
    lr: 2e-4,
    warmup: 5000,
    ema: 0.9999,
    model: DDPMPP32,
    ...likelihoodDsm,
    dequant: "uniform",
    flip: true,
    evalExamples: 100,
    gridSamples: 64,
  },
  imagenet32: {
    data: "imagenet32:data/imagenet32",
    nTrain: 0,
    steps: 1_300_000,
    batch: 128,
    lr: 2e-4,
    warmup: 5000,
    ema: 0.9999,
    // no dropout: 1.28 M images do not overfit a 62 M-parameter network the way CIFAR-10 does
    model: { ...DDPMPP32, dropout: 0 },
    ...likelihoodDsm,
    dequant: "uniform",
    flip: false,
    evalExamples: 100,
    gridSamples: 64,
  },
};

export const PRESET_NAMES = Object.keys(PRESETS);
